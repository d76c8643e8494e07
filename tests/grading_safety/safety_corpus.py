"""Builders of the grading-safety corpus: broken files and hostile functions, made from the solutions.

Every case is built programmatically (nothing large is committed): take a solution notebook from
``solutions/`` and replace one function's solution region (between ``### BEGIN SOLUTION`` and
``### END SOLUTION``) with broken or hostile code, or damage the file itself.

Case code may hold placeholders filled by :func:`build_corpus` from ``values``: ``{TOKEN}`` (a
unique string: every process a case spawns carries it in its command line, every file it writes
carries it in its name), ``{OUT}`` (the grader's output folder), ``{REPO}``, ``{CANARY}`` (a file in
the repository that must survive), ``{REFS}`` (the reference file), ``{PORT}`` (a local TCP
server that must receive nothing), and those of :mod:`tests.grading_safety.third_round`.
"""

from __future__ import annotations

import copy
import json
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

import nbformat

from tests.grading_safety.case import FUNCTIONS, Case, full, hostile, lost, notebook_maker
from tests.grading_safety.third_round import THIRD_ROUND
from tests.helpers.notebooks import REPO, replace_solution, solution_cell, solution_nb, stub_notebook

__all__ = [
    "BROKEN",
    "CASES",
    "FUNCTIONS",
    "HOSTILE",
    "REPO",
    "Case",
    "build_corpus",
    "replace_solution",
    "stub_notebook",
]

# --------------------------------------------------------------------------- hostile function bodies
_READ_REFERENCES = """
import glob, os
import torch
import autograder
paths = ["{REFS}", os.environ.get("AUTOGRADER_HIDDEN_REFERENCES", "")]
for folder in autograder.__path__:
    paths += glob.glob(os.path.join(str(folder), "references", "*.pt"))
for path in paths:
    try:
        return torch.load(path, weights_only=True)["entries"]["content_loss"]["expected"]
    except Exception:
        pass
return None
"""

_TAMPER_FILES = """
import glob, os
for path in glob.glob(os.path.join("{OUT}", "**", "*.json"), recursive=True):
    try:
        with open(path, "w") as f:
            f.write('{"score": 1000}')
    except OSError:
        pass
for folder in ["{OUT}", "{OUT}/results", "{REPO}"]:
    try:
        with open(os.path.join(folder, "evil-{TOKEN}.json"), "w") as f:
            f.write("owned")
    except OSError:
        pass
try:
    os.remove("{CANARY}")
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
import autograder.checks.compare as compare
compare.rel_error = lambda *a, **k: 0.0
compare.norm_rel_error = lambda *a, **k: 0.0
compare.as_tensor_result = lambda value, *a, **k: (value, "")
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
import subprocess, sys
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(4321)", "{TOKEN}"], start_new_session=True)
daemon = "import os, time\\nif os.fork() == 0:\\n    os.setsid()\\n    time.sleep(4322)"
subprocess.Popen([sys.executable, "-c", daemon, "{TOKEN}"]).wait()
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
with socket.create_connection(("127.0.0.1", {PORT}), timeout=3) as s:
    s.sendall(b"stolen answers")
return None
"""

_PRINT_1GB = """
line = "x" * 1023
for _ in range(2**20):
    print(line)
return None
"""

#: hostile case -> (function attacked in the StyleTransfer solution, body, accepted statuses, needs).
#: content_loss is graded first and nothing depends on it, so any leak into later checks would show.
HOSTILE: dict[str, tuple[str, str, tuple[str, ...], str | None]] = {
    "infinite_loop": ("content_loss", "while True:\n    pass", ("timeout",), None),
    "sleep_forever": ("content_loss", "import time\ntime.sleep(10**6)", ("timeout",), None),
    "allocate_50gb": ("content_loss", "return torch.ones(50 * 2**30, dtype=torch.uint8)", ("memory",), None),
    "print_1gb": ("content_loss", _PRINT_1GB, ("not_implemented", "timeout"), None),
    "sys_exit": ("content_loss", "import sys\nsys.exit(0)", ("crashed",), None),
    "os_exit": ("content_loss", "import os\nos._exit(0)", ("crashed",), None),
    "kill_self": ("content_loss", "import os\nos.kill(os.getpid(), 9)", ("crashed",), None),
    "spawn_outliving_process": ("content_loss", _SPAWN, (), None),
    "fork_bomb": ("content_loss", _FORK_BOMB, ("timeout", "crashed", "error"), None),
    "global_torch_state": ("content_loss", _GLOBAL_STATE, ("not_implemented",), None),
    "monkeypatch_checker": ("content_loss", _MONKEYPATCH, ("failed",), None),
    "lying_object": ("content_loss", _LIAR, ("failed",), None),
    "lying_tensor_subclass": ("content_loss", _TENSOR_LIAR, ("failed",), None),
    "read_references": ("content_loss", _READ_REFERENCES, ("not_implemented",), "hidden_paths"),
    "tamper_files": ("content_loss", _TAMPER_FILES, ("not_implemented",), "uid"),
    "network_connection": ("content_loss", _NETWORK, ("error",), "network"),
}


