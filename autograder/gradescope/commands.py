"""The ``gradescope`` and ``gradescope-run`` commands of ``python -m autograder``."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_commands"]


def _build(args: argparse.Namespace) -> int:
    from autograder.gradescope.bundle import build_zip

    bundle = build_zip(
        Path(args.out),
        hidden_references=Path(args.hidden_references) if args.hidden_references else None,
        public_references=args.public_references,
        assignments=args.assignment,
        visibility=args.visibility,
        timeout_s=args.timeout,
    )
    course = sum(m.startswith("course/") for m in bundle.members)
    print(
        f"wrote {bundle.path} ({bundle.size_bytes / 1e6:.1f} MB): setup.sh, run_autograder, setup.env, "
        f"requirements.txt, gradescope.json, {'hidden.pt, ' if args.hidden_references else ''}"
        f"course/ ({course} files). No solutions, tests or notebooks. Upload it as the autograder "
        "of a Gradescope programming assignment (base image: Ubuntu 22.04), see docs/grading.md."
    )
    return 0


def _run(args: argparse.Namespace) -> int:
    from autograder.gradescope.run import run_gradescope

    return run_gradescope(Path(args.root) if args.root else None)


def _selftest(args: argparse.Namespace) -> int:
    from autograder.gradescope.selftest import run_selftest

    return run_selftest(Path(args.root))


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``gradescope`` (build the zip), ``gradescope-run`` (inside Gradescope) and
    ``gradescope-selftest`` (the end of setup.sh)."""
    from autograder.gradescope.config import DEFAULT_VISIBILITY
    from autograder.gradescope.schema import VISIBILITIES

    build = sub.add_parser("gradescope", help="build the Gradescope autograder zip")
    build.add_argument("--out", required=True, help="the zip to write, e.g. autograder.zip")
    refs = build.add_mutually_exclusive_group(required=True)
    refs.add_argument(
        "--hidden-references", metavar="PATH", help="hidden references to ship (references --hidden)"
    )
    refs.add_argument(
        "--public-references",
        action="store_true",
        help="grade with the public references (only to try Gradescope out: students can compute them)",
    )
    build.add_argument(
        "--assignment",
        action="append",
        default=None,
        metavar="NAME",
        help="a notebook this Gradescope assignment grades (repeatable; default: every notebook)",
    )
    build.add_argument(
        "--visibility",
        choices=VISIBILITIES,
        default=DEFAULT_VISIBILITY,
        help=f"when students see scores and feedback (default {DEFAULT_VISIBILITY}; "
        "what was uploaded is always shown at once)",
    )
    build.add_argument("--timeout", type=float, default=60.0, help="seconds per function call (default 60)")
    build.set_defaults(func=_build)

    run = sub.add_parser("gradescope-run", help="grade one submission inside Gradescope (run_autograder)")
    run.add_argument(
        "--root", default=None, help="Gradescope's root folder (default $AUTOGRADER_ROOT or /autograder)"
    )
    run.set_defaults(func=_run)

    selftest = sub.add_parser(
        "gradescope-selftest",
        help="grade a stand-in upload with run_autograder under this container's limits (end of setup.sh)",
    )
    selftest.add_argument("--root", required=True, help="Gradescope's root folder (/autograder)")
    selftest.set_defaults(func=_selftest)
