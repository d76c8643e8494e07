"""Grading submissions: reading them, extracting code, grading one notebook, the batch, results, reports.

Modules, in pipeline order: :mod:`~autograder.grading.submission` (find submissions; a notebook is
read and its code taken out by :mod:`autograder.notebook_io`), :mod:`~autograder.grading.function`
(one function's verdict, shared with the self-check), :mod:`~autograder.grading.notebook` (one
notebook in a sandbox),
:mod:`~autograder.grading.batch` (many, in parallel, kept on disk by :mod:`~autograder.grading.store`),
:mod:`~autograder.grading.results` (plain result data), :mod:`~autograder.grading.reports`
(gradebook, feedback), :mod:`~autograder.grading.similarity` (AST fingerprints of graded functions)
and :mod:`~autograder.grading.nbgrader_gradebook` (scores into nbgrader). Nothing here writes the
class report or Gradescope's files: :mod:`autograder.batch_outputs` does, above both.
"""
