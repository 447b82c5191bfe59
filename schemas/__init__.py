"""The JSON Schemas of exoform's files (config, state, saved plan, sandbox tenant)."""
if __name__ != "exoform.schemas":  # reached through the exoform/schemas symlink only
    raise ImportError("import exoform.schemas, not schemas")
