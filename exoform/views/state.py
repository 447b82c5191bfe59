"""What the state commands say: the history of a state, what `state rm`, `state mv`, `state
push`, `state pull` and `state migrate` did, each in a line or two a person can act on."""
from __future__ import annotations

from typing import Any, Sequence

from exoform.engine.operations.migrating import Migrated
from exoform.engine.operations.moving import Moved, Removed
from exoform.engine.operations.statecmds import Pushed, Version
from exoform.engine.state import State
from exoform.text import safe


def render_history(where: str, versions: Sequence[Version]) -> str:
    if not versions:
        return f"No versions of the state at {safe(where)} are kept yet."
    lines = [f"Versions of the state at {safe(where)} (oldest first):"]
    lines += [f"  serial {v.serial:<6} {v.written_at}  lineage {v.lineage}  {safe(v.label)}".rstrip()
              for v in versions]
    lines.append("Read one with `exoform state show --version SERIAL` or `exoform state pull FILE --version SERIAL`.")
    return "\n".join(lines)


def history_json(where: str, versions: Sequence[Version]) -> dict[str, Any]:
    return {"where": where, "versions": [{"serial": v.serial, "lineage": v.lineage,
                                          "written_at": v.written_at, "label": v.label}
                                         for v in versions]}


def render_removed(removed: Removed) -> str:
    lines = [f"Removed {len(removed.addresses)} resource(s) from the state: "
             + ", ".join(str(a) for a in removed.addresses) + ". The objects stay in the tenant."]
    if removed.unmarked:
        lines.append("Took exoform's marker off: " + ", ".join(safe(n) for n in removed.unmarked)
                     + ". exoform will not touch them again (a plan that still wants their names "
                     "reports them as name_conflict until you remove or rename them).")
    if removed.still_marked:
        lines.append("Still marked for this integration: " + ", ".join(str(a) for a in removed.still_marked)
                     + ". The next plan adopts them again by their marker; use --remove-marker to let "
                     "them go for good.")
    return "\n".join(lines)


def render_moved(moved: Moved, configured: str) -> str:
    lines = [f"Moved integration '{moved.old}' to '{moved.new}': the state is now at "
             f"{safe(moved.target)}" + (f" (it was at {safe(moved.source)})" if moved.source != moved.target else "")
             + f"; re-marked {len(moved.renamed)} object(s) [exoform:{moved.new}]"
             + (": " + ", ".join(safe(n) for n in moved.renamed) if moved.renamed else "") + "."]
    if configured != moved.new:
        lines.append(f'Now set "integration": "{moved.new}" in the config; `exoform plan` then shows no changes.')
    return "\n".join(lines)


def render_pushed(pushed: Pushed, where: str) -> str:
    before = f" (it held serial {pushed.replaced.serial}, lineage {pushed.replaced.lineage})" if pushed.replaced else ""
    return (f"Pushed the state to {safe(where)}{before}: serial {pushed.state.serial}, lineage "
            f"{pushed.state.lineage}, {len(pushed.state.resources)} resource(s).")


def render_pulled(state: State, target: str) -> str:
    return (f"Wrote the state (serial {state.serial}, lineage {state.lineage}) to {safe(target)} "
            "(mode 0600: it holds the tenant information).")


def render_migrated(migrated: Migrated) -> str:
    if not migrated.copied:
        return (f"{safe(migrated.target)} already holds this state (serial {migrated.state.serial}, "
                f"lineage {migrated.state.lineage}); nothing was copied.")
    return (f"Copied the state (serial {migrated.state.serial}, lineage {migrated.state.lineage}) from "
            f"{safe(migrated.source)} to {safe(migrated.target)} and read it back. The old copy was left "
            "where it was: remove it once you no longer need it.")
