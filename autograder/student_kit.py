"""What students receive, built with one command: ``python -m autograder student-kit --out DIR``.

The kit is one zip::

    cnn-gradients-student-kit/
        README.md                                    the install commands (a venv, pip, jupyter lab)
        constraints.txt                              the exact versions the course was tested with
        cnn_gradients_course-<version>-py3-none-any.whl   course_utils + autograder (public references)
        notebooks/NetworkVisualization.ipynb ...     the generated student notebooks, as in notebooks/

Installing the wheel pulls in the package's base dependencies only: PyTorch, JupyterLab, ipywidgets and
the rest of what the notebooks import. nbgrader and the other instructor tools are the ``[instructor]``
extra, so a student's JupyterLab has no nbgrader menu or assignment panels. The wheel is built from this
checkout with pip (no network, no build isolation); solutions, tests and benches are not part of the
package (``[tool.setuptools.packages.find]`` in ``pyproject.toml``).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from autograder.release import NOTEBOOK_NAMES, stale_notebooks
from autograder.settings import NOTEBOOKS_DIR, REPO_ROOT

__all__ = ["KIT_NAME", "build_student_kit", "kit_readme"]

#: Name of the zip (without ``.zip``) and of the folder inside it.
KIT_NAME = "cnn-gradients-student-kit"
#: What the wheel is built from: the package's sources and its metadata.
_PACKAGE_SOURCES = ("pyproject.toml", "README.md", "course_utils", "autograder")


def kit_readme(wheel_name: str, notebooks: list[str]) -> str:
    """The kit's README: the exact commands to install and start, for Linux/macOS and Windows.

    Args:
        wheel_name: file name of the course wheel inside the kit.
        notebooks: file names of the notebooks, in course order.

    Returns:
        Markdown text.
    """
    names = ", ".join(f"`{name}`" for name in notebooks)
    return f"""# Inspecting CNNs through image gradients: student kit

You need Python 3.11. In a terminal, in this folder:

```bash
python3.11 -m venv .venv
.venv/bin/pip install -c constraints.txt {wheel_name}
.venv/bin/jupyter lab notebooks/
```

On Windows use `py -3.11 -m venv .venv`, then `.venv\\Scripts\\pip` and `.venv\\Scripts\\jupyter`.
The install downloads PyTorch, JupyterLab and the other packages the notebooks use (about two minutes);
`constraints.txt` holds the exact versions the course was tested with. Nothing else is downloaded when the
notebooks run, except CS231n's photos and the style paintings, once, on first use.

The notebooks ({names}) open in JupyterLab. Write your code between the `START OF YOUR CODE` and
`END OF YOUR CODE` markers only, and run the self-check cell after each function: it prints `PASSED`,
`FAILED` with the measured error and a hint, or `NOT IMPLEMENTED YET`. Everything runs on a laptop CPU.
Hand in the notebooks as your course asks (they are graded from the saved file).
"""


def _build_wheel(out_dir: Path) -> Path:
    """Build the course package's wheel from a clean copy of its sources (no build/ left in the checkout)."""
    with tempfile.TemporaryDirectory(prefix="course-wheel-") as tmp:
        source = Path(tmp) / "source"
        source.mkdir()
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
        for name in _PACKAGE_SOURCES:
            path = REPO_ROOT / name
            if path.is_dir():
                shutil.copytree(path, source / name, ignore=ignore)
            else:
                shutil.copy2(path, source / name)
        command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index"]
        done = subprocess.run(
            [*command, "--quiet", "--wheel-dir", str(out_dir), str(source)],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(
                "Building the course wheel failed (pip wheel, exit code "
                f"{done.returncode}); run `make install` first. pip said:\n{done.stderr[-2000:]}"
            )
    wheels = sorted(out_dir.glob("*.whl"))
    if len(wheels) != 1:
        raise RuntimeError(f"expected one wheel in {out_dir}, found {[w.name for w in wheels]}")
    return wheels[0]


def build_student_kit(out: Path, notebooks_dir: Path = NOTEBOOKS_DIR) -> Path:
    """Write the student kit zip into ``out`` and return its path.

    Args:
        out: folder for the zip (created if missing); an existing kit there is replaced.
        notebooks_dir: the generated student notebooks (default ``notebooks/``), which must be up to
            date with ``solutions/`` (``python -m autograder release`` regenerates them).

    Returns:
        ``out / "cnn-gradients-student-kit.zip"``.

    Raises:
        RuntimeError: if the student notebooks are stale or the wheel cannot be built.
    """
    stale = stale_notebooks(notebooks_dir)
    if stale:
        raise RuntimeError("The student notebooks are not ready:\n  " + "\n  ".join(stale))
    notebooks = [notebooks_dir / f"{name}.ipynb" for name in NOTEBOOK_NAMES]
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"{KIT_NAME}.zip"
    with tempfile.TemporaryDirectory(prefix="student-kit-") as tmp:
        wheel = _build_wheel(Path(tmp))
        partial = target.with_suffix(".zip.partial")
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as kit:
            kit.writestr(f"{KIT_NAME}/README.md", kit_readme(wheel.name, [nb.name for nb in notebooks]))
            kit.write(REPO_ROOT / "constraints.txt", f"{KIT_NAME}/constraints.txt")
            kit.write(wheel, f"{KIT_NAME}/{wheel.name}")
            for notebook in notebooks:
                kit.write(notebook, f"{KIT_NAME}/notebooks/{notebook.name}")
        partial.replace(target)
    return target
