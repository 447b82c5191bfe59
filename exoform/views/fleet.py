"""The fleet report for people, machines and change tickets: a terminal table (tenant, wave,
adds/changes/destroys, findings, 429/503, result, duration) with what to fix under it, the same
as JSON, and a Markdown summary; plus the one-line progress shown on a terminal while it runs.
"""
from __future__ import annotations

import sys
import threading
from typing import Any, TextIO

from tabulate import tabulate

from exoform.engine.fleet import FleetReport, Member, Result, TenantRow
from exoform.text import safe

FORMAT_VERSION = 1
_SURVEYS = ("drift", "status")


def _findings(row: TenantRow) -> str:
    parts = [f"{row.errors} error(s)" if row.errors else "", f"{row.warnings} warning(s)" if row.warnings else ""]
    return ", ".join(p for p in parts if p) or "-"


def _columns(report: FleetReport) -> list[tuple[str, Any]]:
    columns: list[tuple[str, Any]] = [("tenant", lambda r: r.name), ("wave", lambda r: r.wave)]
    if report.command != "doctor":
        columns += [("add", lambda r: r.add), ("change", lambda r: r.change), ("destroy", lambda r: r.destroy)]
    if report.command in _SURVEYS:
        columns.append(("drift", lambda r: r.drifted))
    columns.append(("findings", _findings))
    if report.query:
        columns.append(("matches", lambda r: len(r.matches)))
    columns += [("429/503", lambda r: f"{r.traffic.throttled}/{r.traffic.unavailable}"),
                ("result", lambda r: r.result.text), ("time", lambda r: f"{r.duration:.1f}s")]
    return columns


def summary(report: FleetReport) -> str:
    counts: dict[str, int] = {}
    for row in report.rows:
        counts[row.result.text] = counts.get(row.result.text, 0) + 1
    parts = ", ".join(f"{n} {text}" for text, n in counts.items())
    line = f"{len(report.rows)} tenant(s) in {report.wall:.1f}s: {parts}." if report.rows else "No tenant."
    if report.query:
        hits = sum(bool(r.matches) for r in report.rows)
        line += f" {hits} tenant(s) with {report.query}."
    return line + (f" {report.stopped[0].upper()}{report.stopped[1:]}." if report.stopped else "")


def render_table(report: FleetReport) -> str:
    columns = _columns(report)
    rows = [[safe(get(row)) for _, get in columns] for row in report.rows]
    lines = [f"exoform fleet {report.command}: {safe(report.fleet)} ({safe(report.selection)})", "",
             str(tabulate(rows, headers=[name for name, _ in columns], tablefmt="simple",
                          disable_numparse=True))]
    notes = [line for row in report.rows for line in _notes(row)]
    if notes:
        lines += [""] + notes
    return "\n".join(lines + ["", summary(report)])


def _notes(row: TenantRow) -> list[str]:
    out = [f"{safe(row.name)}: {safe(row.detail)}"] if row.detail else []
    out += [f"{safe(row.name)}: fix: {safe(row.fix)}"] if row.fix else []
    out += [f"{safe(row.name)}: {safe(match)}" for match in row.matches]
    return out


def row_json(row: TenantRow) -> dict[str, Any]:
    return {
        "tenant": row.name, "wave": row.wave, "result": row.result.value,
        "duration_ms": round(row.duration * 1000), "add": row.add, "change": row.change,
        "destroy": row.destroy, "errors": row.errors, "warnings": row.warnings, "drifted": row.drifted,
        "detail": row.detail, "fix": row.fix, "plan_file": row.plan_file, "matches": list(row.matches),
        "traffic": {"calls": row.traffic.calls, "throttled_429": row.traffic.throttled,
                    "unavailable_503": row.traffic.unavailable, "paused_s": row.traffic.paused},
        "findings": [{"severity": f.severity, "code": f.code, "id": f.id, "message": f.message}
                     for f in row.findings],
    }


def report_json(report: FleetReport) -> dict[str, Any]:
    """Stable JSON (keys sorted by the caller); no tenant_info value or token is ever in it."""
    totals = {result.value: report.count(result) for result in Result if report.count(result)}
    return {"format_version": FORMAT_VERSION, "fleet": report.fleet, "command": report.command,
            "selection": report.selection, "waves": list(report.waves), "stopped": report.stopped,
            "interrupted": report.interrupted, "query": report.query, "wall_ms": round(report.wall * 1000),
            "totals": totals, "tenants": [row_json(row) for row in report.rows]}


def _cell(text: object) -> str:
    """A Markdown table cell: no line breaks, pipes escaped, control characters visible."""
    return safe(" ".join(str(text).split())).replace("|", "\\|")


def render_markdown(report: FleetReport) -> str:
    columns = _columns(report)
    lines = [f"## exoform fleet {report.command}: {_cell(report.fleet)}", "",
             f"Selection: {_cell(report.selection)}. {_cell(summary(report))}", "",
             "| " + " | ".join(name for name, _ in columns) + " |",
             "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(_cell(get(row)) for _, get in columns) + " |" for row in report.rows]
    detailed = [row for row in report.rows if row.detail or row.fix or row.findings or row.matches]
    if detailed:
        lines += ["", "### Details", ""]
    for row in detailed:
        lines.append(f"- **{_cell(row.name)}** ({row.result.text})" + (f": {_cell(row.detail)}" if row.detail else ""))
        lines += [f"  - fix: {_cell(row.fix)}"] if row.fix else []
        lines += [f"  - {_cell(f.severity)} `{_cell(f.id or f.code)}`: {_cell(f.message)}" for f in row.findings]
        lines += [f"  - match: {_cell(m)}" for m in row.matches]
    return "\n".join(lines) + "\n"


class ProgressLine:
    """`[wave canary] 3/10 done, 2 running, 1 failed` rewritten in place on a terminal; on
    anything else, only a line per wave (so logs stay short)."""

    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.total, self.done, self.running, self.failed = total, 0, 0, 0
        self.current = ""
        self._lock = threading.Lock()

    def wave(self, wave: str, count: int) -> None:
        with self._lock:
            self.current = wave
            if wave and not self.tty:
                print(f"wave {safe(wave)}: {count} tenant(s)", file=self.stream, flush=True)

    def started(self, member: Member) -> None:
        with self._lock:
            self.running += 1
            self._draw()

    def finished(self, row: TenantRow) -> None:
        with self._lock:
            self.running -= 1
            self.done += 1
            self.failed += row.result.failure or row.result in (Result.SKIPPED, Result.PLAN_ERRORS)
            self._draw()

    def close(self) -> None:
        with self._lock:
            if self.tty and self.done:
                self.stream.write("\r\x1b[K")
                self.stream.flush()

    def _draw(self) -> None:
        if self.tty:
            wave = f"[wave {safe(self.current)}] " if self.current else ""
            text = (f"{wave}{self.done}/{self.total} done, {self.running} running, "
                    f"{self.failed} failed or skipped")
            self.stream.write("\r\x1b[K" + text)
            self.stream.flush()
