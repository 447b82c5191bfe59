"""`exoform force-unlock LOCK_ID`: clear a state lock left behind. A record whose process has
exited is only cleared; a lock still held (a hung process, a crashed machine sharing the state
folder) is broken — refused while its holder is alive on this host unless --force."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Callable

from exoform.engine.lock import force_unlock
from exoform.engine.statefile import default_state_path
from exoform.text import safe


def register(sub: argparse._SubParsersAction, common: Callable[..., None]) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("force-unlock", help="clear a state lock left behind (by its LOCK_ID)",
                       description="Clear the state lock whose ID a locked command printed. A lock "
                                   "whose holder has exited is only a stale record; a lock still "
                                   "held is broken, which is refused while the holder runs on this "
                                   "host unless --force.")
    common(p)
    p.add_argument("lock_id", metavar="LOCK_ID", help="the lock ID from the 'state is locked' error")
    p.add_argument("--force", action="store_true",
                   help="break the lock even though its holder still runs on this host")
    p.set_defaults(func=cmd_force_unlock)


def cmd_force_unlock(args: argparse.Namespace) -> int:
    path = Path(args.state) if args.state else _state_path(args.config)
    done = force_unlock(path, args.lock_id, force=args.force)
    who = safe(done.holder.describe())
    if done.held:
        print(f"Broke the lock held by {who}. If that process still runs, it stops at its next "
              "state write; run `exoform plan` to see where things stand.")
    else:
        print(f"The lock was not held: the record of {who} was stale (that process has exited). "
              "Cleared it.")
    return 0


def _state_path(config: str) -> Path:
    from exoform.engine.config import load_config

    return default_state_path(load_config(config).integration)
