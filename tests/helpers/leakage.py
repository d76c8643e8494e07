"""Solution code in text shown to students: hints, messages, feedback.

A hint may name an API (``gather``, ``torch.no_grad()``) or a formula the notebook already shows;
it must never hold code that, pasted, computes the graded value. :func:`solution_code_in` finds:

* a whole line of a solution region (at least :data:`MIN_LINE` characters once normalized), from
  code and written answers alike (the lines of :func:`autograder.release.secret_lines`), and
* a piece of a solution CODE line (at least :data:`MIN_FRAGMENT` characters) that holds an operator,
  an assignment, an index or a call with arguments, e.g. ``g / g.norm()`` or
  ``(content_current - content_original)``, unless the notebook shows that piece outside every
  solution region (the TODO's formula ``dX = learning_rate * g / ||g||_2``).

Text is compared normalized (:func:`normalize_code`): whitespace removed and ``x ** 2`` written as
``x.pow(2)``, so that both spellings of a square match. Plain words never count: a fragment without
an operator, such as ``learning_rate`` or ``X.grad.abs()``, is an API name, not a computation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograder.release import NOTEBOOK_NAMES, SOLUTIONS_DIR, _region_lines, secret_lines

__all__ = [
    "MIN_FRAGMENT",
    "MIN_LINE",
    "SolutionCode",
    "load_solution_code",
    "normalize_code",
    "solution_code_in",
    "solution_fingerprints",
]

#: A whole solution line counts from this many normalized characters (shorter ones: ``loss=0``).
MIN_LINE = 12
#: A piece of a solution code line counts from this many normalized characters (``g/g.norm()``).
MIN_FRAGMENT = 10

#: What makes a fragment a computation: an operator or assignment between operands, an index, or a
#: call with arguments.
_CODE = re.compile(r"[\w)\]](?:[-+*/@%]|\*\*|[-+*/]?=)[\w(.\[]|\w\[|\w\([^)]")


def normalize_code(text: str) -> str:
    """``text`` without whitespace, with ``a ** n`` spelled ``a.pow(n)``."""
    squashed = re.sub(r"\s+", "", text)
    return re.sub(r"\*\*(\d+)", r".pow(\1)", squashed)


@dataclass(frozen=True)
class SolutionCode:
    """What a hint must not contain, from the solution notebooks.

    Attributes:
        lines: normalized secret lines (code and written answers) of at least :data:`MIN_LINE` chars.
        code_lines: normalized lines of solution regions in code cells (fragments are taken from these).
        visible: normalized text students see anyway (every line outside the secret regions),
            one line per line.
    """

    lines: frozenset[str]
    code_lines: frozenset[str]
    visible: str


def load_solution_code(
    solutions_dir: Path = SOLUTIONS_DIR, notebooks: Iterable[str] = NOTEBOOK_NAMES
) -> SolutionCode:
    """Read the solution regions of ``solutions_dir/<name>.ipynb`` for each notebook."""
    lines: set[str] = set()
    code_lines: set[str] = set()
    visible: set[str] = set()
    for name in notebooks:
        nb = nbformat.read(Path(solutions_dir) / f"{name}.ipynb", as_version=4)
        secrets = secret_lines(nb)
        lines |= {normalize_code(line) for line in secrets}
        for cell in nb.cells:
            inside, outside = _region_lines(cell.source)
            visible |= {normalize_code(line) for line in outside}
            if cell.cell_type == "code":
                code_lines |= {normalize_code(line) for line in inside & secrets}
    return SolutionCode(
        lines=frozenset(line for line in lines if len(line) >= MIN_LINE),
        code_lines=frozenset(line for line in code_lines if line),
        visible="\n".join(sorted(visible)),
    )


def _shared_fragments(line: str, text: str) -> set[str]:
    """Maximal substrings of ``line`` (at least MIN_FRAGMENT long) that occur in ``text``."""
    found: set[str] = set()
    start = 0
    while start <= len(line) - MIN_FRAGMENT:
        end = start + MIN_FRAGMENT
        if line[start:end] not in text:
            start += 1
            continue
        while end < len(line) and line[start : end + 1] in text:
            end += 1
        found.add(line[start:end])
        start += 1
    # keep only the maximal ones
    return {f for f in found if not any(f != g and f in g for g in found)}


def solution_code_in(text: str, code: SolutionCode) -> list[str]:
    """Solution lines and code fragments (normalized) found in ``text``; empty when there are none."""
    flat = normalize_code(text)
    leaks = {line for line in code.lines if line in flat}
    for line in code.code_lines:
        for fragment in _shared_fragments(line, flat):
            if _CODE.search(fragment) and fragment not in code.visible:
                leaks.add(fragment)
    return sorted(leaks)


def solution_fingerprints() -> dict[str, str]:
    """Normalized AST fingerprint digest -> ``"function: edit"`` of every solution function and of each
    stored edit of it (:mod:`autograder.solution_edits`): what no code students receive may be."""
    from autograder.functions import FUNCTIONS
    from autograder.grading.similarity import fingerprint
    from autograder.notebook_io.extraction import extract_student_code, function_source
    from autograder.solution_edits import apply_edits, edits_of

    digests = {}
    for fn in FUNCTIONS.values():
        nb = nbformat.read(Path(SOLUTIONS_DIR) / f"{fn.notebook}.ipynb", as_version=4)
        for edit in [None, *edits_of(nb, fn.name)]:
            edited = apply_edits(nb, [(fn.name, edit)]) if edit else nb
            chunks, _ = extract_student_code(edited, [fn.name])
            found = fingerprint(function_source(chunks, fn.name), fn.name)
            if found is not None:
                digests[found["digest"]] = f"{fn.name}: {edit or 'solution'}"
    return digests
