"""JSON Schema errors turned into messages a person can act on: the path named, the fix given,
values shown short and a sensitive one never shown. One cached validator per file of
`schemas/`; the config, state, saved plan and sandbox tenant readers all report through here.
"""
from __future__ import annotations

import copy
import difflib
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Callable, Mapping, Sequence, cast

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from exoform.engine.messages import JsonPath, Problem, as_json_path, preview, truncate


def _nothing_sensitive(path: JsonPath) -> bool:
    return False


def _no_hint(path: JsonPath, key: str) -> str:
    return ""


@dataclass(frozen=True)
class SchemaDocument:
    """A kind of file checked against one schema, and what its messages need to know."""

    schema_file: str  # a file name in schemas/
    noun: str  # the whole document in a message: "the config", "the file"
    #: Paths whose values must never be echoed (secrets, the tenant information).
    sensitive: Callable[[JsonPath], bool] = _nothing_sensitive
    #: Advice added to "unknown key" at a path (e.g. "never write a secret here").
    key_hint: Callable[[JsonPath, str], str] = _no_hint


@lru_cache(maxsize=None)
def validator(schema_file: str) -> Draft202012Validator:
    """The validator of `schemas/<schema_file>`, loaded and checked once per process."""
    text = resources.files("exoform.schemas").joinpath(schema_file).read_text(encoding="utf-8")
    schema = json.loads(text)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def schema_copy(schema_file: str) -> dict[str, Any]:
    """A copy of a schema, safe to change (for documentation tools and tests)."""
    return cast(dict[str, Any], copy.deepcopy(validator(schema_file).schema))


def schema_problems(data: object, document: SchemaDocument) -> list[Problem]:
    """Every schema violation of `data`, described (unsorted; see `messages.issues`)."""
    found: list[Problem] = []
    try:
        for error in validator(document.schema_file).iter_errors(data):
            found.extend(describe(error, document))
    except (ValueError, RecursionError):
        # Only reachable from Python callers: jsonschema's messages repr() the value, and an
        # int beyond Python's digit limit (json.loads refuses those) cannot be repr()'d.
        return [((), "holds a value that is not plain JSON (a number too large or a structure "
                     f"nested too deeply); write {document.noun} as ordinary JSON")]
    return found


def describe(error: ValidationError, document: SchemaDocument) -> list[Problem]:
    path = as_json_path(error.absolute_path)
    describer = _DESCRIBERS.get(str(error.validator))
    if describer is not None:
        return describer(error, path, document)
    # A schema keyword without a describer: name it rather than echo jsonschema's repr().
    return [(path, f"is not valid (it breaks the '{error.validator}' rule of "
                   f"{document.schema_file})")]


Describer = Callable[[ValidationError, JsonPath, SchemaDocument], "list[Problem]"]


def _schema(error: ValidationError) -> Mapping[str, Any]:
    return error.schema if isinstance(error.schema, dict) else {}


def _describe_required(error: ValidationError, path: JsonPath,
                       document: SchemaDocument) -> list[Problem]:
    instance = cast(Mapping[str, Any], error.instance)
    properties = _schema(error).get("properties", {})
    problems = []
    for key in cast(Sequence[str], error.validator_value):
        if key not in instance:
            hint = _first_sentence(properties.get(key, {}).get("description", ""))
            problems.append((path + (key,), f"is required but missing; add it. {hint}".strip()))
    return problems


def _describe_unknown(error: ValidationError, path: JsonPath,
                      document: SchemaDocument) -> list[Problem]:
    instance = cast(Mapping[Any, Any], error.instance)
    allowed = sorted(_schema(error).get("properties", {}))
    patterns = list(_schema(error).get("patternProperties", {}))
    problems = []
    for key in instance:
        if key in allowed or any(re.search(p, str(key)) for p in patterns):
            continue
        name = key if isinstance(key, str) else repr(key)
        message = (f"unknown key {_quote(name)}{_suggest(name, allowed)} "
                   f"(allowed: {', '.join(allowed)})")
        hint = document.key_hint(path, name)
        problems.append((path + (name,), f"{message}{'; ' + hint if hint else ''}"))
    return problems


def _describe_type(error: ValidationError, path: JsonPath,
                   document: SchemaDocument) -> list[Problem]:
    value = error.validator_value
    wanted = value if isinstance(value, list) else [value]
    names = " or ".join(_TYPE_NAMES.get(str(name), str(name)) for name in wanted)
    if not path:
        return [(path, f"{document.noun} must be {names} (got {_json_type(error.instance)})")]
    return [(path, f"must be {names} (got {_json_type(error.instance)})")]


def _describe_enum(error: ValidationError, path: JsonPath,
                   document: SchemaDocument) -> list[Problem]:
    options = [str(option) for option in cast(Sequence[Any], error.validator_value)]
    got = error.instance
    suggestion = _suggest(got, options) if isinstance(got, str) else ""
    return _showing(document, path, f"must be one of {', '.join(options)}", got, suggestion)


