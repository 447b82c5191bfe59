"""engine/schema_messages.py through the state, saved plan and sandbox tenant readers: friendly
messages at precise JSON paths, values cut short, sensitive values never shown, one validator
per schema (the config's own messages are covered by tests/test_config.py)."""
from __future__ import annotations

import json
from typing import Any

import pytest

from exoform.engine.jsonfile import holds_sensitive_value, schema_issues
from exoform.engine.schema_messages import validator
from exoform.providers.sandbox import tenant_issues

STATE: dict[str, Any] = {
    "format_version": 3, "exoform_version": "0.1.0", "serial": 3, "integration": "scenario",
    "lineage": "0f0e6c49-0a3c-4c7e-9a51-6e0f5c1f0b1a", "resources": [],
}


def _state_issues(**fields: Any) -> list[tuple[str, str]]:
    return [(i.path, i.message) for i in schema_issues({**STATE, **fields}, "state.schema.json")]


@pytest.mark.parametrize("fields, expected", [
    ({"serial": "3"}, [("serial", "must be a whole number (got a string)")]),
    ({"serial": -1}, [("serial", "must be at least 0 (got -1)")]),
    ({"format_version": 7}, [("format_version", "must be 3 (got 7)")]),
    ({"lineage": "x"}, [("lineage", '"x" is not valid. It must match the pattern '
                                    "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$.")]),
    ({"serials": 1}, [("serials", "unknown key 'serials'; did you mean 'serial'? (allowed: "
                                  "exoform_version, format_version, integration, lineage, "
                                  "pending, resources, serial, tenant)")]),
    ({"pending": {"step": 0, "address": "a", "operation": "o", "cmdlet": "c", "identity": "i"}},
     [("pending.started", "is required but missing; add it.")]),
    ({"pending": 5}, [("pending", "matches none of the 2 allowed forms")]),
])
def test_state_file_messages(fields: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    assert _state_issues(**fields) == expected


def test_the_whole_document_is_the_top_level() -> None:
    assert [(i.path, i.message) for i in schema_issues([], "state.schema.json")] == [
        ("(top level)", "the file must be an object (got an array)")]


def test_a_huge_value_is_cut_short() -> None:
    found = _state_issues(integration="A" * 100_000)
    assert found == [(path, message) for path, message in found if path == "integration"]
    assert ("integration", "is 100000 characters long; shorten it to at most 64") in found
    assert all(len(message) < 200 for _, message in found) and "…" in found[0][1]


def test_saved_plan_messages_name_each_missing_key() -> None:
    paths = [i.path for i in schema_issues({"format_version": 1}, "plan.schema.json")]
    assert "digest" in paths and "resource_changes" in paths and "format_version" not in paths


def test_tenant_file_messages() -> None:
    issues = tenant_issues({"TransportRules": [], "organization": 5})
    assert [(i.path, i.message) for i in issues] == [
        ("TransportRules", "unknown key 'TransportRules'; did you mean 'TransportRule'? (allowed: "
                           "HostedConnectionFilterPolicy, InboundConnector, OutboundConnector, "
                           "TransportRule, accepted_domains, mx_records, organization, recipients, tenant_id)"),
        ("organization", "must be a string (got a whole number)"),
    ]


def test_sensitive_attribute_values_are_recognised_at_any_depth() -> None:
    assert holds_sensitive_value(("resources", 2, "attributes", "SetHeaderValue"))
    assert holds_sensitive_value(("steps", 0, "parameters", "SetHeaderValue"))
    assert not holds_sensitive_value(("resources", 2, "attributes", "SetHeaderName"))


def test_no_message_repeats_jsonschemas_repr_of_a_value() -> None:
    weird = {**STATE, "integration": "it's", "resources": [{"address": {"a": [1, 2, 3]}}]}
    text = json.dumps([str(i) for i in schema_issues(weird, "state.schema.json")])
    assert "{'a'" not in text and "does not match" not in text


def test_each_schema_is_loaded_once() -> None:
    assert validator("tenant.schema.json") is validator("tenant.schema.json")
