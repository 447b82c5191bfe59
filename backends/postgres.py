"""The postgres backend: tables `states` (one row per key, a row version for compare-and-swap),
`state_history` (every version) and `locks` (a row per held lock with an expiry, renewed by a
heartbeat). Every statement is its own short transaction and nothing lives in a session, so it
works behind PgBouncer's transaction pooling; no advisory lock, no global creation lock.
"""
from __future__ import annotations

import json
import os
import re
import threading
import zlib
from dataclasses import asdict
from typing import Any, Callable, Mapping, TypeVar

import psycopg
from psycopg import sql

from exoform.backends.base import (
    Lease,
    LockHeld,
    LockInfo,
    Meta,
    RenewedLease,
    StateKey,
    Stored,
    Unlocked,
    Version,
)
from exoform.engine.errors import ExoformError, LockError, StateError, StateWriteError, WriteConflict
from exoform.engine.lock import locked_message

DEFAULT_LOCK_SECONDS = 60
T = TypeVar("T")

TABLES = """
CREATE SCHEMA IF NOT EXISTS {schema};
CREATE TABLE IF NOT EXISTS {schema}.states (
    key text PRIMARY KEY, lineage text NOT NULL, serial bigint NOT NULL, version bigint NOT NULL,
    data jsonb NOT NULL, updated_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS {schema}.state_history (
    key text NOT NULL, serial bigint NOT NULL, lineage text NOT NULL, data jsonb NOT NULL,
    written_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (key, serial));
CREATE TABLE IF NOT EXISTS {schema}.locks (
    key text PRIMARY KEY, lock_id text NOT NULL, holder jsonb NOT NULL,
    expires_at timestamptz NOT NULL, heartbeat_at timestamptz NOT NULL DEFAULT now());
"""


def open_backend(options: Mapping[str, Any]) -> "PostgresBackend":
    variable = options["conn_str_env"]
    conninfo = os.environ.get(variable, "")
    if not conninfo:
        raise ExoformError(f"the postgres backend reads its connection string from the environment "
                           f"variable {variable}, which is not set")
    return PostgresBackend(conninfo, str(options.get("schema", "exoform")),
                           int(options.get("lock_seconds", DEFAULT_LOCK_SECONDS)))


class PostgresLease(RenewedLease):
    """A lock row kept alive by a heartbeat (on the heartbeat thread's own connection)."""

    what = "lock row"

    def __init__(self, backend: "PostgresBackend", key: StateKey, holder: LockInfo) -> None:
        super().__init__(holder, backend.lock_seconds / 3)
        self.backend = backend
        self.key = key

    def renew(self) -> None:
        if not self.backend.heartbeat(self.key, self.holder.id):
            raise LockError("the lock row was deleted or taken over")

    def end(self) -> None:
        self.backend.unlock(self.key, self.holder.id)


