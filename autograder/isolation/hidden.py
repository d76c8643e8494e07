"""Which paths student code must not see, derived from what is really on disk.

The student process (:mod:`autograder.isolation.sandbox`) hides these under empty read-only mounts.
They are found from the places the grader was actually given, never from where this package happens
to be installed (a non-editable install puts it in site-packages, far from the course files):

* the **course roots**: those the caller names (``python -m autograder grade --course-root``; on
  Gradescope ``/autograder/source``, ``submission/`` and ``results/``), ``/autograder/source`` when it
  exists, and the course checkout this package runs from, if it runs from one. Everything under a
  course root is hidden except what the student process itself needs to run (Python, the virtual
  environment, the ``autograder`` and ``course_utils`` packages, the temporary folder);
* the git repository a course root's ``.git`` file points to (a worktree's objects hold the solutions);
* the package's own ``references/`` folder, wherever it is installed;
* whatever the caller adds: the reference file in use, the submissions, the output folder.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

from autograder.settings import GRADESCOPE_ROOT, PACKAGE_DIR, REPO_ROOT

__all__ = ["COURSE_PRIVATE", "course_private_paths", "course_roots", "hidden_paths", "needed_paths"]


def _checkout() -> Path | None:
    """The course checkout this package runs from (editable install or source tree), if any."""
    root = REPO_ROOT
    return root if (root / "pyproject.toml").is_file() and (root / "course_utils").is_dir() else None


def course_roots(given: Iterable[str | Path] = ()) -> list[Path]:
    """Source trees the grader was given, each hidden as a whole (resolved, existing folders only).

    Args:
        given: the caller's course roots (``--course-root``; Gradescope's folders).
    """
    gradescope = GRADESCOPE_ROOT
    candidates = [*(Path(p) for p in given), gradescope / "source", _checkout()]
    if (gradescope / "source").is_dir():  # inside Gradescope: the upload and the results as well
        candidates += [gradescope / "submission", gradescope / "results"]
    roots = [p.resolve() for p in candidates if p is not None and p.is_dir()]
    return list(dict.fromkeys(roots))


def needed_paths() -> list[Path]:
    """What the student process must keep: Python, the venv, the course packages, the temp folder."""
    import importlib.util

    paths = {sys.prefix, sys.base_prefix, tempfile.gettempdir()}
    for name in ("autograder", "course_utils"):
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.origin:
            paths.add(os.path.dirname(spec.origin))
    return sorted({Path(p).resolve() for p in paths})


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _hideable(folder: Path, needed: list[Path]) -> list[Path]:
    """``folder`` itself, or, when something needed lies inside it, its other entries (recursively)."""
    if not any(_inside(n, folder) for n in needed):
        return [folder]
    if folder in needed:
        return []
    out: list[Path] = []
    for entry in sorted(folder.iterdir()):
        if entry.is_symlink():  # a link's target is hidden where it lives, if it is in a course root
            continue
        out.extend(_hideable(entry, needed) if entry.is_dir() else [entry])
    return out


def _git_dirs(root: Path) -> list[Path]:
    """The repository a git worktree's ``.git`` file points to (it holds every committed solution)."""
    marker = root / ".git"
    if not marker.is_file():
        return []
    text = marker.read_text(encoding="utf-8", errors="replace").strip()
    if not text.startswith("gitdir:"):
        return []
    gitdir = (root / text.removeprefix("gitdir:").strip()).resolve()
    common = gitdir / "commondir"
    dirs = [gitdir]
    if common.is_file():
        dirs.append((gitdir / common.read_text(encoding="utf-8").strip()).resolve())
    return dirs


def hidden_paths(extra: Iterable[str | Path] = (), roots: Iterable[str | Path] = ()) -> list[str]:
    """Every path the student process must not see, as resolved absolute strings without duplicates.

    Args:
        extra: more files or folders to hide (the reference file, submissions, the output folder).
        roots: course roots given by the caller (see :func:`course_roots`).

    Returns:
        Paths in a stable order: course-root entries, the package's references, then ``extra``.
        Paths that do not exist are kept (the sandbox skips them), so a file created later under
        that name is still covered when it exists.
    """
    needed = needed_paths()
    paths: list[Path] = []
    for root in course_roots(roots):
        paths.extend(_hideable(root, needed))
        paths.extend(_git_dirs(root))
    paths.append(PACKAGE_DIR / "references")
    paths.extend(Path(p) for p in extra)
    return list(dict.fromkeys(str(p.resolve()) for p in paths))


#: What an nbgrader course folder holds beside ``submitted/`` that student code must not read: the
#: source notebooks (solutions, hidden tests), the gradebook (it stores every source cell, solutions
#: included) and classmates' autograded notebooks and feedback.
COURSE_PRIVATE = ("source", "release", "autograded", "feedback", "gradebook.db", "nbgrader_config.py")


def course_private_paths(submissions: Path) -> list[Path]:
    """The private parts of the nbgrader course that ``submissions`` belongs to, for the sandbox to hide.

    Args:
        submissions: what is being graded: the course folder, its ``submitted/`` folder or a
            folder or notebook inside it.

    Returns:
        The entries of :data:`COURSE_PRIVATE` that exist in that course folder; empty when
        ``submissions`` is not in an nbgrader course (no ``submitted/`` on the way up).
    """
    path = Path(submissions).resolve()
    for folder in (path, *path.parents):
        if folder.name == "submitted" or (folder / "submitted").is_dir():
            root = folder.parent if folder.name == "submitted" else folder
            return [root / name for name in COURSE_PRIVATE if (root / name).exists()]
    return []
