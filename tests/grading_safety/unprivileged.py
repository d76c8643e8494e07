"""Run a command as an unprivileged user (uid 65534), for the tests of isolation without root.

The test suite runs as root in CI, but the grader under test must run as an ordinary user. That user
needs to read Python, the virtual environment, the checkout and the course data, which may sit below
folders only root can enter (``/root/.pyenv``, ``/root/...``). Instead of changing permissions on
the machine, :func:`run_as_user` starts the command in a private mount namespace made by root
(``unshare --mount``) in which each such folder is replaced by an empty tmpfs showing only the needed
paths (bind mounts), and then drops to the user with ``setpriv``. What the user can read is otherwise
unchanged; nothing outside the command's namespace is modified.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["NOBODY", "missing_tools", "needed_paths", "run_as_user"]

#: The unprivileged user the tests run the grader as (``nobody`` on Debian/Ubuntu/Fedora).
NOBODY = 65534


def missing_tools() -> list[str]:
    """The util-linux tools :func:`run_as_user` needs that are not installed."""
    return [t for t in ("unshare", "setpriv", "mount") if shutil.which(t) is None]


def needed_paths(extra: Sequence[str | Path] = ()) -> list[str]:
    """What the grader reads: Python, the venv, site-packages, the checkout, plus ``extra``."""
    import autograder

    repo = Path(autograder.__file__).resolve().parents[1]
    paths = {sys.base_prefix, sys.prefix, str(repo), *(p for p in sys.path if p and os.path.isdir(p))}
    paths.update(str(p) for p in extra)
    return sorted({os.path.realpath(p) for p in paths})


def _blocking_ancestor(path: str, uid: int) -> str | None:
    """The highest folder above ``path`` that ``uid`` cannot enter (no x bit for it)."""
    parts = path.strip("/").split("/")
    for i in range(1, len(parts)):
        folder = "/" + "/".join(parts[:i])
        info = os.stat(folder)
        bit = 0o100 if info.st_uid == uid else 0o001
        if not info.st_mode & bit:
            return folder
    return None


def _expose_script(paths: Sequence[str], uid: int, stage: str) -> list[str]:
    groups: dict[str, list[str]] = {}
    for path in paths:
        ancestor = _blocking_ancestor(path, uid)
        if ancestor:
            groups.setdefault(ancestor, []).append(path)
    lines = ["set -e", "mount --make-rprivate /"]
    for n, (ancestor, inside) in enumerate(sorted(groups.items())):
        outer = [p for p in inside if not any(p != q and p.startswith(q + "/") for q in inside)]
        staged = [(f"{stage}/{n}-{i}", p) for i, p in enumerate(outer)]
        for target, path in staged:
            lines += [
                f"mkdir -p {shlex.quote(target)}",
                f"mount --rbind {shlex.quote(path)} {shlex.quote(target)}",
            ]
        lines.append(f"mount -t tmpfs -o mode=755,size=64k tmpfs {shlex.quote(ancestor)}")
        for target, path in staged:
            lines += [
                f"mkdir -p {shlex.quote(path)}",
                f"mount --rbind {shlex.quote(target)} {shlex.quote(path)}",
            ]
    return lines


def run_as_user(
    command: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    readable: Sequence[str | Path] = (),
    uid: int = NOBODY,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    """Run ``command`` as ``uid`` (its own gid, no groups, no capabilities) with exactly ``env``.

    Args:
        command: the program and its arguments.
        env: the whole environment of the command.
        cwd: its working directory (must be enterable by ``uid``).
        readable: paths besides :func:`needed_paths` that ``uid`` must be able to reach.
        uid: the user (default ``nobody``).
        timeout: seconds before the command is killed.

    Returns:
        The finished process, with its stdout and stderr as text.
    """
    with tempfile.TemporaryDirectory(prefix="autograder-expose-") as stage:
        script = _expose_script(needed_paths(readable), uid, stage)
        drop = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all", "--"]
        variables = [f"{k}={v}" for k, v in env.items()]
        script.append(f"cd {shlex.quote(str(cwd))}")
        script.append("exec " + shlex.join([*drop, "env", "-i", *variables, *command]))
        return subprocess.run(
            ["unshare", "--mount", "sh", "-c", "\n".join(script)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            start_new_session=True,
        )
