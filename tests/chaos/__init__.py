"""Chaos harness: real `exoform apply` / `destroy` processes killed with SIGKILL at random
(seeded) moments against the sandbox and the HTTPS emulator, then recovered by a new run and
checked (convergence, no duplicate/orphaned/lost objects, state valid, lineage and serial).

Full run: `python -m tests.chaos --runs 300` (see `--help`); CI runs a reduced form
(tests/chaos/test_chaos.py).
"""
