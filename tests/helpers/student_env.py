"""A student's Python environment for the browser test, made from the kit without a second PyTorch.

A student runs ``pip install -c constraints.txt <course wheel>`` in a fresh venv: they get the course
package and its base dependencies, and nothing from the ``[instructor]`` extra. Installing PyTorch again
for every test run would take minutes and gigabytes, so :func:`make_student_env` builds the same set of
packages by linking: a fresh venv whose site-packages holds symbolic links to the files of exactly the
distributions the wheel's base requirements pull in (resolved recursively from this environment's
metadata), and copies of their Jupyter data files (JupyterLab's assets, lab extensions, kernel specs:
about 20 MB; Jupyter's static file server refuses symbolic links that leave its folder) and server
extension configs under the venv's ``share/jupyter`` and ``etc/jupyter``; then the kit's wheel itself
is installed with pip (``--no-deps``). A distribution outside that set (nbgrader, its lab extension,
its server extension) is not there, exactly as on a student's machine.
"""

from __future__ import annotations

import importlib.metadata
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from email.parser import Parser
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

__all__ = ["StudentEnv", "make_student_env", "requirement_closure"]


class StudentEnv:
    """A student venv: its ``python`` and its prefix."""

    def __init__(self, prefix: Path) -> None:
        self.prefix = prefix
        self.python = prefix / "bin" / "python"
        self.site_packages = Path(
            sysconfig.get_path("purelib", vars={"base": str(prefix), "platbase": str(prefix)})
        )


def _wheel_requirements(wheel: Path) -> list[Requirement]:
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = Parser().parsestr(zf.read(name).decode("utf-8"))
    return [Requirement(r) for r in metadata.get_all("Requires-Dist") or []]


def requirement_closure(requirements: list[Requirement]) -> dict[str, importlib.metadata.Distribution]:
    """The installed distributions ``requirements`` pull in, recursively, with their extras.

    Markers are evaluated for this interpreter; a top-level requirement behind an extra is left out
    (that is what ``pip install <wheel>`` without extras does).

    Raises:
        importlib.metadata.PackageNotFoundError: if a required distribution is not installed here.
    """
    env = default_environment()
    queue = [(r, "") for r in requirements]
    found: dict[str, importlib.metadata.Distribution] = {}
    seen: set[tuple[str, frozenset[str]]] = set()
    while queue:
        requirement, extra = queue.pop()
        if requirement.marker is not None and not requirement.marker.evaluate({**env, "extra": extra}):
            continue
        name = canonicalize_name(requirement.name)
        key = (name, frozenset(requirement.extras))
        if key in seen:
            continue
        seen.add(key)
        dist = found.setdefault(name, importlib.metadata.distribution(name))
        for extra_name in {"", *requirement.extras}:
            queue += [(Requirement(r), extra_name) for r in dist.requires or []]
    return found


def _link(source: Path, target: Path) -> None:
    if target.exists() or target.is_symlink():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    target.symlink_to(source)


def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, target)


def make_student_env(wheel: Path, prefix: Path) -> StudentEnv:
    """Make the student environment of the course wheel ``wheel`` at ``prefix`` (see the module doc).

    Args:
        wheel: the course wheel from the student kit.
        prefix: an empty or missing folder for the venv.

    Returns:
        The environment; ``env.python -m jupyterlab`` starts the student's JupyterLab.
    """
    venv.EnvBuilder(with_pip=False, symlinks=True).create(prefix)
    env = StudentEnv(prefix)
    this_prefix = Path(sys.prefix)
    for dist in requirement_closure(_wheel_requirements(wheel)).values():
        site = Path(dist.locate_file("")).resolve()
        for file in dist.files or []:
            parts = Path(file).parts
            if parts[0] != "..":
                _link(site / parts[0], env.site_packages / parts[0])
                continue
            path = (site / file).resolve()
            for data in ("share/jupyter", "etc/jupyter"):
                root = this_prefix / data
                if path.is_relative_to(root):
                    _copy(path, prefix / data / path.relative_to(root))
    pip = [sys.executable, "-m", "pip", "--python", str(env.python), "install", "--quiet", "--no-deps"]
    subprocess.run([*pip, "--no-index", str(wheel)], check=True, capture_output=True, text=True)
    return env
