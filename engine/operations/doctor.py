"""`exoform doctor`: a pre-flight check of one config's tenant that changes nothing - sign in,
the token's permission and role, one harmless read per cmdlet family exoform calls, the scope's
recipients, the accepted domains and where each domain's MX points - each finding with its fix.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, Callable, Sequence

from exoform.engine.checks.recipients import identity_problem
from exoform.engine.errors import AuthFailed, PermissionDenied, ProviderError
from exoform.engine.exchange import OBJECT_TYPES, READ_TYPES
from exoform.engine.operations.session import Session
from exoform.engine.provider import MailExchangers, Provider, SignInFacts
from exoform.engine.read import ACCEPTED_DOMAINS, RECIPIENTS, TenantRead, recipients_call
from exoform.engine.spec import IntegrationSpec

EXCHANGE_ADMINISTRATOR = "29232cdf-9323-42fd-ade2-1d097af3e4de"
GLOBAL_ADMINISTRATOR = "62e90394-69f5-4237-9190-012177145e10"
APP_ROLE = "Exchange.ManageAsApp"
ROLE_FIX = ("assign the app the Exchange Administrator role: Entra admin center > Roles and "
            "administrators > Exchange Administrator > Add assignments > the app")
# The cmdlets exoform runs, by the harmless read that shows the caller may use the family.
FAMILIES = {
    "Get-InboundConnector": ("New-InboundConnector", "Set-InboundConnector", "Remove-InboundConnector"),
    "Get-OutboundConnector": ("New-OutboundConnector", "Set-OutboundConnector", "Remove-OutboundConnector"),
    "Get-TransportRule": ("New-TransportRule", "Set-TransportRule", "Remove-TransportRule",
                          "Enable-TransportRule", "Disable-TransportRule"),
    "Get-HostedConnectionFilterPolicy": ("Set-HostedConnectionFilterPolicy",),
    "Get-AcceptedDomain": (),
    "Get-Recipient": (),
}
# MX hosts of Exchange Online (commercial and GCC; GCC High and DoD).
EXO_MX_SUFFIXES = (".mail.protection.outlook.com", ".mail.protection.office365.us")


class Status(str, Enum):
    OK = "ok"
    PROBLEM = "problem"  # exoform cannot work until it is fixed
    WARNING = "warning"  # works, but worth a look
    SKIPPED = "skipped"  # could not be checked here


@dataclass(frozen=True)
class Finding:
    check: str  # what was checked, e.g. "read Get-TransportRule"
    status: Status
    detail: str
    fix: str = ""


@dataclass(frozen=True)
class DoctorReport:
    tenant: str
    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        return not any(f.status is Status.PROBLEM for f in self.findings)


def doctor(session: Session) -> DoctorReport:
    """Every check against the config's tenant; reads only."""
    found: list[Finding] = []
    with session.reached() as provider:  # reads no state: a failed sign-in is a finding
        try:
            tenant = provider.identity().describe()
        except ProviderError as error:
            fix = "check tenant_id, client_id and the credential; " + _consent_hint(provider)
            return DoctorReport(session.tenant, (Finding("sign-in", Status.PROBLEM, str(error), fix),))
        found.append(Finding("sign-in", Status.OK, f"signed in to {tenant}"))
        found += _access(provider)
        read, reads = _reads(provider, session.spec)
        found += reads
        if read is not None:
            found += _recipients(read, session.spec) + _domains(read, session.spec)
            found += _mx(provider, read)
    return DoctorReport(tenant, tuple(found))


def _consent_hint(provider: Provider) -> str:
    if isinstance(provider, SignInFacts):
        try:
            return f"grant admin consent at {provider.access().consent_url}"
        except ProviderError:
            pass
    return "make sure the app has Exchange.ManageAsApp with admin consent"


def _access(provider: Provider) -> list[Finding]:
    """The token's app role and directory role (app-only sign-in), where the provider tells."""
    if not isinstance(provider, SignInFacts):
        return [Finding("permission and role", Status.SKIPPED, "this provider has no sign-in")]
    facts = provider.access()
    if not facts.app_only:
        return [Finding("permission and role", Status.OK,
                        f"delegated sign-in (scopes {' '.join(facts.scopes) or 'none'}); the admin "
                        "needs the Exchange Administrator role")]
    found = []
    if APP_ROLE not in facts.app_roles:
        found.append(Finding("permission", Status.PROBLEM, f"the token carries no {APP_ROLE} app role",
                             f"add API permission Office 365 Exchange Online > {APP_ROLE} and grant "
                             f"admin consent: {facts.consent_url}"))
    else:
        found.append(Finding("permission", Status.OK, f"{APP_ROLE} granted"))
    admin = {EXCHANGE_ADMINISTRATOR, GLOBAL_ADMINISTRATOR} & set(facts.directory_roles)
    found.append(Finding("role", Status.OK, "Exchange Administrator (or Global Administrator) role")
                 if admin else Finding("role", Status.PROBLEM,
                                       "the token names no Exchange Administrator role (wids)", ROLE_FIX))
    return found


