"""Every setting of the grader in one place: paths, environment-variable names, limits and timeouts.

Environment variables are read only at the edges (the command line in :mod:`autograder.cli`, the
self-check in :mod:`autograder.selfcheck`); everything below them receives explicit values, so a
setting cannot change behind a running batch and tests never have to patch ``os.environ``.
Thresholds of the checks live with each graded function (:mod:`autograder.functions`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "GRADESCOPE_ROOT",
    "GRADESCOPE_ROOT_ENV",
    "HIDDEN_REFERENCES_ENV",
    "NBGRADER_EXECUTION_ENV",
    "NOTEBOOKS_DIR",
    "NO_ISOLATION_ENV",
    "PACKAGE_DIR",
    "PLAIN_MAX_DEPTH",
    "PLAIN_MAX_NODES",
    "PUBLIC_REFERENCES",
    "REPO_ROOT",
    "SOLUTIONS_DIR",
    "STRICT_ENV",
    "GradingSettings",
    "InputCaps",
    "Limits",
    "TextCaps",
    "Timeouts",
    "hidden_references_from_env",
]

#: The ``autograder`` package folder.
PACKAGE_DIR = Path(__file__).resolve().parent
#: The course checkout this package was loaded from (its parent folder; site-packages when installed).
REPO_ROOT = PACKAGE_DIR.parent
#: The nbgrader source notebooks (the single source of truth).
SOLUTIONS_DIR = REPO_ROOT / "solutions"
#: The generated student notebooks.
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
#: The public reference outputs, shipped in the package (the students' self-checks use them).
PUBLIC_REFERENCES = PACKAGE_DIR / "references" / "public.pt"

#: Deepest nesting of plain data accepted back from student code (see autograder.runner.plain_data).
PLAIN_MAX_DEPTH = 8
#: Most values (containers, tensors, numbers) in one returned value.
PLAIN_MAX_NODES = 100_000

#: Where Gradescope lays out ``source/`` (the unpacked autograder zip), ``submission/`` and ``results/``.
GRADESCOPE_ROOT = Path("/autograder")
#: Overrides :data:`GRADESCOPE_ROOT` for ``run_autograder`` (tests point it at a temporary folder).
GRADESCOPE_ROOT_ENV = "AUTOGRADER_ROOT"

#: Path of the hidden references, read by the CLI and by hidden self-checks under nbgrader.
HIDDEN_REFERENCES_ENV = "AUTOGRADER_HIDDEN_REFERENCES"
#: ``1`` makes failed self-checks raise outside nbgrader too.
STRICT_ENV = "AUTOGRADER_STRICT"
#: Set by nbgrader in the kernel's environment while it autogrades or validates.
NBGRADER_EXECUTION_ENV = "NBGRADER_EXECUTION"
#: Tests only: ``1`` makes the isolation probe report that no isolation is available, as on a machine
#: with namespaces disabled (the batch grader's refusal path is tested with it).
NO_ISOLATION_ENV = "AUTOGRADER_TEST_NO_ISOLATION"


def hidden_references_from_env() -> Path | None:
    """The hidden-reference file named by :data:`HIDDEN_REFERENCES_ENV`, or ``None`` when unset."""
    value = os.environ.get(HIDDEN_REFERENCES_ENV, "").strip()
    return Path(value).expanduser() if value else None


@dataclass(frozen=True)
class Limits:
    """Resource limits for student code (per student process and per call).

    Attributes:
        timeout_s: wall-clock seconds per call (the forked child is killed after it).
        memory_mb: address-space limit (``RLIMIT_AS``) of the student process, in MiB. torch with
            the model loaded needs about 1.5 GiB of address space; a check's forward/backward
            passes on a few 224x224 images need a few hundred MiB more.
        output_bytes: printed output (stdout + stderr) kept per call; writes past it fail inside
            the student process.
        setup_timeout_s: seconds for the student process to start (the notebook's top-level code).
        chunk_timeout_s: seconds for each top-level statement of the notebook while loading it.
        file_mb: largest file the student process may write (``RLIMIT_FSIZE``), in MiB; bounds
            the result files and the private /tmp too.
        max_processes: ``RLIMIT_NPROC`` for the student uid (stops fork bombs).
    """

    timeout_s: float = 60.0
    memory_mb: int = 6144
    output_bytes: int = 20_000
    setup_timeout_s: float = 120.0
    chunk_timeout_s: float = 30.0
    file_mb: int = 256
    max_processes: int = 64


@dataclass(frozen=True)
class Timeouts:
    """How long the grader waits for its own helper processes (not the student's limits).

    Attributes:
        template_start_s: a new template's first answer (the origin forks it from a warm copy).
        template_reply_s: any other answer of the template (spawn, wait), beyond the wait asked for.
        call_start_s: a student process's acknowledgement that it forked a call.
        call_report_s: its report of a call's end after the call was killed.
        process_exit_s: a killed process's exit.
    """

    template_start_s: float = 120.0
    template_reply_s: float = 30.0
    call_start_s: float = 30.0
    call_report_s: float = 5.0
    process_exit_s: float = 10.0


@dataclass(frozen=True)
class TextCaps:
    """Caps on text that comes from student code, so no submission can bloat a report.

    Attributes:
        message_chars: a failure message sent back from a call.
        error_chars: an error line of the student process about a call.
        problem_chars: one notebook-level problem (setup traceback).
        max_problems: notebook-level problems kept from the student process.
        output_tail_chars: printed output kept with a check, ``CheckResult.output`` (the end of it).
        event_bytes: one event line from the student process.
    """

    message_chars: int = 20_000
    error_chars: int = 500
    problem_chars: int = 5_000
    max_problems: int = 100
    output_tail_chars: int = 2_000
    event_bytes: int = 1_000_000


@dataclass(frozen=True)
class InputCaps:
    """Caps on what the grader itself reads from a submission, so every input-dependent cost is bounded.

    Each cost of reading, extracting and grading one notebook is linear in its input, and these caps
    bound the input; an input over a cap is refused (or its part skipped) with a message naming the
    cap. See docs/grading-safety.md for what each one protects.

    Attributes:
        notebook_bytes: largest notebook file read, in bytes (outputs included; they are dropped
            once parsed). The grader's peak memory while reading grows with this.
        cells: most cells in one notebook; a notebook with more is refused.
        cell_source_chars: longest source of one code cell, in characters; a longer cell is skipped.
        zip_bytes: largest zip file opened, in bytes.
        zip_members: most entries (files and folders) in one zip; a zip with more is refused.
        zip_notebooks: most notebooks taken from one zip.
        zip_unpacked_bytes: most bytes unpacked from one zip in total (counted while streaming, so
            a zip bomb stops at this cap whatever its headers claim).
        notebook_seconds: grader-side wall-clock budget of one notebook (loading it and every
            call); functions not yet graded when it runs out get status ``timeout``.
    """

    notebook_bytes: int = 256 * 2**20
    cells: int = 5_000
    cell_source_chars: int = 1_000_000
    zip_bytes: int = 256 * 2**20
    zip_members: int = 1_000
    zip_notebooks: int = 20
    zip_unpacked_bytes: int = 512 * 2**20
    notebook_seconds: float = 900.0


@dataclass(frozen=True)
class GradingSettings:
    """What one grading run uses, decided once at the command line (or by a test).

    Attributes:
        reference_set: ``"hidden"`` (grading) or ``"public"`` (what the self-checks use).
        references_path: the reference file; ``None`` means the packaged public file (only valid
            with ``reference_set="public"``).
        limits: limits for student code.
        hide: more paths the student processes must not see (output and submissions folders);
            the reference file in use is always hidden.
        allow_unisolated: grade with hidden references even where student code cannot be isolated
            (no namespaces); every result then records it.
        isolate: isolate student processes (set from the probe: ``False`` where none is available).
        course_roots: course source trees the grader was given, hidden from student code as a whole
            (see :func:`autograder.isolation.view.course_roots`).
        caps: caps on what the grader reads from each submission.
    """

    reference_set: str = "hidden"
    references_path: Path | None = None
    limits: Limits = field(default_factory=Limits)
    hide: tuple[Path, ...] = ()
    allow_unisolated: bool = False
    isolate: bool = True
    course_roots: tuple[Path, ...] = ()
    caps: InputCaps = field(default_factory=InputCaps)

    def __post_init__(self) -> None:
        if self.reference_set not in ("hidden", "public"):
            raise ValueError(f"reference_set must be 'hidden' or 'public', not {self.reference_set!r}")
        if self.reference_set == "hidden" and self.references_path is None:
            raise FileNotFoundError(
                "Hidden references are not configured: pass --hidden-references PATH (or set "
                f"{HIDDEN_REFERENCES_ENV}) to the file written by `python -m autograder references "
                "--hidden --seed N --out PATH` (instructors only)."
            )

    @property
    def secret_paths(self) -> tuple[Path, ...]:
        """Every path no student process may see: :attr:`hide` and the reference file in use."""
        ref = (self.references_path,) if self.references_path is not None else ()
        return (*self.hide, *ref)
