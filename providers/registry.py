"""Choosing the provider a config names: `sandbox` (a JSON tenant file, the default) or
`exchange_online` (the Admin API). The only place that knows concrete provider classes."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from exoform.engine.provider import Provider
from exoform.engine.reporter import Reporter
from exoform.engine.spec import TenantSpec


def sandbox_path(tenant: TenantSpec, integration: str) -> Path:
    explicit = tenant.options.get("sandbox_file")
    return Path(explicit) if explicit else Path("state") / f"{integration}.tenant.json"


def tenant_label(tenant: TenantSpec, integration: str) -> str:
    """What a saved plan records as its tenant, to refuse applying it elsewhere."""
    if tenant.provider == "sandbox":
        return f"sandbox:{sandbox_path(tenant, integration).resolve()}"
    return f"exchange_online:{tenant.options.get('tenant_id', '')}"


def make_provider(
    tenant: TenantSpec,
    integration: str,
    reporter: Reporter,
    *,
    token_cache: bool = True,
    prompt: Callable[[str], Any] | None = None,
) -> Provider:
    if tenant.provider == "sandbox":
        from exoform.providers.sandbox import SandboxProvider

        return SandboxProvider(sandbox_path(tenant, integration), reporter=reporter)
    from exoform.providers.exchange import make_provider as make_exchange

    kwargs: dict[str, Any] = {"token_cache": token_cache}
    if prompt is not None:
        kwargs["device_code_prompt"] = prompt
    return make_exchange(tenant.options, reporter, **kwargs)
