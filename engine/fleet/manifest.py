"""Loading a fleet manifest (`schemas/fleet.schema.json`): the file read strictly and checked
against its schema, then every tenant's merged config validated by the one config parser, each
problem named by tenant and manifest path. A manifest with any problem is refused whole.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from exoform.engine.config import config_schema, parse_config
from exoform.engine.errors import ExoformError, InputError, Issue
from exoform.engine.fleet.merge import Sources, merge_patch, parse_json_path, resolve_env, substitute
from exoform.engine.jsonread import MIB, JsonFile, read_json_file
from exoform.engine.messages import JsonPath, Problem, issues, json_path
from exoform.engine.schema_messages import SchemaDocument, schema_problems
from exoform.engine.spec import IntegrationSpec

DEFAULT_WAVE = "default"
FLEET_FILE = JsonFile(
    noun="fleet manifest", max_bytes=16 * MIB,
    missing="check the path given with -f/--fleet (examples/fleet.json is a sample)",
    content="a fleet manifest is a JSON object with fleet, defaults and tenants (see examples/fleet.json)",
    fix="fix the syntax there (a trailing comma or a missing quote is typical)",
)
_SENSITIVE: tuple[JsonPath, ...] = (("gateway", "tenant_info"), ("tenant", "auth"))


def _sensitive(path: JsonPath) -> bool:
    """A tenant_info or auth value anywhere in the manifest (defaults, overrides) is not echoed."""
    return any(path[i:i + len(p)] == p for p in _SENSITIVE for i in range(len(path)))


FLEET_DOCUMENT = SchemaDocument("fleet.schema.json", "the fleet manifest", sensitive=_sensitive)


@dataclass(frozen=True)
class Member:
    """One tenant of the fleet with its validated, merged config."""

    index: int
    name: str
    wave: str
    spec: IntegrationSpec

    @property
    def label(self) -> str:
        return f"tenants[{self.index}] ({self.name})"


@dataclass(frozen=True)
class Manifest:
    name: str
    path: Path
    members: tuple[Member, ...]
    waves: tuple[str, ...]  # the order waves run in

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    def member(self, name: str) -> Member | None:
        return next((m for m in self.members if m.name.casefold() == name.casefold()), None)


def load_manifest(path: str | Path, environ: Mapping[str, str] | None = None) -> Manifest:
    """The validated manifest at `path`; InputError lists every problem of every tenant."""
    source = Path(path)
    data = read_json_file(source, FLEET_FILE, str(source))
    found = schema_problems(data, FLEET_DOCUMENT)
    if found:
        raise InputError(str(source), issues(found, first_per_path=False))
    document: dict[str, Any] = data
    found = _key_problems(document) + _name_problems(document["tenants"])
    if found:
        raise InputError(str(source), issues(found, first_per_path=True))
    members, problems = _members(document, source, os.environ if environ is None else environ)
    problems += _same_tenant(members) + _same_state(document["fleet"], source.parent, members)
    if problems:
        raise InputError(str(source), _deduplicated(problems))
    return Manifest(document["fleet"], source, tuple(members), _waves(document, members))


def _key_problems(document: Mapping[str, Any]) -> list[Problem]:
    """Only config blocks in defaults and overrides (their content is checked per tenant)."""
    known = sorted(set(config_schema()["properties"]) - {"$schema"})
    parts: list[tuple[JsonPath, Mapping[str, Any]]] = [(("defaults",), document.get("defaults", {}))]
    parts += [(("tenants", i, "overrides"), t.get("overrides", {})) for i, t in enumerate(document["tenants"])]
    return [(where + (key,), f"is not a block of an exoform config; known: {', '.join(known)}")
            for where, part in parts for key in part if key not in known]


def _name_problems(tenants: list[dict[str, Any]]) -> list[Problem]:
    seen: dict[str, int] = {}
    found: list[Problem] = []
    for index, tenant in enumerate(tenants):
        key = tenant["name"].casefold()
        if key in seen:
            found.append((("tenants", index, "name"), f"'{tenant['name']}' is also the name of "
                                                      f"tenants[{seen[key]}]; names are unique (ignoring case)"))
        seen.setdefault(key, index)
    return found


Located = tuple[str, str, str]  # (manifest path, message, tenant label when it is the defaults')


def _members(document: dict[str, Any], source: Path,
             environ: Mapping[str, str]) -> tuple[list[Member], list[Located]]:
    members: list[Member] = []
    problems: list[Located] = []
    for index, raw in enumerate(document["tenants"]):
        sources = Sources(f"tenants[{index}] ({raw['name']})", index, document.get("defaults", {}),
                          raw.get("tenant", {}), raw.get("overrides", {}))
        try:
            spec = _member_spec(document["fleet"], raw, sources, source, environ)
        except InputError as error:
            problems += [_located(sources, issue) for issue in error.issues]
            continue
        members.append(Member(index, raw["name"], raw.get("wave", DEFAULT_WAVE), spec))
    return members, problems


def _member_spec(fleet: str, raw: Mapping[str, Any], sources: Sources, source: Path,
                 environ: Mapping[str, str]) -> IntegrationSpec:
    merged = merge_patch(merge_patch(sources.defaults, {"tenant": sources.tenant}), sources.overrides)
    merged.setdefault("integration", fleet)
    found: list[Problem] = []
    block = merged.get("tenant")
    tenant_id = resolve_env(block.get("tenant_id", "") if isinstance(block, dict) else "", environ, (), [])
    merged = substitute(merged, {"name": raw["name"], "tenant_id": str(tenant_id)})
    merged = resolve_env(merged, environ, (), found)
    tenant = merged.get("tenant", {})
    if isinstance(tenant, dict) and tenant.get("provider", "sandbox") == "sandbox" and "sandbox_file" not in tenant:
        found.append((("tenant", "sandbox_file"), "a sandbox tenant of a fleet needs a file of its own: set "
                                                  'it, e.g. "tenants/{name}.tenant.json" in defaults.tenant'))
    try:
        spec = parse_config(merged, source=f"{source} {sources.label}", base_dir=source.parent)
    except InputError as error:  # at a missing variable's path, only that it is missing
        mine = {json_path(path) for path, _ in found}
        extra = [issue for issue in error.issues if issue.path not in mine]
        raise InputError(str(source), issues(found, first_per_path=True) + extra) from None
    if found:
        raise InputError(str(source), issues(found, first_per_path=True))
    return spec


def _located(sources: Sources, issue: Issue) -> Located:
    where, from_defaults = sources.where(parse_json_path(issue.path))
    return where, issue.message, sources.label if from_defaults else ""


def _deduplicated(problems: list[Located]) -> list[Issue]:
    """A problem in the defaults is named once, with the tenants it hits."""
    hit: dict[tuple[str, str], list[str]] = {}
    for where, message, tenant in problems:
        hit.setdefault((where, message), [])
        if tenant:
            hit[(where, message)].append(tenant)
    out = []
    for (where, message), tenants in hit.items():
        if tenants:
            shown = ", ".join(tenants[:3]) + (f" and {len(tenants) - 3} more" if len(tenants) > 3 else "")
            message = f"{message} (for {shown})"
        out.append(Issue(where, message))
    return out


def _same_tenant(members: list[Member]) -> list[Located]:
    """Two members reaching one tenant would fight over its objects with two states."""
    seen: dict[tuple[str, ...], Member] = {}
    found: list[Located] = []
    for member in members:
        options = member.spec.tenant.options
        key = (member.spec.tenant.provider, str(Path(options["sandbox_file"]).resolve())) \
            if member.spec.tenant.provider == "sandbox" else \
            (member.spec.tenant.provider, str(options.get("endpoint", "")), str(options["tenant_id"]).lower())
        if key in seen:
            found.append((f"{member.label}.tenant", f"reaches the same tenant as {seen[key].label}; "
                                                    "each tenant appears once in a fleet", ""))
        seen.setdefault(key, member)
    return found


def _same_state(fleet: str, base_dir: Path, members: list[Member]) -> list[Located]:
    """Two members writing one local state file would overwrite each other's state."""
    from exoform.engine.fleet.state import shared_local_files

    found = shared_local_files(base_dir, fleet, [(m.label, m.name, m.spec) for m in members])
    return [(f"{label}.backend.path", problem, "") for label, problem in found]


def _waves(document: Mapping[str, Any], members: list[Member]) -> tuple[str, ...]:
    declared = list(document.get("waves", []))
    seen = list(dict.fromkeys(declared + [m.wave for m in members]))
    return tuple(seen)


def describe_waves(manifest: Manifest) -> str:
    counts = {wave: sum(m.wave == wave for m in manifest.members) for wave in manifest.waves}
    return ", ".join(f"{wave} ({count})" for wave, count in counts.items())


class FleetError(ExoformError):
    """A fleet command cannot run as asked (an unknown tenant or wave, an empty selection)."""
