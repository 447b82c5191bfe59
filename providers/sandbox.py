"""The sandbox provider: a simulated Exchange Online tenant kept in a JSON file.

Every call re-reads the file under an exclusive lock on `<file>.lock`, runs the cmdlet in a
`TenantModel` and, when the tenant changed, writes the file back atomically (`TenantFile`, which
the HTTP emulator uses too), so several exoform processes can share one tenant. Faults from
EXOFORM_FAULTS and retries act as against the service.
"""
from __future__ import annotations

import contextlib
import os
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from exoform.engine import oslock
from exoform.engine.cmdlets import CmdletCall
from exoform.engine.jsonfile import atomic_write_json, holds_sensitive_value
from exoform.engine.jsonread import MIB, JsonFile, read_json_file
from exoform.engine.messages import issues
from exoform.engine.errors import InputError, Issue, ProviderError, ServerError, Throttled, Transient
from exoform.engine.provider import TenantIdentity
from exoform.engine.reporter import CallRecord, Reporter
from exoform.engine.schema_messages import SchemaDocument, schema_problems
from exoform.providers.faults import FaultPlan, die
from exoform.providers.retry import Gate, RetryPolicy, call_with_retry
from exoform.providers.tenant_model import TenantModel, document_issues, empty_tenant

#: Retries against the sandbox wait milliseconds, not the seconds the real service needs.
SANDBOX_RETRY_POLICY = RetryPolicy(
    max_attempts=6, base_delay=0.01, max_delay=0.05, max_total_wait=1.0
)
THROTTLE_RETRY_AFTER = 0.01
LATENCY_ENV = "EXOFORM_SANDBOX_LATENCY_MS"
TENANT_FILE = JsonFile(
    noun="sandbox tenant file", max_bytes=16 * MIB,
    content="a tenant file is a JSON object with one list per Exchange object type",
)


