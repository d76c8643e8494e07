"""Tests of autograder.notebook_io.extraction: which parts of a notebook are run for grading."""

from __future__ import annotations

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograder.notebook_io.extraction import compile_chunk, extract_student_code, function_source


def solution_cell(source: str, grade_id: str) -> nbformat.NotebookNode:
    """A code cell with nbgrader solution metadata."""
    cell = new_code_cell(source)
    cell.metadata["nbgrader"] = {"solution": True, "grade": False, "grade_id": grade_id, "locked": False}
    return cell


def graded_test_cell(grade_id: str) -> nbformat.NotebookNode:
    """A locked nbgrader test cell."""
    cell = new_code_cell(f"from autograder.selfcheck import check\ncheck('{grade_id}', {grade_id})")
    cell.metadata["nbgrader"] = {
        "solution": False,
        "grade": True,
        "grade_id": f"test_{grade_id}",
        "points": 2,
    }
    return cell


def run_chunks(chunks) -> dict:
    """Execute chunks the way the sandbox does and return the namespace."""
    namespace: dict = {}
    for chunk in chunks:
        exec(compile_chunk(chunk.code, chunk.label, chunk.first_line), namespace)
    return namespace


def test_imports_solutions_and_defs_kept_demo_dropped() -> None:
    """Are imports, solution cells and top-level defs kept, and demo calls, loops and plots dropped?"""
    nb = new_notebook(
        cells=[
            new_markdown_cell("# Title"),
            new_code_cell(
                "import math\nfrom os import path\nprint('demo')\nfor i in range(10**9):\n    pass"
            ),
            solution_cell("SCALE = 2\n\ndef f(x):\n    return x * SCALE", "f"),
            graded_test_cell("f"),
            new_code_cell("def helper(y):\n    return y + 1\n\nresult = helper(f(3))\nplt.show()"),
        ]
    )
    chunks, warnings = extract_student_code(nb, ["f"])
    code = "\n".join(c.code for c in chunks)
    assert "import math" in code and "from os import path" in code
    assert "SCALE = 2" in code and "def helper" in code
    assert "print('demo')" not in code and "range(10**9)" not in code and "plt.show" not in code
    assert "selfcheck" not in code
    assert warnings == []
    namespace = run_chunks(chunks)
    assert namespace["f"](3) == 6 and namespace["helper"](1) == 2


def test_syntax_error_cell_is_skipped_with_warning() -> None:
    """Is a cell with a syntax error skipped, named in a warning, while other cells still count?"""
    nb = new_notebook(
        cells=[solution_cell("def f(:\n    pass", "f"), solution_cell("def g():\n    return 1", "g")]
    )
    chunks, warnings = extract_student_code(nb, ["f", "g"])
    assert [c.defines for c in chunks] == ["g"]
    assert any("cell 1 (f)" in w and "syntax error" in w for w in warnings)
    assert any("function f is not defined" in w for w in warnings)


def test_last_definition_wins() -> None:
    """Does the last definition of a name win, as in Jupyter (duplicated or reordered cells)?"""
    nb = new_notebook(
        cells=[solution_cell("def f():\n    return 1", "f"), solution_cell("def f():\n    return 2", "f")]
    )
    chunks, _ = extract_student_code(nb, ["f"])
    assert run_chunks(chunks)["f"]() == 2
    assert "return 2" in function_source(chunks, "f")


def test_renamed_metadata_still_counts() -> None:
    """Does a function defined in a cell without nbgrader metadata still get graded?"""
    nb = new_notebook(cells=[new_code_cell("import torch\n\ndef f(x):\n    return torch.as_tensor(x) + 1")])
    chunks, warnings = extract_student_code(nb, ["f"])
    assert warnings == []
    assert run_chunks(chunks)["f"](1).item() == 2


def test_renamed_function_is_reported() -> None:
    """Is a graded function that was renamed reported as not defined?"""
    nb = new_notebook(cells=[solution_cell("def f_renamed():\n    return 1", "f")])
    _, warnings = extract_student_code(nb, ["f"])
    assert any("function f is not defined" in w for w in warnings)


def test_line_numbers_match_the_cell() -> None:
    """Do tracebacks from extracted code give the line number within the student's cell?"""
    nb = new_notebook(cells=[new_code_cell("x = 1\nprint(x)\n\ndef f():\n    return 1 / 0")])
    chunks, _ = extract_student_code(nb)
    try:
        run_chunks(chunks)["f"]()
    except ZeroDivisionError as exc:
        tb = exc.__traceback__
        while tb.tb_next:
            tb = tb.tb_next
        assert tb.tb_lineno == 5
        assert tb.tb_frame.f_code.co_filename == "cell 1"


