"""Builders of the hostile-submission corpus: broken files and hostile functions, made from the solutions.

Every case is built programmatically (nothing large is committed): take a solution notebook from
``solutions/`` and replace one function's solution region (between ``### BEGIN SOLUTION`` and
``### END SOLUTION``) with broken or hostile code, or damage the file itself.

:data:`HOSTILE` maps a case name to ``(notebook, function, body)``: the body replaces the solution
of ``function``. A hostile function must never score more than the same notebook with that function
left as the stub, and must not change any other function's score.
"""

from __future__ import annotations

import copy
import json
import re
import textwrap
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nbformat

__all__ = [
    "BROKEN",
    "HOSTILE",
    "POINTS",
    "REPO",
    "BrokenCase",
    "replace_solution",
    "solution_notebook",
    "stub",
    "write_hostile",
]

REPO = Path(__file__).resolve().parents[2]

#: Points per function (nbgrader test cells of the solution notebooks).
POINTS: dict[str, dict[str, float]] = {}


def solution_notebook(name: str) -> nbformat.NotebookNode:
    """The solution notebook ``solutions/<name>.ipynb``."""
    return nbformat.read(REPO / "solutions" / f"{name}.ipynb", as_version=4)


def _points(name: str) -> dict[str, float]:
    if name not in POINTS:
        nb = solution_notebook(name)
        POINTS[name] = {
            c.metadata["nbgrader"]["grade_id"].removeprefix("test_"): float(c.metadata["nbgrader"]["points"])
            for c in nb.cells
            if c.metadata.get("nbgrader", {}).get("grade")
        }
    return POINTS[name]


def solution_cell(nb: nbformat.NotebookNode, function: str) -> nbformat.NotebookNode:
    """The solution cell whose nbgrader grade_id is ``function``."""
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == function:
            return cell
    raise KeyError(f"no solution cell for {function}")


def replace_solution(nb: nbformat.NotebookNode, function: str, body: str) -> nbformat.NotebookNode:
    """A copy of ``nb`` whose solution region of ``function`` holds ``body`` (dedented code)."""
    nb = copy.deepcopy(nb)
    cell = solution_cell(nb, function)
    match = re.search(r"^( *)### BEGIN SOLUTION\n.*?^ *### END SOLUTION\n", cell.source, flags=re.M | re.S)
    assert match, f"no solution region in {function}"
    indent = match.group(1)
    region = f"{indent}### BEGIN SOLUTION\n{textwrap.indent(textwrap.dedent(body).strip(), indent)}\n"
    region += f"{indent}### END SOLUTION\n"
    cell.source = cell.source[: match.start()] + region + cell.source[match.end() :]
    return nb


def stub(nb: nbformat.NotebookNode, function: str) -> nbformat.NotebookNode:
    """``nb`` with ``function`` left as in the student version (``pass``)."""
    return replace_solution(nb, function, "pass")


# --------------------------------------------------------------------------- hostile functions
_READ_REFERENCES = """
import glob, os
import torch
import autograder
paths = glob.glob(os.path.join(os.path.dirname(autograder.__file__), "references", "*.pt"))
paths += [os.environ.get("AUTOGRADER_HIDDEN_REFERENCES", "")]
for path in paths:
    try:
        entries = torch.load(path, weights_only=True)["entries"]
        return entries["content_loss"]["expected"]
    except Exception:
        pass
return None
"""

_TAMPER_FILES = """
import glob, os
out = os.environ.get("TAMPER_OUT_DIR", "{out_dir}")
for path in glob.glob(os.path.join(out, "**", "*.json"), recursive=True):
    try:
        with open(path, "w") as f:
            f.write('{{"score": 1000}}')
    except OSError:
        pass
for path in [os.path.join(out, "owned.txt"), "{repo}/OWNED.txt"]:
    try:
        with open(path, "w") as f:
            f.write("owned")
    except OSError:
        pass
for path in ["{repo}/README.md", "{repo}/solutions/StyleTransfer.ipynb"]:
    try:
        os.remove(path)
    except OSError:
        pass
return None
"""

