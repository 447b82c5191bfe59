"""Runs chaos scenarios: set the tenant up, start a real `exoform` process, SIGKILL it at the
scenario's moment (or, losing the state, delete its state then), name the kill point, recover
with a new run and check every invariant. The state lives in the backend the run names.

Each worker process owns a scratch folder (tmpfs when there is one) and, for the emulator, one
`Emulator` serving a tenant file that every scenario of that worker rewrites.
"""
from __future__ import annotations

import atexit
import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from exoform.cli import main
from exoform.engine.config import load_config
from exoform.engine.errors import ExoformError
from exoform.engine.operations import Session
from exoform.engine.reporter import Reporter
from exoform.providers import registry
from exoform.engine.kinds import normalize_ip
from exoform.engine.plan import Plan
from exoform.engine.provider import READ_TYPES
from exoform.engine.read import read_tenant
from exoform.engine.state import State
from exoform.engine.statefile import StateStore, read_state_file
from exoform.providers.faults import FaultPlan
from exoform.providers.sandbox import SandboxProvider
from support.harness import plan_for

from .checks import (
    KillPoint,
    allow_list,
    canonical,
    check_files,
    check_objects,
    check_tenant_file,
    check_unmanaged,
    kill_point,
    step_snapshots,
)
from .scenarios import INTEGRATION, PLAYS, Scenario

CHILD_TIMEOUT = 60.0
SCRUB = ("EXOFORM_FAULTS", "EXOFORM_SANDBOX_LATENCY_MS", "MSAL_FORCE_REGION")
# The servers' addresses, set by whoever started them (tests.chaos, or the test's fixtures).
AZURE_ENV, POSTGRES_ENV = "EXOFORM_CHAOS_AZURE", "EXOFORM_CHAOS_PG"
LEASE_WAIT = "90s"  # a killed holder's lease lapses within this (azurerm: 15 s; postgres: 2 s)


def backend_block(kind: str, unique: str) -> dict[str, Any] | None:
    """The config's backend block for `kind`, on a key space of the run's own."""
    if kind == "azurerm":
        return {"type": "azurerm", "container": "exoform", "key_prefix": unique, "lease_seconds": 15,
                "auth": {"method": "connection_string", "connection_string_env": AZURE_ENV}}
    if kind == "postgres":
        return {"type": "postgres", "conn_str_env": POSTGRES_ENV, "schema": unique, "lock_seconds": 2}
    return None


@dataclass
class Outcome:
    label: str
    provider: str
    kind: str
    point: KillPoint | None = None
    killed: bool = False
    recovered: bool = False
    converged: bool = False
    lost: int = 0
    injected: int = 0  # faults injected: the kill, plus an error for the rollback kind
    problems: list[str] = field(default_factory=list)
    skipped: str = ""
    seconds: float = 0.0
    folder: str = ""
    state_lost: bool = False  # the state was deleted while the run went on
    left_behind: int = 0  # objects or allow-list entries of ours left after the recovery


class ArmedFaults:
    """The emulator's fault source, armed only while the killed process runs."""

    def __init__(self) -> None:
        self.plan: FaultPlan | None = None

    def next(self, cmdlet: str) -> str | None:
        plan = self.plan
        return plan.next(cmdlet) if plan is not None else None


_WORKER: dict[str, Any] = {}


def init_worker(latency_ms: float, backend: str = "local", lose_state: bool = False) -> None:
    """Per worker process: a scratch folder, a clean environment, the latency to use, the
    backend the state lives in and whether the state is lost mid-run."""
    shm = Path("/dev/shm")
    root = Path(tempfile.mkdtemp(prefix="exoform-chaos-", dir=shm if shm.is_dir() else None))
    for name in SCRUB:
        os.environ.pop(name, None)
    os.environ["EXOFORM_CACHE_DIR"] = str(root / "token-cache")
    _WORKER.update(root=root, latency=latency_ms / 1000, emulator=None, faults=ArmedFaults(),
                   backend=backend, lose_state=lose_state)
    atexit.register(_shutdown)


def _shutdown() -> None:
    emulator = _WORKER.get("emulator")
    if emulator is not None:
        emulator.stop()
    shutil.rmtree(_WORKER["root"], ignore_errors=True)


def _emulator() -> Any:
    if _WORKER["emulator"] is None:
        from exoform.providers.emulator.conditions import Conditions
        from exoform.providers.emulator.server import Emulator

        tenant = _WORKER["root"] / "emulated-tenant.json"
        emulator = Emulator(tenant, Conditions(latency_ms=_WORKER["latency"] * 1000),
                            faults=_WORKER["faults"], workdir=_WORKER["root"] / "emulator").start()
        os.environ["EXOFORM_EMULATOR_SECRET"] = emulator.client_secret
        _WORKER.update(emulator=emulator, emulated_tenant=tenant)
    return _WORKER["emulator"]


