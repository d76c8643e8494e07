"""Tests of autograder.isolation.protocol: typed messages, and a strict decoder for untrusted events."""

from __future__ import annotations

import json

import pytest

from autograder.isolation.protocol import (
    CallDone,
    CallRequest,
    Chunk,
    Isolated,
    NotebookCode,
    Ready,
    SpawnConfig,
    SpawnRequest,
    StopRequest,
    decode,
    encode,
)
from autograder.settings import Limits


def test_messages_round_trip() -> None:
    """Does every kind of message come back equal, nested ones (Limits, chunks) included?"""
    config = SpawnConfig({"HOME": "/h"}, "/c.json", "/h", "/s.txt", ["/x"], True, None, Limits(timeout_s=3))
    for message in (
        SpawnRequest(config),
        CallRequest("f", "/in", "/out", "/txt", seed=3),
        Isolated({"uid": "dropped"}),
        Ready(["cell 1: oops"], 0.5),
        CallDone(status=9),
        StopRequest(),
        NotebookCode([Chunk("cell 1", "import os", 2)]),
    ):
        assert decode(encode(message), type(message)) == message


@pytest.mark.parametrize(
    "line",
    [
        b"not json",
        b"[1, 2]",
        b'{"kind": "ready", "problems": "not a list"}',
        b'{"kind": "ready", "problems": [], "extra": 1}',
        b'{"kind": "call_done", "status": 1099511627776000000000000}',
        b'{"kind": "call_done", "status": true}',
        b'{"kind": "isolated", "protections": {"a": 1}}',
        b'{"kind": "nonsense"}',
        b"[" * 100_000,
    ],
    ids=["garbage", "list", "mistyped", "extra", "huge-int", "bool-as-int", "dict-value", "kind", "deep"],
)
def test_malformed_events_are_none(line: bytes) -> None:
    """Is anything malformed (or an integer outside 64 bits) read as no message, without raising?"""
    assert decode(line, Ready, CallDone, Isolated) is None


def test_unexpected_kinds_are_refused() -> None:
    """Is a well-formed message of a kind the receiver does not expect refused?"""
    assert decode(encode(CallDone(status=0)), Ready) is None
    assert json.loads(encode(CallDone(status=0)))["kind"] == "call_done"
