"""Fast tests of the class report (autograder.class_report) on hand-made results."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest

from autograder.batch_outputs import rebuild_outputs, write_outputs
from autograder.class_report import class_report_csv, class_report_html, write_class_report
from autograder.class_report.stats import UNREADABLE_MESSAGE, class_stats, normalize_message
from autograder.cli import main
from autograder.grading.results import CheckResult, SubmissionResult
from autograder.grading.similarity import MIN_NODES

ST = "StyleTransfer"
_POINTS = {"content_loss": 2.0, "gram_matrix": 3.0, "style_loss": 3.0, "tv_loss": 3.0}
_LEAF = (
    "tv_loss raised an exception: RuntimeError: a leaf Variable that requires grad is being used in an "
    "in-place operation.\n  cell 7, line {line}, in tv_loss: img += 1"
)


def _check(function: str, status: str = "passed", **kw) -> CheckResult:
    fraction = {"passed": 1.0, "partial": 0.5}.get(status, 0.0)
    points = _POINTS[function]
    kw.setdefault("message", "ok" if status == "passed" else f"{status} here")
    return CheckResult(function, "public", points * fraction, points, status, **kw)


def _result(student: str, changes: dict[str, CheckResult] | None = None, **kw) -> SubmissionResult:
    checks = [(changes or {}).get(f) or _check(f, seconds=0.01) for f in _POINTS]
    return SubmissionResult(student, ST, sum(c.points for c in checks), 11.0, checks, **kw)


def _unreadable(student: str, problem: str) -> SubmissionResult:
    checks = [CheckResult(f, "public", 0.0, p, "missing", UNREADABLE_MESSAGE) for f, p in _POINTS.items()]
    return SubmissionResult(student, ST, 0.0, 11.0, checks, problems=[problem])


def _class() -> list[SubmissionResult]:
    fp_long = {"tv_loss": {"digest": "a" * 16, "nodes": MIN_NODES + 5}}
    fp_short = {"content_loss": {"digest": "b" * 16, "nodes": MIN_NODES - 1}}
    gram_unnorm = _check(
        "gram_matrix",
        "partial",
        mistake="not normalized",
        hint="Divide by H * W * C.",
        rel_error=0.9,
        threshold=1e-3,
    )
    return [
        _result("ada", fingerprints={**fp_long, **fp_short}, seconds=1.5),
        _result("bob", fingerprints={**fp_long, **fp_short}, seconds=2.5),
        _result("cy", {"gram_matrix": gram_unnorm}, seconds=3.0),
        _result("dee", {"gram_matrix": gram_unnorm}),
        _result(
            "eve",
            {
                "content_loss": _check(
                    "content_loss",
                    "failed",
                    mistake="norm not squared",
                    hint="Square it.",
                    rel_error=0.5,
                    threshold=1e-3,
                ),
                "tv_loss": _check("tv_loss", "error", message=_LEAF.format(line=3)),
            },
        ),
        _result("fay", {"tv_loss": _check("tv_loss", "error", message=_LEAF.format(line=12))}),
        _result("gus", {"tv_loss": _check("tv_loss", "timeout", message="tv_loss ran out of time: 8 s")}),
        _result("hal", {f: _check(f, "not_implemented") for f in _POINTS}),
        _unreadable("ivy", "ivy.ipynb is not valid JSON (line 1, column 1), so it is not a notebook."),
        _unreadable("jo", "jo.ipynb is not valid JSON (line 3, column 9), so it is not a notebook."),
        _unreadable("kim", "kim.ipynb is an empty file."),
        SubmissionResult("lee", ST, 0.0, 11.0, grader_error="RuntimeError: template did not start"),
    ]


def test_summary_counts_and_totals() -> None:
    """Are found / graded / not graded / unreadable, their reasons and the totals exactly right?"""
    stats = class_stats(_class())
    assert (stats.found, stats.graded, stats.not_graded, stats.unreadable) == (12, 8, 1, 3)
    assert stats.unreadable_reasons == {
        "is not valid JSON (line N, column N), so it is not a notebook": 2,
        "is an empty file": 1,
    }
    assert stats.grader_errors == {"RuntimeError: template did not start": 1}
    (a,) = stats.assignments
    assert sorted(a.totals) == [0.0, 6.0, 8.0, 8.0, 9.5, 9.5, 11.0, 11.0]
    assert a.submission_seconds[:3] == [1.5, 2.5, 3.0]


def test_function_status_counts_mistakes_and_messages() -> None:
    """Are status counts, known mistakes (count, %, hint) and normalized messages right?"""
    a = class_stats(_class()).assignments[0]
    f = {s.function: s for s in a.functions}
    tv = f["tv_loss"]
    assert (tv.statuses["passed"], tv.statuses["error"], tv.statuses["timeout"]) == (4, 2, 1)
    assert tv.statuses["not_implemented"] == 1 and sum(tv.statuses.values()) == 8
    leaf = (
        "raised an exception: RuntimeError: a leaf Variable that requires grad is being used in an in-place "
        "operation."
    )
    assert [(m.message, m.count) for m in tv.messages] == [(leaf, 2), ("ran out of time: N s", 1)]
    gram = f["gram_matrix"]
    assert [(m.mistake, m.count, m.percent, m.hint) for m in gram.mistakes] == [
        ("not normalized", 2, 25.0, "Divide by H * W * C.")
    ]
    assert gram.statuses["partial"] == 2 and gram.median_failed_rel_error == 0.9
    assert gram.messages == []  # a known mistake is not also a message
    content = f["content_loss"]
    assert [(m.mistake, m.count) for m in content.mistakes] == [("norm not squared", 1)]
    assert content.threshold == 1e-3 and content.median_failed_rel_error == 0.5


def test_similar_submissions_only_above_the_cut_off() -> None:
    """Is a shared long function a cluster, a shared short one not, and the solution flag set?"""
    stats = class_stats(_class(), {"solution_fingerprints": {"tv_loss": "a" * 16}})
    clusters = {f.function: f.clusters for f in stats.assignments[0].functions}
    assert [(c.students, c.same_as_solution) for c in clusters["tv_loss"]] == [(["ada", "bob"], True)]
    assert clusters["content_loss"] == []


def test_html_is_self_contained_and_escapes_student_text() -> None:
    """Does a hostile student name or message stay text, with no script and nothing fetched?"""
    evil = "<script>alert('x')</script>"
    hostile = _check("tv_loss", "error", message=f"tv_loss raised: {evil} <img src=x>")
    results = [*_class(), _result(evil, {"tv_loss": hostile})]
    page = class_report_html(class_stats(results))
    assert "<script" not in page.lower()
    assert "&lt;script&gt;" in page
    assert "<img src=x>" not in page
    assert not re.search(r"(src|href)\s*=\s*['\"]?(https?:|//)", page)
    assert "@import" not in page and "url(" not in page
    sources = re.findall(r"<img[^>]*src='([^']*)'", page)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)


def test_csv_has_the_same_numbers() -> None:
    """Does report.csv carry the counts the page shows?"""
    rows = list(csv.DictReader(io.StringIO(class_report_csv(class_stats(_class())))))
    value = {(r["section"], r["function"], r["item"]): r["value"] for r in rows}
    assert value[("summary", "", "found")] == "12" and value[("summary", "", "unreadable")] == "3"
    assert value[("status", "tv_loss", "error")] == "2"
    assert value[("mistake", "gram_matrix", "not normalized")] == "2"
    assert value[("points", "gram_matrix", "1.5")] == "2"
    assert value[("similar", "tv_loss", f"cluster 1 ({MIN_NODES + 5} nodes)")] == "ada bob"


def test_results_without_the_new_fields_still_read_and_report(tmp_path: Path) -> None:
    """Do results written before mistake / seconds / fingerprints existed still give a report?"""
    old = json.loads(_result("old").to_json())
    for key in ("seconds", "protections", "fingerprints"):
        del old[key]
    for check in old["checks"]:
        del check["mistake"], check["seconds"]
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "old__StyleTransfer.json").write_text(json.dumps(old))
    (tmp_path / "results" / "broken__StyleTransfer.json").write_text("{not json")
    paths, warnings = rebuild_outputs(tmp_path)
    assert len(warnings) == 1 and "results/broken__StyleTransfer.json" in warnings[0]
    page = paths["html"].read_text()
    assert "Run settings unknown" in page and "No timings recorded" in page


def test_report_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Does `report OUT` rebuild both files, and fail clearly on a folder without results?"""
    assert main(["report", str(tmp_path)]) == 2
    assert "holds no grading results" in capsys.readouterr().err
    (tmp_path / "results").mkdir()
    for result in _class():
        (tmp_path / "results" / f"{result.student}__{ST}.json").write_text(result.to_json())
    (tmp_path / "run.json").write_text(
        json.dumps({"reference_set": "hidden", "seed": None, "seed_digest": "abc"})
    )
    assert main(["report", str(tmp_path)]) == 0
    page = (tmp_path / "report.html").read_text()
    assert "hidden (seed not shown; inputs digest abc)" in page
    assert (tmp_path / "report.csv").read_text().startswith("section,assignment,function,item,value")


