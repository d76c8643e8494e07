"""Fixtures for the grading-safety corpus: the whole corpus graded once, as one batch."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from safety_corpus import CASES, REPO, Case, build_corpus, stub_notebook

#: Per-call limits for the corpus: runaway cases end in seconds, not the default minute.
CORPUS_TIMEOUT_S = 5.0
STUB_CASE = "released_stub"


@dataclass
class GradedCorpus:
    """The corpus after one ``grade_path`` run."""

    results: dict[str, object]
    out: Path
    token: str
    canary: Path
    connections: list[bytes]
    protections: str
    seconds: float
    cases: dict[str, Case] = field(default_factory=dict)


def _listen() -> tuple[socket.socket, list[bytes]]:
    """A local TCP server that records whatever connects (student code must not reach it)."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    received: list[bytes] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                try:
                    received.append(conn.recv(1024) or b"<connected>")
                except OSError:
                    received.append(b"<connected>")

    threading.Thread(target=serve, daemon=True).start()
    return server, received


def processes_with(token: str) -> list[int]:
    """PIDs of processes whose command line holds ``token`` (escaped student processes)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if token.encode() in cmdline:
            found.append(int(entry))
    return found


def sandbox_protections() -> str:
    """The protections a sandbox reports on this machine, as one lower-case text."""
    from autograder.sandbox import Sandbox

    with Sandbox([]) as box:
        protections = box.protections
    text = json.dumps(protections, default=str) if not isinstance(protections, str) else protections
    return text.lower()


def protection_active(protections: str, need: str | None) -> bool:
    """Whether the protection a case needs is reported active (``protections`` from above)."""
    if need is None:
        return True
    if need == "uid":
        return "uid" in protections and ("dropped" in protections or "nobody" in protections)
    if need == "network":
        return "network namespace" in protections
    if need == "hidden_paths":
        return "autograder/references" in protections
    raise ValueError(f"unknown protection {need!r}")


@pytest.fixture(scope="session")
def graded_corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GradedCorpus]:
    """Every corpus case (and the released stub) graded in one batch with 2 workers."""
    import time

    import nbformat

    from autograder.grading import grade_path
    from autograder.results import SubmissionResult
    from autograder.sandbox import Limits

    root = tmp_path_factory.mktemp("corpus")
    out = root / "graded"
    token = f"grading-safety-{uuid.uuid4().hex[:12]}"
    canary = REPO / f".grading-safety-canary-{token}"
    canary.write_text("the sandbox must not delete this file\n")
    server, received = _listen()
    values = {
        "TOKEN": token,
        "OUT": str(out),
        "REPO": str(REPO),
        "CANARY": str(canary),
        "REFS": str(REPO / "autograder" / "references" / "public.pt"),
        "PORT": str(server.getsockname()[1]),
    }
    build_corpus(root, values)
    stub_path = root / "submitted" / STUB_CASE / "StyleTransfer" / "StyleTransfer.ipynb"
    stub_path.parent.mkdir(parents=True)
    nbformat.write(stub_notebook("StyleTransfer"), stub_path)
    start = time.perf_counter()
    try:
        run = grade_path(
            root,
            out,
            workers=2,
            limits=Limits(timeout_s=CORPUS_TIMEOUT_S, chunk_timeout_s=CORPUS_TIMEOUT_S),
            reference_set="public",
            progress=False,
        )
        seconds = time.perf_counter() - start
        results: dict[str, SubmissionResult] = {r.student: r for r in run.results}
        yield GradedCorpus(
            results=results,
            out=out,
            token=token,
            canary=canary,
            connections=received,
            protections=sandbox_protections(),
            seconds=seconds,
            cases={c.name: c for c in CASES},
        )
    finally:
        server.close()
        canary.unlink(missing_ok=True)
        for evil in REPO.glob(f"evil-{token}*"):
            evil.unlink()
        for pid in processes_with(token):  # never leave escapees behind, even when a test fails
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