class SandboxProvider:
    """A `Provider` over a tenant file; `calls` lists every cmdlet attempt, retries included."""

    name = "sandbox"

    def __init__(
        self,
        path: str | Path,
        reporter: Reporter | None = None,
        faults: FaultPlan | None = None,
        retry_policy: RetryPolicy | None = None,
        crash: Callable[[], None] = die,
        latency: float | None = None,
        gate: Gate | None = None,
    ) -> None:
        self.path = Path(path)
        self.gate = gate  # a fleet's per-tenant limits (calls in flight, back-off)
        self.latency = latency_from_env() if latency is None else latency  # seconds per call
        self.reporter = reporter or Reporter()
        self.faults = faults if faults is not None else FaultPlan.from_env()
        self.retry_policy = retry_policy or SANDBOX_RETRY_POLICY
        self.calls: list[str] = []
        self._crash = crash
        self._file = TenantFile(self.path)

    def identity(self) -> TenantIdentity:
        """The file's `tenant_id`, or (a file that names none) an id derived from its path."""
        return TenantIdentity("sandbox", self._file.tenant_id(), str(self.path.resolve()))

    def mail_exchangers(self, domain: str) -> tuple[str, ...] | None:
        """The MX hosts the tenant file's `mx_records` gives `domain` (none listed: no MX)."""
        records: dict[str, list[str]] = self._file.document().get("mx_records") or {}
        hosts = next((v for k, v in records.items() if k.lower() == domain.lower()), [])
        return tuple(str(h).rstrip(".").lower() for h in hosts)

    def read(self, exchange_types: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        """One Get- per type, never one per object."""
        return {t: self.invoke(CmdletCall.of(f"Get-{t}")) for t in exchange_types}

    def invoke(self, call: CmdletCall) -> list[dict[str, Any]]:
        attempts = iter(range(1, self.retry_policy.max_attempts + 1))
        return call_with_retry(
            lambda: self._logged(call, next(attempts, 0)),
            cmdlet=call.name,
            policy=self.retry_policy,
            reporter=self.reporter,
            gate=self.gate,
        )

    def _logged(self, call: CmdletCall, attempt: int) -> list[dict[str, Any]]:
        """`_attempt`, told to the reporter (the CLI's log) like an HTTP attempt."""
        started, error = time.monotonic(), ""
        try:
            return self._attempt(call)
        except ProviderError as failure:
            error = type(failure).__name__
            raise
        finally:
            self.reporter.tenant_call(CallRecord("sandbox", call.name, call.identity,
                                                 (time.monotonic() - started) * 1000, attempt, error=error))

    def close(self) -> None:
        """Nothing stays open between calls: each call takes and releases the lock itself."""

    def _attempt(self, call: CmdletCall) -> list[dict[str, Any]]:
        """One try at a call, as the service would see it (each retry is another call)."""
        self.calls.append(call.name)
        fault = self.faults.next(call.name)
        where = f"{call.name}#{self.faults.count(call.name)}:{fault}"
        if fault == "throttle":
            raise Throttled(
                f"Too many requests; retry after {THROTTLE_RETRY_AFTER} s (fault {where}"
                " injected by EXOFORM_FAULTS).",
                retry_after=THROTTLE_RETRY_AFTER, cmdlet=call.name, identity=call.identity,
                status=429,
            )
        if fault == "unavailable":
            raise Transient(
                f"Service unavailable (503; fault {where} injected by EXOFORM_FAULTS).",
                cmdlet=call.name, identity=call.identity, status=503,
            )
        if fault == "error":
            raise ServerError(
                f"The server failed the call and changed nothing (fault {where} injected by"
                " EXOFORM_FAULTS).",
                cmdlet=call.name, identity=call.identity, status=500,
            )
        self._wait()  # half the latency before the call takes effect, half after
        result = self._run(call)
        self._wait()
        if fault == "crash":
            # The call has taken effect and is on disk; now die as if killed.
            self._crash()
        return result

    def _wait(self) -> None:
        if self.latency > 0:
            time.sleep(self.latency / 2)

    def _run(self, call: CmdletCall) -> list[dict[str, Any]]:
        return self._file.run(call)


class TenantFile:
    """A sandbox-format tenant file that several processes (sandbox providers, emulators) share.

    `run` re-reads the file under an exclusive lock on `<file>.lock`, runs the cmdlet in a
    `TenantModel` and writes the file back atomically when the tenant changed. A missing file is
    the empty tenant; a bad file is an InputError, never repaired."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._cache: tuple[tuple[int, int, int], dict[str, Any]] | None = None

    def run(self, call: CmdletCall) -> list[dict[str, Any]]:
        """One cmdlet against the file; a failed call leaves the file as it was."""
        mutating = call.verb != "Get"
        with self._locked(create_dir=mutating):
            model = TenantModel(self._load())
            if not mutating:
                return model.invoke(call)
            before = model.document()
            result = model.invoke(call)
            after = model.document()
            if after != before:
                self._write(after)
        return result

    def tenant_id(self) -> str:
        with self._locked(create_dir=False):
            given = self._load().get("tenant_id")
        return str(given) if given else str(uuid.uuid5(uuid.NAMESPACE_URL, self.path.resolve().as_uri()))

    def document(self) -> dict[str, Any]:
        """The tenant in the file now, ids and defaults filled in."""
        with self._locked(create_dir=False):
            return TenantModel(self._load()).document()

    @contextlib.contextmanager
    def _locked(self, *, create_dir: bool) -> Iterator[None]:
        """Hold the exclusive lock on the sidecar `<file>.lock` (released when its fd closes).
        A read (`create_dir` false) never creates the lock file: before any write there is no
        writer to wait for, and writes replace the file atomically, so a read sees a whole file."""
        lock_path = self.path.with_name(self.path.name + ".lock")
        if not create_dir:
            try:
                fd = os.open(lock_path, os.O_RDWR)
            except FileNotFoundError:
                yield
                return
        else:
            lock_path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            oslock.lock(fd, wait=True)
            yield
        finally:
            os.close(fd)

    def _load(self) -> dict[str, Any]:
        """The tenant in the file (a missing file is the empty tenant); never repairs a bad file.

        A file unchanged since this object last read or wrote it (same inode, size and
        mtime) is not parsed and validated again: plans read four types in a row."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return empty_tenant()
        except OSError as error:
            raise InputError(str(self.path), [Issue("", f"cannot be read: {error}")]) from None
        key = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        document = self._parse()
        self._cache = (key, document)
        return document

    def _parse(self) -> dict[str, Any]:
        source = str(self.path)
        data = read_json_file(self.path, TENANT_FILE, source)
        issues = tenant_issues(data)
        if issues:
            raise InputError(source, issues)
        loaded: dict[str, Any] = data
        return loaded

    def _write(self, document: dict[str, Any]) -> None:
        """Atomically (temp file, fsync, rename, fsync of the folder), in dump_tenant's form."""
        atomic_write_json(self.path, document)  # 0600: the tenant holds the tenant information
        stat = self.path.stat()
        self._cache = ((stat.st_ino, stat.st_size, stat.st_mtime_ns), document)


def latency_from_env(environ: Mapping[str, str] | None = None) -> float:
    """Seconds each call takes, from EXOFORM_SANDBOX_LATENCY_MS (a slow tenant for tests)."""
    raw = (os.environ if environ is None else environ).get(LATENCY_ENV, "").strip()
    if not raw:
        return 0.0
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 60_000:
        raise InputError(LATENCY_ENV, [Issue("", f"'{raw}' is not a number of milliseconds from 0 to 60000")])
    return value / 1000


TENANT_DOCUMENT = SchemaDocument("tenant.schema.json", "the tenant file",
                                 sensitive=holds_sensitive_value)


def tenant_issues(data: Any) -> list[Issue]:
    """Every problem of a parsed tenant file: schema violations, then duplicate names."""
    found = issues(schema_problems(data, TENANT_DOCUMENT), first_per_path=False,
                   root="(top level)")
    return found or document_issues(data)
