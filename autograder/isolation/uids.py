"""Leasing of unprivileged uids for student processes when the grader runs as root.

Each sandbox leases its own uid (a lock file under :data:`UID_LOCK_DIR`), so per-uid limits
(``RLIMIT_NPROC``) and the files a student process writes belong to that process only. No passwd
entry is needed. A lease is an open, ``flock``-ed file: it ends when the file is closed, and with
the process that holds it, so a killed grader never leaves a uid leased.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["UID_LOCK_DIR", "UID_RANGE", "UidLease", "lease_uid"]

#: The uids handed out to student processes.
UID_RANGE = range(61_000, 61_512)
#: Where the lock files live (root-owned, mode 700).
UID_LOCK_DIR = Path("/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir()) / "autograder-uids"


@dataclass
class UidLease:
    """A leased uid; :meth:`release` (or the holder's death) gives it back."""

    uid: int
    fd: int | None

    def release(self) -> None:
        """Give the uid back (idempotent)."""
        if self.fd is not None:
            os.close(self.fd)  # releases the flock
            self.fd = None


def lease_uid() -> UidLease:
    """Lease a free uid from :data:`UID_RANGE`.

    Raises:
        RuntimeError: every uid is leased (too many graders at once).
    """
    UID_LOCK_DIR.mkdir(mode=0o700, exist_ok=True)
    start = os.getpid() % len(UID_RANGE)
    for i in range(len(UID_RANGE)):
        uid = UID_RANGE[(start + i) % len(UID_RANGE)]
        fd = os.open(UID_LOCK_DIR / f"{uid}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        return UidLease(uid, fd)
    raise RuntimeError(f"all {len(UID_RANGE)} sandbox uids are in use: run fewer graders at once")
