"""Chaos harness: real `exoform apply` / `destroy` processes killed with SIGKILL at random
(seeded) moments against the sandbox and the HTTPS emulator, then recovered by a new run and
checked (convergence, no duplicate/orphaned/lost objects, state valid, lineage and serial).

Full run: `python -m tests.chaos --runs 300` (see `--help`); CI runs a reduced form
(tests/chaos/test_chaos.py).
"""

import sys
from pathlib import Path

# `python -m tests.chaos` runs from the repository root: give it the test support package the
# way pytest does (tests/ on sys.path), so both import `support.*` as one module each.
_TESTS = str(Path(__file__).resolve().parents[1])
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)
