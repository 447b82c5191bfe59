"""Who is inside the organisation: accepted domains by type and the recipients the directory
knows. InOrganization needs a recipient of the tenant or an address in an Authoritative or
InternalRelay domain; an ExternalRelay domain is outside ([OD-PS] New-TransportRule -FromScope).
"""
from __future__ import annotations

from dataclasses import dataclass

from exoform.engine.mailflow.readers import address_domain
from exoform.engine.mailflow.tenant import DomainType, MailTenant


@dataclass(frozen=True)
class Directory:
    domains: tuple[tuple[str, DomainType], ...]  # casefolded domain, type
    users: frozenset[str]  # casefolded addresses of non-group recipients
    groups: frozenset[str]
    internal_users: tuple[str, ...]  # sorted: the users representatives are chosen from

    @classmethod
    def of(cls, tenant: MailTenant) -> "Directory":
        users = sorted({r.address.casefold() for r in tenant.recipients if not r.is_group})
        groups = frozenset(r.address.casefold() for r in tenant.recipients if r.is_group)
        domains = tuple(sorted({(d.domain.casefold(), d.domain_type) for d in tenant.accepted_domains}))
        kinds = dict(domains)
        inside = tuple(u for u in users if kinds.get(address_domain(u)) is not DomainType.EXTERNAL_RELAY)
        return cls(domains, frozenset(users), groups, inside)

    @property
    def known(self) -> bool:
        """The directory lists recipients at all (else nothing can be said about groups)."""
        return bool(self.users or self.groups)

    def domain_type(self, domain: str) -> DomainType | None:
        for name, kind in self.domains:
            if name == domain:
                return kind
        return None

    def accepted(self, domain: str) -> bool:
        return self.domain_type(domain) is not None

    def internal(self, address: str) -> bool:
        address = address.casefold()
        kind = self.domain_type(address_domain(address))
        if kind is DomainType.EXTERNAL_RELAY:
            return False
        return kind is not None or address in self.users or address in self.groups

    def is_group(self, address: str) -> bool:
        return address.casefold() in self.groups

    def home_domain(self) -> str:
        """A domain for synthetic internal addresses: the first Authoritative one."""
        for name, kind in self.domains:
            if kind is DomainType.AUTHORITATIVE:
                return name
        return self.domains[0][0] if self.domains else "tenant.invalid"
