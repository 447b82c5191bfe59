"""The emulator's DNS-over-HTTPS resolver (the JSON form, `application/dns-json`): MX queries
answered from the tenant file's `mx_records`, so the real MX check of `exoform doctor` runs
against the emulator without asking anything on the internet.
"""
from __future__ import annotations

from typing import Any

from exoform.providers.emulator.messages import Reply, Request, json_reply
from exoform.providers.emulator.store import TenantStore

DNS_PATH = "/dns-query"
MX, NOERROR, NXDOMAIN = 15, 0, 3


class DnsOverHttps:
    def __init__(self, store: TenantStore) -> None:
        self._store = store

    def handle(self, request: Request) -> Reply:
        name = str(request.query.get("name", "")).rstrip(".").lower()
        if str(request.query.get("type", "")).upper() not in ("MX", str(MX)) or not name:
            return json_reply(400, {"Status": 1, "Comment": "only MX queries with a name are served"})
        records: dict[str, Any] = self._store.document().get("mx_records") or {}
        hosts = next((v for k, v in records.items() if k.lower() == name), None)
        document: dict[str, Any] = {"Status": NOERROR if hosts is not None else NXDOMAIN,
                                    "Question": [{"name": f"{name}.", "type": MX}]}
        if hosts:
            document["Answer"] = [{"name": f"{name}.", "type": MX, "TTL": 3600,
                                   "data": f"{10 * (i + 1)} {host.rstrip('.')}."}
                                  for i, host in enumerate(hosts)]
        reply = json_reply(200, document)
        return Reply(reply.status, reply.body, {**reply.headers, "Content-Type": "application/dns-json"})
