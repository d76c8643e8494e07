"""Rules read from the student's source code: Python loops (following the function's calls) and rebinding.

A graded function may hide its loop in a helper (``def tv_loss(...): return _tv(...)``) or be an alias of
one (``tv_loss = _tv_loop``). The loop rule therefore follows every call of a function that the
notebook itself defines, and every alias, from the graded function down. Sources come from the
notebook's code chunks in the batch grader (:class:`ChunkSources`) and from the live function in a
student's kernel (:class:`LiveSources`); neither runs any code.
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = [
    "ChunkSources",
    "LiveSources",
    "Loop",
    "Sources",
    "python_loops",
    "rebinds",
]

_LOOPS = (ast.For, ast.While, ast.AsyncFor, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


class Sources(Protocol):
    """Where the source code of the notebook's functions comes from."""

    def source_of(self, name: str) -> str | None:
        """Source of the function ``name`` means in the notebook (aliases followed), ``None`` if unknown."""

    def resolve(self, name: str) -> str:
        """The name of the function ``name`` is bound to (itself, unless it is an alias)."""


@dataclass(frozen=True)
class Loop:
    """A Python loop found by :func:`python_loops`.

    Attributes:
        function: the function it is in (the graded one or a helper it calls).
        line: its line in that function's source (1-based).
    """

    function: str
    line: int

    def __str__(self) -> str:
        return f"line {self.line} of {self.function}"


def _parse(source: str | None) -> ast.Module | None:
    if not source:
        return None
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


class ChunkSources:
    """Sources of the top-level definitions in a notebook's code chunks, as Jupyter would bind them.

    Args:
        chunks: ``(code, defines)`` pairs in notebook order (the batch grader's code chunks): a later
            ``def`` or assignment of a name replaces an earlier one.
    """

    def __init__(self, chunks: Iterable[tuple[str, str | None]]) -> None:
        self._bound: dict[str, str | ast.AST] = {}
        for code, defines in chunks:
            if defines:
                self._bound[defines] = code
                continue
            tree = _parse(code)
            for node in tree.body if tree is not None else ():
                if isinstance(node, ast.Assign):
                    for target in node.targets:
                        if isinstance(target, ast.Name):
                            self._bound[target.id] = node.value

    def resolve(self, name: str) -> str:
        """The name of the definition ``name`` is bound to last, through ``a = b`` aliases."""
        seen = set()
        while isinstance(bound := self._bound.get(name), ast.Name) and name not in seen:
            seen.add(name)
            name = bound.id
        return name

    def source_of(self, name: str) -> str | None:
        """The source of the definition ``name`` is bound to last, through ``a = b`` aliases."""
        bound = self._bound.get(self.resolve(name))
        return bound if isinstance(bound, str) else None


class LiveSources:
    """Sources of a live function (in the student's kernel) and of the notebook functions it calls.

    Args:
        name: the graded function's name.
        func: the student's function object.
    """

    def __init__(self, name: str, func: Callable[..., Any]) -> None:
        self._root = name
        self._func = func

    def _target(self, name: str) -> Any:
        return self._func if name == self._root else getattr(self._func, "__globals__", {}).get(name)

    def resolve(self, name: str) -> str:
        """The name the function ``name`` refers to was defined with (``_tv_loop`` for an alias)."""
        return (
            getattr(self._target(name), "__name__", name) if inspect.isfunction(self._target(name)) else name
        )

    def source_of(self, name: str) -> str | None:
        """Source of ``name``: the function itself, or a function of the same notebook it refers to."""
        target = self._target(name)
        same_notebook = getattr(target, "__module__", None) == getattr(self._func, "__module__", None)
        if target is None or not inspect.isfunction(target) or not same_notebook:
            return None
        try:
            return inspect.getsource(target)
        except (OSError, TypeError):
            return None


def python_loops(name: str, sources: Sources | None) -> list[Loop]:
    """Every ``for`` / ``while`` loop and comprehension in function ``name`` and the notebook functions
    it calls, directly or through other notebook functions (each function read once)."""
    if sources is None:
        return []
    found: list[Loop] = []
    pending, seen = [name], set()
    while pending:
        current = sources.resolve(pending.pop())
        if current in seen:
            continue
        seen.add(current)
        tree = _parse(sources.source_of(current))
        if tree is None:
            continue
        for node in ast.walk(tree):
            if isinstance(node, _LOOPS):
                found.append(Loop(current, node.lineno))
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                pending.append(node.func.id)
    root = sources.resolve(name)
    return sorted(found, key=lambda loop: (loop.function != root, loop.function, loop.line))


def rebinds(source: str | None, variable: str) -> bool:
    """Whether the function assigns a new object to ``variable`` (``img = ...``), rather than changing it
    in place (``img += ...``, ``img.add_(...)``, ``img.data = ...``)."""
    tree = _parse(source)
    if tree is None:
        return False
    for node in ast.walk(tree):
        targets = node.targets if isinstance(node, ast.Assign) else []
        if isinstance(node, ast.AnnAssign | ast.NamedExpr):
            targets = [node.target]
        if any(isinstance(t, ast.Name) and t.id == variable for t in targets):
            return True
    return False
