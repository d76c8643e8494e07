"""Take the code worth running out of a notebook: imports and the students' function definitions.

A submitted notebook also holds demo cells (plots, long optimizations, calls of the functions under
test). Grading runs none of that: only

* import statements, from every code cell;
* everything in nbgrader *solution* cells (``metadata.nbgrader.solution``), where students write;
* top-level ``def`` / ``class`` statements anywhere, so a function whose cell lost its metadata
  (copied, re-created) still counts.

nbgrader's graded test cells are the grader's, not the student's, and are skipped.

Each kept statement becomes one :class:`CodeChunk`, run on its own so that one failing import does
not take the rest down. As in Jupyter, a later definition of a name replaces an earlier one.
"""

from __future__ import annotations

import ast
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from types import CodeType

import nbformat

__all__ = ["CodeChunk", "compile_chunk", "extract_student_code", "function_source"]


@dataclass(frozen=True)
class CodeChunk:
    """A piece of student code to execute, with a label that tells the student where it came from.

    Attributes:
        label: where the code is, e.g. ``"cell 7 (compute_saliency_maps)"``; used as the file name
            in tracebacks, so error messages point at the student's cell.
        code: Python source of one top-level statement (its lines only).
        defines: the top-level name the statement defines (function or class), if any.
        first_line: the cell line the statement starts on (1-based), for tracebacks.
    """

    label: str
    code: str
    defines: str | None = None
    first_line: int = 1


def _is_solution_cell(cell: nbformat.NotebookNode) -> bool:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return bool(meta.get("solution")) if isinstance(meta, dict) else False


def _is_test_cell(cell: nbformat.NotebookNode) -> bool:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return isinstance(meta, dict) and bool(meta.get("grade")) and not meta.get("solution")


def _cell_label(index: int, cell: nbformat.NotebookNode) -> str:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    grade_id = meta.get("grade_id") if isinstance(meta, dict) else None
    return f"cell {index + 1} ({grade_id})" if grade_id else f"cell {index + 1}"


#: Characters ``str.splitlines`` breaks at that Python's tokenizer does not treat as line ends.
_NON_NEWLINE_BREAKS = ("\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")


def _source_of(cell: nbformat.NotebookNode) -> str:
    """The cell's code as Python: IPython syntax (magics, ``!shell``, ``obj?`` help) turned into calls
    the way IPython itself does (its input transformer keeps line numbers), which are then skipped."""
    from IPython.core.inputtransformer2 import TransformerManager

    source = cell.get("source", "")
    if isinstance(source, list):
        source = "".join(str(s) for s in source)
    source = str(source)
    # IPython splits lines with str.splitlines(), which also breaks at U+2028, form feeds and the like
    # (legal inside Python comments and strings): park them on private-use characters meanwhile.
    parked = {}
    free = (chr(c) for c in range(0xF0000, 0xFFFFE) if chr(c) not in source)
    for ch in _NON_NEWLINE_BREAKS:
        if ch in source:
            parked[ch] = next(free)
            source = source.replace(ch, parked[ch])
    # not even IPython can read it (or its transformer fails on odd input): ast.parse will then say why
    with contextlib.suppress(Exception):
        source = TransformerManager().transform_cell(source)
    for ch, placeholder in parked.items():
        source = source.replace(placeholder, ch)
    return source


def _is_ipython_call(node: ast.stmt) -> bool:
    """``get_ipython().run_line_magic(...)`` and friends, as IPython's transformer writes them."""
    call = node.value if isinstance(node, ast.Expr) else getattr(node, "value", None)
    while isinstance(call, ast.Call | ast.Attribute):
        call = call.func if isinstance(call, ast.Call) else call.value
    return isinstance(call, ast.Name) and call.id == "get_ipython"


def extract_student_code(
    nb: nbformat.NotebookNode, function_names: Sequence[str] = ()
) -> tuple[list[CodeChunk], list[str]]:
    """Select the statements to run from a notebook.

    Args:
        nb: a notebook (nbformat v4 node).
        function_names: the graded functions; a warning is given for each one never defined.

    Returns:
        ``(chunks, warnings)``: statements in notebook order, and plain-language problems found
        (cells skipped for syntax errors, graded functions missing).
    """
    chunks: list[CodeChunk] = []
    warnings: list[str] = []
    for index, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "code" or _is_test_cell(cell):
            continue
        source = _source_of(cell)
        label = _cell_label(index, cell)
        try:
            tree = ast.parse(source)
        except SyntaxError as exc:
            warnings.append(f"{label} was skipped: syntax error on line {exc.lineno}: {exc.msg}")
            continue
        except (RecursionError, MemoryError):  # the student's code, not the grader's fault
            warnings.append(
                f"{label} was skipped: it is nested too deeply for Python to read (an expression of "
                "thousands of terms or brackets, such as 1 + 1 + ... + 1); split it into shorter statements"
            )
            continue
        except ValueError as exc:  # null bytes in the source
            warnings.append(f"{label} was skipped: Python cannot read it ({exc}); delete those characters")
            continue
        keep_all = _is_solution_cell(cell)
        # "\n" only: str.splitlines() also splits on U+2028 and friends, which Python does not
        lines = source.split("\n")
        encoded: dict[int, bytes] = {}  # a line's UTF-8 bytes (ast's column offsets count bytes)
        for node in tree.body:
            is_def = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            is_import = isinstance(node, ast.Import | ast.ImportFrom)
            if not (keep_all or is_def or is_import) or _is_ipython_call(node):
                continue
            start = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
            end = node.end_lineno or start
            if start == end:  # several statements may share a line (`import os; import sys`)
                line = encoded.setdefault(start, lines[start - 1].encode())
                code = line[node.col_offset : node.end_col_offset].decode(errors="replace")
            else:
                code = "\n".join(lines[start - 1 : end])
            chunks.append(
                CodeChunk(label=label, code=code, defines=node.name if is_def else None, first_line=start)
            )
    defined = {c.defines for c in chunks}
    for name in function_names:
        if name not in defined:
            warnings.append(
                f"function {name} is not defined anywhere in the notebook "
                "(renamed, deleted, or its cell does not parse)"
            )
    return chunks, warnings


def function_source(chunks: Sequence[CodeChunk], name: str) -> str | None:
    """Return the source of the last definition of ``name`` among ``chunks`` (as Jupyter would use)."""
    found = [c for c in chunks if c.defines == name]
    return found[-1].code if found else None


def compile_chunk(code: str, label: str, first_line: int = 1) -> CodeType:
    """Compile one chunk's code so that tracebacks name ``label`` and give the line in the cell.

    Linear in the chunk's size (the line offset is applied to the syntax tree, not by padding).

    Raises:
        SyntaxError: when the code does not parse.
    """
    tree = ast.parse(code, label)
    ast.increment_lineno(tree, first_line - 1)
    return compile(tree, label, "exec")
