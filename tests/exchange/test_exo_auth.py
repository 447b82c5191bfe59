"""Sign-in through real msal against the emulator's identity platform: client secret,
certificate (PEM, and PFX with a passphrase), device code; the persistent token cache; and
clear errors for missing or wrong credentials."""
from __future__ import annotations

import stat
from pathlib import Path

import pytest

from exoform.engine.errors import AuthFailed, InputError
from exoform.engine.provider import READ_TYPES


def test_secret_sign_in_reads_all_types(emulator, connect) -> None:
    provider = connect(emulator, "secret")
    result = provider.read(READ_TYPES)
    assert set(result) == set(READ_TYPES)
    assert [p["Name"] for p in result["HostedConnectionFilterPolicy"]] == ["Default"]
    assert provider.token_requests == 1
    assert emulator.stats.token_requests_by_grant == {"client_credentials": 1}


def test_certificate_pem_sign_in(emulator, connect) -> None:
    provider = connect(emulator, "certificate")
    assert provider.read(["TransportRule"]) == {"TransportRule": []}
    assert provider.token_requests == 1


def test_certificate_pfx_with_passphrase(emulator, connect, monkeypatch) -> None:
    monkeypatch.setenv("EXO_PFX_PASS", emulator.certificate.pfx_password)
    auth = {"method": "certificate", "certificate_path": str(emulator.certificate.pfx_path),
            "certificate_password_env": "EXO_PFX_PASS"}
    provider = connect(emulator, "certificate", auth=auth)
    assert provider.read(["InboundConnector"]) == {"InboundConnector": []}


def test_device_code_prompts_with_code_and_url(emulator, connect) -> None:
    prompts: list[str] = []
    provider = connect(emulator, "device_code", prompt=prompts.append)
    provider.read(["OutboundConnector"])
    assert len(prompts) == 1
    assert f"{emulator.endpoint}/devicelogin" in prompts[0] and "code" in prompts[0]
    grants = emulator.stats.token_requests_by_grant
    assert grants == {"urn:ietf:params:oauth:grant-type:device_code": 1}
    # Delegated calls anchor on the tenant's system mailbox by the token's tid too (a guest or
    # partner admin's own UPN may live in another tenant).
    headers = dict(emulator.stats.requests[-1].headers)
    assert headers["X-AnchorMailbox"] == (
        "APP:SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}@" + emulator.tenant_id)


def test_device_code_second_run_uses_cache_without_prompt(emulator, connect) -> None:
    prompts: list[str] = []
    connect(emulator, "device_code", prompt=prompts.append).read(["TransportRule"])
    again = connect(emulator, "device_code", prompt=prompts.append)
    again.read(["TransportRule"])
    assert len(prompts) == 1 and again.token_requests == 0


def test_warm_cache_second_provider_makes_no_token_request(emulator, connect,
                                                           isolated_environment: Path) -> None:
    connect(emulator, "secret").read(["TransportRule"])
    files = list(isolated_environment.iterdir())
    assert len(files) == 1
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    identity_requests = emulator.stats.identity_requests
    warm = connect(emulator, "secret")
    warm.read(READ_TYPES)
    assert warm.token_requests == 0
    assert emulator.stats.token_requests == 1
    # Not even OpenID discovery: a warm app-only start never builds the msal app.
    assert emulator.stats.identity_requests == identity_requests


def test_warm_cached_token_rejected_by_the_api_is_replaced(emulator, connect) -> None:
    connect(emulator, "certificate").read(["TransportRule"])
    emulator.expire_tokens()
    warm = connect(emulator, "certificate")
    assert warm.read(["TransportRule"]) == {"TransportRule": []}
    assert warm.token_requests == 1 and emulator.stats.token_requests == 2


def test_token_cache_disabled_writes_nothing(emulator, connect, isolated_environment) -> None:
    connect(emulator, "secret", token_cache=False).read(["TransportRule"])
    second = connect(emulator, "secret", token_cache=False)
    second.read(["TransportRule"])
    assert not isolated_environment.exists()
    assert second.token_requests == 1 and emulator.stats.token_requests == 2


def test_damaged_cache_file_costs_one_token_request(emulator, connect, isolated_environment) -> None:
    connect(emulator).read(["TransportRule"])
    cache_file = next(isolated_environment.iterdir())
    cache_file.write_text("{not json")
    provider = connect(emulator)
    provider.read(["TransportRule"])
    assert provider.token_requests == 1


def test_missing_secret_variable_is_named(emulator, connect, monkeypatch) -> None:
    monkeypatch.delenv("EXOFORM_EMULATOR_SECRET")
    with pytest.raises(InputError) as caught:
        connect(emulator, "secret").read(["TransportRule"])
    assert "EXOFORM_EMULATOR_SECRET" in str(caught.value)
    assert "tenant.auth.client_secret_env" in str(caught.value)


def test_unreadable_certificate_is_named(emulator, connect, tmp_path) -> None:
    missing = tmp_path / "nope.pem"
    auth = {"method": "certificate", "certificate_path": str(missing)}
    with pytest.raises(InputError) as caught:
        connect(emulator, "certificate", auth=auth).read(["TransportRule"])
    assert str(missing) in str(caught.value) and "cannot read" in str(caught.value)


def test_wrong_pfx_passphrase_is_an_input_error(emulator, connect, monkeypatch) -> None:
    monkeypatch.setenv("EXO_PFX_PASS", "not-the-passphrase")
    auth = {"method": "certificate", "certificate_path": str(emulator.certificate.pfx_path),
            "certificate_password_env": "EXO_PFX_PASS"}
    with pytest.raises(InputError) as caught:
        connect(emulator, "certificate", auth=auth).read(["TransportRule"])
    assert "wrong passphrase" in str(caught.value)
    assert "not-the-passphrase" not in str(caught.value)


def test_wrong_secret_is_auth_failed_with_entra_text(emulator, connect, monkeypatch) -> None:
    monkeypatch.setenv("EXOFORM_EMULATOR_SECRET", "wrong-secret-value")
    with pytest.raises(AuthFailed) as caught:
        connect(emulator).read(["TransportRule"])
    message = str(caught.value)
    assert "invalid_client" in message and "AADSTS7000215" in message
    assert "wrong-secret-value" not in message and "\n" not in message


def test_certificate_not_registered_is_refused(start_emulator, connect) -> None:
    first, other = start_emulator(), start_emulator()
    auth = {"method": "certificate", "certificate_path": str(other.certificate.pem_path)}
    with pytest.raises(AuthFailed, match="AADSTS700027"):
        connect(first, "certificate", auth=auth).read(["TransportRule"])


def test_unknown_client_is_refused(emulator, connect) -> None:
    with pytest.raises(AuthFailed, match="AADSTS700016"):
        connect(emulator, client_id="11111111-2222-3333-4444-555555555555").read(["TransportRule"])


def test_unreachable_authority_is_auth_failed(emulator, connect) -> None:
    with pytest.raises(AuthFailed, match="cannot reach the identity platform"):
        connect(emulator, authority="https://127.0.0.1:1/" + emulator.tenant_id).read(["TransportRule"])
