"""Autograder for the course: one check library used by self-checks, nbgrader and the batch grader.

Entry points: ``python -m autograder {grade,references,release,demo}``; in notebooks,
:func:`autograder.selfcheck.check`.
"""

__all__: list[str] = []
