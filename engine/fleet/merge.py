"""One tenant's config from a fleet manifest: the defaults, the tenant's `tenant` block and its
overrides merged as JSON Merge Patch (RFC 7396), `{name}`/`{tenant_id}` replaced, values written
as {"env": "VARIABLE"} read from the environment; and, for a problem parse_config finds in the
merged config, where in the manifest that value came from.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

from exoform.engine.messages import JsonPath, PathPart, Problem, json_path

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
#: Stands in for a missing variable so the rest of the config is still checked (its own
#: problem at that path is dropped: the missing variable is the one reported there).
UNSET = "unset-environment-variable"
_PATH_PART = re.compile(r'\.?([A-Za-z_$][A-Za-z0-9_$-]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]')


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396: an object patch merges key by key (null removes a key), anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


def substitute(value: Any, variables: Mapping[str, str]) -> Any:
    """`{name}` and `{tenant_id}` in every string (other braces are left as they are)."""
    if isinstance(value, str):
        for key, replacement in variables.items():
            value = value.replace("{" + key + "}", replacement)
        return value
    if isinstance(value, dict):
        return {k: substitute(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, variables) for v in value]
    return value


def is_env_reference(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"env"}


def resolve_env(value: Any, environ: Mapping[str, str], path: JsonPath,
                found: list[Problem]) -> Any:
    """Every {"env": "NAME"} replaced by the variable's value; a missing or malformed one is a
    problem at its path (the value itself is never quoted: it may be a secret)."""
    if is_env_reference(value):
        name = value["env"]
        if not isinstance(name, str) or not _ENV_NAME.match(name):
            found.append((path, 'an {"env": ...} value names an environment variable: letters, '
                                "digits and '_', not starting with a digit"))
            return UNSET
        if name not in environ:
            found.append((path, f"the environment variable {name} is not set; set it for this run "
                                "(values that differ per tenant, and secrets, never go in the manifest)"))
            return UNSET
        return environ[name]
    if isinstance(value, dict):
        return {k: resolve_env(v, environ, path + (k,), found) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_env(v, environ, path + (i,), found) for i, v in enumerate(value)]
    return value


def parse_json_path(text: str) -> JsonPath:
    """The inverse of `messages.json_path`: `gateway.ip_ranges[1]` -> ('gateway', 'ip_ranges', 1)."""
    import json

    parts: list[PathPart] = []
    position = 0
    while position < len(text):
        match = _PATH_PART.match(text, position)
        if match is None or match.end() == position:
            return tuple(parts)  # a shape json_path never writes: keep what was understood
        name, index, quoted = match.groups()
        parts.append(name if name is not None else int(index) if index is not None else json.loads(quoted))
        position = match.end()
    return tuple(parts)


@dataclass(frozen=True)
class Sources:
    """Where a tenant's merged config came from, to name the manifest path of a problem."""

    label: str  # "tenants[3] (contoso)"
    index: int
    defaults: Any
    tenant: Any
    overrides: Any

    def where(self, path: JsonPath) -> tuple[str, bool]:
        """The manifest path of the merged config's `path`, and whether it is the defaults'.
        The source holding the longest part of the path wins; on a tie the one merged last."""
        in_tenant = path[:1] == ("tenant",)
        candidates = (
            (_depth(self.overrides, path), f"{self.label}.overrides", path),
            (1 + _depth(self.tenant, path[1:]) if in_tenant and self.tenant else -1,
             f"{self.label}.tenant", path[1:]),
            (_depth(self.defaults, path), "defaults", path),
        )
        depth, prefix, inner = max(candidates, key=lambda c: c[0])
        if depth <= 0:
            return self.label + (f".{json_path(path)}" if path else ""), False
        shown = json_path(inner)
        return (f"{prefix}.{shown}" if shown else prefix), prefix == "defaults"


def _depth(source: Any, path: JsonPath) -> int:
    """How many leading parts of `path` exist in `source`."""
    depth = 0
    node = source
    for part in path:
        if isinstance(part, str) and isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(part, int) and isinstance(node, list) and 0 <= part < len(node):
            node = node[part]
        else:
            break
        depth += 1
    return depth