_MONKEYPATCH = """
import numpy, torch
numpy.allclose = lambda *a, **k: True
numpy.testing.assert_allclose = lambda *a, **k: None
torch.allclose = lambda *a, **k: True
torch.testing.assert_close = lambda *a, **k: None
import autograder.checks.base as base
base.rel_error = lambda *a, **k: 0.0
base.compare_values = lambda *a, **k: None
import autograder.runner as runner
runner.plain_data = lambda value, depth=0: value
return torch.tensor(12345.0)
"""

_LIAR = """
class Liar(float):
    def __eq__(self, other):
        return True
    def __float__(self):
        return 0.0
    def __array__(self, *args, **kwargs):
        import numpy
        return numpy.zeros(())
return Liar(1.0)
"""

_TENSOR_LIAR = """
class LyingTensor(torch.Tensor):
    def __eq__(self, other):
        return True
    def allclose(self, *a, **k):
        return True
return torch.zeros(()).as_subclass(LyingTensor)
"""

_SPAWN = """
import subprocess
subprocess.Popen(["sleep", "4321"], start_new_session=True)
subprocess.Popen(["setsid", "sh", "-c", "sleep 4322 & sleep 4323"])
return None
"""

_FORK_BOMB = """
import os
while True:
    try:
        os.fork()
    except OSError:
        pass
"""

_GLOBAL_STATE = """
torch.set_grad_enabled(False)
torch.set_default_dtype(torch.float64)
torch.manual_seed(1234)
torch.set_num_threads(7)
return None
"""

_CORRUPT_MODEL = """
with torch.no_grad():
    for p in model.parameters():
        p.mul_(0.0)
    for b in model.buffers():
        b.zero_()
return None
"""

_NETWORK = """
import socket
with socket.create_connection(("93.184.216.34", 80), timeout=3) as s:
    s.sendall(b"GET / HTTP/1.0\\r\\n\\r\\n")
return None
"""

#: case -> (notebook, hostile function, body replacing its solution). content_loss is graded
#: first and nothing depends on it, so any leak to the later functions would show.
HOSTILE: dict[str, tuple[str, str, str]] = {
    "infinite_loop": ("StyleTransfer", "content_loss", "while True:\n    pass"),
    "sleep_forever": ("StyleTransfer", "content_loss", "import time\ntime.sleep(10**6)"),
    "allocate_50gb": ("StyleTransfer", "content_loss", "return torch.ones(50 * 2**30, dtype=torch.uint8)"),
    "print_1gb": ("StyleTransfer", "content_loss", "line = 'x' * 1023\nfor _ in range(2**20):\n    print(line)"),
    "sys_exit": ("StyleTransfer", "content_loss", "import sys\nsys.exit(0)"),
    "os_exit": ("StyleTransfer", "content_loss", "import os\nos._exit(0)"),
    "kill_self": ("StyleTransfer", "content_loss", "import os\nos.kill(os.getpid(), 9)"),
    "spawn_outliving_process": ("StyleTransfer", "content_loss", _SPAWN),
    "fork_bomb": ("StyleTransfer", "content_loss", _FORK_BOMB),
    "global_torch_state": ("StyleTransfer", "content_loss", _GLOBAL_STATE),
    "monkeypatch_checker": ("StyleTransfer", "content_loss", _MONKEYPATCH),
    "lying_object": ("StyleTransfer", "content_loss", _LIAR),
    "lying_tensor_subclass": ("StyleTransfer", "content_loss", _TENSOR_LIAR),
    "read_references": ("StyleTransfer", "content_loss", _READ_REFERENCES),
    "tamper_files": ("StyleTransfer", "content_loss", _TAMPER_FILES),
    "network_connection": ("StyleTransfer", "content_loss", _NETWORK),
    "corrupt_model_weights": ("NetworkVisualization", "compute_saliency_maps", _CORRUPT_MODEL),
}


def write_hostile(case: str, folder: Path, **fmt: str) -> Path:
    """Write the notebook of a hostile case as ``folder/<case>.ipynb``; ``fmt`` fills ``{out_dir}``, ``{repo}``."""
    notebook, function, body = HOSTILE[case]
    if fmt:
        body = body.format(**fmt)
    path = folder / f"{case}.ipynb"
    nbformat.write(replace_solution(solution_notebook(notebook), function, body), path)
    return path


