"""exoform's state backends: where a state lives (local files, Azure Blob Storage, PostgreSQL),
behind one narrow per-key interface (`exoform.backends.base.Backend`). A concrete backend is
imported only when a config names it, so its extra (`exoform[azure]`, `exoform[postgres]`)
is needed only then."""
if __name__ != "exoform.backends":  # reached through the exoform/backends symlink only
    raise ImportError("import exoform.backends, not backends: a second copy of every class would differ")