def test_feedback_never_mentions_other_students(tmp_path: Path) -> None:
    """Is every student's feedback free of every other student's name, with the report only in OUT?"""
    results = _class()
    write_outputs(tmp_path, results, None)
    write_class_report(tmp_path, results, {})
    names = {r.student for r in results}
    files = [p for p in (tmp_path / "feedback").iterdir() if p.is_file()]
    files += list((tmp_path / "gradescope").iterdir())
    assert len(files) == 2 * len(results) + len(results)
    for path in files:
        text = path.read_text()
        own = path.stem.split("__")[0]
        assert not [n for n in names - {own} if re.search(rf"\b{re.escape(n)}\b", text)], path.name
    assert not any("report" in p.name for p in files)


def test_normalize_message_groups_numbers_and_file_names() -> None:
    """Are numbers, the file name and the traceback lines dropped from a message?"""
    assert normalize_message("a.ipynb is 300 MB, more than 100 MB") == "is N MB, more than N MB"
    assert normalize_message(_LEAF.format(line=9), "tv_loss").startswith("raised an exception: RuntimeError")
    assert normalize_message("shape (2, 8, 8) float64") == "shape (N, N, N) float64"


def test_report_csv_makes_every_text_cell_inert_for_spreadsheets() -> None:
    """Does report.csv escape a name or message starting with = + - @ as gradebook.csv does?"""
    fp = {"tv_loss": {"digest": "c" * 16, "nodes": MIN_NODES + 5}}
    evil = ['=HYPERLINK("http://x","y")', "+1", "-2+3", "@SUM(A1)"]
    results = [_result(name, fingerprints=fp) for name in evil]
    results.append(_result("msg", {"tv_loss": _check("tv_loss", "error", message="=cmd|' /C calc'!A0")}))
    text = class_report_csv(class_stats(results))
    cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@")], text
    assert any(c.startswith("'+1 -2+3 =HYPERLINK") for c in cells) and any(
        c.startswith("'=cmd") for c in cells
    )


