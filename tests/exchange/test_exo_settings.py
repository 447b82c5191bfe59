"""Tenant options of the exchange_online provider: per-cloud endpoints and authorities, the
device-code public client, the scope, every invalid option reported at once by path (by the
config, their one validator), and the README's examples of them."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from exoform.engine.config import parse_config
from exoform.engine.errors import InputError
from exoform.engine.exchange import DEVICE_CODE_CLIENT_ID
from exoform.providers.exchange.settings import ExchangeSettings

README = Path(__file__).resolve().parents[2] / "README.md"

GUID = "8f0e7f4e-5a3c-4a1e-9d61-3f1e2b7c9a10"
SECRET = {"method": "secret", "client_secret_env": "EXO_SECRET"}


@pytest.mark.parametrize("cloud, endpoint, login", [
    ("global", "https://outlook.office365.com", "https://login.microsoftonline.com"),
    ("gcc-high", "https://outlook.office365.us", "https://login.microsoftonline.us"),
    ("dod", "https://outlook-dod.office365.us", "https://login.microsoftonline.us"),
    ("gcc", "https://outlook.office365.com", "https://login.microsoftonline.com"),  # GCC: commercial hosts
])
def test_cloud_defaults(cloud: str, endpoint: str, login: str) -> None:
    settings = ExchangeSettings.from_options(
        {"tenant_id": "contoso.onmicrosoft.com", "client_id": GUID, "cloud": cloud, "auth": SECRET})
    assert settings.endpoint == endpoint
    assert settings.authority == f"{login}/contoso.onmicrosoft.com"
    assert settings.scope == f"{endpoint}/.default"
    assert not settings.tenant_is_guid
    overridden = ExchangeSettings.from_options(
        {"tenant_id": "contoso.onmicrosoft.com", "client_id": GUID, "cloud": cloud, "auth": SECRET,
         "endpoint": "https://emea.example.net"})
    assert overridden.scope == f"{endpoint}/.default"  # the cloud's resource, not the host


@pytest.mark.parametrize("cloud, endpoint, host, ok", [
    ("global", None, "eur01.outlook.office365.com", True),
    ("global", None, "outlook.office365.us", False),
    ("global", None, "evil.example.com", False),
    ("gcc-high", None, "xyz.outlook.office365.us", True),
    ("global", "https://127.0.0.1:8443", "127.0.0.1", True),
    ("global", "https://127.0.0.1:8443", "localhost", False),
])
def test_redirects_stay_in_the_cloud(cloud: str, endpoint: str | None, host: str, ok: bool) -> None:
    options: dict[str, Any] = {"tenant_id": GUID, "client_id": GUID, "cloud": cloud, "auth": SECRET}
    if endpoint:
        options["endpoint"] = endpoint
    assert ExchangeSettings.from_options(options).same_cloud(host) is ok


def _tenant_options(tenant: dict[str, Any]) -> Any:
    """`tenant` as the config validates and resolves it (the one validator of tenant options)."""
    config = {"integration": "contoso", "tenant": {"provider": "exchange_online", **tenant},
              "gateway": {"ip_ranges": ["203.0.113.0/24"], "tenant_info": "t"},
              "protection": {"mode": "inline", "directions": ["inbound"]}}
    return parse_config(config, source="exoform.json", base_dir=Path("/cfg")).tenant.options


def test_overrides_and_device_code_client() -> None:
    settings = ExchangeSettings.from_options(_tenant_options({
        "tenant_id": GUID.upper(), "auth": {"method": "device_code"},
        "endpoint": "https://127.0.0.1:8443/", "authority": f"https://127.0.0.1:8443/{GUID}",
        "ca_bundle": "/tmp/ca.pem"}))
    assert settings.client_id == DEVICE_CODE_CLIENT_ID and settings.tenant_id == GUID
    assert settings.endpoint == "https://127.0.0.1:8443" and settings.ca_bundle == "/tmp/ca.pem"
    assert settings.tenant_is_guid and not settings.auth.app_only


def test_every_problem_is_listed_by_path() -> None:
    with pytest.raises(InputError) as caught:
        _tenant_options({"tenant_id": "not a tenant", "cloud": "mars",
                         "endpoint": "http://outlook.office365.com",
                         "auth": {"method": "certificate"}})
    assert caught.value.source == "exoform.json"
    paths = {issue.path for issue in caught.value.issues}
    assert paths == {"tenant.tenant_id", "tenant.cloud", "tenant.endpoint", "tenant.client_id",
                     "tenant.auth.certificate_path"}


def test_secret_needs_the_variable_name() -> None:
    with pytest.raises(InputError, match="client_secret_env"):
        _tenant_options({"tenant_id": GUID, "client_id": GUID, "auth": {"method": "secret"}})


def _readme_tenant_blocks() -> list[dict[str, Any]]:
    """Every JSON snippet of the README's exchange_online section, as a whole tenant block."""
    section = README.read_text(encoding="utf-8").split("## A real tenant", 1)[1].split("\n## ", 1)[0]
    blocks = []
    for snippet in re.findall(r"```json\n(.*?)```", section, re.S):
        value = json.loads("{" + snippet.strip() + "}")
        tenant = value.get("tenant") or {"provider": "exchange_online", "tenant_id": GUID,
                                          "client_id": GUID, **value}
        blocks.append(tenant)
    return blocks


def test_readme_examples_are_valid_configs() -> None:
    blocks = _readme_tenant_blocks()
    assert {b["auth"]["method"] for b in blocks} == {"certificate", "secret", "device_code"}
    for tenant in blocks:
        config = {"integration": "readme", "tenant": tenant,
                  "gateway": {"ip_ranges": ["203.0.113.0/24"], "tenant_info": "t"},
                  "protection": {"mode": "inline", "directions": ["inbound"], "scope": {"users": "all"}}}
        spec = parse_config(config, source="README.md", base_dir=Path("."))
        ExchangeSettings.from_options(spec.tenant.options)
