"""Fixtures for the grading-safety corpus: the whole corpus graded once, as one batch."""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
from collections.abc import Iterator

import nbformat
import pytest

from tests.grading_safety.corpus_run import (
    CORPUS_TIMEOUT_S,
    STUB_CASE,
    GradedCorpus,
    listen,
    processes_with,
    sandbox_protections,
    write_summary,
)
from tests.grading_safety.host_traps import host_segment, solutions_copy
from tests.grading_safety.safety_corpus import CASES, REPO, build_corpus, stub_notebook
from tests.grading_safety.third_round import SHM_BYTES


@pytest.fixture(scope="session")
def graded_corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GradedCorpus]:
    """Every corpus case (and the released stub) graded in one batch with 2 workers."""
    from autograder.batch_outputs import grade_path
    from autograder.settings import GradingSettings, Limits

    root = tmp_path_factory.mktemp("corpus")
    out = root / "graded"
    token = f"grading-safety-{uuid.uuid4().hex[:12]}"
    canary = REPO / f".grading-safety-canary-{token}"
    canary.write_text("the sandbox must not delete this file\n")
    server, received = listen()
    traps = contextlib.ExitStack()
    secret = f"host-secret-{token}"
    values = {
        "TOKEN": token,
        "OUT": str(out),
        "REPO": str(REPO),
        "CANARY": str(canary),
        "REFS": str(REPO / "autograder" / "references" / "public.pt"),
        "PORT": str(server.getsockname()[1]),
        "COPY": str(traps.enter_context(solutions_copy(token))),
        "SHMID": str(traps.enter_context(host_segment(secret))),
        "SECRET": secret,
        "SHM_BYTES": str(SHM_BYTES),
    }
    build_corpus(root, values)
    stub_path = root / "submitted" / STUB_CASE / "StyleTransfer" / "StyleTransfer.ipynb"
    stub_path.parent.mkdir(parents=True)
    nbformat.write(stub_notebook("StyleTransfer"), stub_path)
    start = time.perf_counter()
    try:
        limits = Limits(timeout_s=CORPUS_TIMEOUT_S, chunk_timeout_s=CORPUS_TIMEOUT_S)
        run = grade_path(root, out, GradingSettings("public", limits=limits), workers=2, progress=False)
        seconds = time.perf_counter() - start
        write_summary(run.results, out / "corpus-summary.md", seconds)
        yield GradedCorpus(
            results={r.student: r for r in run.results},
            out=out,
            token=token,
            canary=canary,
            connections=received,
            protections=sandbox_protections(),
            seconds=seconds,
            cases={c.name: c for c in CASES},
            secret=secret,
        )
    finally:
        traps.close()
        server.close()
        canary.unlink(missing_ok=True)
        for evil in REPO.glob(f"evil-{token}*"):
            evil.unlink()
        for pid in processes_with(token):  # never leave escapees behind, even when a test fails
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
