"""Traps on the grading machine that student code must not reach: a System V segment holding a
secret, and a world-readable copy of the solutions outside every course folder (issue 21, findings 4
and 6). Made by root or any user; removed afterwards."""

from __future__ import annotations

import ctypes
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.helpers.notebooks import REPO

__all__ = ["host_segment", "leaked_segments", "solutions_copy"]

_IPC_CREAT, _IPC_RMID = 0o1000, 0


def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.shmat.restype = ctypes.c_void_p
    libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
    libc.shmdt.argtypes = [ctypes.c_void_p]
    return libc


@contextmanager
def host_segment(secret: str) -> Iterator[int]:
    """A world-readable System V shared-memory segment of the host holding ``secret``; its id."""
    libc = _libc()
    shmid = libc.shmget(0, 4096, _IPC_CREAT | 0o644)
    if shmid < 0:
        raise OSError(ctypes.get_errno(), "shmget")
    try:
        address = libc.shmat(shmid, None, 0)
        ctypes.memmove(address, secret.encode(), len(secret))
        libc.shmdt(address)
        yield shmid
    finally:
        libc.shmctl(shmid, _IPC_RMID, None)


def leaked_segments(size: int) -> list[int]:
    """Ids of the host's System V segments of exactly ``size`` bytes (left behind by student code)."""
    lines = Path("/proc/sysvipc/shm").read_text().splitlines()[1:]
    return [int(f[1]) for f in (line.split() for line in lines) if int(f[3]) == size]


@contextmanager
def solutions_copy(token: str) -> Iterator[Path]:
    """A world-readable copy of the StyleTransfer solution notebook outside every course folder
    (``/srv`` as root, else the user's home); its path."""
    parent = Path("/srv") if os.access("/srv", os.W_OK) else Path.home()
    folder = Path(tempfile.mkdtemp(prefix=f"course-copy-{token}-", dir=parent))
    try:
        folder.chmod(0o755)
        copy = folder / "StyleTransfer.ipynb"
        shutil.copyfile(REPO / "solutions" / "StyleTransfer.ipynb", copy)
        copy.chmod(0o644)
        yield copy
    finally:
        shutil.rmtree(folder, ignore_errors=True)