def cli(*argv: str) -> tuple[int, str]:
    """`exoform ARGV` in this process (recovery runs); output captured."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            code = main(list(argv))
        except SystemExit as exit_:
            code = int(exit_.code or 0)
    return code, out.getvalue()


class Site:
    """One scenario's files: tenant, configs, state."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.root = _WORKER["root"] / f"run-{scenario.index}"
        shutil.rmtree(self.root, ignore_errors=True)
        (self.root / "state").mkdir(parents=True)
        self.state = self.root / "state" / f"{INTEGRATION}.json"
        if scenario.provider == "emulator":
            emulator = _emulator()
            # A new scenario is a new tenant under the same tenant id: the write journal of the
            # last one (objects it created) does not describe it.
            for journal in Path(os.environ["EXOFORM_CACHE_DIR"]).glob("exoform-writes-*.json"):
                journal.unlink()
            self.tenant = _WORKER["emulated_tenant"]
            self.tenant_block = emulator.tenant_options("secret")
        else:
            self.tenant = self.root / "tenant.json"
            self.tenant_block = {"provider": "sandbox", "sandbox_file": str(self.tenant)}
        unique = f"c{os.getpid()}x{scenario.seed}x{scenario.index}"
        self.backend = backend_block(_WORKER["backend"], unique)
        self._store: StateStore | None = None

    def config(self, name: str, body: dict[str, Any]) -> Path:
        path = self.root / f"{name}.json"
        extra = {"backend": self.backend} if self.backend else {}
        path.write_text(json.dumps({**body, "tenant": self.tenant_block, **extra}, indent=2), encoding="utf-8")
        return path

    def state_args(self) -> list[str]:
        """`--state FILE` for local files; a remote backend's config names its state."""
        return [] if self.backend else ["--state", str(self.state)]

    def store(self, config: Path) -> StateStore:
        """The state's store as the configs name it (its key known: the provider was asked)."""
        if self._store is None:
            self._store = Session.open(config, Reporter(), registry, state=None if self.backend
                                       else str(self.state)).locate()
        return self._store

    def document(self) -> dict[str, Any]:
        return json.loads(self.tenant.read_text(encoding="utf-8"))

    def read_state(self) -> State | None:
        if self._store is None:
            return read_state_file(self.state) if self.state.exists() else None
        stored = self._store.stored()
        return self._store.decode(stored.data) if stored is not None else None

    def pending(self) -> dict[str, Any] | None:
        """The pending record now (remote: one read of the backend)."""
        assert self._store is not None
        stored = self._store.stored()
        return json.loads(stored.data).get("pending") if stored is not None else None

    def holder_pid(self) -> int | None:
        assert self._store is not None
        holder = self._store.backend.holder(self._store.key)
        return holder.pid if holder is not None else None

    def lose_state(self) -> None:
        """What a new laptop or a fresh runner sees: no state (nor its backup) at all."""
        if self.backend is None:
            for path in (self.state, self.state.with_name(self.state.name + ".backup")):
                path.unlink(missing_ok=True)
            return
        assert self._store is not None
        backend, key = self._store.backend, self._store.key
        stored = backend.read(key)
        if stored is not None:
            _force_delete(backend, key, stored.version)

    def plan(self, config: Path, operation: str) -> Plan:
        spec = load_config(str(config))
        read = read_tenant(SandboxProvider(self.tenant, faults=FaultPlan(), latency=0), spec.scope.identities)
        stored = self.store(config)
        state = stored.load(INTEGRATION)
        return plan_for(spec, read, state, operation)


def _force_delete(backend: Any, key: Any, version: str) -> None:
    """Delete a remote state behind its holder's back (an operator wiping the wrong thing)."""
    if backend.kind == "postgres":
        import psycopg

        with psycopg.connect(os.environ[POSTGRES_ENV], autocommit=True) as conn:
            conn.execute(f'DELETE FROM "{backend.schema}".states WHERE key = %s', [key.name])
        return
    from azure.storage.blob import BlobLeaseClient

    blob = backend.container.get_blob_client(backend._name(key))
    with contextlib.suppress(Exception):
        BlobLeaseClient(blob).break_lease(lease_break_period=0)
    blob.delete_blob()