def stub_score(case: str) -> float:
    """Score of the case's notebook with the hostile function left as the stub (others full)."""
    notebook, function, _ = HOSTILE[case]
    points = _points(notebook)
    return sum(points.values()) - points[function]


# --------------------------------------------------------------------------- broken submissions
@dataclass(frozen=True)
class BrokenCase:
    """A damaged submission.

    Attributes:
        notebook: the assignment it is built from.
        build: writes the submission into a folder, returns its path.
        lost: functions expected to score zero (every other function keeps full marks);
            ``None`` means the whole file is unreadable (score 0).
        words: text expected in the result's problems or the lost functions' messages.
    """

    notebook: str
    build: Callable[[Path], Path]
    lost: tuple[str, ...] | None
    words: str


def _write_bytes(name: str, data: bytes) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(data)
        return path

    return build


def _write_nb(name: str, change: Callable[[nbformat.NotebookNode], nbformat.NotebookNode], notebook: str):
    def build(folder: Path) -> Path:
        path = folder / f"{name}.ipynb"
        nbformat.write(change(solution_notebook(notebook)), path)
        return path

    return build


def _v3(folder: Path) -> Path:
    path = folder / "nbformat_v3.ipynb"
    path.write_text(nbformat.writes(nbformat.convert(solution_notebook("StyleTransfer"), 3), version=3))
    return path


def _zip_without_notebook(folder: Path) -> Path:
    path = folder / "zip_without_notebook.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("StyleTransfer.py", "def content_loss(): pass\n")
    return path


def _zip_with_notebook(folder: Path) -> Path:
    path = folder / "zipped_notebook.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("hw/StyleTransfer.ipynb", nbformat.writes(solution_notebook("StyleTransfer")))
    return path


