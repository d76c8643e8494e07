"""Accessibility of what people read: the feedback pages and the class report (issue 24).

Every figure has alt text that says what it shows, with its numbers; every table has header cells with a
scope; the page declares its language; a status is always written in words, never only coloured.
"""

from __future__ import annotations

import re

import pytest
from bs4 import BeautifulSoup

from autograder.class_report import class_report_html
from autograder.class_report.stats import class_stats
from autograder.grading.reports import feedback_html
from autograder.grading.results import CheckResult, SubmissionResult

ST = "StyleTransfer"
POINTS = {"content_loss": 2.0, "gram_matrix": 3.0, "style_loss": 3.0, "tv_loss": 3.0}
STATUS_WORDS = {"passed": "PASSED", "partial": "PARTIAL", "failed": "FAILED", "error": "ERROR"}


def _check(function: str, status: str) -> CheckResult:
    fraction = {"passed": 1.0, "partial": 0.5}.get(status, 0.0)
    return CheckResult(
        function,
        "public",
        POINTS[function] * fraction,
        POINTS[function],
        status,
        "ok" if status == "passed" else f"{status} here",
        rel_error=None if status == "passed" else 0.5,
        threshold=1e-3,
        seconds=0.02,
    )


def _result(student: str, statuses: dict[str, str]) -> SubmissionResult:
    checks = [_check(f, statuses.get(f, "passed")) for f in POINTS]
    return SubmissionResult(student, ST, sum(c.points for c in checks), 11.0, checks, seconds=1.0)


CLASS = [
    _result("ada", {}),
    _result("bob", {"gram_matrix": "partial"}),
    _result("cy", {"content_loss": "failed", "tv_loss": "error"}),
    _result("dee", {}),
]


def _tables_have_scoped_headers(soup: BeautifulSoup) -> None:
    tables = soup.find_all("table")
    assert tables
    for table in tables:
        headers = table.find_all("th")
        assert headers, f"a table without header cells: {str(table)[:120]}"
        for th in headers:
            assert th.get("scope") in {"col", "row"}, f"header cell without scope: {th}"


def test_feedback_page_is_accessible():
    """Does the feedback page have a language, scoped table headers and every status in words?"""
    result = CLASS[2]
    soup = BeautifulSoup(feedback_html(result), "html.parser")
    assert soup.html.get("lang") == "en"
    _tables_have_scoped_headers(soup)
    for row in soup.find_all("tr")[1:]:
        function = row.find("th", scope="row").get_text()
        status = next(c.status for c in result.checks if c.function == function)
        assert STATUS_WORDS[status] in row.get_text(), row  # the colour only repeats the word
    for img in soup.find_all("img"):
        assert img.get("alt"), img


@pytest.fixture(scope="module")
def report() -> BeautifulSoup:
    return BeautifulSoup(class_report_html(class_stats(CLASS)), "html.parser")


def test_class_report_figures_have_alt_text_with_their_numbers(report):
    """Does each figure's alt text say what it shows, with the counts and times it plots?"""
    images = report.find_all("img")
    assert len(images) == 2
    points, times = (img["alt"] for img in images)
    assert points.startswith("Bar charts of points per function, StyleTransfer, 4 graded submissions")
    assert "gram_matrix (out of 3): 3 full marks, 1 partial, 0 zero" in points
    assert "content_loss (out of 2): 3 full marks, 0 partial, 1 zero" in points
    assert "total (out of 11): median 10.2, min 6, max 11" in points
    assert "Box plots of grading seconds per call" in times and "tv_loss median 0.02 s" in times
    assert "median 1 s, max 1 s" in times
    # the bar colours are explained in words next to the figure
    caption = images[0].find_next("p").get_text()
    assert all(word in caption for word in ("green", "amber", "red", "full marks", "zero"))


def test_class_report_tables_have_scoped_headers(report):
    """Does every table of the class report mark its header cells as row or column headers?"""
    assert report.html.get("lang") == "en"
    _tables_have_scoped_headers(report)


def test_class_report_statuses_are_words_not_only_colours(report):
    """Are the coloured status counts headed by the status in words, and decorative bars hidden?"""
    header = next(t for t in report.find_all("table") if t.find("th", string="mean points"))
    words = [th.get_text() for th in header.find_all("th")]
    assert {"passed", "partial credit", "failed", "error"} <= set(words)
    for cell in report.find_all("td", style=re.compile("color")):
        column = cell.parent.find_all(["td", "th"]).index(cell)
        assert words[column].strip(), f"a coloured cell under an unnamed column: {cell}"
    for bar in report.find_all("span", class_="bar"):
        assert bar.get("aria-hidden") == "true" and bar.parent.get_text().strip().endswith("%")
