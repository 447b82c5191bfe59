"""Every failure of an Admin API call arrives as the right typed error, in one sentence naming
the cmdlet, the object and Exchange's own text: through the emulator, and for answers the
emulator does not produce (transient exception types, dates in Retry-After) directly."""
from __future__ import annotations

import email.utils
import json
import time
from typing import Any

import pytest

from exoform.engine.cmdlets import CmdletCall
from exoform.engine.errors import (
    AlreadyExists,
    AuthFailed,
    LimitExceeded,
    NotFound,
    PermissionDenied,
    ProviderError,
    ServerError,
    StillReferenced,
    Throttled,
    Transient,
    ValidationFailed,
)
from support.reporter import RecordingReporter
from exoform.providers.exchange.client import AdminApiClient
from exoform.providers.exchange.error_mapping import classify, parse_retry_after
from exoform.providers.exchange.settings import ExchangeSettings
from exoform.providers.exchange import make_session
from exoform.providers.faults import FaultPlan
from exoform.engine import exchange
from exoform.providers.tenant_model import dump_tenant, empty_tenant

#: Which exoform error class each exception type (with the text that tells plain .NET types
#: apart) the sandbox and emulator raise - as the real service reports them - stands for.
EXCEPTION_TYPE_CLASSES: dict[tuple[str, str], type[ProviderError]] = {
    (exchange.EX_NOT_FOUND, "Something happened."): NotFound,
    (exchange.EX_ALREADY_EXISTS, "Something happened."): AlreadyExists,
    (exchange.EX_CONNECTOR_EXISTS["InboundConnector"], "x"): AlreadyExists,
    (exchange.EX_CONNECTOR_EXISTS["OutboundConnector"], "x"): AlreadyExists,
    (exchange.EX_ARGUMENT, "A transport rule with the name 'R' already exists."): AlreadyExists,
    (exchange.EX_ARGUMENT, "Couldn't find object \"x\"."): ValidationFailed,
    (exchange.EX_INVALID_OPERATION, "The organization already has the maximum of 300 transport rules."): LimitExceeded,
    (exchange.EX_INVALID_OPERATION, "The rule is too big: its size is over the limit of 8 KB."): LimitExceeded,
    (exchange.EX_INVALID_PRIORITY, "The specified rule priority is invalid."): ValidationFailed,
    (exchange.EX_STILL_REFERENCED, "Something happened."): StillReferenced,
    (exchange.EX_DATA_VALIDATION, "Something happened."): ValidationFailed,
    (exchange.EX_PARAMETER_BINDING, "Something happened."): ValidationFailed,
    (exchange.EX_COMMAND_NOT_FOUND, "Something happened."): PermissionDenied,
}
OUTBOUND = {"Name": "GW - Outbound", "ConnectorType": "Partner", "SmartHosts": ["gw.example.com"],
            "UseMXRecord": False, "TlsSettings": "EncryptionOnly", "IsTransportRuleScoped": True}


def new(name: str, **params: Any) -> CmdletCall:
    return CmdletCall.of(name, params)


def test_not_found(emulator, connect) -> None:
    with pytest.raises(NotFound) as caught:
        connect(emulator).invoke(new("Remove-TransportRule", Identity="No Such Rule"))
    error = caught.value
    assert (error.cmdlet, error.identity, error.status) == ("Remove-TransportRule", "No Such Rule", 404)
    assert error.exception_type == "ManagementObjectNotFoundException"
    assert str(error).startswith("Remove-TransportRule on 'No Such Rule' failed: The operation "
                                 "couldn't be performed because object 'No Such Rule'")


def test_already_exists(emulator, connect) -> None:
    provider = connect(emulator)
    provider.invoke(new("New-OutboundConnector", **OUTBOUND))
    with pytest.raises(AlreadyExists, match="already exists"):
        provider.invoke(new("New-OutboundConnector", **OUTBOUND))


def test_still_referenced(emulator, connect) -> None:
    provider = connect(emulator)
    provider.invoke(new("New-OutboundConnector", **OUTBOUND))
    provider.invoke(new("New-TransportRule", Name="Route", RouteMessageOutboundConnector="GW - Outbound",
                        SentToScope="NotInOrganization"))
    with pytest.raises(StillReferenced) as caught:
        provider.invoke(new("Remove-OutboundConnector", Identity="GW - Outbound"))
    assert caught.value.exception_type == "ConnectorIncorrectUsageConnectorStillReferencedException"


def test_validation_failed(emulator, connect) -> None:
    bad = {**OUTBOUND, "SmartHosts": []}
    with pytest.raises(ValidationFailed) as caught:
        connect(emulator).invoke(new("New-OutboundConnector", **bad))
    assert caught.value.status == 400 and "{" not in str(caught.value)


def test_unknown_parameter_is_a_validation_error(emulator, connect) -> None:
    with pytest.raises(ValidationFailed, match="parameter name 'Bogus'"):
        connect(emulator).invoke(new("New-TransportRule", Name="x", Bogus=True))


def test_limit_exceeded_at_300_rules(start_emulator, connect, tmp_path) -> None:
    document = empty_tenant()
    document["TransportRule"] = [{"Name": f"Rule {i:03}", "Priority": i} for i in range(300)]
    tenant = tmp_path / "tenant.json"
    tenant.write_text(dump_tenant(document))
    emulator = start_emulator(tenant_file=tenant)
    with pytest.raises(LimitExceeded) as caught:
        connect(emulator).invoke(new("New-TransportRule", Name="One too many"))
    assert caught.value.exception_type == "InvalidOperationException"  # as the service says it


