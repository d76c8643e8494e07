"""Grading submissions: reading them, extracting code, grading one notebook, the batch, results, reports.

Modules, in pipeline order: :mod:`~autograder.grading.submission` (find submissions),
:mod:`~autograder.grading.notebook_file` (read one notebook), :mod:`~autograder.grading.extraction`
(the code worth running), :mod:`~autograder.grading.function` (one function's verdict, shared with
the self-check), :mod:`~autograder.grading.notebook` (one notebook in a sandbox),
:mod:`~autograder.grading.batch` (many, in parallel, kept on disk by :mod:`~autograder.grading.store`),
:mod:`~autograder.grading.results` (plain result data), :mod:`~autograder.grading.reports`
(gradebook, feedback) and :mod:`~autograder.grading.nbgrader_gradebook` (scores into nbgrader).
"""
