"""Secrets never leak: the client secret, the PFX passphrase, private key material and the
access and refresh tokens appear in no log record (msal's and urllib3's DEBUG included), no
reporter event, no exception message or repr, and nothing printed."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from exoform.engine.cmdlets import CmdletCall
from exoform.engine.errors import ExoformError
from exoform.engine.provider import READ_TYPES
from support.reporter import RecordingReporter
from exoform.providers.exchange.credentials import load_credential
from exoform.providers.exchange.settings import ExchangeSettings


def _cached_tokens(cache_dir: Path) -> list[str]:
    secrets: list[str] = []
    for path in cache_dir.glob("*.json"):
        document = json.loads(path.read_text())
        for section in ("AccessToken", "RefreshToken"):
            secrets += [entry["secret"] for entry in document.get(section, {}).values()]
    return secrets


def test_no_secret_in_logs_events_errors_or_output(start_emulator, connect, monkeypatch, caplog,
                                                   capsys, isolated_environment) -> None:
    caplog.set_level(logging.DEBUG)
    emulator = start_emulator()
    reporter = RecordingReporter()
    seen: list[str] = []

    def attempt(fn) -> None:
        try:
            fn()
        except ExoformError as error:
            seen.extend([str(error), repr(error), repr(error.args)])

    # Successful sign-ins (secret, PFX, device code), a 401 and re-sign-in, errors on the way.
    provider = connect(emulator, reporter=reporter)
    provider.read(READ_TYPES)
    emulator.expire_tokens()
    attempt(lambda: provider.invoke(CmdletCall.of("Remove-TransportRule", {"Identity": "nope"})))
    attempt(lambda: provider.invoke(CmdletCall.of("Get-Mailbox")))
    monkeypatch.setenv("PFX_PASS", emulator.certificate.pfx_password)
    pfx = {"method": "certificate", "certificate_path": str(emulator.certificate.pfx_path),
           "certificate_password_env": "PFX_PASS"}
    connect(emulator, "certificate", reporter=reporter, auth=pfx).read(["TransportRule"])
    connect(emulator, "device_code", reporter=reporter, prompt=seen.append).read(["TransportRule"])
    # Failed sign-ins with wrong secrets.
    monkeypatch.setenv("EXOFORM_EMULATOR_SECRET", "wrong-" + emulator.client_secret)
    attempt(lambda: connect(emulator, reporter=reporter, token_cache=False).read(["TransportRule"]))
    monkeypatch.setenv("PFX_PASS", "bad-" + emulator.certificate.pfx_password)
    attempt(lambda: connect(emulator, "certificate", reporter=reporter, auth=pfx).read(["TransportRule"]))
    settings = ExchangeSettings.from_options(emulator.tenant_options("certificate"))
    seen += [repr(settings), repr(load_credential(settings.auth)), repr(provider)]

    key_lines = emulator.certificate.pem_path.read_text().splitlines()[1:4]
    secrets = [emulator.client_secret, emulator.certificate.pfx_password, *key_lines,
               *_cached_tokens(isolated_environment)]
    assert len(secrets) >= 6
    out, err = capsys.readouterr()
    haystack = "\n".join([caplog.text, repr(reporter.events), *seen, out, err])
    assert len(seen) >= 5 and "msal" in caplog.text  # the scan saw real material
    for secret in secrets:
        assert secret not in haystack
