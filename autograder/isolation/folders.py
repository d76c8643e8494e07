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

__all__ = ["SANDBOX_PREFIX", "SandboxFolder", "locked_folder", "sweep_leftovers"]

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


class SandboxFolder:
    """One sandbox's locked folder: ``in/`` (the grader's files the student reads), ``home/`` (the
    student's own) and ``out/`` (files the grader made for the student to fill; no listing).

    Private to its submission: the grader's user and, as root, the student's own group only, even
    under a shared TMPDIR outside /tmp where other students' processes could look.

    Args:
        uid: the student's uid when the grader runs as root (its group is the uid too); ``None``
            otherwise (everything stays private to the grader's user).
    """

    def __init__(self, uid: int | None) -> None:
        self.uid = uid
        self.root, self._lock = locked_folder()
        for name in ("in", "home", "out"):
            (self.root / name).mkdir(mode=0o700)
        for path, mode in ((self.root, 0o750), (self.root / "in", 0o750), (self.root / "out", 0o710)):
            self.share(path, mode)
        if uid is not None:
            os.chown(self.home, uid, uid)
        self.home.chmod(0o700)

    @property
    def home(self) -> Path:
        return self.root / "home"

    def share(self, path: Path, mode: int) -> None:
        """Give ``path`` to the student's group with ``mode`` (as root); private (no group) otherwise."""
        if self.uid is not None:
            os.chown(path, -1, self.uid)
            path.chmod(mode)
        else:
            path.chmod(mode & 0o700)

    def write_input(self, name: str, data: bytes) -> Path:
        """``in/<name>`` holding ``data``, readable by the student."""
        path = self.root / "in" / name
        path.write_bytes(data)
        self.share(path, 0o640)
        return path

    def output_file(self, name: str) -> Path:
        """A new, empty ``out/<name>`` the student may write (never one that exists)."""
        path = self.root / "out" / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            if self.uid is not None:
                os.fchown(fd, self.uid, self.uid)
        finally:
            os.close(fd)
        return path

    def remove(self) -> None:
        """Remove the folder and release its lock (safe to call twice)."""
        if self._lock is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            os.close(self._lock)
            self._lock = None
