"""Set-HostedConnectionFilterPolicy: the connection filter's IP Allow and Block lists (IPv4
only, /24 through /32 or a range of at most 256 addresses, public addresses only, at most 1273
entries) and its display name.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from exoform.engine.errors import LimitExceeded
from exoform.engine.exchange import EX_DATA_VALIDATION, MAX_ALLOWLIST_ENTRIES, MAX_POLICY_DISPLAY_NAME
from exoform.engine.ipv4 import ALLOW_LIST_IPS
from exoform.providers.tenant_model.binding import Ctx, check_ip_list, coerce_all
from exoform.providers.tenant_model.document import replace, view

if TYPE_CHECKING:
    from exoform.providers.tenant_model.model import TenantModel


def set_policy(model: TenantModel, ctx: Ctx) -> list[dict[str, Any]]:
    stored = model.resolve(ctx, "HostedConnectionFilterPolicy")
    policy = view("HostedConnectionFilterPolicy", stored)
    policy.update(coerce_all(ctx, policy))
    for list_param in ("IPAllowList", "IPBlockList"):
        if list_param not in ctx.params:
            continue
        check_ip_list(ctx, policy, list_param, ALLOW_LIST_IPS)
        if len(policy[list_param]) > MAX_ALLOWLIST_ENTRIES:
            raise ctx.error(
                LimitExceeded,
                f"{list_param} can hold at most {MAX_ALLOWLIST_ENTRIES} entries; this change"
                f" would make it {len(policy[list_param])}.",
                EX_DATA_VALIDATION,
            )
    if len(str(policy.get("AdminDisplayName") or "")) > MAX_POLICY_DISPLAY_NAME:
        raise ctx.invalid(
            f"AdminDisplayName can't be longer than {MAX_POLICY_DISPLAY_NAME} characters."
        )
    replace(model.objects("HostedConnectionFilterPolicy"), stored, policy)
    return []
