"""Sandbox folders in the temporary folder: made private and locked, swept when their grader is gone.

Each sandbox's folder is locked (``flock``) by the grader process that uses it, for as long as it
does; the lock dies with the process, whatever killed it. So a folder whose lock is free was left by
a grader that is gone, and :func:`sweep_leftovers` (run at the start of every batch) removes it.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import shutil
import tempfile
import time
from pathlib import Path

__all__ = ["SANDBOX_PREFIX", "locked_folder", "sweep_leftovers"]

#: Name prefix of each sandbox's folder in the temporary folder.
SANDBOX_PREFIX = "autograder-sandbox-"
#: A sandbox folder being made (not locked yet), and the template folders of earlier versions: no
#: process ever locks these, so only old ones are swept.
_UNLOCKED_PREFIXES = ("autograder-new-", "autograder-template-")


def locked_folder() -> tuple[Path, int]:
    """A new private folder named ``autograder-sandbox-*`` and an open descriptor holding its lock.

    It is made and locked under another name, then renamed: every folder with the sandbox prefix is
    locked for as long as its grader lives, so :func:`sweep_leftovers` never races a new one.
    """
    made = Path(tempfile.mkdtemp(prefix=_UNLOCKED_PREFIXES[0]))
    fd = os.open(made, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    fcntl.flock(fd, fcntl.LOCK_EX)
    while True:
        final = made.with_name(SANDBOX_PREFIX + secrets.token_hex(6))
        if not final.exists():
            made.rename(final)
            return final, fd


def sweep_leftovers(folder: str | Path | None = None, min_age_s: float = 60.0) -> list[Path]:
    """Remove the sandbox folders that killed graders left in ``folder`` (default: the temp folder).

    Every sandbox folder is locked (``flock``) by the grader process using it, so one whose lock is
    free belongs to a grader that is gone (a ``SIGKILL`` leaves it). Folders of other users and
    symbolic links are left alone; so are folders that are never locked (one being made, the
    template folders of earlier versions) until they are ``min_age_s`` seconds old.

    Returns:
        The folders removed.
    """
    root = Path(folder if folder is not None else tempfile.gettempdir())
    removed: list[Path] = []
    try:
        entries = list(os.scandir(root))
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith((SANDBOX_PREFIX, *_UNLOCKED_PREFIXES)):
            continue
        try:
            fd = os.open(entry.path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:  # gone, a symbolic link, or not a folder
            continue
        try:
            info = os.fstat(fd)
            young = time.time() - info.st_mtime < min_age_s
            if info.st_uid != os.geteuid() or (young and not entry.name.startswith(SANDBOX_PREFIX)):
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:  # a live grader holds it
                continue
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(Path(entry.path))
        finally:
            os.close(fd)
    return removed