def run_scenario(scenario: Scenario, deadline: float) -> Outcome:
    outcome = Outcome(scenario.label, scenario.provider, scenario.kind)
    if time.time() > deadline:
        outcome.skipped = "time limit"
        return outcome
    started = time.monotonic()
    site = Site(scenario)
    try:
        _run(site, scenario, outcome)
    except ExoformError as error:
        outcome.problems.append(f"harness: {error}")
    outcome.seconds = time.monotonic() - started
    outcome.folder = str(site.root)
    if not outcome.problems:
        shutil.rmtree(site.root, ignore_errors=True)
    else:
        keep = Path(tempfile.gettempdir()) / "exoform-chaos-failures" / f"{scenario.seed}-{scenario.index}"
        shutil.rmtree(keep, ignore_errors=True)
        shutil.copytree(site.root, keep)
        outcome.folder = str(keep)
    return outcome


def _run(site: Site, scenario: Scenario, outcome: Outcome) -> None:
    original = canonical(scenario.tenant)
    site.tenant.write_text(original, encoding="utf-8")
    configs = {"first": site.config("first", scenario.first), "target": site.config("target", scenario.target)}
    setup, (operation, killed_config), (recovery, recovery_config) = PLAYS[scenario.kind]
    site.store(configs["first"])
    if setup is not None:
        code, out = cli("apply", "-c", str(configs[setup]), *site.state_args(), "--auto-approve")
        if code != 0:
            outcome.skipped = f"setup apply failed: {out[-300:]}"
            return
    config = configs[killed_config]
    plan = site.plan(config, operation)
    if plan.errors:
        outcome.skipped = f"plan has errors: {plan.errors[0].message[:120]}"
        return
    before_state, before_doc = site.read_state(), site.document()
    shots = step_snapshots(before_doc, plan)
    faults, failing = _rollback_fault(scenario, plan)
    outcome.injected = 1 + (1 if faults else 0)
    exit_code, lines, lost = _launch_and_kill(site, scenario, plan, operation, config, faults, failing)
    outcome.killed, outcome.state_lost = exit_code is None, lost
    killed_state = _state_or_problem(site, outcome, "after the kill")
    outcome.point = kill_point(killed_state, lines, site.document(), shots, exit_code)
    _recover(site, outcome, recovery, configs[recovery_config])
    _check(site, outcome, original, None if lost else before_state, killed_state, configs[recovery_config], recovery)


def _rollback_fault(scenario: Scenario, plan: Plan) -> tuple[str, int]:
    """For the rollback kind: an error at a step after the first, so there is work to undo."""
    if scenario.kind != "rollback" or len(plan.steps) < 2:
        return "", 0
    index = 1 + int(scenario.fail_pick * (len(plan.steps) - 1))
    name = plan.steps[index].call.name
    occurrence = sum(s.call.name == name for s in plan.steps[: index + 1])
    return f"{name}#{occurrence}:error", index


def _launch_and_kill(site: Site, scenario: Scenario, plan: Plan, operation: str, config: Path,
                     faults: str, failing: int) -> tuple[int | None, list[str], bool]:
    """Start the run, and at the scenario's moment SIGKILL it - or, losing the state, delete
    the state then (and kill the run too in half of the scenarios)."""
    env = {k: v for k, v in os.environ.items() if k not in SCRUB}
    latency = _WORKER["latency"]
    if scenario.provider == "sandbox":
        env["EXOFORM_SANDBOX_LATENCY_MS"] = str(latency * 1000)
        if faults:
            env["EXOFORM_FAULTS"] = faults
    elif faults:
        _WORKER["faults"].plan = FaultPlan.parse(faults)  # injected by the service side
    argv = [sys.executable, "-m", "exoform", operation, "-c", str(config), *site.state_args(), "--auto-approve"]
    proc = subprocess.Popen(argv, cwd=site.root, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=_read_lines, args=(proc, lines), daemon=True)
    reader.start()
    lost = False
    try:
        _wait_for_moment(site, scenario, plan, proc, lines, failing)
        if _WORKER["lose_state"] and proc.poll() is None:
            site.lose_state()
            lost = True
        if proc.poll() is None and (not lost or int(scenario.step_pick * 1000) % 2):
            proc.send_signal(signal.SIGKILL)
        code = proc.wait(timeout=CHILD_TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
        _WORKER["faults"].plan = None
    reader.join(timeout=5)
    return (None if code == -signal.SIGKILL else code), lines, lost


def _read_lines(proc: subprocess.Popen[str], lines: list[str]) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line.rstrip("\n"))


