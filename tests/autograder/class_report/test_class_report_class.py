"""Slow: the class report of a synthetic class of 74 submissions with known answers, graded once.

The expected numbers are counted from :mod:`synthetic_class`'s expectations (not from the report
code), and compared with what ``report.csv`` says; the page is rendered in headless Chromium.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import statistics
import subprocess
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from autograder.batch_outputs import grade_path, rebuild_outputs
from autograder.functions import FUNCTIONS, functions_of
from autograder.settings import GradingSettings, Limits
from tests.autograder.class_report.synthetic_class import NV, ST, Student, build_class, synthetic_class

pytestmark = [pytest.mark.slow, pytest.mark.linux]


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Student], Path]:
    """The synthetic class, graded once with 2 workers and the public references."""
    students = synthetic_class()
    root = tmp_path_factory.mktemp("class")
    submitted = build_class(root, students)
    out = root / "out"
    # 30 s per call: far above the slowest honest call on a loaded 2-core machine (8.5 s measured)
    limits = Limits(timeout_s=30.0, chunk_timeout_s=30.0)
    grade_path(submitted, out, GradingSettings("public", limits=limits), workers=2, progress=False)
    return students, out


def _csv(out: Path) -> dict[tuple[str, str, str, str], str]:
    with (out / "report.csv").open() as f:
        return {
            (r["section"], r["assignment"], r["function"], r["item"]): r["value"] for r in csv.DictReader(f)
        }


def _kind(student: Student) -> str:
    return student.name.split("-", 1)[1]


def _graded(students: list[Student], notebook: str) -> list[Student]:
    return [s for s in students if s.notebook == notebook and not s.unreadable]


def test_class_is_realistic(graded) -> None:
    """Does the class have at least 60 submissions of both notebooks, with mistakes and hostile code?"""
    students, _ = graded
    assert len(students) >= 60 and {s.notebook for s in students} == {NV, ST}
    assert len({s.name for s in students}) == len(students)


def test_summary_counts(graded) -> None:
    """Are found / graded / not graded / unreadable, per assignment and in all, exactly as built?"""
    students, out = graded
    value = _csv(out)
    unreadable = sum(s.unreadable for s in students)
    assert value[("summary", "", "", "found")] == str(len(students))
    assert value[("summary", "", "", "unreadable")] == str(unreadable)
    assert value[("summary", "", "", "graded")] == str(len(students) - unreadable)
    assert value[("summary", "", "", "not_graded")] == "0"
    reasons = {k[3]: v for k, v in value.items() if k[0] == "unreadable_reason"}
    assert sorted(reasons.values()) == ["1"] * unreadable
    assert any("not valid JSON" in r for r in reasons) and any("holds no notebook" in r for r in reasons)
    for notebook in (NV, ST):
        members = [s for s in students if s.notebook == notebook]
        assert value[("assignment", notebook, "", "found")] == str(len(members))
        assert value[("assignment", notebook, "", "graded")] == str(len(_graded(students, notebook)))


def test_totals(graded) -> None:
    """Are mean / median / min / max of the totals those of the expected points?"""
    students, out = graded
    value = _csv(out)
    for notebook in (NV, ST):
        totals = [
            sum(c.points * s.outcome(c.name).fraction for c in functions_of(notebook))
            for s in _graded(students, notebook)
        ]
        expected = [statistics.fmean(totals), statistics.median(totals), min(totals), max(totals)]
        got = [float(value[("total", notebook, "", k)]) for k in ("mean", "median", "min", "max")]
        assert got == pytest.approx(expected, abs=1e-4), notebook


def test_status_counts(graded) -> None:
    """Is every function's count of every status exactly the expected one?"""
    students, out = graded
    value = _csv(out)
    for notebook in (NV, ST):
        for check in functions_of(notebook):
            expected = Counter(s.outcome(check.name).status for s in _graded(students, notebook))
            got = {
                k[3]: int(v) for k, v in value.items() if k[:3] == ("status", notebook, check.name) and int(v)
            }
            assert got == dict(expected), check.name


def test_mistake_table(graded) -> None:
    """Is the most-frequent-mistakes table exactly the mistakes built into the class?"""
    students, out = graded
    value = _csv(out)
    expected = Counter(
        (s.notebook, f, s.outcome(f).mistake)
        for s in students
        if not s.unreadable
        for f in FUNCTIONS
        if s.outcome(f).mistake
    )
    got = {(k[1], k[2], k[3]): int(v) for k, v in value.items() if k[0] == "mistake"}
    assert got == dict(expected)
    page = (out / "report.html").read_text()
    assert "Divide by H * W * C" in page  # the hint those students got


