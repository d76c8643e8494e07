"""A student's function cannot read a classmate's submission from disk and run it (issue 6).

The submissions live in a folder outside /tmp (inside the repository checkout, which the sandbox does
not hide as a whole), so what stops the copy is the grader hiding the submissions folder itself.
"""

from __future__ import annotations

import shutil
import uuid

import nbformat
import pytest

from tests.grading_safety.corpus_run import protection_active, sandbox_protections
from tests.helpers.notebooks import REPO, replace_solution, solution_nb

pytestmark = [pytest.mark.slow, pytest.mark.linux]

_COPY_CLASSMATE = """
import glob, json
for path in glob.glob("{ROOT}/**/*.ipynb", recursive=True):
    if "alice" not in path:
        continue
    cells = json.load(open(path))["cells"]
    for cell in cells:
        source = "".join(cell["source"])
        if source.startswith("def content_loss"):
            namespace = {{}}
            exec(source, namespace)
            return namespace["content_loss"](content_weight, content_current, content_original)
return None
"""


def test_copying_a_classmates_function_scores_nothing() -> None:
    """Does a content_loss that runs a classmate's notebook found on disk earn zero (the classmate full)?"""
    if not protection_active(sandbox_protections(), "hidden_paths"):
        pytest.skip("hiding paths needs the sandbox's mount namespace (root on Linux)")
    from autograder.batch_outputs import grade_path
    from autograder.settings import GradingSettings

    root = REPO / f".grading-copy-test-{uuid.uuid4().hex[:8]}"
    try:
        submitted = root / "submitted"
        for student in ("alice", "mallory"):
            (submitted / student / "StyleTransfer").mkdir(parents=True)
        alice_path = submitted / "alice" / "StyleTransfer" / "StyleTransfer.ipynb"
        nbformat.write(solution_nb("StyleTransfer"), alice_path)
        hostile = replace_solution(
            solution_nb("StyleTransfer"), "content_loss", _COPY_CLASSMATE.format(ROOT=submitted)
        )
        nbformat.write(hostile, submitted / "mallory/StyleTransfer/StyleTransfer.ipynb")
        run = grade_path(submitted, root / "out", GradingSettings("public"), workers=1, progress=False)
        by_student = {r.student: r for r in run.results}
        alice = [c for c in by_student["alice"].checks if c.function == "content_loss"]
        mallory = [c for c in by_student["mallory"].checks if c.function == "content_loss"]
        assert alice and all(c.status == "passed" for c in alice)
        assert mallory and sum(c.points for c in mallory) == 0, [(c.status, c.message) for c in mallory]
    finally:
        shutil.rmtree(root, ignore_errors=True)