def test_nul_byte_403_is_permission_denied_and_not_retried(emulator, connect) -> None:
    provider = connect(emulator)
    with pytest.raises(PermissionDenied, match="HTTP 403") as caught:
        provider.invoke(new("Get-Mailbox", ResultSize="Unlimited"))
    assert caught.value.status == 403
    assert emulator.stats.invoke_calls == {"Get-Mailbox": 1}


def test_error_fault_is_a_server_error_and_changes_nothing(start_emulator, connect) -> None:
    emulator = start_emulator(faults=FaultPlan.parse("New-OutboundConnector#1:error"))
    reporter = RecordingReporter()
    with pytest.raises(ServerError, match="Injected fault"):
        connect(emulator, reporter=reporter).invoke(new("New-OutboundConnector", **OUTBOUND))
    assert emulator.document()["OutboundConnector"] == []
    assert emulator.stats.invoke_calls == {"New-OutboundConnector": 1}
    assert not [e for e in reporter.events if e[0] == "retry"]


def test_expired_token_is_replaced_once(emulator, connect) -> None:
    provider = connect(emulator)
    provider.read(["TransportRule"])
    emulator.expire_tokens()
    assert provider.read(["TransportRule"]) == {"TransportRule": []}
    assert provider.token_requests == 2
    statuses = [r.status for r in emulator.stats.requests]
    assert statuses == [200, 401, 200]


class _ForgedTokens:
    """A token source that only ever has tokens the API rejects (wrong audience)."""

    def __init__(self, token: str) -> None:
        self.token_value, self.refreshes, self.username = token, 0, ""

    def token(self) -> str:
        return self.token_value

    def refresh(self, rejected: str) -> str:
        self.refreshes += 1
        return self.token_value


def test_persistent_401_fails_after_one_reacquire(emulator) -> None:
    settings = ExchangeSettings.from_options(emulator.tenant_options())
    tokens = _ForgedTokens(emulator.issue_token(audience="https://graph.microsoft.com"))
    client = AdminApiClient(settings, make_session(settings), tokens,  # type: ignore[arg-type]
                            RecordingReporter())
    with pytest.raises(AuthFailed) as caught:
        client.invoke(new("Get-TransportRule"))
    assert tokens.refreshes == 1 and client.requests == 2
    assert "The audience claim value is invalid" in str(caught.value)


# ---- answers the emulator does not give --------------------------------------------------

def _body(exception_type: str, text: str = "Something happened.") -> bytes:
    return json.dumps({"error": {"code": "InternalServerError", "message": "Error executing cmdlet",
                                 "details": [{"message": f"Ex1|{exception_type}|{text}"}]}}).encode()


@pytest.mark.parametrize("exception_type", [
    "Microsoft.Exchange.Data.Directory.DCOverloadedException",
    "Microsoft.Exchange.Data.Directory.SuitabilityDirectoryException",
    "Microsoft.Exchange.Data.Directory.ServerInMMException",
    "Microsoft.Exchange.Data.Directory.ADServerSettingsChangedException",
    "Microsoft.Exchange.Data.Storage.StorageTransientException",
])
def test_transient_exception_types(exception_type: str) -> None:
    error = classify(500, _body(exception_type), {}, cmdlet="Get-TransportRule", identity="")
    assert isinstance(error, Transient) and error.retryable


@pytest.mark.parametrize("key, cls", list(EXCEPTION_TYPE_CLASSES.items()),
                         ids=[f"{t.rsplit('.', 1)[-1]}-{c.__name__}" for (t, _), c in EXCEPTION_TYPE_CLASSES.items()])
def test_agrees_with_the_tenant_models_exception_types(key: tuple[str, str], cls: type) -> None:
    full_type, text = key
    error = classify(400, _body(full_type, text), {}, cmdlet="Set-TransportRule", identity="r")
    assert type(error) is cls
    assert str(error).startswith("Set-TransportRule on 'r' failed: ") and text in str(error)


def test_duplicate_rule_name_through_the_emulator_is_already_exists(emulator, connect) -> None:
    provider = connect(emulator)
    provider.invoke(new("New-TransportRule", Name="Dup", SentToScope="NotInOrganization"))
    with pytest.raises(AlreadyExists) as caught:
        provider.invoke(new("New-TransportRule", Name="DUP", SentToScope="NotInOrganization"))
    assert caught.value.exception_type == "ArgumentException"
    assert str(caught.value).startswith("New-TransportRule on 'DUP' failed: A transport rule")


def test_innererror_fallback() -> None:
    body = json.dumps({"error": {"code": "x", "message": "Invalid Operation", "innererror": {
        "internalexception": {"type": "Microsoft.Exchange.Configuration.Tasks."
                                      "ManagementObjectNotFoundException",
                              "message": "Object 'r' couldn't be found."}}}}).encode()
    error = classify(400, body, {}, cmdlet="Get-TransportRule", identity="r")
    assert isinstance(error, NotFound) and "couldn't be found" in str(error)


@pytest.mark.parametrize("status", [502, 503, 504])
def test_gateway_statuses_are_transient(status: int) -> None:
    assert isinstance(classify(status, b"<html>busy</html>", {}, cmdlet="Get-X", identity=""), Transient)


def test_unreadable_body_never_leaks_into_the_message() -> None:
    error = classify(500, b"<html>stack trace secret-ish</html>", {}, cmdlet="Get-X", identity="")
    assert isinstance(error, ServerError) and "html" not in str(error)


def test_bare_404_is_not_taken_for_a_missing_object() -> None:
    assert type(classify(404, b"", {}, cmdlet="Remove-X", identity="a")) is ServerError


def test_429_retry_after_fractional_and_date() -> None:
    error = classify(429, b"", {"Retry-After": "0.75"}, cmdlet="Get-X", identity="")
    assert isinstance(error, Throttled) and error.retry_after == 0.75
    date = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= (parse_retry_after(date) or 0) <= 31
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
