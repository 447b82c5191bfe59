"""The pure diff of one resource: desired vs observed -> a `ResourceChange` (create, update,
delete, replace or no-op) with the changed attribute names and a human reason. Both sides are
normalized first (see `kinds.normalize`), then compared with deepdiff.
"""
from __future__ import annotations

from dataclasses import dataclass

from exoform.engine.kinds import KIND_SPECS, normalize, normalize_ip, rule_enabled
from exoform.engine.model import Action, Address, Kind, Resource, attrs_dict
from exoform.engine.observe import Observed
from exoform.engine.plan import ResourceChange
from exoform.engine.state import StateResource


@dataclass(frozen=True)
class DiffOptions:
    # When the config does not say `rules.enabled` itself, a rule an admin enabled in the
    # Exchange admin center stays enabled (the seed lets admins enable rules there).
    keep_admin_enabled_rules: bool = True


def changed_attributes(kind: Kind, before: dict[str, object], after: dict[str, object]) -> tuple[str, ...]:
    """Names of managed attributes whose normalized values differ."""
    from deepdiff import DeepDiff  # heavy (pulls in numpy): loaded only when a diff is needed

    diff = DeepDiff(normalize(kind, before), normalize(kind, after), ignore_order=True)
    return tuple(sorted(str(key) for key in diff.affected_root_keys))


def diff_resource(
    address: Address,
    want: Resource | None,
    seen: Observed,
    record: StateResource | None,
    options: DiffOptions = DiffOptions(),
) -> ResourceChange | None:
    """The change for one address, or None when there is nothing to say about it."""
    if address.kind is Kind.CONNECTION_FILTER_ALLOWLIST:
        return _diff_allowlist(address, want, seen, record)
    have = seen.actual
    if want is None:
        if have is None:
            return None
        return _change(address, Action.DELETE, have, None, (), "not in the configuration", seen)
    if have is None:
        reason = "deleted outside exoform; will be recreated" if record else "not in the tenant"
        deps = want.dependencies
        return _change(address, Action.CREATE, None, want, (), reason, seen, deps)
    before, after = attrs_dict(have.attributes), attrs_dict(want.attributes)
    changed = changed_attributes(address.kind, before, after)
    after, changed = _respect_admin_enabling(address, before, after, changed, options)
    want = Resource(address, tuple(sorted(after.items())), want.dependencies)
    forced = [a for a in changed if KIND_SPECS[address.kind].attr(a).force_new]
    if forced:
        reason = f"{', '.join(forced)} cannot be changed in place"
        return _change(address, Action.REPLACE, have, want, changed, reason, seen, want.dependencies)
    if changed:
        reason = "changed outside exoform (drift)" if record and _drifted(record, have, address) else "configuration changed"
        if seen.unmarked:
            reason = "adopted by name (it has no exoform marker yet); updated to match the configuration"
        return _change(address, Action.UPDATE, have, want, changed, reason, seen, want.dependencies)
    reason = "adopted: found with this integration's marker" if seen.adopted else "up to date"
    return _change(address, Action.NOOP, have, want, (), reason, seen, want.dependencies)


def _drifted(record: StateResource, have: Resource, address: Address) -> bool:
    """The tenant no longer matches what exoform last applied."""
    return bool(changed_attributes(address.kind, attrs_dict(record.attributes), attrs_dict(have.attributes)))


def _respect_admin_enabling(
    address: Address,
    before: dict[str, object],
    after: dict[str, object],
    changed: tuple[str, ...],
    options: DiffOptions,
) -> tuple[dict[str, object], tuple[str, ...]]:
    if (
        address.kind is Kind.TRANSPORT_RULE
        and options.keep_admin_enabled_rules
        and "State" in changed
        and rule_enabled(before)
    ):
        after = dict(after, State="Enabled")
        changed = tuple(c for c in changed if c != "State")
    return after, changed


def _change(
    address: Address,
    action: Action,
    have: Resource | None,
    want: Resource | None,
    changed: tuple[str, ...],
    reason: str,
    seen: Observed,
    dependencies: tuple[Address, ...] = (),
) -> ResourceChange:
    name = (want or have).exchange_name  # type: ignore[union-attr]
    return ResourceChange(
        address=address,
        action=action,
        exchange_name=name,
        before=have.attributes if have else None,
        after=want.attributes if want else None,
        changed=changed,
        dependencies=dependencies,
        reason=reason,
        guid=have.guid if have else None,
        before_priority=seen.priority,
        adopted=seen.adopted and have is not None,
    )


def _diff_allowlist(
    address: Address, want: Resource | None, seen: Observed, record: StateResource | None
) -> ResourceChange | None:
    if seen.actual is None:
        return None  # no Default policy: reported by the planner as an error when wanted
    present = set(seen.policy_entries)
    owned = set(seen.owned_entries)
    wanted = {normalize_ip(e) for e in (want.get("IPAllowList") or ())} if want else set()
    add = sorted(wanted - present)
    remove = sorted((owned & present) - wanted)
    before = sorted(present & (wanted | owned))
    after = sorted((set(before) - set(remove)) | set(add))
    if want is None:
        if record is None and not owned:  # (owned without a record: an interrupted first add)
            return None
        action, reason = Action.DELETE, "removes only the entries exoform added"
    elif record is None:
        action, reason = Action.CREATE, "merge the gateway's ranges into the Default allow list"
    elif add or remove:
        action, reason = Action.UPDATE, "allow list differs from the configuration"
    else:
        action, reason = Action.NOOP, "up to date"
    return ResourceChange(
        address=address,
        action=action,
        exchange_name="Default",
        before=(("IPAllowList", tuple(before)), ("Name", "Default")) if record or owned else None,
        after=(("IPAllowList", tuple(after)), ("Name", "Default")) if want else None,
        changed=("IPAllowList",) if (add or remove) else (),
        dependencies=(),
        reason=reason,
        list_add=tuple(add),
        list_remove=tuple(remove),
        owned_before=tuple(sorted(owned)),
    )
