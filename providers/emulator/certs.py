"""Certificates for the emulator: a test CA, the HTTPS server certificate it signs (127.0.0.1
and localhost), and app-registration client certificates written as PEM (key and certificate) and
as a passphrase-protected PFX, all kept in the work folder across restarts (keys 0600). Built
with `cryptography`, which msal needs anyway.
"""
from __future__ import annotations

import datetime
import hashlib
import ipaddress
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

SERVER_NAMES = ("127.0.0.1", "localhost")
_PEM = serialization.Encoding.PEM


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(subject: str, issuer: str, public_key: object, days: int) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.timezone.utc)
    return (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
            .public_key(public_key).serial_number(x509.random_serial_number())  # type: ignore[arg-type]
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=days)))


class TestCertificateAuthority:
    """A CA that exists for one emulator; its PEM is what clients put in `ca_bundle`."""

    __test__ = False  # not a pytest class despite the name

    def __init__(self, workdir: Path) -> None:
        """The CA kept in `workdir` (ca.pem, ca-key.pem) if there is one, so configs naming
        ca.pem keep working across restarts; else a new one, saved there."""
        self.ca_path = workdir / "ca.pem"
        key_path = workdir / "ca-key.pem"
        if self.ca_path.exists() and key_path.exists() and _lasts(self.ca_path):
            self.certificate = x509.load_pem_x509_certificate(self.ca_path.read_bytes())
            loaded = serialization.load_pem_private_key(key_path.read_bytes(), None)
            assert isinstance(loaded, ec.EllipticCurvePrivateKey)
            self._key = loaded
        else:
            self._key = ec.generate_private_key(ec.SECP256R1())
            self.certificate = (_builder("exoform emulator test CA", "exoform emulator test CA",
                                         self._key.public_key(), 30)
                                .add_extension(x509.BasicConstraints(ca=True, path_length=0), True)
                                .add_extension(x509.KeyUsage(False, False, False, False, False, True,
                                                             True, False, False), True)
                                .sign(self._key, hashes.SHA256()))
            _write_private(key_path, self._key.private_bytes(_PEM, serialization.PrivateFormat.PKCS8,
                                                             serialization.NoEncryption()))
            self.ca_path.write_bytes(self.certificate.public_bytes(_PEM))
        self._server_path = workdir / "server.pem"
        self._issue_server_certificate()

    def _issue_server_certificate(self) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        names: list[x509.GeneralName] = [x509.DNSName("localhost")]
        names.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
        cert = (_builder("127.0.0.1", "exoform emulator test CA", key.public_key(), 30)
                .add_extension(x509.SubjectAlternativeName(names), False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
                .sign(self._key, hashes.SHA256()))
        key_pem = key.private_bytes(_PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        _write_private(self._server_path, key_pem + cert.public_bytes(_PEM))

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(self._server_path))
        return context


@dataclass(frozen=True)
class ClientCertificate:
    """An app registration's certificate: files for the client, the certificate for the server."""

    certificate: x509.Certificate
    pem_path: Path  # private key + certificate, unencrypted
    pfx_path: Path  # PKCS#12, protected by `pfx_password`
    pfx_password: str

    @property
    def thumbprint(self) -> str:
        """SHA-1 of the DER certificate, upper-case hex (Entra's "thumbprint")."""
        return hashlib.sha1(self.certificate.public_bytes(serialization.Encoding.DER)).hexdigest().upper()


def _lasts(path: Path) -> bool:
    """A kept CA is used again while it is valid for another day (it lives 30 days)."""
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    left = cert.not_valid_after_utc - datetime.datetime.now(datetime.timezone.utc)
    return left > datetime.timedelta(days=1)


def _write_private(path: Path, data: bytes) -> None:
    """A key file, owner-only from its first byte."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def make_client_certificate(workdir: Path, name: str, pfx_password: str) -> ClientCertificate:
    """A self-signed RSA certificate (msal signs assertions with RS256/PS256), as PEM and PFX;
    the one already in `workdir` (same name and passphrase) is kept across restarts."""
    pem_path, pfx_path = workdir / f"{name}.pem", workdir / f"{name}.pfx"
    if pem_path.exists() and pfx_path.exists():
        kept = x509.load_pem_x509_certificate(pem_path.read_bytes())
        return ClientCertificate(kept, pem_path, pfx_path, pfx_password)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = _builder(name, name, key.public_key(), 365).sign(key, hashes.SHA256())
    _write_private(pem_path, key.private_bytes(_PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()) + cert.public_bytes(_PEM))
    _write_private(pfx_path, pkcs12.serialize_key_and_certificates(
        name.encode(), key, cert, None, serialization.BestAvailableEncryption(pfx_password.encode())))
    return ClientCertificate(cert, pem_path, pfx_path, pfx_password)
