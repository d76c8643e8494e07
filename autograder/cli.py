"""Command line: ``python -m autograder COMMAND``.

Commands: grade, report, nbgrader-import, lms, gradescope, references, release, mistakes, student-kit, demo.
Each subcommand is one function here; the work is done in the packages below.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from autograder.settings import (
    HIDDEN_REFERENCES_ENV,
    NOTEBOOKS_DIR,
    PUBLIC_REFERENCES,
    SOLUTIONS_DIR,
    GradingSettings,
    Limits,
    hidden_references_from_env,
)

__all__ = ["build_parser", "main"]


def _settings(args: argparse.Namespace) -> GradingSettings:
    """The run's settings, from the command line and (only here) the environment."""
    limits = Limits(timeout_s=args.timeout, **({"memory_mb": args.memory_mb} if args.memory_mb else {}))
    options = {
        "allow_unisolated": args.allow_unisolated,
        "course_roots": (Path(args.course_root).resolve(),) if args.course_root else (),
    }
    if args.references == "public":
        return GradingSettings("public", None, limits, **options)
    given = args.hidden_references
    path = Path(given).expanduser() if given else hidden_references_from_env()
    return GradingSettings("hidden", path.resolve() if path else None, limits, **options)


def _workers(value: str) -> int | str:
    """``--workers``: a number of worker processes, or ``auto``."""
    if value == "auto":
        return value
    try:
        workers = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of workers or 'auto', not {value!r}") from None
    if workers < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1 worker, not {workers}")
    return workers


def _grade(args: argparse.Namespace) -> int:
    from autograder.isolation.sandbox import Sandbox

    # First thing: torch and the model are loaded here and every student process's origin is forked
    # from this process before it reads anything students must not see.
    Sandbox.warm()
    if args.workers == "auto":
        from autograder.grading.workers import plan_workers

        plan = plan_workers()
        print(plan.describe(), file=sys.stderr)
        args.workers = plan.workers
    from autograder.batch_outputs import grade_path
    from autograder.gradescope.results import failure_results, gradescope_results
    from autograder.grading.reports import grade_table
    from autograder.isolation.availability import UnisolatedError

    try:
        run = grade_path(
            Path(args.submissions),
            Path(args.out),
            _settings(args),
            workers=args.workers,
            force=args.force,
            progress=not args.quiet,
        )
    except UnisolatedError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for warning in run.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    failed = [r for r in run.results if r.grader_error]
    unisolated = [r for r in run.results if r.isolation == "none"]
    if unisolated:
        print(
            f"warning: {len(unisolated)} submission(s) were graded WITHOUT isolation (student code ran with "
            "your permissions); the gradebook's isolation column and their feedback say so.",
            file=sys.stderr,
        )
    if args.gradescope_json:  # a grader failure says so to the student: never a 0 that looks like a grade
        target = Path(args.gradescope_json)
        target.parent.mkdir(parents=True, exist_ok=True)
        data = (
            failure_results(failed[0].grader_error, seconds=run.seconds)
            if failed
            else gradescope_results(run.results, seconds=run.seconds)
        )
        target.write_text(json.dumps(data, indent=2), encoding="utf-8")
    print(grade_table(run.results))
    print(
        f"\n{run.graded} graded, {run.skipped} already graded (use --force to regrade), "
        f"{run.seconds:.1f} s. Reports in {args.out}/ (report.html, gradebook.csv, feedback/, gradescope/, "
        "results/)."
    )
    if failed:
        print(
            f"error: the grader failed on {len(failed)} submission(s), through no fault of the students "
            f"(first: {failed[0].student}: {failed[0].grader_error}). They are marked "
            f"'not graded' in the gradebook (--gradescope-json says grading failed); fix the cause and run "
            "the same command again to grade them.",
            file=sys.stderr,
        )
        return 1
    return 0


def _nbgrader_import(args: argparse.Namespace) -> int:
    from autograder.grading.nbgrader_gradebook import import_results
    from autograder.grading.store import read_results

    results, unreadable = read_results(Path(args.out))
    report = import_results(results, Path(args.course), args.db, create_students=args.create_students)
    report.skipped += unreadable
    print(report.summary())
    return 1 if report.skipped else 0


