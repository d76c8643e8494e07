"""The autograder's layers: each module or package imports only the layers below it, never one above."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.helpers.notebooks import REPO

#: Lowest first. A unit is a top-level module or a subpackage of ``autograder``.
LAYERS = (
    "settings",
    "status",
    "cgroups",
    "process_memory",
    "course",
    "probe",
    "runner",
    "checks",
    "functions",
    "references",
    "solution_edits",
    "notebook_io",
    "reference_build",
    "mistake_table",
    "isolation",
    "grading",
    "selfcheck",
    "class_report",
    "gradescope",
    "batch_outputs",
    "release",
    "student_kit",
    "demo",
    "cli",
    "__main__",
)


def _unit(module: str) -> str:
    """``autograder.grading.batch`` -> ``grading``; ``autograder.cli`` -> ``cli``."""
    return module.split(".")[1]


def _imports() -> list[tuple[str, str, str]]:
    """``(file, importing unit, imported unit)`` for every import between two units, lazy ones too."""
    found = []
    for path in sorted((REPO / "autograder").rglob("*.py")):
        module = ".".join(path.relative_to(REPO).with_suffix("").parts)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                if name.startswith("autograder.") and _unit(name) != _unit(module):
                    found.append((str(Path(path).relative_to(REPO)), _unit(module), _unit(name)))
    return found


def test_every_unit_has_a_layer() -> None:
    """Is every module and subpackage of autograder placed in LAYERS (a new one must be placed)?"""
    units = {
        path.stem if path.is_file() else path.name
        for path in (REPO / "autograder").iterdir()
        if (path.suffix == ".py" and path.stem != "__init__") or (path / "__init__.py").is_file()
    }
    assert units == set(LAYERS), sorted(units ^ set(LAYERS))


def test_no_import_runs_up_a_layer() -> None:
    """Does every import between units go down (to a layer listed before the importing one)?"""
    upward = [
        f"{file}: {importer} imports {imported}"
        for file, importer, imported in _imports()
        if LAYERS.index(imported) > LAYERS.index(importer)
    ]
    assert not upward, upward
