"""The student's experience in a real JupyterLab, driven in the system Chromium with Playwright (slow).

What a student does first, in the environment the student kit installs (no nbgrader): open a notebook,
run the cells up to the first self-check, write the first graded function, run its check, get it wrong,
run it again. The test asserts what the page shows: the verdict text, no nbgrader menu or panel, the
notebook not marked modified on opening, no markdown cell wider than the notebook (a horizontal
scrollbar), and messages that the browser does not have to break mid-word. Screenshots go to the
test's output folder. No network: JupyterLab and Chromium talk over 127.0.0.1 only.

The correct implementation is read from the solution notebook at test time (never written here); the
wrong one is the same code with one classic mistake edited in.
"""

from __future__ import annotations

import os
import re
import shutil
import time
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder.settings import SOLUTIONS_DIR
from autograder.student_kit import KIT_NAME, build_student_kit
from course_utils.messages import MESSAGE_WIDTH
from tests.helpers.browser import chromium, chromium_path, jupyterlab
from tests.helpers.student_env import make_student_env

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

playwright_api = pytest.importorskip("playwright.sync_api")

#: notebook -> (first graded function, regex of a classic mistake, its replacement, text of its verdict)
FIRST_FUNCTION = {
    "NetworkVisualization": ("compute_saliency_maps", r"\.abs\(\)", "", "absolute value"),
    "StyleTransfer": ("content_loss", r"\.pow\(2\)\.sum\(\)", ".pow(2).mean()", "mean instead of sum"),
    "Attribution": (
        "integrated_gradients",
        r"\(X - baseline\) \* total / steps",
        "total / steps",
        "average gradient, not multiplied by (input - baseline)",
    ),
}
#: notebook -> (text of its first demo cell that needs functions still missing, the error it must show)
DEMO_TOO_EARLY = {"StyleTransfer": ("require_losses(", "LossesNotImplementedError")}
#: Every JupyterLab wait, in milliseconds: the first check imports torch and loads the model.
SLOW_MS = 300_000


@pytest.fixture(scope="module")
def student_lab(tmp_path_factory):
    """The student kit installed (see tests/helpers/student_env.py), JupyterLab serving its notebooks,
    and Chromium attached through Playwright; both processes stopped by PID afterwards."""
    executable = chromium_path()
    if executable is None:
        message = "the system Chromium is not installed (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    base = tmp_path_factory.mktemp("student")
    kit = build_student_kit(base / "kit")
    with zipfile.ZipFile(kit) as zf:
        zf.extractall(base / "unzipped")
    unzipped = base / "unzipped" / KIT_NAME
    env = make_student_env(next(unzipped.glob("*.whl")), base / "venv")
    root = base / "work"
    shutil.copytree(unzipped / "notebooks", root)
    home = base / "home"
    profile = base / "chromium-profile"
    home.mkdir()
    profile.mkdir()
    lab_env = {k: os.environ[k] for k in ("COURSE_DATA_DIR",) if os.environ.get(k)}  # offline course data
    with (
        jupyterlab(env.python, root, home, lab_env) as lab,
        chromium(executable, profile) as endpoint,
        playwright_api.sync_playwright() as pw,
    ):
        browser = pw.chromium.connect_over_cdp(endpoint)
        try:
            yield lab, browser
        finally:
            browser.close()


def _solution_region(notebook: str, function: str) -> str:
    """The code between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` of ``function``'s cell."""
    nb = nbformat.read(SOLUTIONS_DIR / f"{notebook}.ipynb", as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == function)
    match = re.search(r"### BEGIN SOLUTION\n(.*?)\n *### END SOLUTION", cell.source, flags=re.S)
    assert match, f"no solution region in the cell of {function}"
    return match.group(1)


def _with_body(student_source: str, body: str) -> str:
    """The student's cell with the ``pass`` between the START/END markers replaced by ``body``."""
    lines = student_source.splitlines()
    start = next(i for i, line in enumerate(lines) if "START OF YOUR CODE" in line)
    end = next(i for i, line in enumerate(lines) if "END OF YOUR CODE" in line)
    return "\n".join([*lines[: start + 1], body.rstrip("\n"), *lines[end:]])


def _cell_index(nb: nbformat.NotebookNode, predicate) -> int:
    return next(i for i, cell in enumerate(nb.cells) if predicate(cell))


