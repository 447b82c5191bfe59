"""Tenant backends behind `exoform.engine.provider.Provider`: the sandbox tenant (a JSON file),
the real Exchange Online Admin API, and the HTTP emulator that stands in for it in tests."""
if __name__ != "exoform.providers":  # reached through the exoform/providers symlink only
    raise ImportError("import exoform.providers, not providers: a second copy of every class would differ")
