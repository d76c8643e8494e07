"""nbgrader end to end on a temporary course with a real sqlite gradebook (slow).

generate_assignment from the solution notebook, three submissions (solution, untouched release,
a classic mistake), ``nbgrader autograde`` with the hidden references found through
AUTOGRADER_HIDDEN_REFERENCES, then scores read back from the gradebook.
"""

from __future__ import annotations

import shutil

import nbformat
import pytest
from notebook_builders import REPO, solution_nb

from autograder.mistakes import MISTAKES, apply_mistakes
from autograder.references import HIDDEN_ENV, PUBLIC_PATH

pytestmark = pytest.mark.slow

NAME = "StyleTransfer"


def test_generate_and_autograde(tmp_path, monkeypatch) -> None:
    """Do generate_assignment and autograde work, scoring solution 11, stub 0, unnormalized Gram 8?"""
    from nbgrader.api import Gradebook
    from nbgrader.apps import NbGraderAPI
    from traitlets.config import Config

    from autograder.release import CODE_STUB, TEXT_STUB

    course = tmp_path / "course"
    (course / "source" / NAME).mkdir(parents=True)
    shutil.copy(REPO / "solutions" / f"{NAME}.ipynb", course / "source" / NAME / f"{NAME}.ipynb")
    config = Config()
    config.CourseDirectory.root = str(course)
    config.CourseDirectory.db_url = f"sqlite:///{course / 'gradebook.db'}"
    config.ClearSolutions.code_stub = dict(CODE_STUB)
    config.ClearSolutions.text_stub = TEXT_STUB
    api = NbGraderAPI(config=config)
    assert api.generate_assignment(NAME, force=True, create=True)["success"]

    # "hidden" references for the test: a copy of the public file, found through the environment
    hidden = tmp_path / "secret" / "hidden.pt"
    hidden.parent.mkdir()
    shutil.copy(PUBLIC_PATH, hidden)
    monkeypatch.setenv(HIDDEN_ENV, str(hidden))
    monkeypatch.setenv("COURSE_PROGRESS", "0")

    gram = next(m for m in MISTAKES if m.name == "gram_unnormalized")
    submissions = {
        "ada": solution_nb(NAME),
        "bob": nbformat.read(course / "release" / NAME / f"{NAME}.ipynb", as_version=4),
        "cy": apply_mistakes(solution_nb(NAME), [gram]),
    }
    for student, nb in submissions.items():
        folder = course / "submitted" / student / NAME
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{NAME}.ipynb")
        (folder / "timestamp.txt").write_text("2026-01-01 00:00:00.000000 UTC")
        outcome = api.autograde(NAME, student, force=True, create=True)
        assert outcome["success"], outcome.get("log")

    with Gradebook(config.CourseDirectory.db_url) as gb:
        scores = {s: gb.find_submission(NAME, s).score for s in submissions}
    assert scores == {"ada": 11.0, "bob": 0.0, "cy": 8.0}
