"""How a state or saved plan becomes bytes: plain JSON, or (with `"encryption": {"key_env":
VAR}`) an AES-256-GCM envelope whose lineage, serial and kind stay readable and are
authenticated with the ciphertext. The key (32 bytes, base64 or hex) comes only from the
environment; a wrong key or a tampered file is a clear error, never a traceback.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from typing import Any, Mapping, Protocol

from exoform.engine.errors import InputError, Issue, StateError
from exoform.engine.jsonfile import file_kind, json_bytes
from exoform.engine.jsonread import parse_json_bytes

ENVELOPE = "exoform_encrypted"
ALGORITHM = "AES-256-GCM"
KEY_HINT = ("32 random bytes, base64-encoded: generate one with `openssl rand -base64 32` (or "
            "python -c \"import base64,secrets;print(base64.b64encode(secrets.token_bytes(32)).decode())\")")


class Codec(Protocol):
    @property
    def encrypted(self) -> bool: ...

    @property
    def key_id(self) -> str: ...

    def encode(self, document: Mapping[str, Any], what: str) -> bytes: ...

    def decode(self, data: bytes, source: str, what: str) -> Any: ...


def is_envelope(document: object) -> bool:
    return isinstance(document, dict) and document.get(ENVELOPE) == 1


class PlainCodec:
    """Plain JSON; an encrypted file is refused with what to configure."""

    @property
    def encrypted(self) -> bool:
        return False

    @property
    def key_id(self) -> str:
        return ""

    def encode(self, document: Mapping[str, Any], what: str) -> bytes:
        return json_bytes(document)

    def decode(self, data: bytes, source: str, what: str) -> Any:
        document = parse_json_bytes(data, file_kind(what), source)
        if is_envelope(document):
            raise StateError(f"{source} is encrypted (key {document.get('key_id')}); set "
                             '"encryption": {"key_env": "VAR"} in the config and the key in that '
                             "environment variable")
        return document


PLAIN = PlainCodec()


@dataclass(frozen=True)
class AesGcmCodec:
    """AES-256-GCM with a fresh 96-bit nonce per write."""

    key: bytes
    env: str  # the variable it came from, for messages

    @property
    def encrypted(self) -> bool:
        return True

    @property
    def key_id(self) -> str:
        return "sha256:" + hashlib.sha256(b"exoform-key-id:" + self.key).hexdigest()[:16]

    def encode(self, document: Mapping[str, Any], what: str) -> bytes:
        # cryptography is imported only once a key is used: it costs start-up time otherwise.
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        clear = {ENVELOPE: 1, "algorithm": ALGORITHM, "key_id": self.key_id, "kind": what,
                 "lineage": document.get("lineage") or document.get("prior_state", {}).get("lineage", ""),
                 "serial": document.get("serial", document.get("prior_state", {}).get("serial", 0)),
                 "integration": document.get("integration", "")}
        nonce = secrets.token_bytes(12)
        sealed = AESGCM(self.key).encrypt(nonce, json_bytes(document), _aad(clear))
        return json_bytes({**clear, "nonce": _b64(nonce), "ciphertext": _b64(sealed)})

    def decode(self, data: bytes, source: str, what: str) -> Any:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        document = parse_json_bytes(data, file_kind(what), source)
        if not is_envelope(document):
            raise StateError(f"{source} is not encrypted, but the config sets encryption; encrypt "
                             "it with `exoform state migrate --from CONFIG_WITHOUT_ENCRYPTION`")
        if document.get("key_id") != self.key_id:
            raise StateError(f"{source} was encrypted with key {document.get('key_id')}, but {self.env} "
                             f"holds key {self.key_id}; set the right key (nothing was changed)")
        try:
            clear = {k: document[k] for k in (ENVELOPE, "algorithm", "key_id", "kind", "lineage",
                                              "serial", "integration")}
            plain = AESGCM(self.key).decrypt(_unb64(document["nonce"]),
                                             _unb64(document["ciphertext"]), _aad(clear))
        except (KeyError, ValueError, TypeError, InvalidTag):
            raise StateError(f"{source} cannot be decrypted with the key in {self.env}: it was "
                             "modified or is damaged (nothing was changed)") from None
        return parse_json_bytes(plain, file_kind(what), source)


def _aad(clear: Mapping[str, Any]) -> bytes:
    return json.dumps(clear, sort_keys=True, separators=(",", ":")).encode()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _strict_b64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def _unb64(text: Any) -> bytes:
    if not isinstance(text, str):
        raise ValueError("not text")
    return base64.b64decode(text, validate=True)


def key_from_env(variable: str, environ: Mapping[str, str] | None = None) -> bytes:
    """The 32-byte key in `variable`; InputError naming the variable (never its value)."""
    env = os.environ if environ is None else environ
    text = (env.get(variable) or "").strip()
    where = f"encryption key (environment variable {variable})"
    if not text:
        raise InputError(where, [Issue("", f"is not set; put {KEY_HINT} in it")])
    for decode in (bytes.fromhex, _strict_b64, base64.urlsafe_b64decode):
        try:
            key = decode(text)
        except (ValueError, binascii.Error):
            continue
        if len(key) == 32:
            return key
    raise InputError(where, [Issue("", f"does not hold a 256-bit key; it must be {KEY_HINT}")])


def codec_for(key_env: str | None, environ: Mapping[str, str] | None = None) -> Codec:
    """The codec a config's `encryption` block asks for (plain without one)."""
    return PLAIN if not key_env else AesGcmCodec(key_from_env(key_env, environ), key_env)