def _without_markers(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    for cell in nb.cells:
        cell.source = "\n".join(line for line in cell.source.split("\n") if "YOUR CODE" not in line and "###" not in line)
    return nb


def _moved_markers(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    for cell in nb.cells:
        lines = cell.source.split("\n")
        markers = [line.strip() for line in lines if "YOUR CODE" in line]
        if markers:
            cell.source = "\n".join([*(f"# {m}" for m in reversed(markers)), *(x for x in lines if "YOUR CODE" not in x)])
    return nb


def _renamed(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    cell = solution_cell(nb, "gram_matrix")
    cell.source = cell.source.replace("def gram_matrix(", "def gram_matrix_v2(")
    # keep style_loss working: it calls gram_matrix
    cell.source += "\n\n\ndef gram_matrix(features):\n    return gram_matrix_v2(features, normalize=False)\n"
    return nb


def _renamed_tv(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    cell = solution_cell(nb, "tv_loss")
    cell.source = cell.source.replace("def tv_loss(", "def total_variation_loss(")
    return nb


def _signature(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    cell = solution_cell(nb, "tv_loss")
    cell.source = cell.source.replace("def tv_loss(img, tv_weight)", "def tv_loss(img, tv_weight, extra_required)")
    return nb


def _syntax_error(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    cell = solution_cell(nb, "tv_loss")
    cell.source = cell.source.replace("### END SOLUTION", "### END SOLUTION\n    x = (1 +")
    return nb


def _missing_import(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    cell = solution_cell(nb, "tv_loss")
    cell.source = "import module_that_does_not_exist\n\n" + cell.source
    return nb


def _raise_at_import(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    cell = solution_cell(nb, "tv_loss")
    cell.source += "\n\nraise RuntimeError('this cell fails when run')\n"
    return nb


def _reordered(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    nb.cells = [nb.cells[0], nb.cells[1], *reversed(nb.cells[2:])]
    return nb


def _duplicated(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    cell = solution_cell(nb, "content_loss")
    nb.cells.insert(nb.cells.index(cell) + 1, copy.deepcopy(cell))
    return nb


def _duplicated_stub_last(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    cell = copy.deepcopy(solution_cell(stub(nb, "tv_loss"), "tv_loss"))
    nb.cells.append(cell)
    return nb


def _huge_outputs(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="y" * (4 * 2**20))]
    return nb


def _notebook_200mb(folder: Path) -> Path:
    """A 200 MB notebook (outputs), written without building it in memory twice."""
    nb = solution_notebook("StyleTransfer")
    chunk = "z" * (2**20 - 1) + "\n"
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=["@@BIG@@"])]
    text = json.dumps(nb, indent=1)
    head, tail = text.split('"@@BIG@@"', 1)
    path = folder / "notebook_200mb.ipynb"
    per_cell = 200 // sum(c.cell_type == "code" for c in nb.cells) + 1
    with path.open("w") as f:
        parts = text.split('"@@BIG@@"')
        for i, part in enumerate(parts):
            f.write(part)
            if i < len(parts) - 1:
                f.write(", ".join([json.dumps(chunk)] * per_cell))
    return path


ALL_ST = ("content_loss", "gram_matrix", "style_loss", "tv_loss")

#: Broken files and damaged notebooks (StyleTransfer: fast to grade).
BROKEN: dict[str, BrokenCase] = {
    "not_json": BrokenCase("StyleTransfer", _write_bytes("not_json.ipynb", b"print('hello')\n"), None, "not valid JSON"),
    "json_not_notebook": BrokenCase(
        "StyleTransfer", _write_bytes("json_not_notebook.ipynb", b'{"cells": "none"}'), None, "not a Jupyter notebook"
    ),
    "empty_file": BrokenCase("StyleTransfer", _write_bytes("empty_file.ipynb", b""), None, "empty file"),
    "zip_without_notebook": BrokenCase("StyleTransfer", _zip_without_notebook, None, "holds no notebook"),
    "nbformat_v3": BrokenCase("StyleTransfer", _v3, (), "converted"),
    "zipped_notebook": BrokenCase("StyleTransfer", _zip_with_notebook, (), "read from"),
    "markers_deleted": BrokenCase("StyleTransfer", _write_nb("markers_deleted", _without_markers, "StyleTransfer"), (), ""),
    "markers_moved": BrokenCase("StyleTransfer", _write_nb("markers_moved", _moved_markers, "StyleTransfer"), (), ""),
    "function_renamed": BrokenCase(
        "StyleTransfer", _write_nb("function_renamed", _renamed_tv, "StyleTransfer"), ("tv_loss",), "tv_loss"
    ),
    "signature_changed": BrokenCase(
        "StyleTransfer", _write_nb("signature_changed", _signature, "StyleTransfer"), ("tv_loss",), "extra_required"
    ),
    "renamed_with_wrapper": BrokenCase(
        "StyleTransfer", _write_nb("renamed_with_wrapper", _renamed, "StyleTransfer"), ("gram_matrix",), "gram_matrix"
    ),
    "syntax_error_in_cell": BrokenCase(
        "StyleTransfer", _write_nb("syntax_error_in_cell", _syntax_error, "StyleTransfer"), ("tv_loss",), "syntax error"
    ),
    "missing_module_import": BrokenCase(
        "StyleTransfer", _write_nb("missing_module_import", _missing_import, "StyleTransfer"), (), "module_that_does_not"
    ),
    "cell_raises_at_import": BrokenCase(
        "StyleTransfer", _write_nb("cell_raises_at_import", _raise_at_import, "StyleTransfer"), (), "fails when run"
    ),
    "cells_reordered": BrokenCase("StyleTransfer", _write_nb("cells_reordered", _reordered, "StyleTransfer"), (), ""),
    "cells_duplicated": BrokenCase(
        "StyleTransfer", _write_nb("cells_duplicated", _duplicated, "StyleTransfer"), (), "duplicated"
    ),
    "duplicate_grade_id_stub_last": BrokenCase(
        "StyleTransfer",
        _write_nb("duplicate_grade_id_stub_last", _duplicated_stub_last, "StyleTransfer"),
        ("tv_loss",),
        "duplicated",
    ),
    "huge_outputs": BrokenCase("StyleTransfer", _write_nb("huge_outputs", _huge_outputs, "StyleTransfer"), (), "outputs"),
    "notebook_200mb": BrokenCase("StyleTransfer", _notebook_200mb, (), "outputs"),
}