def test_magics_do_not_break_a_cell() -> None:
    """Are IPython magics and shell escapes ignored instead of making the cell a syntax error?"""
    nb = new_notebook(cells=[new_code_cell("%matplotlib inline\n!pip install foo\ndef f():\n    return 3")])
    chunks, warnings = extract_student_code(nb, ["f"])
    assert warnings == []
    assert run_chunks(chunks)["f"]() == 3


def test_ipython_help_and_line_separators_do_not_break_a_cell() -> None:
    """Do `obj?` help lines and a U+2028 inside a comment (both fine in Jupyter) keep the cell?"""
    source = "import torch\ntorch.bmm?\ndef f(x):\n    return x + 1  # a\u2028comment\n"
    chunks, warnings = extract_student_code(new_notebook(cells=[new_code_cell(source)]), ["f"])
    assert warnings == []
    assert run_chunks(chunks)["f"](1) == 2


def test_extraction_is_linear_in_statements_on_one_line() -> None:
    """Does a 60 kB line of `import os;` cost its own size per statement, not the whole line each?"""
    source = "import os;" * 6000
    chunks, _ = extract_student_code(new_notebook(cells=[new_code_cell(source)]))
    assert len(chunks) == 6000
    assert sum(len(c.code) for c in chunks) == 6000 * len("import os")


def test_a_cell_too_deep_to_parse_is_the_students_problem() -> None:
    """Is a cell with a 4000-term sum (RecursionError while parsing) skipped with a message saying
    what to fix, the other cells kept (it made the notebook a grader error on every rerun)?"""
    deep = "def tv_loss(img, tv_weight):\n    return 0\n\nx = " + " + ".join(["1"] * 4000)
    nb = new_notebook(cells=[new_code_cell(deep), new_code_cell("def gram_matrix(x):\n    return x")])
    chunks, warnings = extract_student_code(nb, ["tv_loss", "gram_matrix"])
    assert [c.defines for c in chunks] == ["gram_matrix"]
    assert any("cell 1 was skipped: it is nested too deeply" in w and "split it" in w for w in warnings)


def test_carriage_return_line_endings_run_as_ipython_reads_them() -> None:
    """Does a cell saved with carriage-return-only (or CRLF) line endings give its function, as
    IPython would run it (it was treated as missing)?"""
    import json

    from autograder.notebook_io.files import read_notebook_bytes

    for newline in ("\r", "\r\n"):
        source = newline.join(
            ["import torch", "", "def gram_matrix(x):", "    y = x + 1", "    return y", ""]
        )
        raw = json.dumps(nbformat.v4.new_notebook(cells=[new_code_cell(source)])).encode()
        nb, problems = read_notebook_bytes(raw, "x.ipynb")
        chunks, warnings = extract_student_code(nb, ["gram_matrix"])
        assert warnings == [] and problems == []
        code = function_source(chunks, "gram_matrix")
        assert code == "def gram_matrix(x):\n    y = x + 1\n    return y"
        namespace: dict = {}
        exec(compile_chunk(code, "cell 1", 3), namespace)
        assert namespace["gram_matrix"](1) == 2


def test_a_lone_surrogate_is_replaced_and_named() -> None:
    """Does a lone surrogate in the notebook file (UnicodeEncodeError everywhere downstream) become
    U+FFFD with a problem naming the cell, the notebook still graded?"""
    from autograder.isolation.protocol import Chunk, NotebookCode, encode
    from autograder.notebook_io.files import read_notebook_bytes

    source = 'def gram_matrix(x):\n    # caf\\udce9 \\ud800\n    return x\n\nlabel = "\\udfff"'
    text = nbformat.writes(nbformat.v4.new_notebook(cells=[new_code_cell("PLACEHOLDER")]))
    raw = text.replace('"PLACEHOLDER"', '"' + source.replace("\n", "\\n").replace('"', '\\"') + '"').encode()
    nb, problems = read_notebook_bytes(raw, "x.ipynb")
    assert nb is not None and "\ufffd" in nb.cells[0].source
    assert len(problems) == 1 and "cell 1 holds 3 character(s) that are not valid Unicode" in problems[0]
    chunks, warnings = extract_student_code(nb, ["gram_matrix"])
    assert warnings == [] and [c.defines for c in chunks] == ["gram_matrix"]
    assert "caf\ufffd \ufffd" in chunks[0].code
    encode(NotebookCode(chunks=[Chunk(c.label, c.code, c.first_line) for c in chunks]))
