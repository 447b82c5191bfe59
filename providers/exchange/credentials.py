"""Client credentials for app-only sign-in: a secret read from an environment variable, or a
certificate (PEM with key and certificate, or PFX) turned into what msal expects.

Errors name the environment variable or file, never its content; nothing here has a revealing repr.
"""
from __future__ import annotations

import hashlib
import os
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from exoform.engine.errors import InputError, Issue
from exoform.providers.exchange.settings import SOURCE, AuthSettings


class ClientCredential:
    """The msal `client_credential` value, kept out of reprs and exception messages."""

    __slots__ = ("_value", "description")

    def __init__(self, value: str | dict[str, Any], description: str) -> None:
        self._value = value
        self.description = description  # e.g. "client secret from $EXO_SECRET"

    @property
    def msal_value(self) -> str | dict[str, Any]:
        return self._value

    def __repr__(self) -> str:
        return f"ClientCredential({self.description}, value hidden)"


def load_credential(auth: AuthSettings) -> ClientCredential:
    """The credential for `auth` (secret or certificate); raises InputError naming the source."""
    if auth.method == "secret":
        secret = _env(auth.client_secret_env, "tenant.auth.client_secret_env", "client secret")
        return ClientCredential(secret, f"client secret from ${auth.client_secret_env}")
    if auth.method == "certificate":
        return _certificate(auth)
    raise ValueError(f"sign-in method {auth.method!r} uses no client credential")


def key_file_warning(auth: AuthSettings) -> str | None:
    """A warning when the certificate file (it holds the private key) is readable by other
    users; checked at every start, even when a cached token means the key is not read."""
    if auth.method != "certificate" or not auth.certificate_path:
        return None
    try:
        mode = os.stat(auth.certificate_path).st_mode & 0o777
    except OSError:
        return None  # a missing file is reported, with its path, when the key is needed
    if not mode & 0o044:
        return None
    return (f"the certificate file {auth.certificate_path} holds a private key and is readable by "
            f"other users (mode {mode:04o}); restrict it: chmod 600 {auth.certificate_path}")


def _env(name: str, path: str, what: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise InputError(SOURCE, [Issue(path, f"environment variable {name} holding the {what} "
                                              "is not set or empty")])
    return value


def _certificate(auth: AuthSettings) -> ClientCredential:
    path = auth.certificate_path
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise _cert_error(f"cannot read the certificate file {path} ({error.strerror})") from None
    password = None
    if auth.certificate_password_env:
        password = _env(auth.certificate_password_env, "tenant.auth.certificate_password_env",
                        "certificate passphrase").encode()
    key, cert = _parse_pem(data, path, password) if b"-----BEGIN" in data else _parse_pfx(
        data, path, password)
    # Given the certificate itself (not a SHA-1 thumbprint, msal's deprecated form), msal signs
    # the client assertion with PS256 and names the certificate by its SHA-256 thumbprint
    # (x5t#S256). An unencrypted in-memory PEM avoids passing the passphrase on.
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    # The SHA-1 thumbprint is what the Entra admin center lists for an uploaded certificate.
    thumbprint = hashlib.sha1(cert.public_bytes(serialization.Encoding.DER)).hexdigest().upper()
    return ClientCredential({"private_key": key_pem, "public_certificate": cert_pem},
                            f"certificate {path} (thumbprint {thumbprint})")


def _parse_pem(data: bytes, path: str, password: bytes | None) -> tuple[Any, x509.Certificate]:
    try:
        cert = x509.load_pem_x509_certificate(data)
    except ValueError:
        raise _cert_error(f"the PEM file {path} holds no certificate; it needs both the "
                          "private key and the certificate") from None
    try:
        key = serialization.load_pem_private_key(data, password=password)
    except (TypeError, ValueError):
        raise _cert_error(_key_problem(path, password)) from None
    return key, cert


def _parse_pfx(data: bytes, path: str, password: bytes | None) -> tuple[Any, x509.Certificate]:
    try:
        key, cert, _ = pkcs12.load_key_and_certificates(data, password)
    except (TypeError, ValueError):
        raise _cert_error(_key_problem(path, password, pfx=True)) from None
    if key is None or cert is None:
        raise _cert_error(f"the PFX file {path} must hold both a private key and a certificate")
    return key, cert


def _key_problem(path: str, password: bytes | None, *, pfx: bool = False) -> str:
    kind = "PFX file" if pfx else "private key in"
    if password is None:
        return (f"cannot open the {kind} {path}: it is not a valid key/certificate or it is "
                "encrypted and no certificate_password_env is set")
    return f"cannot open the {kind} {path}: wrong passphrase or not a valid key/certificate"


def _cert_error(message: str) -> InputError:
    return InputError(SOURCE, [Issue("tenant.auth.certificate_path", message)])
