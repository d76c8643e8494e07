"""What the third round of held-out attacks left behind, checked after the corpus batch (issue 21).

Each case's points are checked with every other case (test_corpus.py); these check what points
cannot show: no phantom or replaced row, no System V segment or lock file outliving the batch, no
host secret in any result.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.grading_safety.corpus_run import STUB_CASE, GradedCorpus, protection_active
from tests.grading_safety.host_traps import leaked_segments
from tests.grading_safety.safety_corpus import CASES
from tests.grading_safety.third_round import CLASSMATE, PLANTER, SHM_BYTES

pytestmark = [pytest.mark.slow, pytest.mark.linux]


def test_nothing_in_a_students_folder_adds_or_replaces_a_row(graded_corpus: GradedCorpus) -> None:
    """Is there exactly one row per case (no phantom student from a `backup/` folder or 20 nested
    copies), the classmate graded on their own notebook and the planter on theirs?"""
    assert set(graded_corpus.results) == {c.name for c in CASES} | {STUB_CASE}
    classmate = graded_corpus.results[CLASSMATE]
    assert classmate.score == classmate.max_score > 0
    assert Path(classmate.source).parts[-4:-2] == ("submitted", CLASSMATE) and classmate.problems == []
    planter = graded_corpus.results[PLANTER]
    assert Path(planter.source).parts[-4:] == ("submitted", PLANTER, "StyleTransfer", "StyleTransfer.ipynb")
    rows = (graded_corpus.out / "gradebook.csv").read_text().splitlines()
    assert len(rows) == 1 + len(graded_corpus.results)


def test_no_shared_memory_or_lock_file_outlives_the_batch(graded_corpus: GradedCorpus) -> None:
    """Did the System V segments and the /run/lock and /var/lock files the attacks made stay in
    their namespaces (they outlived the batch on the host)?"""
    if not protection_active(graded_corpus.protections, "ipc"):
        pytest.skip("no IPC namespace here (needs Linux namespaces)")
    assert leaked_segments(SHM_BYTES) == []
    assert not list(Path("/run/lock").glob(f"{graded_corpus.token}*"))


def test_no_host_secret_reaches_a_result(graded_corpus: GradedCorpus) -> None:
    """Is the text of the host's world-readable shared-memory segment in no result or feedback?"""
    if not protection_active(graded_corpus.protections, "ipc"):
        pytest.skip("no IPC namespace here (needs Linux namespaces)")
    for folder in ("results", "feedback", "gradescope"):
        for path in (graded_corpus.out / folder).iterdir():
            assert graded_corpus.secret not in path.read_text(encoding="utf-8"), path
    message = json.dumps([c.message for c in graded_corpus.results["sysv_shared_memory"].checks])
    assert "host segment: b''" in message