def _describe_const(error: ValidationError, path: JsonPath,
                    document: SchemaDocument) -> list[Problem]:
    return _showing(document, path, f"must be {preview(error.validator_value)}", error.instance)


def _describe_length(error: ValidationError, path: JsonPath,
                     document: SchemaDocument) -> list[Problem]:
    limit = int(cast(int, error.validator_value))
    if error.validator == "minLength":
        message = "must not be empty" if limit == 1 else f"must be at least {limit} characters long"
        return [(path, message)]
    length = len(cast(str, error.instance))
    return [(path, f"is {length} characters long; shorten it to at most {limit}")]


def _describe_items(error: ValidationError, path: JsonPath,
                    document: SchemaDocument) -> list[Problem]:
    limit = int(cast(int, error.validator_value))
    if error.validator == "minItems":
        return [(path, "must not be empty; list at least one item" if limit == 1
                 else f"must list at least {limit} items")]
    return [(path, f"lists {len(cast(list[Any], error.instance))} items; at most {limit} allowed")]


def _describe_bound(error: ValidationError, path: JsonPath,
                    document: SchemaDocument) -> list[Problem]:
    words = {"minimum": "at least", "maximum": "at most",
             "exclusiveMinimum": "more than", "exclusiveMaximum": "less than"}
    message = f"must be {words[str(error.validator)]} {preview(error.validator_value)}"
    return _showing(document, path, message, error.instance)


def _describe_unique(error: ValidationError, path: JsonPath,
                     document: SchemaDocument) -> list[Problem]:
    items = cast(list[Any], error.instance)
    seen: list[Any] = []
    repeated: Any = None
    for item in items:
        if item in seen:
            repeated = item
            break
        seen.append(item)
    if document.sensitive(path):
        return [(path, "lists an item more than once; list each item once")]
    return [(path, f"lists {preview(repeated)} more than once; list each item once")]


def _describe_pattern(error: ValidationError, path: JsonPath,
                      document: SchemaDocument) -> list[Problem]:
    pattern = truncate(str(error.validator_value), 80)
    what = _schema(error).get("description") or f"It must match the pattern {pattern}."
    if document.sensitive(path):
        return [(path, f"is not valid (the value is not shown). {what}".strip())]
    return [(path, f"{preview(error.instance)} is not valid. {what}".strip())]


def _describe_one_of(error: ValidationError, path: JsonPath,
                     document: SchemaDocument) -> list[Problem]:
    """The problems of the one alternative whose type fits; a generic word otherwise."""
    branches: dict[int, list[ValidationError]] = {}
    for sub in error.context or ():
        branches.setdefault(int(sub.relative_schema_path[0]), []).append(sub)
    fitting = [errors for errors in branches.values()
               if not any(e.validator == "type" and not e.relative_path for e in errors)]
    if len(fitting) == 1:
        return [problem for sub in fitting[0] for problem in describe(sub, document)]
    if not error.context:
        return [(path, "matches more than one of the allowed forms; keep to one")]
    return [(path, f"matches none of the {len(branches)} allowed forms")]


_DESCRIBERS: Mapping[str, Describer] = {
    "required": _describe_required,
    "additionalProperties": _describe_unknown,
    "type": _describe_type,
    "enum": _describe_enum,
    "const": _describe_const,
    "minLength": _describe_length,
    "maxLength": _describe_length,
    "minItems": _describe_items,
    "maxItems": _describe_items,
    "minimum": _describe_bound,
    "maximum": _describe_bound,
    "exclusiveMinimum": _describe_bound,
    "exclusiveMaximum": _describe_bound,
    "uniqueItems": _describe_unique,
    "pattern": _describe_pattern,
    "oneOf": _describe_one_of,
    "anyOf": _describe_one_of,
}
_TYPE_NAMES = {
    "object": "an object", "array": "an array", "string": "a string", "boolean": "true or false",
    "integer": "a whole number", "number": "a number", "null": "null",
}


def _showing(document: SchemaDocument, path: JsonPath, message: str, got: object,
             extra: str = "") -> list[Problem]:
    """`message`, plus the value found there unless the path is sensitive."""
    if document.sensitive(path):
        return [(path, message)]
    return [(path, f"{message} (got {preview(got)}{extra})")]


def _quote(text: str) -> str:
    return "'" + truncate(text, 40).replace("'", "\\'") + "'"


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "true or false"
    for kind, name in ((str, "a string"), (int, "a whole number"), (float, "a number"),
                       (list, "an array"), (dict, "an object")):
        if isinstance(value, kind):
            return name
    return "null" if value is None else f"a {type(value).__name__}"


def _suggest(word: str, options: Sequence[str]) -> str:
    same = [option for option in options if option.casefold() == word.casefold() and option != word]
    if same:  # "All" for "all": difflib's ratio misses short words that differ only in case
        return f"; did you mean '{same[0]}'? (values are case-sensitive)"
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.75)
    return f"; did you mean '{close[0]}'?" if close and close[0] != word else ""


def _first_sentence(text: str) -> str:
    head, dot, _ = text.partition(". ")
    return head + "." if dot else text
