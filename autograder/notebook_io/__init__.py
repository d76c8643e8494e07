"""Notebooks as files and as code, below everything that grades them.

:mod:`~autograder.notebook_io.files` reads one submitted notebook (capped, never raising) and
:mod:`~autograder.notebook_io.extraction` takes the code worth running out of it. The sandbox, the
grader, the reference builder and the class report all use these two; they import nothing of the
autograder but its settings.
"""
