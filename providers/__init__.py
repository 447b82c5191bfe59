"""Tenant backends behind `exoform.engine.provider.Provider`: the sandbox tenant (a JSON file),
the real Exchange Online Admin API, and the HTTP emulator that stands in for it in tests."""