def _wait_for_moment(site: Site, scenario: Scenario, plan: Plan, proc: subprocess.Popen[str],
                     lines: list[str], failing: int) -> None:
    latency, total = _WORKER["latency"], len(plan.steps)
    deadline = time.monotonic() + CHILD_TIMEOUT
    if scenario.timing == "step" and total:
        rollback = scenario.kind == "rollback" and failing > 0
        step = int(scenario.step_pick * (failing if rollback else total))
        watch = _StateWatch(site.state) if site.backend is None else site
        while proc.poll() is None and time.monotonic() < deadline:
            pending = watch.pending()
            rolling = any("Rolling back" in line for line in lines)
            if pending is not None and pending.get("step") == step and rolling == rollback:
                break
            time.sleep(0.002)
        time.sleep(scenario.fraction * latency)
        return
    while proc.poll() is None and time.monotonic() < deadline and not _holds_lock(site, proc.pid):
        time.sleep(0.002)
    estimate = latency * (8 + 2 * total) + 0.2
    time.sleep(scenario.fraction * estimate)


class _StateWatch:
    """Re-parses the state file only when it changed (atomic replace: always whole)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._key: tuple[int, int] | None = None
        self._pending: dict[str, Any] | None = None

    def pending(self) -> dict[str, Any] | None:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return None
        key = (stat.st_ino, stat.st_mtime_ns)
        if key != self._key:
            self._key = key
            try:
                self._pending = json.loads(self.path.read_text(encoding="utf-8")).get("pending")
            except (OSError, ValueError):
                self._pending = None
        return self._pending


def _holds_lock(site: Site, pid: int) -> bool:
    """Whether `pid` has written its lock record (read the file only: never flock it)."""
    if site.backend is not None:
        return site.holder_pid() == pid
    state = site.state
    try:
        record = json.loads((state.parent / (state.name + ".lock")).read_text() or "{}")
    except (OSError, ValueError):
        return False
    return record.get("pid") == pid


def _state_or_problem(site: Site, outcome: Outcome, when: str) -> State | None:
    try:
        return site.read_state()
    except ExoformError as error:
        outcome.problems.append(f"state unreadable {when}: {error}")
        return None


def _recover(site: Site, outcome: Outcome, operation: str, config: Path) -> None:
    # A killed holder's lease (remote backends) lapses on its own: the recovery waits for it.
    wait = ["--lock-timeout", LEASE_WAIT] if site.backend else []
    code, out = cli(operation, "-c", str(config), *site.state_args(), *wait, "--auto-approve")
    outcome.recovered = code == 0
    if code != 0:
        outcome.problems.append(f"recovery {operation} exited {code}: {out[-600:]}")
    check = ["--destroy"] if operation == "destroy" else []
    code, out = cli("plan", "-c", str(config), *site.state_args(), "--detailed-exitcode", *check)
    outcome.converged = code == 0
    if code != 0:
        outcome.problems.append(f"second plan exited {code} (not converged): {out[-600:]}")


def _check(site: Site, outcome: Outcome, original: str, before: State | None,
           killed: State | None, config: Path, operation: str) -> None:
    after = _state_or_problem(site, outcome, "after recovery")
    document = site.document()
    admin = {normalize_ip(e) for p in json.loads(original)["HostedConnectionFilterPolicy"]
             for e in p.get("IPAllowList") or []}
    outcome.lost, lost = check_unmanaged(json.loads(original), document, INTEGRATION, admin)
    problems = lost + check_tenant_file(site.tenant) + (check_files(site.state) if site.backend is None else [])
    behind: list[str] = []
    if after is not None:
        behind += check_objects(document, after, INTEGRATION)
        if not outcome.state_lost:  # a lost state starts a new lineage
            problems += _lineage_and_serial(before, killed, after)
        if after.pending is not None:
            problems.append("the state still has a pending record after recovery")
    spec = load_config(str(config))
    wanted = set()
    if operation == "apply" and spec.allowlist_connection_filter:
        wanted = {normalize_ip(r) for r in spec.gateway.ip_ranges}
    if allow_list(document) != admin | wanted:
        behind.append(f"allow list {sorted(allow_list(document))} != admin {sorted(admin)} + ours {sorted(wanted)}")
    if operation == "destroy" and site.tenant.read_text(encoding="utf-8") != original:
        behind.append("destroy did not restore the original tenant exactly")
    outcome.left_behind = len(behind)
    outcome.problems += problems + behind


def _lineage_and_serial(before: State | None, killed: State | None, after: State) -> list[str]:
    problems = []
    lineage = before.lineage if before is not None else (killed.lineage if killed else after.lineage)
    for when, state in (("after the kill", killed), ("after recovery", after)):
        if state is not None and state.lineage != lineage:
            problems.append(f"lineage changed {when}: {lineage} -> {state.lineage}")
    serials = [s.serial for s in (before, killed, after) if s is not None]
    if serials != sorted(serials):
        problems.append(f"serial went back: {serials}")
    return problems