def _set_source(page, cell, source: str) -> None:
    """Replace a code cell's text as a student would paste it (no auto-indentation on the way)."""
    cell.locator(".cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(source)
    page.keyboard.press("Escape")


def _select_cell(cell) -> None:
    cell.locator(".jp-InputArea-prompt").click()  # selects it, in command mode


def _run_all_above(page, cell) -> None:
    """Select ``cell`` and run every cell above it (Run > Run All Above Selected Cell)."""
    _select_cell(cell)
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_text("Run All Above Selected Cell").click()


def _run_cell(page, cell) -> None:
    _select_cell(cell)
    page.keyboard.press("Control+Enter")


def _wait_for_output(cell, text: str) -> str:
    cell.locator(".jp-OutputArea-output", has_text=text).first.wait_for(timeout=SLOW_MS)
    return cell.locator(".jp-OutputArea").inner_text()


def _browser_wrapped_lines(cell) -> int:
    """Lines of the cell's text outputs that the browser had to wrap (0: every line fits)."""
    return cell.locator(".jp-OutputArea-output pre").evaluate_all(
        """pres => pres.map(pre => {
            const lines = pre.innerText.replace(/\\n$/, '').split('\\n').length;
            const lineHeight = parseFloat(getComputedStyle(pre).lineHeight);
            return Math.round(pre.getBoundingClientRect().height / lineHeight) - lines;
        }).reduce((a, b) => a + Math.max(0, b), 0)"""
    )


@pytest.mark.parametrize("notebook", sorted(FIRST_FUNCTION))
def test_first_self_check_in_jupyterlab(student_lab, notebook, tmp_path):
    """Can a student open the notebook, run up to the first self-check, and read PASSED / FAILED?"""
    lab, browser = student_lab
    function, mistake, replacement, mistake_text = FIRST_FUNCTION[notebook]
    student_nb = nbformat.read(Path(lab.root_dir) / f"{notebook}.ipynb", as_version=4)
    graded = _cell_index(student_nb, lambda c: c.metadata.get("nbgrader", {}).get("grade_id") == function)
    check_cell = _cell_index(student_nb, lambda c: f'check("{function}"' in c.source)
    correct = _with_body(student_nb.cells[graded].source, _solution_region(notebook, function))
    wrong, edits = re.subn(mistake, replacement, correct)
    assert edits, f"the mistake pattern {mistake!r} no longer matches the solution of {function}"

    page = browser.contexts[0].new_page()
    page.set_viewport_size({"width": 1366, "height": 768})
    try:
        page.goto(lab.notebook_url(f"{notebook}.ipynb"))
        cells = page.locator(".jp-Notebook .jp-Cell")
        cells.first.wait_for(timeout=SLOW_MS)
        # the status bar says "Python 3 (ipykernel) | Idle" once the kernel is connected
        page.get_by_text(re.compile(r"\| Idle$")).first.wait_for(timeout=SLOW_MS)
        time.sleep(2)  # JupyterLab rewrites an outdated kernelspec right after the kernel starts
        page.screenshot(path=str(tmp_path / f"{notebook}-1-opened.png"))

        # Issue 24, item 8: opening the notebook does not modify it.
        tab = page.locator(".lm-TabBar-tab", has_text=f"{notebook}.ipynb")
        assert "jp-mod-dirty" not in (tab.get_attribute("class") or ""), "opened notebook marked modified"
        # Item 10: the student's JupyterLab has no nbgrader tools.
        menus = page.locator(".lm-MenuBar-itemLabel").all_inner_texts()
        assert "File" in menus and not any("nbgrader" in m.lower() for m in menus), menus
        assert page.get_by_text("Create Assignment").count() == 0
        assert page.get_by_text("Assignment List").count() == 0
        assert page.get_by_text("Validate", exact=True).count() == 0  # nbgrader's toolbar button
        # Item 9: no rendered markdown is wider than its cell (no horizontal scrollbar).
        time.sleep(3)  # MathJax typesets after the cells are shown
        too_wide = page.locator(".jp-MarkdownCell .jp-RenderedMarkdown").evaluate_all(
            "els => els.filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.innerText.slice(0, 60))"
        )
        assert not too_wide, f"markdown wider than the notebook: {too_wide}"

        # Run every cell above the first self-check, then the check on the untouched skeleton.
        _run_all_above(page, cells.nth(check_cell))
        _run_cell(page, cells.nth(check_cell))
        output = _wait_for_output(cells.nth(check_cell), f"{function}: NOT IMPLEMENTED YET")
        page.screenshot(path=str(tmp_path / f"{notebook}-2-not-implemented.png"))
        assert _browser_wrapped_lines(cells.nth(check_cell)) == 0, output
        assert all(len(line) <= MESSAGE_WIDTH for line in output.splitlines()), output

        def submit(source: str, verdict: str, screenshot: str) -> str:
            """Type ``source`` into the graded cell, run it and its check; wait for ``verdict``."""
            _set_source(page, cells.nth(graded), source)
            _run_cell(page, cells.nth(graded))
            _run_cell(page, cells.nth(check_cell))
            output = _wait_for_output(cells.nth(check_cell), f"{function}: {verdict}")
            cells.nth(check_cell).scroll_into_view_if_needed()
            page.screenshot(path=str(tmp_path / f"{notebook}-{screenshot}.png"))
            assert _browser_wrapped_lines(cells.nth(check_cell)) == 0, output
            return output

        # A correct implementation: PASSED.
        assert "rel_error" in submit(correct, "PASSED", "3-passed")
        # The same code with a classic mistake: FAILED, naming the mistake, wrapped at word boundaries.
        output = submit(wrong, "FAILED", "4-failed")
        assert mistake_text in " ".join(output.split()), output

        # Item 1: a demo cell run before the functions it needs exist shows a few lines, no traceback.
        if notebook in DEMO_TOO_EARLY:
            marker, error = DEMO_TOO_EARLY[notebook]
            demo = cells.nth(_cell_index(student_nb, lambda c: c.cell_type == "code" and marker in c.source))
            _run_all_above(page, demo)  # as "Run All" would: the other functions' skeletons are defined
            _run_cell(page, demo)
            output = _wait_for_output(demo, error)
            demo.locator(".jp-OutputArea").scroll_into_view_if_needed()
            page.screenshot(path=str(tmp_path / f"{notebook}-5-demo-too-early.png"))
            assert "Traceback" not in output and "File " not in output, output
            assert len(output.strip().splitlines()) <= 8, output
    except BaseException:
        page.screenshot(path=str(tmp_path / f"{notebook}-failure.png"))  # what the page showed
        raise
    finally:
        page.close()
