"""exoform's engine: pure planning (config -> desired -> diff -> ordered plan) and the apply
executor. Nothing here imports requests or a concrete provider; the engine reaches a tenant only
through `exoform.engine.provider.Provider`."""
