"""Real state servers for the backend tests, started and stopped by the test session: a
throw-away PostgreSQL cluster (initdb + pg_ctl in a temp folder, as `nobody` when run as root,
since PostgreSQL refuses root) and Azurite (npm, in memory, telemetry off), on free loopback
ports; `Missing` says how to install what is not there (`.ci/run` installs Azurite)."""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

REPO = Path(__file__).resolve().parents[2]
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
CONTAINER = "exoform"


class Missing(Exception):
    """A server's programs are not installed here (the reason says how to get them)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, seconds: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {seconds}s")


def postgres_bindir() -> Path:
    given = os.environ.get("EXOFORM_PG_BINDIR")
    candidates = [given] if given else sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for candidate in candidates:
        if candidate and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    raise Missing("PostgreSQL's server programs (initdb, pg_ctl) are not installed; "
                  "apt-get install postgresql, or set EXOFORM_PG_BINDIR")


@dataclass(frozen=True)
class Postgres:
    conninfo: str
    port: int


@contextmanager
def postgres() -> Iterator[Postgres]:
    """A fresh cluster; as root the server runs as `nobody` (PostgreSQL refuses root)."""
    bindir = postgres_bindir()
    root = Path(tempfile.mkdtemp(prefix="exoform-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "nobody")
        as_user = ["runuser", "-u", "nobody", "--"]
    data, port = root / "data", free_port()
    run = lambda *argv: subprocess.run([*as_user, *argv], check=True, capture_output=True)  # noqa: E731
    try:
        run(str(bindir / "initdb"), "-D", str(data), "-U", "exoform", "--auth=trust", "-E", "UTF8", "--no-sync")
        run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w", "-t", "30", "-o",
            f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off -c max_connections=60", "start")
        yield Postgres(f"postgresql://exoform@127.0.0.1:{port}/postgres", port)
    finally:
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def azurite_program() -> Path:
    candidates = [os.environ.get("EXOFORM_AZURITE", ""), str(REPO / ".ci" / "node" / "node_modules" / ".bin" / "azurite-blob"),
                  shutil.which("azurite-blob") or ""]
    for candidate in candidates:
        if candidate and Path(candidate).exists():
            return Path(candidate)
    raise Missing("Azurite is not installed: npm install --prefix .ci/node azurite@3 (what .ci/run does)")


@dataclass(frozen=True)
class Azurite:
    port: int

    @property
    def connection_string(self) -> str:
        return (f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={AZURITE_KEY};"
                f"BlobEndpoint=http://127.0.0.1:{self.port}/devstoreaccount1;")

    @property
    def account_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/devstoreaccount1"


@contextmanager
def azurite() -> Iterator[Azurite]:
    """Azurite's blob service in memory, with the container `exoform`."""
    program, port = azurite_program(), free_port()
    location = tempfile.mkdtemp(prefix="exoform-azurite-")  # its debug log and config, if any
    proc = subprocess.Popen([str(program), "--blobHost", "127.0.0.1", "--blobPort", str(port),
                             "--inMemoryPersistence", "--disableTelemetry", "--skipApiVersionCheck",
                             "--silent"], cwd=location, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_port(port, 30, proc)
        server = Azurite(port)
        from azure.storage.blob import BlobServiceClient

        BlobServiceClient.from_connection_string(server.connection_string).create_container(CONTAINER)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(location, ignore_errors=True)
