"""``python -m autograder demo``: release, sample submissions, batch grading, grade table — offline.

Steps (everything is written under one output folder, ``notebooks/`` is not touched):

1. ``release/``: the student notebooks, generated from ``solutions/`` by nbgrader;
2. ``submitted/<student>/<assignment>/<assignment>.ipynb`` (nbgrader's layout), three students:
   ``solution`` (the solution notebooks), ``untouched`` (the release as a student receives it) and
   ``classic_mistakes`` (the solutions with one classic mistake per function edited in: the edits stored
   with the solution cells, :mod:`autograder.solution_edits`);
3. ``grades/``: the batch grader's output (public references, so no instructor secret is needed),
   and the grade table printed.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import nbformat

from autograder.course import NOTEBOOKS
from autograder.settings import SOLUTIONS_DIR, GradingSettings
from autograder.solution_edits import apply_edits

__all__ = ["make_sample_submissions", "run_demo"]

#: For each notebook, the mistakes the "classic_mistakes" student makes: (function, edit) pairs, at most
#: one per graded function (edits stored with the solution cells, see autograder.solution_edits).
DEMO_MISTAKES: dict[str, tuple[tuple[str, str], ...]] = {
    "NetworkVisualization": (
        ("compute_saliency_maps", "saliency_sum_of_scores"),
        ("make_fooling_image", "fooling_gave_up_early"),
        ("class_visualization_update_step", "class_vis_wrong_sign"),
    ),
    # none hiding another: style_loss is left correct, so the student's own unnormalized gram_matrix
    # shows through it as "unnormalized Gram matrices" (see the batch test)
    "StyleTransfer": (
        ("content_loss", "content_not_squared"),
        ("gram_matrix", "gram_unnormalized"),
        ("tv_loss", "tv_python_loop"),
    ),
    "Attribution": (
        ("integrated_gradients", "ig_left_riemann"),
        ("grad_cam", "gradcam_hooks_left"),
        ("rank_correlation", "spearman_ties_lowest_rank"),
    ),
}


def make_sample_submissions(
    release_dir: Path,
    submitted: Path,
    solutions_dir: Path = SOLUTIONS_DIR,
    names: tuple[str, ...] = NOTEBOOKS,
) -> list[Path]:
    """Write the demo's three students into ``submitted/`` (nbgrader layout); return the notebooks."""
    written = []
    for name in names:
        solution = nbformat.read(solutions_dir / f"{name}.ipynb", as_version=4)
        versions = {
            "solution": solution,
            "untouched": nbformat.read(release_dir / f"{name}.ipynb", as_version=4),
            "classic_mistakes": apply_edits(solution, DEMO_MISTAKES[name]),
        }
        for student, nb in versions.items():
            path = submitted / student / name / f"{name}.ipynb"
            path.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, path)
            written.append(path)
    return written


def run_demo(out: Path | None = None, workers: int = 2) -> Path:
    """Run the whole demo and print the grade table; returns the output folder."""
    from autograder.batch_outputs import grade_path
    from autograder.grading.reports import grade_table
    from autograder.release import generate_release

    start = time.perf_counter()
    out = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="autograder-demo-"))
    out.mkdir(parents=True, exist_ok=True)
    release_dir = out / "release"
    print(f"1/3 generating the student release with nbgrader into {release_dir}")
    released = []
    for name in NOTEBOOKS:
        try:
            generate_release(release_dir, names=(name,))
            released.append(name)
        except RuntimeError as exc:  # nbgrader refused the notebook: show why, demo the others
            print(f"    skipping {name}: {str(exc).splitlines()[0]}")
    if not released:
        raise RuntimeError("nbgrader refused every solution notebook; see the messages above")
    submitted = out / "submitted"
    shutil.rmtree(submitted, ignore_errors=True)
    print(f"2/3 writing sample submissions into {submitted}")
    make_sample_submissions(release_dir, submitted, names=tuple(released))
    grades = out / "grades"
    print(f"3/3 grading them ({workers} workers, public references) into {grades}")
    run = grade_path(submitted, grades, GradingSettings("public"), workers=workers, force=True)
    print()
    print(grade_table(run.results))
    print(
        f"\nDone in {time.perf_counter() - start:.0f} s. Feedback: {grades / 'feedback'}; "
        f"gradebook: {grades / 'gradebook.csv'}"
    )
    return out
