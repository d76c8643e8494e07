"""Tests of autograder.checks.source: the loop rule follows calls and aliases; rebinding is seen."""

from __future__ import annotations

import textwrap

from autograder.checks.source import ChunkSources, LiveSources, Loop, python_loops, rebinds


def _chunks(*sources: str) -> ChunkSources:
    """Sources as the batch grader sees them: one (code, defined name) per top-level statement."""
    pairs = []
    for source in sources:
        code = textwrap.dedent(source).strip()
        defines = code.split("(")[0].removeprefix("def ").strip() if code.startswith("def ") else None
        pairs.append((code, defines))
    return ChunkSources(pairs)


def test_loops_and_comprehensions_are_found_and_straight_code_is_not() -> None:
    """Are for/while loops and comprehensions found, and straight-line code not?"""
    sources = _chunks(
        "def a(x):\n    for i in range(3):\n        x = x + i\n    return x",
        "def b(x):\n    return sum(v for v in x)",
        "def c(x):\n    return x[1:] - x[:-1]",
    )
    assert python_loops("a", sources) == [Loop("a", 2)]
    assert python_loops("b", sources) == [Loop("b", 2)]
    assert python_loops("c", sources) == []


def test_a_loop_in_a_helper_is_found() -> None:
    """Is a loop in a notebook function the graded one calls (even two calls down) found?"""
    sources = _chunks(
        "def tv_loss(img, w):\n    return w * _both(img)",
        "def _both(img):\n    return _one(img)",
        "def _one(img):\n    total = 0\n    while total < 1:\n        total += 1\n    return total",
    )
    assert python_loops("tv_loss", sources) == [Loop("_one", 3)]


def test_an_alias_is_followed() -> None:
    """Is ``tv_loss = _tv_loop`` read as the loop it names?"""
    sources = _chunks("def _tv_loop(img, w):\n    return sum(x for x in img)", "tv_loss = _tv_loop")
    assert python_loops("tv_loss", sources) == [Loop("_tv_loop", 2)]


def test_the_last_definition_wins_and_recursion_ends() -> None:
    """Is the last definition used, as Jupyter would, and does a recursive helper not hang the rule?"""
    sources = _chunks(
        "def f(x):\n    for i in x:\n        pass",
        "def f(x):\n    return g(x)",
        "def g(x):\n    return f(x) if x else g(x - 1)",
    )
    assert python_loops("f", sources) == []


def test_live_sources_follow_only_the_notebook_s_functions() -> None:
    """In a student's kernel, are helpers of the same notebook followed, and library code never?"""
    namespace: dict = {"__name__": "notebook"}
    exec(
        "import torch\n"
        "def helper(x):\n    return [v for v in x]\n"
        "def f(x):\n    return torch.stack(helper(x))\n",
        namespace,
    )
    sources = LiveSources("f", namespace["f"])
    assert sources.source_of("torch") is None
    assert sources.source_of("stack") is None
    assert sources.source_of("f") is None  # exec'd code has no file: nothing to read, nothing invented


def test_rebinding_is_told_from_an_in_place_update() -> None:
    """Is ``img = img + d`` a rebinding and ``img += d`` / ``img.data = ...`` not?"""
    assert rebinds("def f(img):\n    img = img + 1", "img")
    assert not rebinds("def f(img):\n    img += 1", "img")
    assert not rebinds("def f(img):\n    img.data = img.data + 1", "img")
    assert not rebinds("def f(img):\n    other = img + 1", "img")
    assert not rebinds(None, "img")
