"""The student kit: what students receive holds the notebooks and the course package, and nothing secret."""

from __future__ import annotations

import ast
import io
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import nbformat
import pytest
from packaging.requirements import Requirement

from autograder.release import NOTEBOOK_NAMES, secret_lines
from autograder.settings import NOTEBOOKS_DIR, SOLUTIONS_DIR
from autograder.student_kit import KIT_NAME, build_student_kit
from tests.helpers.leakage import MIN_LINE


@pytest.fixture(scope="module")
def kit(tmp_path_factory) -> Path:
    return build_student_kit(tmp_path_factory.mktemp("kit"))


def _members(kit: Path) -> dict[str, bytes]:
    """Every file of the kit, the wheel's files included (as ``<wheel>!/path``)."""
    files: dict[str, bytes] = {}
    with zipfile.ZipFile(kit) as outer:
        for name in outer.namelist():
            data = outer.read(name)
            files[name] = data
            if name.endswith(".whl"):
                with zipfile.ZipFile(io.BytesIO(data)) as wheel:
                    files.update({f"{name}!/{inner}": wheel.read(inner) for inner in wheel.namelist()})
    return files


def test_kit_holds_notebooks_wheel_readme_constraints(kit):
    """Does the kit hold exactly the student notebooks, one wheel, the README and constraints.txt?"""
    with zipfile.ZipFile(kit) as outer:
        names = sorted(outer.namelist())
    wheels = [n for n in names if n.endswith(".whl")]
    assert len(wheels) == 1, names
    expected = {f"{KIT_NAME}/README.md", f"{KIT_NAME}/constraints.txt", *wheels}
    expected |= {f"{KIT_NAME}/notebooks/{name}.ipynb" for name in NOTEBOOK_NAMES}
    assert set(names) == expected


def test_kit_notebooks_equal_the_release(kit):
    """Are the kit's notebooks byte for byte the generated notebooks/ (never the solutions)?"""
    files = _members(kit)
    for name in NOTEBOOK_NAMES:
        assert files[f"{KIT_NAME}/notebooks/{name}.ipynb"] == (NOTEBOOKS_DIR / f"{name}.ipynb").read_bytes()


def test_kit_has_no_solution_test_or_hidden_text(kit):
    """No file from solutions/ or tests/, no hidden-test line, no solution line, code included?"""
    files = _members(kit)
    for name in files:
        parts = set(Path(name.replace("!/", "/")).parts)
        assert not parts & {"solutions", "tests", "bench"}, name
    notebooks = [n for n in files if n.endswith(".ipynb")]
    assert len(notebooks) == len(NOTEBOOK_NAMES), notebooks
    solution_lines, hidden_lines = set(), set()
    for name in NOTEBOOK_NAMES:
        solution_nb = nbformat.read(SOLUTIONS_DIR / f"{name}.ipynb", as_version=4)
        solution_lines |= secret_lines(solution_nb)
        hidden_lines |= {line for cell in solution_nb.cells for line in _hidden_test_lines(cell.source)}
    assert solution_lines and hidden_lines, "the solution notebooks should have secret lines to look for"
    for name, data in files.items():
        if name.endswith(".whl"):
            continue  # its files are members of their own
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            assert name.endswith(".whl!/autograder/references/public.pt"), f"unexpected binary file {name}"
            continue  # the public references: tensors of outputs, not code
        lines = {line.strip() for line in text.splitlines()}
        assert not lines & hidden_lines, f"{name} holds hidden-test lines {sorted(lines & hidden_lines)[:3]}"
        if not name.endswith(".py"):  # the release code names the markers it strips
            assert "BEGIN HIDDEN TESTS" not in text and "BEGIN SOLUTION" not in text, name
        # lines as short as `]`, `break` or `return loss` are no solution (tests/helpers/leakage.py)
        secret = {line for line in solution_lines if len(line) >= MIN_LINE}
        assert not lines & secret, f"{name} holds solution lines {sorted(lines & secret)[:3]}"


def test_kit_code_computes_no_graded_value(kit):
    """Is no function of the kit's Python code a solution function or one of its mistakes' variants
    (normalized AST: names, formatting and docstrings do not count)?"""
    from autograder.grading.similarity import fingerprint
    from tests.helpers.leakage import solution_fingerprints

    solutions = solution_fingerprints()
    found = []
    for name, data in _members(kit).items():
        if name.endswith(".py"):
            source = data.decode("utf-8")
            for node in ast.walk(ast.parse(source)):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    digest = fingerprint(ast.get_source_segment(source, node), node.name)
                    if digest is not None and digest["digest"] in solutions:
                        found.append(f"{name}:{node.name} is {solutions[digest['digest']]}")
    assert not found


def _hidden_test_lines(source: str) -> set[str]:
    """Stripped lines between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS``."""
    lines, inside = set(), False
    for line in source.splitlines():
        if "END HIDDEN TESTS" in line:
            inside = False
        elif inside and line.strip():
            lines.add(line.strip())
        elif "BEGIN HIDDEN TESTS" in line:
            inside = True
    return lines


def test_kit_wheel_needs_no_instructor_tools(kit):
    """Does installing the wheel pull JupyterLab and ipywidgets but not nbgrader (an extra)?"""
    files = _members(kit)
    metadata = next(data for name, data in files.items() if name.endswith(".dist-info/METADATA"))
    requirements = [Requirement(r) for r in Parser().parsestr(metadata.decode()).get_all("Requires-Dist")]
    base = {r.name for r in requirements if r.marker is None}
    assert {"torch", "jupyterlab", "ipywidgets", "ipykernel"} <= base
    assert not base & {"nbgrader", "jupyter", "notebook"}
    readme = files[f"{KIT_NAME}/README.md"].decode()
    wheel = next(n for n in files if n.endswith(".whl")).split("/")[-1]
    assert f"pip install -c constraints.txt {wheel}" in readme and "jupyter lab notebooks/" in readme


def test_student_modules_import_without_nbgrader():
    """Do the notebooks' imports and the self-check work where nbgrader is not installed?"""
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in {'nbgrader', 'sqlalchemy', 'alembic'}:\n"
        "            raise ModuleNotFoundError(f'No module named {name!r} (blocked)')\n"
        "sys.meta_path.insert(0, Block())\n"
        "import pkgutil, importlib, course_utils\n"
        "for m in pkgutil.iter_modules(course_utils.__path__):\n"
        "    importlib.import_module('course_utils.' + m.name)\n"
        "import autograder.selfcheck\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
