"""Grading speed: one submission vs `nbgrader autograde`, and batch throughput with 1 and 2 workers.

Prints numbers; run with ``python bench/bench_grading.py [--submissions N] [--skip-nbgrader]``.
Submissions are copies of the solution notebooks (the most work: every check runs to the end).

* One submission, warm: ``grade_notebook`` in a grader that has graded one notebook before (its
  student-process template and model loaded), i.e. each submission of a batch after the first.
  Compared with ``nbgrader autograde`` of the same notebook through nbgrader's Python API (also
  without its command-line start; each nbgrader submission starts a fresh kernel anyway),
  configured as docs/grading.md prescribes (``c.Execute.timeout = 900``), and printed side by side
  with the forward+backward unit of ``reference_unit.py`` measured in the same run.
* One submission, cold: ``python -m autograder grade ONE.ipynb`` as a fresh command, everything
  included (Python, torch, the template, reports).
* Throughput: ``--submissions`` notebooks (default 100, half per assignment), graded with 1 and with 2
  workers, measured whole (each worker's template start included).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from autograder.course import notebook_names

REPO = Path(__file__).resolve().parents[1]
NAMES = notebook_names()
#: ``c.Execute.timeout`` of the nbgrader_config.py in docs/grading.md.
NBGRADER_CELL_TIMEOUT_S = 900


def _nbgrader_autograde_seconds(root: Path, name: str, hidden: Path) -> float | str:
    """Seconds ``nbgrader autograde`` takes on the solution notebook, or why it could not run."""
    from nbgrader.apps import NbGraderAPI
    from traitlets.config import Config

    from autograder.release import CODE_STUB, nbgrader_environment

    course = root / f"course-{name}"
    (course / "source" / name).mkdir(parents=True)
    shutil.copy(REPO / "solutions" / f"{name}.ipynb", course / "source" / name / f"{name}.ipynb")
    config = Config()
    config.CourseDirectory.root = str(course)
    config.CourseDirectory.db_url = f"sqlite:///{course / 'gradebook.db'}"
    config.ClearSolutions.code_stub = dict(CODE_STUB)
    # as docs/grading.md prescribes: nbgrader's default of 30 s per cell interrupts the demo cells
    config.Execute.timeout = NBGRADER_CELL_TIMEOUT_S
    api = NbGraderAPI(config=config)
    with nbgrader_environment():
        generated = api.generate_assignment(name, force=True, create=True)
        if not generated["success"]:
            log = generated.get("log", "").strip()[-200:]
            return f"nbgrader generate_assignment refused the notebook: {log}"
        folder = course / "submitted" / "bench" / name
        folder.mkdir(parents=True)
        shutil.copy(REPO / "solutions" / f"{name}.ipynb", folder / f"{name}.ipynb")
        os.environ["AUTOGRADER_HIDDEN_REFERENCES"] = str(hidden)
        start = time.perf_counter()
        outcome = api.autograde(name, "bench", force=True, create=True)
        seconds = time.perf_counter() - start
    if not outcome["success"]:
        return "nbgrader autograde failed: " + outcome.get("log", "").strip()[-200:]
    import nbformat

    graded = nbformat.read(course / "autograded" / "bench" / name / f"{name}.ipynb", as_version=4)
    errors = [o for c in graded.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    if errors:  # a run cut short by errors (e.g. data not found) is not a fair comparison
        first = errors[0]
        return (
            f"nbgrader's run of the solution hit {len(errors)} error(s), first {first.get('ename')}: "
            f"{str(first.get('evalue'))[:200]} (offline? set COURSE_DATA_DIR)"
        )
    return seconds


def _cold_cli_seconds(root: Path, name: str, hidden: Path) -> float:
    """Wall-clock seconds of a fresh ``python -m autograder grade`` of one solution notebook."""
    out = root / f"cold-{name}"
    command = [
        sys.executable,
        "-m",
        "autograder",
        "grade",
        str(REPO / "solutions" / f"{name}.ipynb"),
        "--out",
        str(out),
        "--hidden-references",
        str(hidden),
        "--quiet",
    ]
    start = time.perf_counter()
    subprocess.run(command, cwd=REPO, check=True, capture_output=True)
    return time.perf_counter() - start


def _batch_seconds(root: Path, per_notebook: int, workers: int, hidden: Path) -> float:
    """Seconds ``grade_path`` takes for ``per_notebook`` copies of each solution notebook."""
    from autograder.batch_outputs import grade_path
    from autograder.settings import GradingSettings

    subs = root / f"subs-{workers}"
    for i in range(per_notebook):
        for name in NAMES:
            folder = subs / f"student{i:03d}" / name
            folder.mkdir(parents=True)
            shutil.copy(REPO / "solutions" / f"{name}.ipynb", folder / f"{name}.ipynb")
    start = time.perf_counter()
    settings = GradingSettings("hidden", hidden)
    run = grade_path(subs, root / f"out-{workers}", settings, workers=workers, progress=False)
    seconds = time.perf_counter() - start
    wrong = [r.student for r in run.results if r.score != r.max_score]
    if wrong:
        first = next(r for r in run.results if r.score != r.max_score)
        details = first.problems[-1:] + [c.message for c in first.checks if c.status != "passed"][:1]
        print(
            f"  warning: the solution did not earn full marks for {len(wrong)} submissions: {details}",
            flush=True,
        )
    return seconds


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--submissions", type=int, default=100, help="batch size for throughput (even)")
    parser.add_argument("--skip-nbgrader", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("COURSE_PROGRESS", "0")
    from autograder.grading.notebook import grade_notebook
    from autograder.grading.submission import discover_submissions
    from autograder.references import load_references
    from autograder.settings import PUBLIC_REFERENCES, GradingSettings

    with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
        root = Path(tmp)
        hidden = root / "hidden.pt"  # the public file stands in for hidden references (same size and work)
        shutil.copy(PUBLIC_REFERENCES, hidden)
        settings = GradingSettings("hidden", hidden)
        from autograder.isolation.sandbox import Sandbox

        Sandbox.warm()  # the origin is forked before this process reads the references, as in `grade`
        refs = load_references("hidden", hidden)
        from reference_unit import fwd_bwd_seconds

        unit = fwd_bwd_seconds("cpu")
        print(
            f"cpu cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}, one forward+backward "
            f"pass (5 images, 224 px): {unit:.3f} s"
        )
        for name in NAMES:
            (sub,) = discover_submissions(REPO / "solutions" / f"{name}.ipynb")
            grade_notebook(sub, refs, settings)  # warm: template, model
            start = time.perf_counter()
            grade_notebook(sub, refs, settings)
            ours = time.perf_counter() - start
            cold = _cold_cli_seconds(root, name, hidden)
            line = (
                f"{name}: autograder one submission {ours:.2f} s warm, {cold:.1f} s cold (fresh command) "
                f"= {ours / unit:.1f} and {cold / unit:.0f} units"
            )
            if not args.skip_nbgrader:
                theirs = _nbgrader_autograde_seconds(root, name, hidden)
                if isinstance(theirs, str):
                    line += f"; {theirs}"
                else:
                    line += (
                        f"; nbgrader autograde {theirs:.1f} s = {theirs / unit:.0f} units; nbgrader / "
                        f"autograder: {theirs / ours:.0f}x warm, {theirs / cold:.1f}x cold"
                    )
            print(line, flush=True)
        per_notebook = max(1, args.submissions // 2)
        n = 2 * per_notebook
        for workers in (1, 2):
            seconds = _batch_seconds(root, per_notebook, workers, hidden)
            print(
                f"batch, {workers} worker(s): {n} submissions in {seconds:.1f} s "
                f"= {n / seconds * 60:.0f}/min, {seconds / n:.2f} s each",
                flush=True,
            )


if __name__ == "__main__":
    main()