def _reads(provider: Provider, spec: IntegrationSpec) -> tuple[TenantRead | None, list[Finding]]:
    """One harmless read per cmdlet family; a refusal names the cmdlets it stands for."""
    objects: dict[str, list[dict[str, Any]]] = {}
    found = []
    calls = [(f"Get-{t}", _reader(provider, t)) for t in READ_TYPES]
    if spec.scope.identities:
        calls.append(("Get-Recipient", lambda: provider.invoke(recipients_call(spec.scope.identities))))
    for cmdlet, run in calls:
        try:
            objects[cmdlet.removeprefix("Get-")] = list(run())
            found.append(Finding(f"read {cmdlet}", Status.OK, _family(cmdlet)))
        except (PermissionDenied, AuthFailed) as error:
            found.append(Finding(f"read {cmdlet}", Status.PROBLEM, f"{error} ({_family(cmdlet)})", ROLE_FIX))
        except ProviderError as error:
            found.append(Finding(f"read {cmdlet}", Status.PROBLEM, str(error)))
    complete = all(t in objects for t in OBJECT_TYPES)
    return (TenantRead(objects) if complete else None), found


def _reader(provider: Provider, exchange_type: str) -> Callable[[], list[dict[str, Any]]]:
    return lambda: provider.read([exchange_type])[exchange_type]


def _family(cmdlet: str) -> str:
    others = FAMILIES.get(cmdlet, ())
    return f"stands for {', '.join(others)}" if others else "read at plan time"


def _recipients(read: TenantRead, spec: IntegrationSpec) -> list[Finding]:
    if not spec.scope.identities:
        return [Finding("recipients", Status.OK, "all users: no recipients to look up")]
    found = []
    if RECIPIENTS not in read.raw():
        return [Finding("recipients", Status.SKIPPED, "Get-Recipient was refused (above)")]
    for identities, want_group in ((spec.scope.recipients, False), (spec.scope.groups, True)):
        for identity in identities:
            problem = identity_problem(read.recipient(identity), identity, want_group)
            found.append(Finding(f"recipient {identity}", Status.PROBLEM, problem,
                                 "fix protection.scope in the config") if problem else
                         Finding(f"recipient {identity}", Status.OK, f"is {read.primary_address(identity)}"))
    return found


def _domains(read: TenantRead, spec: IntegrationSpec) -> list[Finding]:
    domains = {str(d.get("DomainName", "")).lower(): d for d in read.accepted_domains()}
    if ACCEPTED_DOMAINS not in read.raw():
        return []
    listed = ", ".join(f"{name} ({d.get('DomainType')})" for name, d in sorted(domains.items()))
    found = [Finding("accepted domains", Status.OK, listed or "none")]
    monitoring = spec.gateway.monitoring_domain.lower()
    if not spec.inline and monitoring in domains:
        found.append(Finding("monitoring domain", Status.PROBLEM,
                             f"{monitoring} is an accepted domain of this tenant, so the copies for "
                             "the gateway would stay inside it", "set gateway.monitoring_domain to the "
                             "gateway's own domain"))
    for address in _addresses(read, spec):
        domain = address.rpartition("@")[2].lower()
        if domain not in domains:
            found.append(Finding(f"recipient {address}", Status.WARNING,
                                 f"{domain} is not an accepted domain: the rules will not match its mail"))
    return found


def _addresses(read: TenantRead, spec: IntegrationSpec) -> list[str]:
    return sorted({read.primary_address(i) for i in spec.scope.identities if "@" in read.primary_address(i)})


def _mx(provider: Provider, read: TenantRead) -> list[Finding]:
    names = [str(d.get("DomainName")) for d in read.accepted_domains()
             if d.get("DomainType", "Authoritative") == "Authoritative"
             and not str(d.get("DomainName", "")).lower().endswith((".onmicrosoft.com", ".onmicrosoft.us"))]
    if not isinstance(provider, MailExchangers):
        return [Finding("MX records", Status.SKIPPED, "this provider cannot look MX records up")]
    found = []
    for domain in sorted(names):
        try:
            hosts = provider.mail_exchangers(domain)
        except ProviderError as error:
            found.append(Finding(f"MX {domain}", Status.SKIPPED, str(error)))
            continue
        if hosts is None:
            return [Finding("MX records", Status.SKIPPED, "no DNS resolver is configured",
                            "set tenant.dns_over_https (e.g. https://cloudflare-dns.com/dns-query) "
                            "to check where each domain's mail arrives")]
        found.append(_mx_finding(domain, hosts))
    return found


def _mx_finding(domain: str, hosts: Sequence[str]) -> Finding:
    if not hosts:
        return Finding(f"MX {domain}", Status.WARNING, "no MX record: mail to this domain is not delivered")
    if all(h.endswith(EXO_MX_SUFFIXES) for h in hosts):
        return Finding(f"MX {domain}", Status.OK, f"points at Exchange Online ({', '.join(hosts)})")
    return Finding(f"MX {domain}", Status.WARNING,
                   f"points elsewhere ({', '.join(hosts)}): mail reaches Exchange Online through "
                   "another service first, so in-line scanning sees it after that service",
                   "consider Enhanced Filtering (allowlist.enhanced_filtering) for that service's "
                   "addresses, and check the other service does not loop mail back")
