"""The third round of held-out attacks (issue 21), as corpus cases graded with every other one.

Each case is one finding: a student who plants a classmate's notebook (and a backup, and 20 nested
copies) inside their own folder; a correct function that prints 120 kB; a notebook saved with
carriage-return line endings; a cell too deep to parse; a lone surrogate in the file; System V
shared memory left behind and a host segment read; files written to ``/run/lock`` and
``/var/lock``; and a world-readable copy of the solutions elsewhere on the machine, read and run.

Placeholders besides :mod:`tests.grading_safety.safety_corpus`'s: ``{COPY}`` (a world-readable
copy of the StyleTransfer solution notebook outside every course folder), ``{SHMID}`` (a
world-readable System V segment of the host holding ``{SECRET}``) and ``{SHM_BYTES}`` (the size of
the segments the attack leaves behind, so that the test can find them).
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat

from tests.grading_safety.case import Case, full, hostile, lost, notebook_maker
from tests.helpers.notebooks import solution_cell, solution_nb, stub_notebook

__all__ = ["CLASSMATE", "PLANTER", "RUN_LOCK", "SHM_BYTES", "SOLUTIONS_COPY", "SYSV_IPC", "THIRD_ROUND"]

_ST = "StyleTransfer"
#: The clean classmate whose notebook the planter imitates, and the planter.
CLASSMATE, PLANTER = "classmate", "planter"
#: Size of each System V segment the IPC attack leaves behind (distinctive, never touched: no memory).
SHM_BYTES = 12_345_679
#: 1 January 2100: a file time that won under "the newest file wins".
_YEAR_2100 = 4_102_444_800


def _plant(path: Path, values: dict[str, str]) -> None:
    """The planter's own solved notebook, plus in its folder: the released stub at nbgrader's place of
    the classmate (dated 2100), a ``backup/`` copy and 20 nested copies."""
    nbformat.write(solution_nb(_ST), path)
    mine = path.parents[1]  # submitted/planter
    stub = stub_notebook(_ST)
    planted = [mine / "x" / "submitted" / CLASSMATE / _ST / f"{_ST}.ipynb", mine / "backup" / f"{_ST}.ipynb"]
    planted += [mine.joinpath(*(f"n{i}" for i in range(n + 1)), _ST, f"{_ST}.ipynb") for n in range(20)]
    for copy in planted:
        copy.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(stub, copy)
        os.utime(copy, (_YEAR_2100, _YEAR_2100))


def _prepend(function: str, code: str):
    """A change that runs ``code`` (one indented line each) first in ``function``'s solution region."""

    def change(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
        cell = solution_cell(nb, function)
        marker = "### BEGIN SOLUTION\n"
        indent = cell.source.split(marker)[0].rsplit("\n", 1)[-1]
        lines = "".join(f"{indent}{line}\n" for line in code.strip("\n").split("\n"))
        cell.source = cell.source.replace(marker, marker + lines, 1)
        return nb

    return change


def _carriage_returns(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = cell.source.replace("\n", "\r")
    return nb


def _deep_sum(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    cell = solution_cell(nb, "tv_loss")
    cell.source += "\n\n_unused = " + " + ".join(["1"] * 4000) + "\n"
    return nb


def _lone_surrogate(path: Path, values: dict[str, str]) -> None:
    """The solution with a comment holding ``\\ud800`` in the JSON (no UTF-8 text can hold it)."""
    notebook_maker(_ST, _prepend("content_loss", "# a lone surrogate: @@SURROGATE@@"))(path, values)
    path.write_text(path.read_text(encoding="utf-8").replace("@@SURROGATE@@", "\\ud800"), encoding="utf-8")


SYSV_IPC = """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
seen = b""
address = libc.shmat(int("{SHMID}"), None, 0o10000)  # SHM_RDONLY
if address not in (None, ctypes.c_void_p(-1).value):
    seen = ctypes.string_at(address, 64)
for _ in range(3):  # IPC_PRIVATE, IPC_CREAT | 0666: never removed
    libc.shmget(0, {SHM_BYTES}, 0o1666)
raise RuntimeError(f"host segment: {seen!r}")
"""

RUN_LOCK = """
import os
for folder in ("/run/lock", "/var/lock"):
    try:
        with open(os.path.join(folder, "{TOKEN}-" + folder.strip("/").replace("/", "-")), "wb") as f:
            f.write(b"x" * 2**22)
    except OSError:
        pass
return None
"""

SOLUTIONS_COPY = """
import json
try:
    cells = json.load(open("{COPY}"))["cells"]
except OSError:
    return None
for cell in cells:
    source = "".join(cell["source"])
    if "def content_loss" in source:
        namespace = dict()
        exec(source, namespace)
        return namespace["content_loss"](content_weight, content_current, content_original)
return None
"""


def _attack(name: str, body: str, status: str, needs: str) -> Case:
    """A case whose content_loss is ``body``: it must end in ``status`` and score zero."""
    return Case(
        name,
        _ST,
        hostile(_ST, "content_loss", body),
        lost(_ST, "content_loss"),
        "content_loss",
        (status,),
        needs=needs,
    )


#: Every third-round case (StyleTransfer).
THIRD_ROUND: list[Case] = [
    Case(CLASSMATE, _ST, notebook_maker(_ST, lambda nb: nb), full(_ST)),
    Case(PLANTER, _ST, _plant, full(_ST), problem="23 files were submitted for this assignment"),
    Case(
        "print_120kb",
        _ST,
        notebook_maker(_ST, _prepend("content_loss", "for _ in range(120):\n    print('d' * 999)")),
        full(_ST),
    ),
    Case("carriage_return_lines", _ST, notebook_maker(_ST, _carriage_returns), full(_ST)),
    Case(
        "cell_too_deep_to_parse",
        _ST,
        notebook_maker(_ST, _deep_sum),
        lost(_ST, "tv_loss"),
        "tv_loss",
        ("missing",),
        problem="nested too deeply",
    ),
    Case("lone_surrogate", _ST, _lone_surrogate, full(_ST), problem="not valid unicode"),
    _attack("sysv_shared_memory", SYSV_IPC, "error", "ipc"),
    _attack("run_lock_files", RUN_LOCK, "not_implemented", "view"),
    _attack("solutions_copy_elsewhere", SOLUTIONS_COPY, "not_implemented", "view"),
]
