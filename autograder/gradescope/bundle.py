"""Build the Gradescope autograder zip: ``python -m autograder gradescope --out autograder.zip``.

The zip holds only what grading needs, at its root as Gradescope requires::

    setup.sh            run once when Gradescope builds the image (CPU-only torch, pinned packages)
    run_autograder      run per submission
    setup.env           versions setup.sh installs: torch, torchvision, the Python range
    requirements.txt    every other package grading imports, pinned to this environment's versions
    gradescope.json     run settings: assignments graded, reference set, visibility, time limit
    hidden.pt           the hidden references (unless built with --public-references)
    course/             pyproject.toml, README.md, autograder/ and course_utils/ (code, public.pt)

Never solutions, tests, notebooks, benchmarks or git data: :func:`build_zip` refuses to write a zip
holding any (:data:`FORBIDDEN_PARTS`).
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import shutil
import stat
import tomllib
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from autograder.gradescope.config import CONFIG_NAME, DEFAULT_VISIBILITY
from autograder.gradescope.schema import VISIBILITIES

__all__ = [
    "FORBIDDEN_PARTS",
    "NOT_FOR_GRADING",
    "Bundle",
    "build_zip",
    "pinned_requirements",
]

_FILES = Path(__file__).resolve().parent / "files"
#: The course checkout the zip is built from.
CHECKOUT = Path(__file__).resolve().parents[2]
#: Folder and file names that never go into the zip.
FORBIDDEN_PARTS = frozenset({"solutions", "tests", "notebooks", "bench", ".git", "__pycache__"})
#: Dependencies the course lists for students and instructors that grading never imports.
NOT_FOR_GRADING = frozenset({"jupyter", "jupyterlab", "ipykernel", "ipywidgets", "nbgrader", "nbclient"})
#: Installed by setup.sh from PyTorch's CPU wheel index, not from requirements.txt.
_TORCH = ("torch", "torchvision")
#: Come with every virtual environment in some version: required as the dependencies say, not pinned.
_BUILD_TOOLS = ("pip", "setuptools", "wheel")
#: Packages only the CUDA builds of torch depend on.
_CUDA_ONLY = re.compile(r"^(nvidia-.*|cuda-.*|triton)$")


@dataclass(frozen=True)
class Bundle:
    """What :func:`build_zip` wrote.

    Attributes:
        path: the zip.
        members: every file in it.
        size_bytes: the zip's size.
    """

    path: Path
    members: tuple[str, ...]
    size_bytes: int


def _project(checkout: Path) -> dict:
    pyproject = checkout / "pyproject.toml"
    if not pyproject.is_file():
        raise FileNotFoundError(
            f"{pyproject} not found: build the Gradescope zip from a course checkout (git clone ...)."
        )
    return tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]


def _installed_version(name: str) -> str:
    try:
        version = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError as exc:
        raise FileNotFoundError(
            f"{name} is not installed here, so its version cannot be pinned: run `make install` first."
        ) from exc
    return version.split("+", 1)[0]  # 2.14.1+cu130 -> 2.14.1 (the CPU index serves 2.14.1+cpu)


def pinned_requirements(dependencies: Sequence[str]) -> list[str]:
    """``name==version`` for every package grading needs besides torch, from this environment.

    The course's dependencies minus :data:`NOT_FOR_GRADING`, with everything they (and torch and
    torchvision) require, recursively, at the versions installed here; CUDA-only packages are left
    out (setup.sh installs the CPU build of torch), and pip/setuptools/wheel keep the ranges the
    dependencies give (e.g. ``setuptools>=77.0.3``) instead of a pin.
    """
    env = default_environment()
    queue = [
        (r, frozenset[str]())
        for r in map(Requirement, dependencies)
        if canonicalize_name(r.name) not in NOT_FOR_GRADING
    ]
    pins: dict[str, str] = {}
    seen: set[tuple[str, frozenset[str]]] = set()
    while queue:
        requirement, parent_extras = queue.pop()
        name = canonicalize_name(requirement.name)
        if _CUDA_ONLY.match(name):
            continue
        marker = requirement.marker
        if marker is not None and not any(
            marker.evaluate({**env, "extra": extra}) for extra in (parent_extras or {""})
        ):
            continue
        if name in _BUILD_TOOLS:
            if requirement.specifier:
                pins[name] = ",".join(filter(None, (pins.get(name, ""), str(requirement.specifier))))
            continue
        key = (name, frozenset(requirement.extras))
        if key in seen:
            continue
        seen.add(key)
        if name not in _TORCH:
            pins[name] = f"=={_installed_version(name)}"
        queue += [(Requirement(r), key[1]) for r in importlib.metadata.requires(name) or []]
    return [f"{name}{spec}" for name, spec in sorted(pins.items())]


def _python_range(spec: str) -> tuple[str, str]:
    """``(">=", "<")`` bounds of ``requires-python``, e.g. ``(">=3.11,<3.12")`` -> ``("3.11", "3.12")``."""
    low = re.search(r">=\s*(\d+\.\d+)", spec)
    high = re.search(r"<\s*(\d+\.\d+)", spec)
    if not low or not high:
        raise ValueError(f"requires-python {spec!r} needs a >=X.Y and a <X.Z bound for setup.sh")
    return low.group(1), high.group(1)


def _pin(dependencies: Sequence[str], name: str) -> str:
    for dependency in dependencies:
        requirement = Requirement(dependency)
        if canonicalize_name(requirement.name) == name:
            exact = [s.version for s in requirement.specifier if s.operator == "=="]
            if exact:
                return exact[0]
    return _installed_version(name)


def _setup_env(project: dict) -> str:
    dependencies = project["dependencies"]
    low, high = _python_range(project.get("requires-python", ""))
    lines = [
        "# Read by setup.sh; written by `python -m autograder gradescope`.",
        f"TORCH_VERSION={_pin(dependencies, 'torch')}",
        f"TORCHVISION_VERSION={_pin(dependencies, 'torchvision')}",
        f"PYTHON_MIN={low}",
        f"PYTHON_BELOW={high}",
    ]
    return "\n".join(lines) + "\n"


def _course_files(checkout: Path) -> Iterator[tuple[Path, str]]:
    """(file, name in the zip) for the package code the grader installs."""
    for name in ("pyproject.toml", "README.md"):
        yield checkout / name, f"course/{name}"
    for package in ("autograder", "course_utils"):
        for path in sorted((checkout / package).rglob("*")):
            rel = path.relative_to(checkout)
            if not path.is_file() or FORBIDDEN_PARTS.intersection(rel.parts) or path.suffix == ".pyc":
                continue
            if path.suffix in (".py", ".pt", ".json", ".sh") or path.parent == _FILES:
                yield path, f"course/{rel.as_posix()}"


def _add(archive: zipfile.ZipFile, name: str, data: bytes, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))  # reproducible
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = ((0o755 if executable else 0o644) | stat.S_IFREG) << 16
    archive.writestr(info, data)


def build_zip(
    out: Path,
    *,
    hidden_references: Path | None = None,
    public_references: bool = False,
    assignments: Sequence[str] | None = None,
    visibility: str = DEFAULT_VISIBILITY,
    timeout_s: float = 60.0,
    checkout: Path = CHECKOUT,
) -> Bundle:
    """Write the Gradescope autograder zip.

    Args:
        out: the zip to write.
        hidden_references: the file from ``python -m autograder references --hidden`` (shipped as
            ``hidden.pt``; the zip is seen by staff only).
        public_references: grade with the public references instead (no ``hidden.pt``; for trying
            Gradescope out, since students can compute these outputs themselves).
        assignments: the notebooks this Gradescope assignment grades (default: all of them).
        visibility: of scores and per-function feedback (the upload check is always visible).
        timeout_s: seconds per student function call.
        checkout: the course checkout to package.

    Raises:
        ValueError: for a bad combination of options, an unknown assignment or visibility, or a
            zip that would hold a forbidden path.
        FileNotFoundError: no hidden references file, or no checkout.
    """
    from autograder.course import NOTEBOOKS

    if public_references == (hidden_references is not None):
        raise ValueError(
            "give --hidden-references PATH (built with `python -m autograder references --hidden`) "
            "or --public-references, not both or neither"
        )
    if hidden_references is not None and not Path(hidden_references).is_file():
        raise FileNotFoundError(f"hidden references not found at {hidden_references}")
    chosen = tuple(assignments or NOTEBOOKS)
    unknown = sorted(set(chosen) - set(NOTEBOOKS))
    if unknown:
        raise ValueError(f"unknown assignment(s) {', '.join(unknown)}; known: {', '.join(NOTEBOOKS)}")
    if visibility not in VISIBILITIES:
        raise ValueError(f"visibility must be one of {', '.join(VISIBILITIES)}, not {visibility!r}")
    project = _project(checkout)
    config = {
        "assignments": list(chosen),
        "references": "public" if public_references else "hidden",
        "visibility": visibility,
        "timeout_s": timeout_s,
    }
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    with zipfile.ZipFile(tmp, "w") as archive:
        for script in ("setup.sh", "run_autograder"):
            _add(archive, script, (_FILES / script).read_bytes(), executable=True)
        _add(archive, "setup.env", _setup_env(project).encode())
        requirements = pinned_requirements(project["dependencies"])
        _add(archive, "requirements.txt", ("\n".join(requirements) + "\n").encode())
        _add(archive, CONFIG_NAME, (json.dumps(config, indent=2) + "\n").encode())
        if hidden_references is not None:
            _add(archive, "hidden.pt", Path(hidden_references).read_bytes())
        for path, name in _course_files(checkout):
            _add(archive, name, path.read_bytes())
        members = tuple(archive.namelist())
    forbidden = [m for m in members if FORBIDDEN_PARTS.intersection(m.split("/")) or m.endswith(".ipynb")]
    if forbidden:
        tmp.unlink()
        raise ValueError(f"refusing to write a zip holding {', '.join(forbidden[:5])}")
    shutil.move(tmp, out)
    return Bundle(out, members, out.stat().st_size)
