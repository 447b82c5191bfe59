"""checkov custom checks on exoform's resource types, run against `exoform plan --json` output
(`checkov --framework terraform_plan --external-checks-dir tests/consumers/checkov`). checkov
reads planned_values, so it sees what a resource becomes; removals need a Rego policy."""
from __future__ import annotations

from typing import Any

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck


def _value(conf: dict[str, Any], key: str) -> Any:
    """checkov wraps every planned value in a one-element list."""
    value = conf.get(key)
    return value[0] if isinstance(value, list) and len(value) == 1 else value


class RulesEnforce(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(name="exoform mail flow rules enforce (no Audit mode)", id="CKV_EXO_1",
                         categories=[CheckCategories.GENERAL_SECURITY], supported_resources=["transport_rule"])

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        return CheckResult.PASSED if _value(conf, "Mode") == "Enforce" else CheckResult.FAILED


class ConnectorTls(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(name="exoform's outbound connector requires TLS", id="CKV_EXO_2",
                         categories=[CheckCategories.ENCRYPTION], supported_resources=["outbound_connector"])

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        tls = _value(conf, "TlsSettings")
        return CheckResult.PASSED if tls in ("EncryptionOnly", "CertificateValidation", "DomainValidation") else CheckResult.FAILED


class RoutingRuleNotDisabled(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(name="a plan must not disable a rule that routes mail through the gateway",
                         id="CKV_EXO_3", categories=[CheckCategories.GENERAL_SECURITY],
                         supported_resources=["transport_rule"])

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        routes = _value(conf, "RouteMessageOutboundConnector") or _value(conf, "BlindCopyTo")
        disabling = "State" in (conf.get("__change_keys__") or []) and _value(conf, "State") == "Disabled"
        return CheckResult.FAILED if routes and disabling else CheckResult.PASSED


RulesEnforce()
ConnectorTls()
RoutingRuleNotDisabled()
