"""The instructors' class report: where the class struggled, at a glance (``OUT/report.html`` and ``.csv``).

Modules: :mod:`~autograder.class_report.stats` (the numbers, from result files; similarity from
:mod:`autograder.grading.similarity`), :mod:`~autograder.class_report.figures` (matplotlib charts
as embedded PNG), :mod:`~autograder.class_report.page` (the self-contained HTML page) and
:mod:`~autograder.class_report.files` (the CSV, the run's settings, writing).
"""

from autograder.class_report.files import (
    class_report_csv,
    read_run_info,
    run_info,
    solution_fingerprints,
    write_class_report,
)
from autograder.class_report.page import class_report_html

__all__ = [
    "class_report_csv",
    "class_report_html",
    "read_run_info",
    "run_info",
    "solution_fingerprints",
    "write_class_report",
]
