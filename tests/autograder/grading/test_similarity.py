"""Tests of autograder.grading.similarity: AST fingerprints and the size cut-off."""

from __future__ import annotations

import nbformat
import pytest

from autograder.course import NOTEBOOKS
from autograder.functions import functions_of
from autograder.grading.similarity import MIN_NODES, fingerprint
from autograder.notebook_io.extraction import extract_student_code, function_source
from tests.helpers.notebooks import REPO, edit_cases, mistake_nb, solution_nb

_GRAM = '''
def gram_matrix(features, normalize=True):
    """Docstring."""
    N, C, H, W = features.shape
    flat = features.reshape(N, C, H * W)  # flatten
    gram = torch.bmm(flat, flat.transpose(1, 2))
    if normalize:
        gram = gram / (H * W * C)
    return gram
'''

_GRAM_DISGUISED = '''
def gram_matrix(feats, norm=True):
    """Another docstring, reworded."""
    n, c, h, w = feats.shape

    f = feats.reshape(n, c, h*w)
    out = torch.bmm(f, f.transpose(1,2))
    if norm: out = out / (h * w * c)
    return out
'''


def test_renaming_formatting_comments_and_docstring_do_not_change_the_fingerprint() -> None:
    """Is a copy with other local names, spacing, comments and docstring recognized as the same?"""
    assert fingerprint(_GRAM, "gram_matrix") == fingerprint(_GRAM_DISGUISED, "gram_matrix")


@pytest.mark.parametrize(
    "change",
    [
        ("torch.bmm", "torch.matmul"),  # another function
        ("transpose(1, 2)", "transpose(2, 1)"),  # another constant
        ("gram / (H * W * C)", "gram / (H * W)"),  # another expression
        ("flat.transpose", "features.transpose"),  # another variable in one place
    ],
)
def test_a_change_of_meaning_changes_the_fingerprint(change: tuple[str, str]) -> None:
    """Do calls, constants, expressions and which variable is used still count?"""
    assert fingerprint(_GRAM.replace(*change), "gram_matrix") != fingerprint(_GRAM, "gram_matrix")


def test_global_names_are_kept() -> None:
    """Is a read-only global (torch vs np) kept, while locals are renamed?"""
    a = fingerprint("def f(x):\n    return torch.abs(x)")
    assert a != fingerprint("def f(x):\n    return np.abs(x)")
    assert a == fingerprint("def f(img):\n    return torch.abs(img)")


def test_unparsable_or_missing_function_gives_none() -> None:
    """Does broken code give no fingerprint instead of raising?"""
    assert fingerprint("def f(:\n") is None
    assert fingerprint("x = 1", "f") is None
    assert fingerprint(None) is None


def test_hostile_sources_give_none_instead_of_raising() -> None:
    """Do deep nesting and huge sources give no fingerprint rather than a grader error?"""
    deep = "def f(x):\n    return " + "-" * 100_000 + "x"
    assert fingerprint(deep, "f") is None
    assert fingerprint("def f(x):\n    return x\n" + "#" * 300_000, "f") is None


def _sizes(nb: nbformat.NotebookNode, notebook: str) -> dict[str, int]:
    functions = [fn.name for fn in functions_of(notebook)]
    chunks, _ = extract_student_code(nb, functions)
    return {f: fingerprint(function_source(chunks, f), f)["nodes"] for f in functions}


def test_cut_off_matches_the_measurements_it_was_chosen_from() -> None:
    """Are the short solutions below MIN_NODES and the long ones above, as its comment says?"""
    sizes = {f: n for name in NOTEBOOKS for f, n in _sizes(solution_nb(name), name).items()}
    short = {"content_loss", "style_loss", "class_visualization_update_step", "gram_matrix"}
    short |= {"compute_saliency_maps"}
    assert {f for f, n in sizes.items() if n < MIN_NODES} == short, sizes
    long = {"tv_loss", "make_fooling_image", "integrated_gradients", "grad_cam", "rank_correlation"}
    assert {f for f, n in sizes.items() if n >= MIN_NODES} == long, sizes
    stubs = {
        f: n
        for name in NOTEBOOKS
        for f, n in _sizes(nbformat.read(REPO / "notebooks" / f"{name}.ipynb", as_version=4), name).items()
    }
    assert max(stubs.values()) < MIN_NODES, stubs


def test_classic_mistakes_change_the_fingerprint() -> None:
    """Does each classic-mistake edit give a fingerprint other than the solution's?"""
    for case in edit_cases():
        solution = solution_nb(case.notebook)
        before = _sizes(solution, case.notebook)
        chunks_a, _ = extract_student_code(solution, [case.function])
        chunks_b, _ = extract_student_code(mistake_nb(case), [case.function])
        a = fingerprint(function_source(chunks_a, case.function), case.function)
        b = fingerprint(function_source(chunks_b, case.function), case.function)
        assert a != b, case.edit
        assert before[case.function] == a["nodes"]
