"""The emulator's own contract, spoken to with plain `requests`: Exchange-shaped 401s, the
NUL-byte 403, error and success JSON (with sidecar keys), OpenID discovery, the tenant file it
shares with the sandbox, its conditions from the environment, and `emulator serve`."""
from __future__ import annotations

import io
import json
import threading
import uuid
from importlib import resources
from typing import Any

import jsonschema
import pytest
import requests

from exoform.cli import build_parser
from exoform.engine.cmdlets import CmdletCall
from exoform.providers.emulator.cli import announce, conditions_from
from exoform.providers.emulator.conditions import Conditions
from exoform.providers.emulator.server import Emulator, serve
from exoform.providers.faults import FaultPlan
from exoform.providers.sandbox import SandboxProvider


def _session(emulator: Emulator) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    session.verify = str(emulator.ca_path)
    return session


def _invoke(emulator: Emulator, cmdlet: str, parameters: dict[str, Any] | None = None, *,
            token: str | None = None, tenant: str | None = None, **kw: Any) -> requests.Response:
    headers = {"Content-Type": "application/json"}
    if token != "":
        headers["Authorization"] = f"Bearer {token or emulator.issue_token()}"
    url = f"{emulator.endpoint}/adminapi/beta/{tenant or emulator.tenant_id}/InvokeCommand"
    body: dict[str, Any] = {"CmdletInput": {"CmdletName": cmdlet, "Parameters": parameters or {}}}
    return _session(emulator).post(url, json=body, headers=headers, **kw)


@pytest.mark.parametrize("case, reason", [
    ("missing", "Authorization header is missing"),
    ("malformed", "malformed"),
    ("expired", "The token has expired."),
    ("audience", "The audience claim value is invalid"),
    ("tenant", "tenant does not match"),
])
def test_bad_bearer_tokens_get_401(emulator, case: str, reason: str) -> None:
    token = {"missing": "", "malformed": "abc.def.ghi",
             "expired": emulator.issue_token(lifetime=-60),
             "audience": emulator.issue_token(audience="https://graph.microsoft.com"),  # a Graph token
             "tenant": emulator.issue_token()}[case]
    tenant = str(uuid.uuid4()) if case == "tenant" else None
    response = _invoke(emulator, "Get-TransportRule", token=token, tenant=tenant)
    assert response.status_code == 401 and response.content == b""
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert reason in response.headers["x-ms-diagnostics"]


def test_tenant_domain_is_accepted_in_the_url(emulator) -> None:
    assert _invoke(emulator, "Get-TransportRule", tenant=emulator.tenant_domain).status_code == 200


def test_unknown_cmdlet_is_403_nul_bytes_labelled_gzip(emulator) -> None:
    response = _invoke(emulator, "Get-Mailbox", stream=True)
    assert response.status_code == 403
    assert response.headers["Content-Encoding"] == "gzip"
    raw = response.raw.read(decode_content=False)
    assert raw and set(raw) == {0}


def test_denied_cmdlet_is_403_like_an_unknown_one(start_emulator) -> None:
    emulator = start_emulator(Conditions(denied_cmdlets=("new-transportrule",)))
    denied = _invoke(emulator, "New-TransportRule", {"Name": "Rule A"}, stream=True)
    assert denied.status_code == 403 and set(denied.raw.read(decode_content=False)) == {0}
    assert _invoke(emulator, "Get-TransportRule").json()["value"] == []  # nothing was made


def test_serve_tenant_swaps_the_file_and_the_faults(emulator, tmp_path) -> None:
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    emulator.serve_tenant(first, FaultPlan.parse("New-TransportRule#1"))
    assert _invoke(emulator, "New-TransportRule", {"Name": "Rule A"}).status_code == 500
    assert _invoke(emulator, "New-TransportRule", {"Name": "Rule A"}).status_code == 200
    emulator.serve_tenant(second, FaultPlan.parse("New-TransportRule#1"))  # counts afresh
    assert _invoke(emulator, "New-TransportRule", {"Name": "Rule B"}).status_code == 500
    emulator.serve_tenant(second)
    assert _invoke(emulator, "New-TransportRule", {"Name": "Rule B"}).status_code == 200
    assert [r["Name"] for r in json.loads(first.read_text())["TransportRule"]] == ["Rule A"]
    assert [r["Name"] for r in emulator.document()["TransportRule"]] == ["Rule B"]


def test_unknown_parameter_is_400_with_exchange_error_json(emulator) -> None:
    response = _invoke(emulator, "Get-TransportRule", {"Bogus": 1})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["message"] == "Error executing cmdlet"
    error_id, exception_type, text = error["details"][0]["message"].split("|")
    assert exception_type == "System.Management.Automation.ParameterBindingException"
    assert "'Bogus'" in text


