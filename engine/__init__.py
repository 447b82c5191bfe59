"""exoform's engine: pure planning (config -> desired -> diff -> ordered plan) and the apply
executor. Nothing here imports requests or a concrete provider; the engine reaches a tenant only
through `exoform.engine.provider.Provider`."""
if __name__ != "exoform.engine":  # reached through the exoform/engine symlink only
    raise ImportError("import exoform.engine, not engine: a second copy of every class would differ")
