"""Limits Exchange Online enforces, checked before any call (issue 14, point 1): the header
value at most 128 characters and the header name at most 64 at validate time; a rule's size
under 8 KB at plan time; ranges wider than /24 split only for the connector and the allow list,
sent as written to the rules. The sandbox's tenant model refuses the same (so does the emulator,
which runs it: see tests/exchange/test_exo_fidelity.py)."""
from __future__ import annotations

from typing import Any

import pytest

from exoform.engine.blueprint import ALLOWLIST, INBOUND_CONNECTOR, INBOUND_RULE, SPF_RULE, blueprint
from exoform.engine.cmdlets import CmdletCall
from exoform.engine.errors import InputError, LimitExceeded, ValidationFailed
from exoform.engine.exchange import EX_INVALID_OPERATION, EX_PARAMETER_BINDING, MAX_RULE_SIZE, rule_xml_size
from exoform.providers.tenant_model import TenantModel, empty_tenant
from support.harness import Run, spec_from
from support.kinds import read_of, tenant

BASE: dict[str, Any] = {
    "gateway": {"ip_ranges": ["203.0.113.0/24"], "tenant_info": "t0ken"},
    "protection": {"mode": "inline", "directions": ["inbound", "outbound"]},
}


def config(**gateway: Any) -> dict[str, Any]:
    return {**BASE, "gateway": {**BASE["gateway"], **gateway}}


def problems(cfg: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(InputError) as caught:
        spec_from(cfg)
    return {issue.path: issue.message for issue in caught.value.issues}


def test_header_value_and_name_limits_at_validate_time() -> None:
    spec_from(config(tenant_info="t" * 128, header_name="X-" + "h" * 62))  # at the limits
    found = problems(config(tenant_info="t" * 129))
    assert "at most 128" in found["gateway.tenant_info"] and "t" * 20 not in found["gateway.tenant_info"]
    assert "at most 64" in problems(config(header_name="X-" + "h" * 63))["gateway.header_name"]


def _attrs(spec_config: dict[str, Any]) -> dict[Any, dict[str, Any]]:
    return {r.address: dict(r.attributes) for r in blueprint(spec_from(spec_config))}


def test_wide_ranges_are_split_only_for_the_connector_and_the_allow_list() -> None:
    attrs = _attrs(config(ip_ranges=["198.18.0.0/16", "203.0.113.9"]))
    assert len(attrs[INBOUND_CONNECTOR]["SenderIPAddresses"]) == 257  # 256 /24s + the address
    assert len(attrs[ALLOWLIST]["IPAllowList"]) == 257
    assert attrs[SPF_RULE]["SenderIpRanges"] == ("198.18.0.0/16", "203.0.113.9")
    assert attrs[INBOUND_RULE]["ExceptIfSenderIpRanges"] == ("198.18.0.0/16", "203.0.113.9")


def test_split_ranges_would_have_broken_the_rule_size_limit() -> None:
    """Why the rules keep the user's CIDRs: 256 /24s alone are over 8 KB."""
    split = [f"198.18.{i}.0/24" for i in range(256)]
    assert rule_xml_size({"SenderIpRanges": split, "RemoveHeader": "X-MDCES-Data"}) > MAX_RULE_SIZE
    assert rule_xml_size({"SenderIpRanges": ["198.18.0.0/16"], "RemoveHeader": "X-MDCES-Data"}) < 1024


def test_a_rule_over_8_kb_is_a_plan_error_and_nothing_is_called(tmp_path) -> None:
    ranges = [f"198.{18 + i // 200}.{i % 200}.1" for i in range(400)]  # 400 single addresses
    spec = spec_from({**config(ip_ranges=ranges), "allowlist": {"connection_filter": False}})
    run = Run(tmp_path)
    plan = run.plan(spec)
    errors = {(d.code, d.address) for d in plan.diagnostics if d.severity.value == "error"}
    assert ("rule_too_large", "transport_rule.spf") in errors
    assert not run.tenant.exists()  # planning wrote nothing


def _model() -> TenantModel:
    return TenantModel(empty_tenant())


def _new_rule(model: TenantModel, **params: Any) -> list[dict[str, Any]]:
    return model.invoke(CmdletCall.of("New-TransportRule", {"Name": "R", **params}))


@pytest.mark.parametrize(("param", "value"), [
    ("SetHeaderName", "X-" + "h" * 63), ("RemoveHeader", "X Bad Header"),
    ("ExceptIfHeaderContainsMessageHeader", "x:colon"),
])
def test_model_refuses_bad_header_names(param: str, value: str) -> None:
    params: dict[str, Any] = {param: value}
    if param == "SetHeaderName":
        params["SetHeaderValue"] = "v"
    if param.endswith("MessageHeader"):
        params["ExceptIfHeaderContainsWords"] = ["true"]
    with pytest.raises(ValidationFailed) as caught:
        _new_rule(_model(), **params)
    assert caught.value.exception_type == EX_PARAMETER_BINDING and "64" in caught.value.detail


@pytest.mark.parametrize("value", ["v" * 129, "two\nlines"])
def test_model_refuses_header_values_exchange_refuses(value: str) -> None:
    model = _model()
    _new_rule(model, SetHeaderName="X-Ok", SetHeaderValue="v" * 128)
    with pytest.raises(ValidationFailed, match="128"):
        model.invoke(CmdletCall.of("Set-TransportRule", {"Identity": "R", "SetHeaderName": "X-Ok",
                                                         "SetHeaderValue": value}))


def test_model_refuses_a_rule_over_8_kb() -> None:
    model = _model()
    _new_rule(model, SenderIpRanges=["198.18.0.0/16"])
    with pytest.raises(LimitExceeded) as caught:
        _new_rule(model, Name="Big", SenderIpRanges=[f"198.18.{i}.0/24" for i in range(256)])
    assert caught.value.exception_type == EX_INVALID_OPERATION and "8 KB" in caught.value.detail


def test_model_accepts_any_cidr_in_rule_ip_conditions() -> None:
    [rule] = _new_rule(_model(), SenderIpRanges=["198.18.0.0/15"], ExceptIfSenderIpRanges=["9.0.0.0/8"])
    assert rule["SenderIpRanges"] == ["198.18.0.0/15"]


def test_plan_of_a_wide_range_applies_and_converges(tmp_path) -> None:
    """On the sandbox: a /16 gateway range installs (connector and allow list split, rules as
    written) and the next plan is empty."""
    run = Run(tmp_path)
    spec = spec_from(config(ip_ranges=["198.18.0.0/16"]))
    assert run.apply(spec).ok
    assert not run.plan(spec).steps
    read = read_of(TenantModel(run_document(run)))
    spf = read.by_name(SPF_RULE.kind, "OPSWAT MDCES - SPF")
    assert spf is not None and spf["SenderIpRanges"] == ["198.18.0.0/16"]


def run_document(run: Run) -> dict[str, Any]:
    import json

    return dict(json.loads(run.tenant.read_text()))


__all__ = ["tenant"]