def test_message_table(graded) -> None:
    """Are errors, timeouts and unrecognised failures grouped into the expected messages and counts?"""
    students, out = graded
    value = _csv(out)
    groups: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for s in students:
        if s.unreadable:
            continue
        for f in FUNCTIONS:
            outcome = s.outcome(f)
            if outcome.status not in ("passed", "not_implemented") and not outcome.mistake:
                groups[s.notebook, f][_kind(s)] += 1
    for notebook in (NV, ST):
        for check in functions_of(notebook):
            rows = {k[3]: int(v) for k, v in value.items() if k[:3] == ("message", notebook, check.name)}
            assert sorted(rows.values()) == sorted(groups[notebook, check.name].values()), check.name
            for s in _graded(students, notebook):
                text = s.outcome(check.name).message
                if text and not s.outcome(check.name).mistake:
                    assert any(text in m for m in rows), (check.name, text, rows)


def test_similar_submissions(graded) -> None:
    """Are the clusters of identical long functions exactly the students who share code?"""
    students, out = graded
    value = _csv(out)

    def names(notebook: str, kinds: set[str], keep: bool) -> str:
        return " ".join(sorted(s.name for s in _graded(students, notebook) if (_kind(s) in kinds) == keep))

    expected = {
        ("make_fooling_image", NV): [
            names(NV, {"fooling-no-no-grad", "stub", "own-fooling"}, False),
            names(NV, {"fooling-no-no-grad"}, True),
            names(NV, {"own-fooling"}, True),
        ],
        ("tv_loss", ST): [
            names(ST, {"tv-loop", "signature-changed", "function-renamed", "stub"}, False),
            names(ST, {"tv-loop"}, True),
        ],
    }
    got: dict[tuple[str, str], list[str]] = defaultdict(list)
    for k, v in value.items():
        if k[0] == "similar":
            got[k[2], k[1]].append(v)
    assert dict(got) == expected
    page = (out / "report.html").read_text()
    assert "lead to look at, not proof" in page and "(same as the course solution)" in page


def test_rebuild_from_out_alone_gives_the_same_report(graded, tmp_path: Path) -> None:
    """Does `report OUT` on a copy of OUT (results/ and run.json only) write the same numbers?"""
    _, out = graded
    copy = tmp_path / "out"
    shutil.copytree(out / "results", copy / "results")
    shutil.copy(out / "run.json", copy / "run.json")
    rebuild_outputs(copy)
    assert (copy / "report.csv").read_text() == (out / "report.csv").read_text()
    assert (copy / "report.html").read_text() == (out / "report.html").read_text()


def test_student_files_never_mention_other_students(graded) -> None:
    """Is each feedback and Gradescope file free of every other student's name?"""
    students, out = graded
    names = {s.name for s in students}
    files = [*(out / "feedback").iterdir(), *(out / "gradescope").iterdir()]
    assert len(files) == 3 * len(students)
    for path in files:
        own = path.stem.split("__")[0]
        text = path.read_text()
        assert not [n for n in names - {own} if n in text], path.name
        assert "report.html" not in text


def _chromium() -> str | None:
    return next((p for name in ("chromium", "chromium-browser") if (p := shutil.which(name))), None)


def test_renders_in_headless_chromium(graded, tmp_path: Path) -> None:
    """Does real Chromium render the page, offline, into a non-trivial screenshot?"""
    from PIL import Image

    _, out = graded
    browser = _chromium()
    if browser is None:
        message = "chromium is not installed (Debian: apt-get install -y chromium)"
        if os.environ.get("CI"):
            pytest.fail(message + "; CI must have it")
        pytest.skip(message)
    shot = out / "report-screenshot.png"
    width, height = 1280, 3000
    subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={shot}",
            f"--window-size={width},{height}",
            (out / "report.html").resolve().as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    image = Image.open(shot).convert("RGB")
    assert image.size == (width, height)
    colors = image.getcolors(maxcolors=1 << 22)
    assert colors is not None and len(colors) > 200  # text, tables, figures: not a blank page
    pixels = width * height
    assert sum(n for n, rgb in colors if sum(rgb) < 300) > 0.005 * pixels  # dark text was drawn
    assert sum(n for n, rgb in colors if rgb != (255, 255, 255)) > 0.05 * pixels  # and more than text
    assert re.search(rb"data:image/png;base64,", (out / "report.html").read_bytes())