def _lms(args: argparse.Namespace) -> int:
    from autograder.grading.lms import LmsError, export_grades, read_roster
    from autograder.grading.store import read_results

    ids = {}
    for pair in args.canvas_assignment or []:
        name, _, number = pair.partition("=")
        if not number:
            raise ValueError(f"--canvas-assignment {pair!r}: expected NAME=ID, e.g. StyleTransfer=48213")
        ids[name] = number
    results, unreadable = read_results(Path(args.out))
    for warning in unreadable:
        print(f"warning: {warning}", file=sys.stderr)
    try:
        export = export_grades(
            results,
            read_roster(Path(args.roster)),
            Path(args.out),
            formats=args.format or ("canvas", "moodle"),
            assignment_ids=ids,
            identifier=args.moodle_identifier,
        )
    except LmsError as exc:
        print(f"error: {exc}; nothing was written", file=sys.stderr)
        return 2
    print(export.summary())
    return 1 if export.not_graded else 0


def _report(args: argparse.Namespace) -> int:
    from autograder.batch_outputs import rebuild_outputs

    paths, warnings = rebuild_outputs(Path(args.out))
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"wrote {paths['gradebook']}, {paths['feedback']}/, {paths['gradescope']}/ and {paths['html']}")
    return 0


def _references(args: argparse.Namespace) -> int:
    from autograder.reference_build import build_references
    from autograder.references import PUBLIC_SEED

    solutions = Path(args.solutions) if args.solutions else SOLUTIONS_DIR
    if args.hidden:
        if args.seed is None or args.out is None:
            print(
                "--hidden needs --seed N and --out PATH (a file outside the course repository).",
                file=sys.stderr,
            )
            return 2
        path = build_references(args.seed, Path(args.out), solutions, private=True)
        print(
            f"hidden references (seed {args.seed}) written to {path} (mode 600). Grade with "
            f"--hidden-references {path} or {HIDDEN_REFERENCES_ENV}={path}."
        )
    else:
        seed = PUBLIC_SEED if args.seed is None else args.seed
        path = build_references(seed, Path(args.out) if args.out else PUBLIC_REFERENCES, solutions)
        print(f"public references (seed {seed}) written to {path}")
    return 0


def _release(args: argparse.Namespace) -> int:
    from autograder.release import generate_release

    for path in generate_release(Path(args.out) if args.out else NOTEBOOKS_DIR):
        print(f"wrote {path}")
    return 0


def _mistakes(args: argparse.Namespace) -> int:
    from autograder.mistake_table import mistake_table

    print(mistake_table())
    return 0


