"""The class report's data and files: ``OUT/report.csv``, the run's settings for ``OUT/run.json``, writing.

Written by :func:`autograder.batch_outputs.grade_path` after every batch, and rebuilt from
``OUT/results/`` and ``OUT/run.json`` alone by ``python -m autograder report OUT``
(:func:`autograder.batch_outputs.rebuild_outputs`). The report names students, so it belongs in
``OUT`` only: it is never copied into feedback, Gradescope output or anything else students see.
"""

from __future__ import annotations

import csv
import io
import json
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from autograder.class_report.page import class_report_html
from autograder.class_report.stats import (
    ClassStats,
    FunctionStats,
    class_stats,
    normalize_message,
    summary,
)
from autograder.functions import function_names
from autograder.grading.escaping import spreadsheet_safe
from autograder.grading.results import SubmissionResult
from autograder.grading.store import write_atomic
from autograder.status import Status

__all__ = [
    "class_report_csv",
    "read_run_info",
    "run_info",
    "solution_fingerprints",
    "write_class_report",
]


def solution_fingerprints(solutions_dir: Path | None = None) -> dict[str, str]:
    """Digest of each graded function of the course solutions (empty where they cannot be read)."""
    import nbformat

    from autograder.course import NOTEBOOKS
    from autograder.grading.similarity import fingerprint
    from autograder.notebook_io.extraction import extract_student_code, function_source
    from autograder.settings import SOLUTIONS_DIR

    digests: dict[str, str] = {}
    for name in NOTEBOOKS:
        path = Path(solutions_dir or SOLUTIONS_DIR) / f"{name}.ipynb"
        try:
            nb = nbformat.read(path, as_version=4)
        except (OSError, ValueError):
            continue
        functions = function_names(name)
        chunks, _ = extract_student_code(nb, functions)
        for function in functions:
            fp = fingerprint(function_source(chunks, function), function)
            if fp is not None:
                digests[function] = str(fp["digest"])
    return digests


def run_info(
    results: Sequence[SubmissionResult], limits: Any, reference_set: str, references: Any, workers: int
) -> dict[str, Any]:
    """The run's settings as plain data (written to ``OUT/run.json`` by the grader).

    Args:
        results: the batch's results (their sandbox protections are summarized: one value per
            protection, normalized with "(varies)" where sandboxes differ, e.g. the uid).
        limits: the :class:`autograder.settings.Limits` used.
        reference_set: ``"public"`` or ``"hidden"``.
        references: the loaded :class:`autograder.references.References`; the hidden seed is never
            written, only a digest of the check inputs it produced (equal digests: same inputs).
        workers: parallel workers.
    """
    digest = references.inputs_digest()
    values: dict[str, Counter[str]] = {}
    for result in results:
        for key, value in result.protections.items():
            values.setdefault(key, Counter())[value] += 1
    # one line per protection; values that differ between sandboxes (the uid) are shown normalized
    protections = {
        key: seen.most_common(1)[0][0]
        if len(seen) == 1
        else f"{normalize_message(next(iter(seen)))} (varies)"
        for key, seen in sorted(values.items())
    }
    return {
        "written": datetime.now(UTC).isoformat(timespec="seconds"),
        "reference_set": reference_set,
        "seed": references.seed if reference_set == "public" else None,
        "seed_digest": digest.hexdigest()[:16],
        "references": {k: str(v) for k, v in dict(references.meta).items()},
        "limits": asdict(limits),
        "workers": workers,
        "protections": protections,
        "solution_fingerprints": solution_fingerprints(),
    }


class _SafeWriter:
    """A CSV writer whose every text cell is made inert for spreadsheets (names, messages)."""

    def __init__(self, buffer: io.StringIO) -> None:
        self._writer = csv.writer(buffer, lineterminator="\n")

    def writerow(self, row: Sequence[Any]) -> None:
        self._writer.writerow([spreadsheet_safe(v) if isinstance(v, str) else v for v in row])


