"""MX look-ups over DNS-over-HTTPS (the JSON form of Cloudflare, Google and most resolvers),
through the run's HTTP session - so the corporate proxy and CA apply, and nothing but the
configured resolver is asked. Used by `exoform doctor`; optional: without a resolver URL the
MX check is skipped, never guessed.
"""
from __future__ import annotations

from typing import Any

import requests

from exoform.engine.errors import ServerError, Transient

_MX, _NOERROR, _NXDOMAIN = 15, 0, 3


def mx_hosts(session: requests.Session, resolver: str, domain: str) -> tuple[str, ...]:
    """The MX hosts of `domain`, by preference (empty: no MX record); a ProviderError when the
    resolver cannot be reached or answers something else."""
    where = f"the DNS-over-HTTPS resolver {resolver}"
    try:
        reply = session.get(resolver, params={"name": domain, "type": "MX"}, timeout=(5, 10),
                            headers={"Accept": "application/dns-json"})
        document: Any = reply.json() if reply.ok else None
    except (requests.RequestException, ValueError) as error:
        raise Transient(f"{where} could not be asked about {domain} ({type(error).__name__})") from None
    if not isinstance(document, dict):
        raise ServerError(f"{where} answered HTTP {reply.status_code} for {domain}")
    if document.get("Status") == _NXDOMAIN:
        return ()
    if document.get("Status") != _NOERROR:
        raise ServerError(f"{where} answered DNS status {document.get('Status')} for {domain}")
    found = []
    for answer in document.get("Answer") or []:
        if isinstance(answer, dict) and answer.get("type") == _MX:
            preference, _, host = str(answer.get("data", "")).partition(" ")
            if host and preference.isdigit():
                found.append((int(preference), host.strip().rstrip(".").lower()))
    return tuple(host for _, host in sorted(found))