def _student_kit(args: argparse.Namespace) -> int:
    from autograder.student_kit import build_student_kit

    try:
        path = build_student_kit(Path(args.out))
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from autograder.demo import run_demo

    run_demo(Path(args.out) if args.out else None, workers=args.workers)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m autograder``."""
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    grade = sub.add_parser("grade", help="grade submitted notebooks in isolated processes")
    grade.add_argument("submissions", help="a notebook, a folder, nbgrader's submitted/ tree, or zip files")
    grade.add_argument("--out", required=True, help="folder for results, gradebook.csv and feedback")
    grade.add_argument(
        "--workers",
        type=_workers,
        default=1,
        help="parallel worker processes, or 'auto': as many as the CPUs (cgroup quota included) and the "
        "available memory allow, printed at the start (default 1)",
    )
    grade.add_argument("--force", action="store_true", help="regrade submissions already graded in --out")
    grade.add_argument(
        "--references",
        choices=("public", "hidden"),
        default="hidden",
        help="reference set (default hidden; public = what students' self-checks use)",
    )
    grade.add_argument(
        "--hidden-references",
        metavar="PATH",
        help=f"hidden reference file (default: ${HIDDEN_REFERENCES_ENV})",
    )
    grade.add_argument("--timeout", type=float, default=60.0, help="seconds per function call (default 60)")
    grade.add_argument("--memory-mb", type=int, default=None, help="memory limit of a student process, MiB")
    grade.add_argument(
        "--gradescope-json",
        metavar="PATH",
        help="also write one Gradescope results.json for everything graded (run_autograder)",
    )
    grade.add_argument(
        "--allow-unisolated",
        action="store_true",
        help="grade with hidden references even where student code cannot be isolated (no namespaces): "
        "it could then read the references and classmates' files; recorded in the gradebook and feedback",
    )
    grade.add_argument(
        "--course-root",
        metavar="DIR",
        help="the course files the grader was given, hidden from student code as a whole "
        "(default: the checkout this package runs from, and /autograder/source on Gradescope)",
    )
    grade.add_argument("--quiet", action="store_true", help="no progress bar")
    grade.set_defaults(func=_grade)

    nbi = sub.add_parser(
        "nbgrader-import", help="write the scores of a `grade --out OUT` run into an nbgrader gradebook"
    )
    nbi.add_argument("out", help="the --out folder of `python -m autograder grade COURSE/submitted`")
    nbi.add_argument("--course", required=True, help="the nbgrader course folder (source/, submitted/)")
    nbi.add_argument("--db", default=None, help="gradebook URL (default sqlite:///COURSE/gradebook.db)")
    nbi.add_argument("--create-students", action="store_true", help="add students the gradebook lacks")
    nbi.set_defaults(func=_nbgrader_import)

    lms = sub.add_parser(
        "lms", help="write the grades of a `grade --out OUT` run as Canvas and Moodle import files"
    )
    lms.add_argument("out", help="the --out folder of a grade run (holds results/); the files go there")
    lms.add_argument(
        "--roster",
        required=True,
        help="CSV mapping each submission name to LMS identities (columns: submission, name, canvas_id, "
        "sis_user_id, sis_login_id, section, email, id_number, username; see docs/grading.md)",
    )
    lms.add_argument(
        "--format",
        action="append",
        choices=("canvas", "moodle"),
        help="canvas.csv, moodle.csv (default both)",
    )
    lms.add_argument(
        "--canvas-assignment",
        action="append",
        metavar="NAME=ID",
        help="the Canvas assignment id of an assignment (repeatable); without one Canvas creates it",
    )
    lms.add_argument(
        "--moodle-identifier",
        choices=("email", "id_number", "username"),
        default="email",
        help="the roster column Moodle matches students by (default email)",
    )
    lms.set_defaults(func=_lms)

    report = sub.add_parser(
        "report",
        help="write the reports again (gradebook, feedback, Gradescope JSON, class report) from "
        "OUT/results/ without regrading",
    )
    report.add_argument("out", help="the --out folder of a grade run (holds results/)")
    report.set_defaults(func=_report)

    refs = sub.add_parser("references", help="build reference outputs from the solution notebooks")
    refs.add_argument("--hidden", action="store_true", help="hidden references (needs --seed and --out)")
    refs.add_argument("--seed", type=int, default=None, help="seed of the check inputs (public: 0)")
    refs.add_argument(
        "--out", default=None, help="file to write (public default: autograder/references/public.pt)"
    )
    refs.add_argument(
        "--solutions", default=None, help="folder with the solution notebooks (default solutions/)"
    )
    refs.set_defaults(func=_references)

    release = sub.add_parser("release", help="regenerate notebooks/ from solutions/ with nbgrader")
    release.add_argument("--out", default=None, help="output folder (default notebooks/)")
    release.set_defaults(func=_release)

    mistakes = sub.add_parser("mistakes", help="print every named mistake with its credit (Markdown)")
    mistakes.set_defaults(func=_mistakes)

    kit = sub.add_parser(
        "student-kit", help="build the zip students receive: notebooks, course wheel, README"
    )
    kit.add_argument("--out", required=True, help="folder for cnn-gradients-student-kit.zip")
    kit.set_defaults(func=_student_kit)

    demo = sub.add_parser("demo", help="release, make sample submissions, grade them, print the grade table")
    demo.add_argument(
        "--out", default=None, help="folder for everything the demo writes (default: a temp dir)"
    )
    demo.add_argument("--workers", type=int, default=2, help="parallel grading workers (default 2)")
    demo.set_defaults(func=_demo)

    from autograder.gradescope.commands import add_commands

    add_commands(sub)  # gradescope (build the zip), gradescope-run (inside Gradescope's container)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
