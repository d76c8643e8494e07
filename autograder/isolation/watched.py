"""A process this one may not be the parent of, watched and killed through a pidfd.

The origin forks the templates, so a grader process is not their parent: it cannot ``waitpid`` them,
and a bare pid could be reused by the time it signals one. A pidfd (Linux 5.3+) refers to one
process for good: it becomes readable when that process exits, and ``pidfd_send_signal`` never
reaches another.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal

__all__ = ["WatchedProcess"]


class WatchedProcess:
    """A process this one may not be the parent of (the origin forks the templates), watched by pidfd.

    Offers the part of :class:`subprocess.Popen`'s interface the grader uses: ``pid``, ``poll``,
    ``wait``, ``kill``. The exit status of a process that is not our child is unknown: ``poll``
    then returns ``-1`` once it has exited.
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        try:
            self._fd: int | None = os.pidfd_open(pid)
        except OSError:  # already gone (or a kernel before 5.3: then kill(pid, 0) below)
            self._fd = None

    def poll(self) -> int | None:
        """``None`` while it runs; its exit code once it has exited (``-1`` when unknown)."""
        return self.returncode if self.wait(0.0) else None

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait up to ``timeout`` seconds (``None``: forever) for it to exit.

        Returns:
            Its exit code (see :meth:`poll`) once it has exited, else ``None``.
        """
        if self.returncode is not None:
            return self.returncode
        if self._fd is not None:
            readable, _, _ = select.select([self._fd], [], [], timeout)
            exited = bool(readable)
        else:
            exited = not _exists(self.pid)
        if not exited:
            return None
        self.returncode = -1
        with contextlib.suppress(ChildProcessError):  # reap it when it is our child
            done, status = os.waitpid(self.pid, os.WNOHANG)
            if done:
                self.returncode = os.waitstatus_to_exitcode(status)
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        return self.returncode

    def kill(self) -> None:
        """Send SIGKILL (to this very process, never to a later one that reused its pid)."""
        with contextlib.suppress(OSError):
            if self._fd is not None:
                signal.pidfd_send_signal(self._fd, signal.SIGKILL)
            elif self.returncode is None:
                os.kill(self.pid, signal.SIGKILL)

    def forget(self) -> None:
        """Close the pidfd without waiting (a forked copy of the grader that does not own it)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
