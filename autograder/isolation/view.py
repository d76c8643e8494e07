"""What the student process may see: a default-deny view of the file system, decided in one place.

The student process (:mod:`autograder.isolation.linux`) gets a new, empty root in which only what it
needs to run is mounted, read-only (:func:`visible_paths`):

* **Python**: the interpreter's executable and shared library, and its standard library;
* **the environment's packages**: the virtual environment (or the site-packages folders);
* **the course package**: the ``autograder`` and ``course_utils`` package folders (not the checkout
  around them);
* the system's shared libraries (``/lib``, ``/usr/lib``...), ``/etc/ld.so.cache`` and
  ``/etc/localtime``; a minimal ``/dev`` (``null``, ``zero``, ``full``, ``random``, ``urandom``);
* its own working folder: the sandbox's ``in/`` (read-only) and ``out/``, a private size-limited
  home, ``/tmp``, ``/var/tmp``, ``/dev/shm``, ``/run/lock`` (``/var/lock``) and ``/dev/mqueue``.

Everything else (a copy of the solutions anywhere on the machine, other checkouts, home folders,
``/run`` sockets, classmates' sandboxes, the grader's outputs) does not exist for the student code,
in every mode (as root and through a user namespace).

A few paths must stay hidden even though they lie *inside* what is visible (:func:`hidden_paths`):
the package's own ``references/`` folder, and whatever the caller names (the reference file in use,
the submissions and the output folder, the private parts of an nbgrader course), in case one of
them sits in a visible folder. Course roots (the checkout this package runs from, ``--course-root``,
Gradescope's ``source/``, ``submission/``, ``results/``) are hidden as a whole where the view
overlaps them, except the visible paths inside them.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import sys
import sysconfig
from collections.abc import Iterable
from pathlib import Path

from autograder.settings import GRADESCOPE_ROOT, PACKAGE_DIR, REPO_ROOT

__all__ = [
    "COURSE_PRIVATE",
    "SYSTEM_FILES",
    "SYSTEM_LIBRARIES",
    "course_private_paths",
    "course_roots",
    "hidden_paths",
    "visible_paths",
]

#: Folders of shared libraries the interpreter and compiled packages load from (those that exist).
SYSTEM_LIBRARIES = (
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/usr/lib",
    "/usr/lib32",
    "/usr/lib64",
    "/usr/libx32",
)
#: System files the student process reads: the dynamic linker's cache and the time zone.
SYSTEM_FILES = ("/etc/ld.so.cache", "/etc/localtime")
#: What an nbgrader course folder holds beside ``submitted/`` that student code must not read: the
#: source notebooks (solutions, hidden tests), the gradebook (it stores every source cell, solutions
#: included) and classmates' autograded notebooks and feedback.
COURSE_PRIVATE = ("source", "release", "autograded", "feedback", "gradebook.db", "nbgrader_config.py")


def _environment() -> list[str]:
    """The environment packages are imported from: a virtual environment or a conda environment as a
    whole (its own shared libraries live there), else only the site-packages folders (a system
    Python's prefix is ``/usr``: all of it would be far more than the student needs)."""
    if sys.prefix != sys.base_prefix or os.path.isdir(os.path.join(sys.prefix, "conda-meta")):
        return [sys.prefix]
    names = ("site-packages", "dist-packages")
    return [p for p in sys.path if p and os.path.isdir(p) and os.path.basename(p) in names]


def visible_paths() -> list[str]:
    """Everything the student process sees (resolved, existing, outermost first): see the module docstring.

    Returns:
        Absolute paths of folders and files; symbolic links among the system library folders
        (``/lib -> usr/lib``) are returned as the links themselves, to be recreated as links.
    """
    paths = {sysconfig.get_paths()["stdlib"], *_environment()}
    for executable in (sys.executable, getattr(sys, "_base_executable", sys.executable)):
        paths.add(os.path.realpath(executable))
    libdir = sysconfig.get_config_var("LIBDIR")
    if libdir and sysconfig.get_config_var("Py_ENABLE_SHARED"):
        paths.update(glob.glob(os.path.join(libdir, "libpython*.so*")))
    for name in ("autograder", "course_utils"):
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.origin:
            paths.add(os.path.dirname(spec.origin))
    resolved = {os.path.realpath(p) for p in paths if os.path.exists(p)}
    system = {p for p in (*SYSTEM_LIBRARIES, *SYSTEM_FILES) if os.path.lexists(p)}
    return sorted(resolved | system)


def _checkout() -> Path | None:
    """The course checkout this package runs from (editable install or source tree), if any."""
    root = REPO_ROOT
    return root if (root / "pyproject.toml").is_file() and (root / "course_utils").is_dir() else None


def course_roots(given: Iterable[str | Path] = ()) -> list[Path]:
    """Source trees the grader was given, each hidden as a whole where the view overlaps them
    (resolved, existing folders only).

    Args:
        given: the caller's course roots (``--course-root``; Gradescope's folders).
    """
    gradescope = GRADESCOPE_ROOT
    candidates = [*(Path(p) for p in given), gradescope / "source", _checkout()]
    if (gradescope / "source").is_dir():  # inside Gradescope: the upload and the results as well
        candidates += [gradescope / "submission", gradescope / "results"]
    roots = [p.resolve() for p in candidates if p is not None and p.is_dir()]
    return list(dict.fromkeys(roots))


def _git_dirs(root: Path) -> list[Path]:
    """The repository a git worktree's ``.git`` file points to (it holds every committed solution)."""
    marker = root / ".git"
    if not marker.is_file():
        return [marker] if marker.is_dir() else []
    text = marker.read_text(encoding="utf-8", errors="replace").strip()
    if not text.startswith("gitdir:"):
        return []
    gitdir = (root / text.removeprefix("gitdir:").strip()).resolve()
    common = gitdir / "commondir"
    dirs = [gitdir]
    if common.is_file():
        dirs.append((gitdir / common.read_text(encoding="utf-8").strip()).resolve())
    return dirs


def course_private_paths(submissions: Path) -> list[Path]:
    """The private parts of the nbgrader course that ``submissions`` belongs to.

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


def hidden_paths(extra: Iterable[str | Path] = (), roots: Iterable[str | Path] = ()) -> list[str]:
    """Paths the student process must not see even where the view would show them.

    Args:
        extra: more files or folders to hide (the reference file, submissions, the output folder).
        roots: course roots given by the caller (see :func:`course_roots`).

    Returns:
        Resolved absolute paths without duplicates, in a stable order: course roots and their git
        repositories, the package's references, then ``extra`` with the nbgrader course each one
        belongs to. Paths that do not exist are kept (the student process skips them).
    """
    paths: list[Path] = []
    for root in course_roots(roots):
        paths += [root, *_git_dirs(root)]
    paths.append(PACKAGE_DIR / "references")
    for path in extra:
        paths += [Path(path), *course_private_paths(Path(path))]
    return list(dict.fromkeys(str(p.resolve()) for p in paths))
