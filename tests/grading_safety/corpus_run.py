"""Helpers of the grading-safety tests: the graded corpus record, escaped-process search, protections."""

from __future__ import annotations

import os
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path

from tests.grading_safety.safety_corpus import CASES, Case

#: Per-call limits for the corpus: runaway cases end in seconds, not the default minute.
CORPUS_TIMEOUT_S = 8.0
#: The released student notebook, graded in the same batch: no hostile case may beat it.
STUB_CASE = "released_stub"


@dataclass
class GradedCorpus:
    """The corpus after one ``grade_path`` run.

    Attributes:
        results: student (= case name) -> SubmissionResult.
        out: the grader's output folder.
        token: unique string in every process and file the cases create.
        canary: a repository file student code tries to delete.
        connections: what the local TCP server received (must stay empty).
        protections: what a sandbox reports as active on this machine.
        seconds: wall-clock time of the batch.
        cases: case name -> case.
        secret: the text of the host's System V segment (must appear in no result).
    """

    results: dict[str, object]
    out: Path
    token: str
    canary: Path
    connections: list[bytes]
    protections: dict[str, str]
    seconds: float
    cases: dict[str, Case] = field(default_factory=dict)
    secret: str = ""


def listen() -> tuple[socket.socket, list[bytes]]:
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


def sandbox_protections() -> dict[str, str]:
    """The protections a sandbox reports as active on this machine."""
    from autograder.isolation.sandbox import Sandbox

    with Sandbox([]) as box:
        return dict(box.protections)


def protection_active(protections: dict[str, str], need: str | None) -> bool:
    """Whether the protection a case relies on is active here (``protections`` from above)."""
    if need is None:
        return True
    if need == "uid":  # the grader's files are out of reach: another uid, or read-only mounts (userns)
        return protections.get("uid", "").startswith("dropped") or protections.get(
            "read_only", ""
        ).startswith("every mount")
    if need == "network":
        return "network namespace" in protections.get("network", "")
    if need == "hidden_paths":
        return "autograder/references" in protections.get("hidden_paths", "")
    if need == "view":
        return protections.get("view", "").startswith("default-deny")
    if need == "ipc":
        return protections.get("ipc_namespace", "").startswith("on")
    raise ValueError(f"unknown protection {need!r}")


def write_summary(results: list, path: Path, seconds: float) -> None:
    """A Markdown table of every case's result (for the closing note): status, score, message."""
    by_name = {c.name: c for c in CASES}
    lines = [
        f"Corpus graded in {seconds:.0f} s.",
        "",
        "| case | score | target: status | message / problem (excerpt) |",
        "|---|---|---|---|",
    ]
    for result in sorted(results, key=lambda r: r.student):
        case = by_name.get(result.student)
        target = case.target if case else None
        checks = [c for c in result.checks if c.function == target] if target else []
        status = f"{target}: {checks[0].status}" if checks else "-"
        statuses = ", ".join(sorted({c.status for c in result.checks}))
        text = checks[0].message if checks else "; ".join(result.problems) or f"checks: {statuses}"
        text = " ".join(text.split())[:140].replace("|", "/")
        lines.append(f"| {result.student} | {result.score:g}/{result.max_score:g} | {status} | {text} |")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