def class_report_csv(stats: ClassStats) -> str:
    """The report's numbers as CSV rows ``section, assignment, function, item, value``.

    Every text cell (student names, messages, reasons) is made inert for spreadsheets, as in
    ``gradebook.csv`` (:func:`~autograder.grading.escaping.spreadsheet_safe`).
    """
    buffer = io.StringIO()
    w = _SafeWriter(buffer)
    w.writerow(["section", "assignment", "function", "item", "value"])
    for item in ("found", "graded", "not_graded", "unreadable"):
        w.writerow(["summary", "", "", item, getattr(stats, item)])
    for reason, count in stats.unreadable_reasons.items():
        w.writerow(["unreadable_reason", "", "", reason, count])
    for reason, count in stats.grader_errors.items():
        w.writerow(["grader_error", "", "", reason, count])
    for a in stats.assignments:
        name = a.assignment
        for item in ("found", "graded", "not_graded", "unreadable", "max_score"):
            w.writerow(["assignment", name, "", item, getattr(a, item)])
        s = summary(a.totals)
        for item in ("mean", "median", "min", "max"):
            w.writerow(["total", name, "", item, _csv_num(getattr(s, item))])
        sub = summary(a.submission_seconds)
        w.writerow(["seconds", name, "", "submission_median", _csv_num(sub.median)])
        w.writerow(["seconds", name, "", "submission_max", _csv_num(sub.max)])
        for f in a.functions:
            _function_rows(w, name, f)
    return buffer.getvalue()


def _csv_num(value: float | None) -> str:
    return "" if value is None else f"{value:.6g}"


def _function_rows(w: Any, assignment: str, f: FunctionStats) -> None:
    fn = f.function
    for status in Status:
        w.writerow(["status", assignment, fn, status, f.statuses.get(status, 0)])
    for points, count in sorted(Counter(round(p, 4) for p in f.points).items()):
        w.writerow(["points", assignment, fn, f"{points:g}", count])
    w.writerow(["rel_error", assignment, fn, "median_of_failures", _csv_num(f.median_failed_rel_error)])
    w.writerow(["rel_error", assignment, fn, "threshold", _csv_num(f.threshold)])
    for m in f.mistakes:
        w.writerow(["mistake", assignment, fn, m.mistake, m.count])
    for m in f.messages:
        w.writerow(["message", assignment, fn, m.message, m.count])
    if f.seconds:
        w.writerow(["seconds", assignment, fn, "median", _csv_num(statistics.median(f.seconds))])
        w.writerow(["seconds", assignment, fn, "max", _csv_num(max(f.seconds))])
    for i, c in enumerate(f.clusters):
        w.writerow(["similar", assignment, fn, f"cluster {i + 1} ({c.nodes} nodes)", " ".join(c.students)])


def write_class_report(
    out_dir: Path, results: Sequence[SubmissionResult], run: dict[str, Any] | None = None
) -> dict[str, Path]:
    """Write ``out_dir/report.html`` and ``out_dir/report.csv`` (atomically); return their paths."""
    out_dir = Path(out_dir)
    stats = class_stats(results, run)
    paths = {"html": out_dir / "report.html", "csv": out_dir / "report.csv"}
    write_atomic(paths["html"], class_report_html(stats))
    write_atomic(paths["csv"], class_report_csv(stats))
    return paths


#: Fields of ``run.json`` and the kinds the page relies on (a mistyped one is dropped with a warning).
_RUN_FIELDS: dict[str, tuple[type, ...]] = {
    "written": (str,),
    "reference_set": (str,),
    "seed": (int, type(None)),
    "seed_digest": (str,),
    "references": (dict,),
    "limits": (dict,),
    "workers": (int,),
    "protections": (dict,),
    "solution_fingerprints": (dict,),
}


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def read_run_info(out_dir: Path) -> tuple[dict[str, Any], list[str]]:
    """``out_dir/run.json`` as the page needs it, and a warning per part that had to be left out.

    A missing file gives ``{}`` (run settings unknown); a file that is not a JSON object, or a field
    of the wrong kind (a table that is not a table of plain values), is left out with a warning:
    never fatal.
    """
    path = Path(out_dir) / "run.json"
    if not path.is_file():
        return {}, []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        return {}, [f"ignored run.json: not readable JSON ({type(exc).__name__}: {exc})"]
    if not isinstance(data, dict):
        return {}, ["ignored run.json: not a JSON object"]
    run, warnings = {}, []
    for key, value in data.items():
        kinds = _RUN_FIELDS.get(key)
        ok = kinds is not None and isinstance(value, kinds) and not isinstance(value, bool)
        if ok and isinstance(value, dict):
            ok = all(isinstance(k, str) and _scalar(v) for k, v in value.items())
        if ok:
            run[key] = value
        elif kinds is not None:
            warnings.append(f"ignored run.json's {key!r}: not {' or '.join(k.__name__ for k in kinds)}")
    return run, warnings
