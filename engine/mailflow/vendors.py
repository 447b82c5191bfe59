"""Mail-security products known to route mail through Exchange Online with transport rules and
send it back (in-line add-ons and gateways), recognised by smart-host domain or by a word in a
connector's name. A rule-scoped connector to one of them is a service that returns mail.
"""
from __future__ import annotations

from typing import Iterable

# product -> (smart-host domains, name words); from the vendors' integration pages cited in
# shared/reference/mail-flow-semantics.md B.7 and m365-anchors.md.
PRODUCTS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("Check Point Harmony Email (Avanan)", ("checkpoint.com", "avanan.net", "avanan.com"),
     ("check point", "checkpoint", "avanan")),
    ("Mimecast", ("mimecast.com", "mimecast-offshore.com", "mimecast.co.za"), ("mimecast",)),
    ("Proofpoint", ("pphosted.com", "ppe-hosted.com", "proofpoint.com"), ("proofpoint",)),
    ("Trend Micro", ("trendmicro.com", "trendmicro.eu", "trendmicro.co.jp"), ("trend micro", "trendmicro")),
    ("Barracuda", ("barracudanetworks.com", "barracuda.com", "cudasvc.com"), ("barracuda",)),
    ("Hornetsecurity", ("hornetsecurity.com", "hornetsecurity.de"), ("hornetsecurity",)),
    ("SEPPmail", ("seppmail.cloud", "seppmail.ch", "seppmail.de"), ("seppmail",)),
    ("Perception Point", ("perception-point.io",), ("perception point", "perception-point")),
    ("CodeTwo", ("codetwo.online", "codetwo.com"), ("codetwo",)),
    ("Exclaimer", ("exclaimer.net", "exclaimer.com"), ("exclaimer",)),
)


def product_of(name: str, hosts: Iterable[str]) -> str:
    """The product a connector sends to ("" when none is recognised)."""
    folded_name = name.casefold()
    hosts = [h.casefold() for h in hosts]
    for product, domains, words in PRODUCTS:
        if any(h == d or h.endswith("." + d) for h in hosts for d in domains):
            return product
        if any(w in folded_name for w in words):
            return product
    return ""