def test_not_found_is_404_and_validation_400(emulator) -> None:
    assert _invoke(emulator, "Remove-TransportRule", {"Identity": "nope", "Confirm": False}).status_code == 404
    bad = {"Name": "x", "UseMXRecord": False, "SmartHosts": []}
    assert _invoke(emulator, "New-OutboundConnector", bad).status_code == 400


def test_success_carries_odata_annotations(emulator) -> None:
    _invoke(emulator, "New-TransportRule", {"Name": "Rule A"})
    document = _invoke(emulator, "Get-TransportRule", {"ResultSize": "Unlimited"}).json()
    assert document["@adminapi.warnings"] == [] and "@odata.context" in document
    rule = document["value"][0]
    assert rule["Priority@data.type"] == "System.Int32" and rule["Guid@data.type"] == "System.Guid"


def test_openid_configuration_and_unknown_tenant(emulator) -> None:
    session = _session(emulator)
    config = session.get(f"{emulator.authority}/v2.0/.well-known/openid-configuration").json()
    assert config["token_endpoint"] == f"{emulator.authority}/oauth2/v2.0/token"
    assert config["device_authorization_endpoint"].startswith("https://127.0.0.1:")
    unknown = session.get(f"{emulator.endpoint}/{uuid.uuid4()}/v2.0/.well-known/openid-configuration")
    assert unknown.status_code == 400 and "AADSTS90002" in unknown.json()["error_description"]


def test_tenant_file_is_shared_with_the_sandbox(start_emulator, tmp_path) -> None:
    path = tmp_path / "tenant.json"
    emulator = start_emulator(tenant_file=path)
    assert _invoke(emulator, "New-TransportRule", {"Name": "From HTTP"}).status_code == 200
    sandbox = SandboxProvider(path, faults=FaultPlan())
    assert [r["Name"] for r in sandbox.read(["TransportRule"])["TransportRule"]] == ["From HTTP"]
    sandbox.invoke(CmdletCall.of("New-TransportRule", {"Name": "From sandbox"}))
    names = [r["Name"] for r in _invoke(emulator, "Get-TransportRule").json()["value"]]
    assert names == ["From HTTP", "From sandbox"]


def test_bad_tenant_file_is_refused_as_the_sandbox_refuses_it(start_emulator, tmp_path) -> None:
    path = tmp_path / "tenant.json"
    path.write_text('{"TransportRule": [{"Name": "A"}, {"Name": "a"}]}', encoding="utf-8")
    before = path.read_bytes()
    emulator = start_emulator(tenant_file=path)
    response = _invoke(emulator, "New-TransportRule", {"Name": "B"})
    assert response.status_code == 500
    assert "TransportRule[1].Name" in response.json()["error"]["details"][0]["message"]
    assert path.read_bytes() == before


def test_conditions_from_environment_and_flags() -> None:
    conditions = Conditions.from_env({"EXOFORM_EMULATOR_LATENCY_MS": "50",
                                      "EXOFORM_EMULATOR_REDIRECT": "yes",
                                      "EXOFORM_EMULATOR_MAX_PAGE_SIZE": "3",
                                      "EXOFORM_EMULATOR_DENIED_CMDLETS": "New-TransportRule, Remove-TransportRule"})
    assert (conditions.latency_ms, conditions.redirect, conditions.max_page_size) == (50.0, True, 3)
    assert conditions.denied_cmdlets == ("New-TransportRule", "Remove-TransportRule")
    args = build_parser().parse_args(["emulator", "serve", "--port", "0", "--latency-ms", "20",
                                      "--replication-lag", "1.5", "--deny-cmdlet", "Get-TransportRule"])
    assert args.func is not None
    flags = conditions_from(args)
    assert (flags.latency_ms, flags.replication_lag) == (20.0, 1.5)
    assert flags.denied_cmdlets == ("Get-TransportRule",)


def test_serve_announces_a_config_block_that_the_schema_accepts(tmp_path) -> None:
    stop, out = threading.Event(), io.StringIO()

    def ready(emulator: Emulator) -> None:
        announce(emulator, out)
        stop.set()

    serve(tmp_path / "tenant.json", 0, Conditions(), workdir=tmp_path / "emu", ready=ready, stop=stop)
    text = out.getvalue()
    assert "export EXOFORM_EMULATOR_SECRET=" in text and "Ctrl-C" in text
    block = json.loads(text[text.index("{"): text.rindex("}") + 1])
    schema = json.loads(resources.files("exoform.schemas").joinpath("config.schema.json").read_text())
    tenant_schema = {"$defs": schema["$defs"], "$ref": "#/$defs/exchange_online_tenant"}
    jsonschema.validate(block, tenant_schema)
    assert block["endpoint"].startswith("https://127.0.0.1:")
