"""Gradescope: build the autograder zip, grade one submission inside Gradescope's container, and
write its ``results.json`` (format: https://gradescope-autograders.readthedocs.io/en/latest/specs/).

Steps, each a module with plain data between them:

* :mod:`autograder.gradescope.bundle`: ``python -m autograder gradescope --out autograder.zip``
  (package code, references, ``setup.sh``, ``run_autograder``, pinned requirements; never
  solutions or tests);
* :mod:`autograder.gradescope.upload`: which uploaded files are graded as which notebook;
* :mod:`autograder.gradescope.results`: ``results.json`` from the grading results;
* :mod:`autograder.gradescope.schema`: checks a ``results.json`` against Gradescope's fields;
* :mod:`autograder.gradescope.run`: what ``run_autograder`` runs (``python -m autograder gradescope-run``).
"""

from __future__ import annotations

__all__: list[str] = []
