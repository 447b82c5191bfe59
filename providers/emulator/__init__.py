"""The HTTPS emulator of Exchange Online: the token issuer, authority and Admin API over the
tenant model, for tests, trying exoform without a tenant, and benchmarks (one tenant, or many with
--tenants-dir)."""
