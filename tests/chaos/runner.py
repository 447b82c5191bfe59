"""Runs chaos scenarios: set the tenant up, start a real `exoform` process, SIGKILL it at the
scenario's moment, name the kill point, recover with a new run and check every invariant.

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
from exoform.engine.kinds import normalize_ip
from exoform.engine.plan import Plan
from exoform.engine.provider import READ_TYPES
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


class ArmedFaults:
    """The emulator's fault source, armed only while the killed process runs."""

    def __init__(self) -> None:
        self.plan: FaultPlan | None = None

    def next(self, cmdlet: str) -> str | None:
        plan = self.plan
        return plan.next(cmdlet) if plan is not None else None


_WORKER: dict[str, Any] = {}


def init_worker(latency_ms: float) -> None:
    """Per worker process: a scratch folder, a clean environment, the latency to use."""
    shm = Path("/dev/shm")
    root = Path(tempfile.mkdtemp(prefix="exoform-chaos-", dir=shm if shm.is_dir() else None))
    for name in SCRUB:
        os.environ.pop(name, None)
    os.environ["EXOFORM_CACHE_DIR"] = str(root / "token-cache")
    _WORKER.update(root=root, latency=latency_ms / 1000, emulator=None, faults=ArmedFaults())
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
            self.tenant = _WORKER["emulated_tenant"]
            self.tenant_block = emulator.tenant_options("secret")
        else:
            self.tenant = self.root / "tenant.json"
            self.tenant_block = {"provider": "sandbox", "sandbox_file": str(self.tenant)}

    def config(self, name: str, body: dict[str, Any]) -> Path:
        path = self.root / f"{name}.json"
        path.write_text(json.dumps({**body, "tenant": self.tenant_block}, indent=2), encoding="utf-8")
        return path

    def document(self) -> dict[str, Any]:
        return json.loads(self.tenant.read_text(encoding="utf-8"))

    def read_state(self) -> State | None:
        return read_state_file(self.state) if self.state.exists() else None

    def plan(self, config: Path, operation: str) -> Plan:
        spec = load_config(str(config))
        read = SandboxProvider(self.tenant, faults=FaultPlan(), latency=0).read(READ_TYPES)
        state = StateStore.at(self.state).load(INTEGRATION)
        return plan_for(spec, read, state, operation)


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
    if setup is not None:
        code, out = cli("apply", "-c", str(configs[setup]), "--state", str(site.state), "--auto-approve")
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
    exit_code, lines = _launch_and_kill(site, scenario, plan, operation, config, faults, failing)
    outcome.killed = exit_code is None
    killed_state = _state_or_problem(site, outcome, "after the kill")
    outcome.point = kill_point(killed_state, lines, site.document(), shots, exit_code)
    _recover(site, outcome, recovery, configs[recovery_config])
    _check(site, outcome, original, before_state, killed_state, configs[recovery_config], recovery)


def _rollback_fault(scenario: Scenario, plan: Plan) -> tuple[str, int]:
    """For the rollback kind: an error at a step after the first, so there is work to undo."""
    if scenario.kind != "rollback" or len(plan.steps) < 2:
        return "", 0
    index = 1 + int(scenario.fail_pick * (len(plan.steps) - 1))
    name = plan.steps[index].call.name
    occurrence = sum(s.call.name == name for s in plan.steps[: index + 1])
    return f"{name}#{occurrence}:error", index


def _launch_and_kill(site: Site, scenario: Scenario, plan: Plan, operation: str, config: Path,
                     faults: str, failing: int) -> tuple[int | None, list[str]]:
    env = {k: v for k, v in os.environ.items() if k not in SCRUB}
    latency = _WORKER["latency"]
    if scenario.provider == "sandbox":
        env["EXOFORM_SANDBOX_LATENCY_MS"] = str(latency * 1000)
        if faults:
            env["EXOFORM_FAULTS"] = faults
    elif faults:
        _WORKER["faults"].plan = FaultPlan.parse(faults)  # injected by the service side
    argv = [sys.executable, "-m", "exoform", operation, "-c", str(config), "--state", str(site.state), "--auto-approve"]
    proc = subprocess.Popen(argv, cwd=site.root, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=_read_lines, args=(proc, lines), daemon=True)
    reader.start()
    try:
        _wait_for_moment(site, scenario, plan, proc, lines, failing)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        code = proc.wait(timeout=CHILD_TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
        _WORKER["faults"].plan = None
    reader.join(timeout=5)
    return (None if code == -signal.SIGKILL else code), lines


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
        watch = _StateWatch(site.state)
        while proc.poll() is None and time.monotonic() < deadline:
            pending = watch.pending()
            rolling = any("Rolling back" in line for line in lines)
            if pending is not None and pending.get("step") == step and rolling == rollback:
                break
            time.sleep(0.002)
        time.sleep(scenario.fraction * latency)
        return
    while proc.poll() is None and time.monotonic() < deadline and not _holds_lock(site.state, proc.pid):
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


def _holds_lock(state: Path, pid: int) -> bool:
    """Whether `pid` has written its lock record (read the file only: never flock it)."""
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
    code, out = cli(operation, "-c", str(config), "--state", str(site.state), "--auto-approve")
    outcome.recovered = code == 0
    if code != 0:
        outcome.problems.append(f"recovery {operation} exited {code}: {out[-600:]}")
    check = ["--destroy"] if operation == "destroy" else []
    code, out = cli("plan", "-c", str(config), "--state", str(site.state), "--detailed-exitcode", *check)
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
    problems = lost + check_tenant_file(site.tenant) + check_files(site.state)
    if after is not None:
        problems += check_objects(document, after, INTEGRATION)
        problems += _lineage_and_serial(before, killed, after)
        if after.pending is not None:
            problems.append("the state still has a pending record after recovery")
    spec = load_config(str(config))
    wanted = set()
    if operation == "apply" and spec.allowlist_connection_filter:
        wanted = {normalize_ip(r) for r in spec.gateway.ip_ranges}
    if allow_list(document) != admin | wanted:
        problems.append(f"allow list {sorted(allow_list(document))} != admin {sorted(admin)} + ours {sorted(wanted)}")
    if operation == "destroy" and site.tenant.read_text(encoding="utf-8") != original:
        problems.append("destroy did not restore the original tenant exactly")
    outcome.problems += problems


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
