"""Seeded scenarios for the chaos harness: a tenant with unmanaged objects, a config to reach
(and for `change`/`destroy` one applied first), what to kill, and when. Everything derives from
`random.Random(f"{seed}:{index}")`, so a run is reproducible from its seed and number."""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

INTEGRATION = "chaos"
RECIPIENTS = [
    {"address": "alice@contoso.com", "type": "UserMailbox"},
    {"address": "bob@contoso.com", "type": "UserMailbox"},
    {"address": "finance@contoso.com", "type": "MailUniversalDistributionGroup"},
]
OUR_RANGES = ["203.0.113.0/24", "198.51.100.0/25", "198.51.100.200", "8.8.4.0/24"]
ADMIN_ENTRIES = ["192.0.2.0/24", "203.0.113.0/24", "9.9.9.9"]
#: kind: (config applied first, the killed command, the recovery command). `first`/`target`
#: name the scenario's two configs; "rollback" injects an error at a step so the kill can land
#: in the rollback; "abandon" gives up on a killed apply, "revert" goes back to the old config.
PLAYS = {
    "apply": (None, ("apply", "target"), ("apply", "target")),
    "change": ("first", ("apply", "target"), ("apply", "target")),
    "destroy": ("first", ("destroy", "first"), ("destroy", "first")),
    "rollback": (None, ("apply", "target"), ("apply", "target")),
    "abandon": (None, ("apply", "target"), ("destroy", "target")),
    "revert": ("first", ("apply", "target"), ("apply", "first")),
}
KINDS = tuple(PLAYS)


@dataclass(frozen=True)
class Scenario:
    index: int
    seed: int
    provider: str  # "sandbox" or "emulator"
    kind: str
    tenant: dict[str, Any]
    first: dict[str, Any]  # applied cleanly before the killed run when PLAYS says so
    target: dict[str, Any]
    timing: str  # "step" (kill inside a chosen step's call) or "time" (uniform random delay)
    fraction: float  # where in the window to kill, 0..1
    step_pick: float  # which step, as a fraction of the plan's steps
    fail_pick: float  # rollback kind: which step fails, as a fraction

    @property
    def label(self) -> str:
        return f"#{self.index} {self.provider}/{self.kind}/{self.timing}"


def scenario(seed: int, index: int, provider: str, kinds: tuple[str, ...] = KINDS) -> Scenario:
    rng = random.Random(f"{seed}:{index}:{provider}")
    kind = rng.choice(kinds)
    return Scenario(
        index=index, seed=seed, provider=provider, kind=kind, tenant=tenant(rng), first=config(rng),
        target=config(rng),
        timing=rng.choice(("step", "step", "time")), fraction=rng.random(),
        step_pick=rng.random(), fail_pick=rng.random(),
    )


def config(rng: random.Random) -> dict[str, Any]:
    mode = rng.choice(["inline", "monitoring"])
    directions = rng.choice([["inbound"], ["outbound"], ["inbound", "outbound"]])
    scope: dict[str, Any] = {"users": "all"}
    if rng.random() < 0.3:
        scope = {"users": "selected", "recipients": ["alice@contoso.com"], "groups": ["finance@contoso.com"]}
    gateway: dict[str, Any] = {
        "ip_ranges": rng.sample(OUR_RANGES, rng.randint(1, 3)),
        "tenant_info": rng.choice(["t-1", "tenant info 2"]),
    }
    if rng.random() < 0.3:
        gateway["name_prefix"] = rng.choice(["Contoso GW", "Gateway Ü"])
    rules: dict[str, Any] = {"placement": rng.choice(["top", "bottom"])}
    if rng.random() < 0.5:
        rules["enabled"] = rng.random() < 0.5
    return {
        "integration": INTEGRATION,
        "gateway": gateway,
        "protection": {"mode": mode, "directions": directions, "scope": scope},
        "rules": rules,
        "allowlist": {"connection_filter": rng.random() < 0.7},
    }


def tenant(rng: random.Random) -> dict[str, Any]:
    """Unmanaged objects exoform must never lose: rules, a partner connector, allow entries."""
    rules = [
        {"Name": f"Admin rule {i}", "Priority": i, "State": rng.choice(["Enabled", "Disabled"]),
         "SetHeaderName": f"X-Admin-{i}", "SetHeaderValue": "1"}
        for i in range(rng.randint(0, 4))
    ]
    connectors = [
        {"Name": f"Partner {i}", "ConnectorType": "Partner", "SmartHosts": [f"mx{i}.partner.example"],
         "UseMXRecord": False, "RecipientDomains": [f"partner{i}.example"]}
        for i in range(rng.randint(0, 1))
    ]
    allow = rng.sample(ADMIN_ENTRIES, rng.randint(0, 2))
    return {
        "organization": "contoso.onmicrosoft.com",
        "recipients": RECIPIENTS,
        "TransportRule": rules,
        "OutboundConnector": connectors,
        "HostedConnectionFilterPolicy": [{"Name": "Default", "Identity": "Default", "IPAllowList": allow}],
    }