class PostgresBackend:
    """States in one schema. One connection per thread (psycopg connections are not shared)."""

    kind = "postgres"
    per_tenant = True

    def __init__(self, conninfo: str, schema: str, lock_seconds: int) -> None:
        self.conninfo = conninfo
        self.schema = schema
        self.lock_seconds = lock_seconds
        self._local = threading.local()
        self._ready = False

    def where(self, key: StateKey) -> str:
        return f"postgres {self.schema}.states key {key.name}"

    # ---- connections and tables --------------------------------------------------------

    def _connection(self) -> psycopg.Connection[Any]:
        conn: psycopg.Connection[Any] | None = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            # autocommit: every statement is its own transaction; prepare_threshold=None: no
            # server-side prepared statements, which a transaction pooler cannot keep.
            conn = psycopg.connect(self.conninfo, autocommit=True, prepare_threshold=None,
                                   connect_timeout=10)
            self._local.conn = conn
        return conn

    def _q(self, text: str) -> sql.Composed:
        return sql.SQL(text).format(schema=sql.Identifier(self.schema))

    def _tables(self) -> None:
        if self._ready:
            return
        conn = self._connection()
        found = conn.execute("SELECT to_regclass(%s), to_regclass(%s), to_regclass(%s)",
                             [f"{self.schema}.states", f"{self.schema}.state_history", f"{self.schema}.locks"]).fetchone()
        if found is None or None in found:
            try:
                with conn.transaction():
                    # A transaction-level lock: two first runs never race on CREATE (and it
                    # ends with the transaction, so a pooler is fine).
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", [zlib.crc32(self.schema.encode())])
                    conn.execute(self._q(TABLES))
            except psycopg.errors.InsufficientPrivilege:
                raise StateError(f"exoform's tables do not exist in schema {self.schema} and this role may "
                                 f"not create them; have an administrator run:\n{self.creation_sql()}") from None
        self._ready = True

    def creation_sql(self) -> str:
        return TABLES.format(schema=f'"{self.schema}"').strip()

    def _run(self, what: str, key: StateKey, action: Callable[[psycopg.Connection[Any]], T]) -> T:
        """One short transaction; database errors become exoform's (never a raw driver error)."""
        try:
            self._tables()
            conn = self._connection()
            with conn.transaction():
                return action(conn)
        except ExoformError:
            raise
        except psycopg.Error as error:
            self._local.conn = None
            reason = _reason(error)
            message = f"could not {what} the state {self.where(key)}: {reason}"
            raise (StateWriteError(message) if what in ("write", "delete") else StateError(message)) from None

    # ---- the interface ---------------------------------------------------------------------

    def read(self, key: StateKey) -> Stored | None:
        def select(conn: psycopg.Connection[Any]) -> Stored | None:
            row = conn.execute(self._q("SELECT data::text, version FROM {schema}.states WHERE key = %s"),
                               [key.name]).fetchone()
            return Stored(row[0].encode(), str(row[1])) if row else None
        return self._run("read", key, select)

    def write(self, key: StateKey, data: bytes, meta: Meta, *, expected: str | None, lease: Lease) -> str:
        _own(lease)

        def cas(conn: psycopg.Connection[Any]) -> str:
            held = self._held(conn, key, lease.holder.id)
            if expected is None:
                row = conn.execute(self._q(
                    "INSERT INTO {schema}.states (key, lineage, serial, version, data) "
                    "SELECT %s, %s, %s, 1, %s::jsonb WHERE %s ON CONFLICT (key) DO NOTHING RETURNING version"),
                    [key.name, meta.lineage, meta.serial, data.decode(), held]).fetchone()
            else:
                row = conn.execute(self._q(
                    "UPDATE {schema}.states SET lineage = %s, serial = %s, version = version + 1, "
                    "data = %s::jsonb, updated_at = now() WHERE key = %s AND version = %s AND serial < %s "
                    "AND %s RETURNING version"),
                    [meta.lineage, meta.serial, data.decode(), key.name, int(expected), meta.serial, held]).fetchone()
            if row is None:
                self._refused(held, key)
            conn.execute(self._q(
                "INSERT INTO {schema}.state_history (key, serial, lineage, data) VALUES (%s, %s, %s, %s::jsonb) "
                "ON CONFLICT (key, serial) DO UPDATE SET lineage = EXCLUDED.lineage, data = EXCLUDED.data, "
                "written_at = now()"), [key.name, meta.serial, meta.lineage, data.decode()])
            return str(row[0]) if row else ""
        return self._run("write", key, cas)

    def _held(self, conn: psycopg.Connection[Any], key: StateKey, lock_id: str) -> bool:
        row = conn.execute(self._q("SELECT 1 FROM {schema}.locks WHERE key = %s AND lock_id = %s "
                                   "AND expires_at > now() FOR UPDATE"), [key.name, lock_id]).fetchone()
        return row is not None

    def _refused(self, held: bool, key: StateKey) -> None:
        if not held:
            raise LockError(f"the lock on {self.where(key)} was lost (it expired or was force-unlocked); "
                            "nothing was written. Run `exoform plan` to see where things stand.")
        raise WriteConflict(f"{self.where(key)} changed since this command read it (another writer, "
                            "or an older serial); nothing was overwritten. Run the command again")

    def delete(self, key: StateKey, *, expected: str, lease: Lease) -> None:
        _own(lease)

        def remove(conn: psycopg.Connection[Any]) -> None:
            held = self._held(conn, key, lease.holder.id)
            row = conn.execute(self._q("DELETE FROM {schema}.states WHERE key = %s AND version = %s AND %s "
                                       "RETURNING 1"), [key.name, int(expected), held]).fetchone()
            if row is None:
                self._refused(held, key)
        self._run("delete", key, remove)

    def acquire(self, key: StateKey, holder: LockInfo) -> PostgresLease:
        def take(conn: psycopg.Connection[Any]) -> bool:
            row = conn.execute(self._q(
                "INSERT INTO {schema}.locks (key, lock_id, holder, expires_at) "
                "VALUES (%s, %s, %s::jsonb, now() + make_interval(secs => %s)) "
                "ON CONFLICT (key) DO UPDATE SET lock_id = EXCLUDED.lock_id, holder = EXCLUDED.holder, "
                "expires_at = EXCLUDED.expires_at, heartbeat_at = now() "
                "WHERE {schema}.locks.expires_at <= now() RETURNING lock_id"),
                [key.name, holder.id, json.dumps(asdict(holder)), self.lock_seconds]).fetchone()
            return row is not None
        if not self._run("lock", key, take):
            found = self.holder(key)
            raise LockHeld(locked_message(f"lock row of {self.where(key)}", found), found)
        lease = PostgresLease(self, key, holder)
        lease.start()
        return lease

    def heartbeat(self, key: StateKey, lock_id: str) -> bool:
        def beat(conn: psycopg.Connection[Any]) -> bool:
            row = conn.execute(self._q(
                "UPDATE {schema}.locks SET expires_at = now() + make_interval(secs => %s), heartbeat_at = now() "
                "WHERE key = %s AND lock_id = %s AND expires_at > now() RETURNING 1"),
                [self.lock_seconds, key.name, lock_id]).fetchone()
            return row is not None
        return self._run("renew the lock of", key, beat)

    def unlock(self, key: StateKey, lock_id: str) -> bool:
        def remove(conn: psycopg.Connection[Any]) -> bool:
            row = conn.execute(self._q("DELETE FROM {schema}.locks WHERE key = %s AND lock_id = %s RETURNING 1"),
                               [key.name, lock_id]).fetchone()
            return row is not None
        return self._run("unlock", key, remove)

    def holder(self, key: StateKey) -> LockInfo | None:
        def select(conn: psycopg.Connection[Any]) -> LockInfo | None:
            row = conn.execute(self._q("SELECT holder FROM {schema}.locks WHERE key = %s AND expires_at > now()"),
                               [key.name]).fetchone()
            return _holder(row[0]) if row else None
        return self._run("read the lock of", key, select)

    def force_unlock(self, key: StateKey, lock_id: str, *, force: bool) -> Unlocked:
        found = self.holder(key)
        if found is None:
            raise LockError(f"{self.where(key)} is not locked: there is nothing to unlock")
        if found.id != lock_id:
            raise LockError(f"lock ID {lock_id} does not match the lock on {self.where(key)} (held as "
                            f"{found.id} by {found.describe()}); nothing was changed")
        self.unlock(key, lock_id)
        return Unlocked(found, True)

    def history(self, key: StateKey) -> tuple[Version, ...]:
        def select(conn: psycopg.Connection[Any]) -> tuple[Version, ...]:
            rows = conn.execute(self._q(
                "SELECT serial, lineage, to_char(written_at AT TIME ZONE 'UTC', "
                "'YYYY-MM-DD\"T\"HH24:MI:SS\"+00:00\"') FROM {schema}.state_history WHERE key = %s ORDER BY serial"),
                [key.name]).fetchall()
            return tuple(Version(int(r[0]), str(r[1]), str(r[2]), "state_history") for r in rows)
        return self._run("read the history of", key, select)

    def read_version(self, key: StateKey, serial: int) -> bytes | None:
        def select(conn: psycopg.Connection[Any]) -> bytes | None:
            row = conn.execute(self._q("SELECT data::text FROM {schema}.state_history WHERE key = %s AND serial = %s"),
                               [key.name, serial]).fetchone()
            return row[0].encode() if row else None
        return self._run("read the history of", key, select)

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def _own(lease: Lease) -> PostgresLease:
    if not isinstance(lease, PostgresLease):
        raise LockError("this write does not hold the state's lock row; nothing was written")
    lease.check()
    return lease


def _holder(value: Any) -> LockInfo | None:
    try:
        return LockInfo(**(value if isinstance(value, dict) else json.loads(value)))
    except (TypeError, ValueError):
        return None


_SECRETS = re.compile(r"(://[^:/@\s]*:)[^@\s]*@|(password\s*=\s*)('[^']*'|\S+)", re.IGNORECASE)


def _reason(error: psycopg.Error) -> str:
    """The server's or driver's first line, any password in it masked (a malformed connection
    string is quoted back by libpq)."""
    diag = getattr(error, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    lines = str(error).strip().splitlines()
    text = primary or (lines[0] if lines else type(error).__name__)
    return _SECRETS.sub(lambda m: (m.group(1) + "***@") if m.group(1) else m.group(2) + "***", text)[:300]