# --------------------------------------------------------------------------- broken submissions
def _write_bytes(data: bytes) -> Callable[[Path, dict[str, str]], None]:
    def make(path: Path, values: dict[str, str]) -> None:
        path.write_bytes(data)

    return make


def _v3(path: Path, values: dict[str, str]) -> None:
    path.write_text(nbformat.writes(nbformat.convert(solution_nb("StyleTransfer"), 3), version=3))


def _zip_without_notebook(path: Path, values: dict[str, str]) -> None:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("StyleTransfer.py", "def content_loss():\n    pass\n")


def _zip_with_notebook(path: Path, values: dict[str, str]) -> None:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("hw/StyleTransfer.ipynb", nbformat.writes(solution_nb("StyleTransfer")))
        z.writestr("__MACOSX/hw/._StyleTransfer.ipynb", "resource fork junk")


def _without_markers(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    for cell in nb.cells:
        kept = [x for x in cell.source.split("\n") if "YOUR CODE" not in x and "SOLUTION" not in x]
        cell.source = "\n".join(kept)
    return nb


def _moved_markers(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    for cell in nb.cells:
        lines = cell.source.split("\n")
        markers = [x.strip() for x in lines if "YOUR CODE" in x]
        if markers:
            cell.source = "\n".join([*reversed(markers), *(x for x in lines if "YOUR CODE" not in x)])
    return nb


def _edit(function: str, old: str, new: str) -> Callable[[nbformat.NotebookNode], nbformat.NotebookNode]:
    def change(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
        cell = solution_cell(nb, function)
        assert old in cell.source, f"{old!r} not in the cell of {function}"
        cell.source = cell.source.replace(old, new, 1)
        return nb

    return change


def _reordered(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    nb.cells = [*nb.cells[:2], *reversed(nb.cells[2:])]
    return nb


def _duplicated(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    cell = solution_cell(nb, "content_loss")
    nb.cells.insert(nb.cells.index(cell) + 1, copy.deepcopy(cell))
    return nb


def _duplicated_stub_last(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    nb.cells.append(copy.deepcopy(solution_cell(replace_solution(nb, "tv_loss", "pass"), "tv_loss")))
    return nb


def _huge_outputs(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="y" * (4 * 2**20))]
    return nb


def _notebook_200mb(path: Path, values: dict[str, str]) -> None:
    """A 200 MB notebook (outputs), streamed to disk."""
    nb = solution_nb("StyleTransfer")
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    for cell in code_cells:
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=["@@BIG@@"])]
    parts = json.dumps(nb, indent=1).split('"@@BIG@@"')
    line = json.dumps("z" * (2**20 - 1) + "\n")
    per_cell = 200 // len(code_cells) + 1
    with path.open("w") as f:
        for i, part in enumerate(parts):
            f.write(part)
            if i < len(parts) - 1:
                f.write(", ".join([line] * per_cell))


_ST = "StyleTransfer"
_UNREADABLE = dict.fromkeys(FUNCTIONS[_ST], "zero")

#: Broken files and damaged notebooks, built from the StyleTransfer solution (quick to grade).
BROKEN: list[Case] = [
    Case("not_json", _ST, _write_bytes(b"print('hello')\n"), _UNREADABLE, problem="not valid JSON"),
    Case(
        "json_not_notebook",
        _ST,
        _write_bytes(b'{"cells": "none"}'),
        _UNREADABLE,
        problem="not a Jupyter notebook",
    ),
    Case("empty_file", _ST, _write_bytes(b""), _UNREADABLE, problem="empty file"),
    Case(
        "zip_without_notebook",
        _ST,
        _zip_without_notebook,
        _UNREADABLE,
        problem="holds no notebook",
        filename="StyleTransfer.zip",
    ),
    Case("nbformat_v3", _ST, _v3, full(_ST), problem="converted"),
    Case("zip_with_notebook", _ST, _zip_with_notebook, full(_ST), filename="StyleTransfer.zip"),
    Case("markers_deleted", _ST, notebook_maker(_ST, _without_markers), full(_ST)),
    Case("markers_moved", _ST, notebook_maker(_ST, _moved_markers), full(_ST)),
    Case(
        "function_renamed",
        _ST,
        notebook_maker(_ST, _edit("tv_loss", "def tv_loss(", "def total_variation(")),
        lost(_ST, "tv_loss"),
        target="tv_loss",
        statuses=("missing",),
        problem="tv_loss is not defined",
    ),
    Case(
        "signature_changed",
        _ST,
        notebook_maker(
            _ST, _edit("tv_loss", "def tv_loss(img, tv_weight)", "def tv_loss(img, tv_weight, extra)")
        ),
        lost(_ST, "tv_loss"),
        target="tv_loss",
        statuses=("error",),
    ),
    Case(
        "syntax_error_in_cell",
        _ST,
        notebook_maker(_ST, _edit("tv_loss", "### END SOLUTION", "### END SOLUTION\n    x = (1 +")),
        lost(_ST, "tv_loss"),
        target="tv_loss",
        statuses=("missing",),
        problem="syntax error",
    ),
    Case(
        "missing_module_import",
        _ST,
        notebook_maker(
            _ST, _edit("tv_loss", "def tv_loss(", "import module_that_does_not_exist\n\n\ndef tv_loss(")
        ),
        full(_ST),
        problem="module_that_does_not_exist",
    ),
    Case(
        "cell_raises_at_import",
        _ST,
        notebook_maker(
            _ST,
            _edit(
                "tv_loss", "def tv_loss(", "raise RuntimeError('this cell fails when run')\n\n\ndef tv_loss("
            ),
        ),
        full(_ST),
        problem="this cell fails when run",
    ),
    Case("cells_reordered", _ST, notebook_maker(_ST, _reordered), full(_ST)),
    Case("cells_duplicated", _ST, notebook_maker(_ST, _duplicated), full(_ST), problem="duplicated"),
    Case(
        "duplicate_grade_id_stub_last",
        _ST,
        notebook_maker(_ST, _duplicated_stub_last),
        lost(_ST, "tv_loss"),
        target="tv_loss",
        statuses=("not_implemented",),
        problem="duplicated",
    ),
    Case("huge_outputs", _ST, notebook_maker(_ST, _huge_outputs), full(_ST), problem="outputs"),
    Case("notebook_200mb", _ST, _notebook_200mb, full(_ST), problem="outputs"),
]

#: Every case: broken files, hostile StyleTransfer functions, one model-tampering case and the
#: third round of held-out attacks (tests/grading_safety/third_round.py).
CASES: list[Case] = [
    *BROKEN,
    *THIRD_ROUND,
    *(
        Case(name, _ST, hostile(_ST, function, body), lost(_ST, function), function, statuses, needs=needs)
        for name, (function, body, statuses, needs) in HOSTILE.items()
    ),
    Case(
        "corrupt_model_weights",
        "NetworkVisualization",
        hostile("NetworkVisualization", "compute_saliency_maps", _CORRUPT_MODEL),
        lost("NetworkVisualization", "compute_saliency_maps"),
        "compute_saliency_maps",
        ("not_implemented",),
    ),
]


def build_corpus(root: Path, values: dict[str, str], cases: Sequence[Case] | None = None) -> dict[str, Path]:
    """Write every case in nbgrader's layout ``root/submitted/<case>/<notebook>/<file>``.

    Returns:
        case name -> the submitted file.
    """
    written = {}
    for case in CASES if cases is None else cases:
        path = (
            Path(root) / "submitted" / case.name / case.notebook / (case.filename or f"{case.notebook}.ipynb")
        )
        case.build(path, values)
        written[case.name] = path
    return written
