"""Tests of autograder.runner: the call description, the plain-data codec and the in-process runner."""

from __future__ import annotations

import pickle

import pytest
import torch

from autograder.runner import (
    MODEL,
    Call,
    InProcessRunner,
    PlainDataError,
    plain_data,
    prepare_call,
    student_traceback,
)


def test_plain_data_accepts_plain_values_and_strips_subclasses() -> None:
    """Are tensors (subclasses dropped), numbers, strings and containers with str/int keys kept?"""
    value = plain_data({"a": [torch.nn.Parameter(torch.ones(2)), 1, 2.0, None, "s", (True,)], 3: "x"})
    assert type(value["a"][0]) is torch.Tensor
    assert value["a"][1:] == [1, 2.0, None, "s", (True,)]
    assert value[3] == "x"


@pytest.mark.parametrize(
    "bad",
    [
        [object()],
        {1.5: 2},
        torch.eye(2).to_sparse(),
        torch.zeros(2).to(torch.float8_e4m3fn),
        torch.zeros(2, dtype=torch.complex64),
    ],
    ids=["object", "float-key", "sparse", "float8", "complex"],
)
def test_plain_data_refuses_other_values(bad: object) -> None:
    """Are objects, odd keys, sparse, float8 and complex tensors refused with PlainDataError?"""
    with pytest.raises(PlainDataError):
        plain_data(bad)


def test_plain_data_is_capped_in_depth_and_size() -> None:
    """Does nesting past the depth cap, or more values than the node cap, fail fast?"""
    nested: list = []
    for _ in range(20):
        nested = [nested]
    with pytest.raises(PlainDataError, match="deeply"):
        plain_data(nested)
    with pytest.raises(PlainDataError, match="more than"):
        plain_data(list(range(1000)), max_nodes=100)


def test_shared_containers_cannot_make_the_walk_exponential() -> None:
    """A small pickle sharing one list at every level (100**6 paths) is refused quickly, not walked."""
    level: list = [0]
    for _ in range(6):
        level = [level] * 100
    data = pickle.dumps(level)
    assert len(data) < 5000
    with pytest.raises(PlainDataError, match="more than"):
        plain_data(pickle.loads(data))


def test_prepare_call_gives_fresh_copies_and_models() -> None:
    """Does every call get its own tensors and a fresh model for the MODEL sentinel?"""
    x = torch.ones(2, requires_grad=True)
    args, _ = prepare_call(Call((x, MODEL)), lambda: torch.nn.Linear(2, 2))
    assert args[0] is not x and args[0].requires_grad and torch.equal(args[0], x)
    assert isinstance(args[1], torch.nn.Linear)


def test_in_process_runner_reports_each_kind_of_outcome() -> None:
    """ok, error (with the student's frame), missing and bad_output outcomes, torch state restored."""

    def double(x):
        return x * 2

    def broken(x):
        return x / "no"

    def odd(x):
        return object()

    runner = InProcessRunner({"double": double, "broken": broken, "odd": odd}, torch.nn.Identity())
    ok = runner.run("double", Call((torch.ones(2),)))
    assert ok.status == "ok" and torch.equal(ok.value, torch.full((2,), 2.0))
    assert runner.run("broken", Call((torch.ones(2),))).status == "error"
    assert runner.run("nothing", Call(())).status == "missing"
    assert runner.run("odd", Call((1,))).status == "bad_output"
    assert torch.is_grad_enabled() and torch.get_default_dtype() == torch.float32


def test_student_traceback_keeps_only_student_frames() -> None:
    """Are only frames from cells ('cell N ...' files) listed?"""
    code = compile("def f():\n    return 1 / 0\n", "cell 4 (f)", "exec")
    namespace: dict = {}
    exec(code, namespace)
    try:
        namespace["f"]()
    except ZeroDivisionError as exc:
        text = student_traceback(exc)
    assert text.startswith("ZeroDivisionError") and "cell 4 (f), line 2" in text
    assert "test_runner.py" not in text
