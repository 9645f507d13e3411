"""An exclusive lock across processes on one lock file: the report runner's manifest and the results
cache's entries use it, so two processes of a batch never write one file at once or compute one
cache entry twice.

``flock`` (POSIX advisory locks): the system releases a lock whose holder dies, so a killed kernel
never leaves a batch waiting.
"""
from __future__ import annotations

import contextlib
from pathlib import Path


@contextlib.contextmanager
def exclusive_lock(lock_file: Path | str | None, best_effort: bool = False):
    """Hold an exclusive ``flock`` on ``lock_file`` (created, with its folder, when missing) for the
    ``with`` block; ``None``: no lock.

    ``best_effort``: where the file cannot be created or locked (a read-only folder, no ``fcntl``) the
    block runs unlocked instead of raising. For work that the lock only keeps from being done twice
    (a cache entry computed by two processes), never for work it keeps from being corrupted (the
    runner's manifest)."""
    handle = None
    if lock_file is not None:
        try:
            import fcntl

            lock_file = Path(lock_file)
            lock_file.parent.mkdir(parents=True, exist_ok=True)
            handle = open(lock_file, "a+b")
            fcntl.flock(handle, fcntl.LOCK_EX)
        except (OSError, ImportError):
            if handle is not None:
                handle.close()
                handle = None
            if not best_effort:
                raise
    try:
        yield
    finally:
        if handle is not None:
            handle.close()       # closing the file releases the lock