def test_report_skips_mistyped_results_and_run_json_with_warnings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Does `report` rebuild the page when a result or run.json has a field of the wrong kind,
    warning about each instead of crashing?"""
    (tmp_path / "results").mkdir()
    for result in _class():
        (tmp_path / "results" / f"{result.student}__{ST}.json").write_text(result.to_json())
    bad = json.loads(_result("zzq").to_json())
    bad["protections"] = ["uid"]
    (tmp_path / "results" / f"zzq__{ST}.json").write_text(json.dumps(bad))
    bad_check = json.loads(_result("yan").to_json())
    bad_check["checks"][0]["seconds"] = "slow"
    (tmp_path / "results" / f"yan__{ST}.json").write_text(json.dumps(bad_check))
    (tmp_path / "run.json").write_text(
        json.dumps(
            {"reference_set": "hidden", "limits": "6 GB", "protections": {"uid": ["x"]}, "workers": "2"}
        )
    )
    assert main(["report", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    for words in (f"zzq__{ST}.json", f"yan__{ST}.json", "'limits'", "'protections'", "'workers'"):
        assert words in err, err
    page = (tmp_path / "report.html").read_text()
    assert "ada" in page and "zzq" not in page and "reference set" in page
    (tmp_path / "run.json").write_text("[1, 2")
    assert main(["report", str(tmp_path)]) == 0
    assert "ignored run.json" in capsys.readouterr().err
