"""AST fingerprints of student functions, for the class report's "similar submissions" section.

Two functions get the same fingerprint when they are the same code after normalizing what a
student changes to disguise a copy without understanding it: formatting, comments, the docstring,
and the names of local variables and parameters (renamed ``v0, v1, ...`` in order of first
appearance). Names the function only reads (``torch``, ``F``, ``gram_matrix``), attribute names and
constants are kept: they are the code's meaning.

Short functions are identical by necessity (``return content_weight * ((a - b) ** 2).sum()``), so a
shared fingerprint means something only above :data:`MIN_NODES` nodes; see its comment for how the
cut-off was chosen. Even above it, a shared fingerprint is a lead to look at, never proof.
"""

from __future__ import annotations

import ast
import hashlib
from typing import Any

__all__ = ["MAX_SOURCE_CHARS", "MIN_NODES", "fingerprint", "normalized_dump"]

#: Smallest function body (AST nodes below the ``def``, docstring excluded) whose fingerprint the
#: report compares between students. Measured on the course's own code (tests/autograder/
#: test_similarity.py re-measures it): the solutions' content_loss has 18 nodes, style_loss 56,
#: class_visualization_update_step 72, gram_matrix 73, compute_saliency_maps 75 -- each one formula
#: or 2-4 statements that the notebook's text and hints spell out, so independent students write
#: them identically -- while tv_loss has 83, make_fooling_image 106 (a loop with a stopping rule
#: and a normalized in-place step, where students make many small choices), and the Attribution
#: notebook's integrated_gradients 117, rank_correlation 165 and grad_cam 223. The released stubs have
#: 1-24 nodes and the classic-mistake edits 21-178. 80 compares the two longest solutions and every
#: submission whose own code is longer than the solutions' short forms.
MIN_NODES = 80

#: Sources longer than this get no fingerprint (a student function is a few hundred characters).
MAX_SOURCE_CHARS = 200_000


class _Renamer(ast.NodeTransformer):
    """Renames parameters and every name the function assigns to ``v0, v1, ...`` (first appearance)."""

    def __init__(self, local: set[str]) -> None:
        self.local = local
        self.names: dict[str, str] = {}

    def _new(self, name: str) -> str:
        return self.names.setdefault(name, f"v{len(self.names)}")

    def visit_arg(self, node: ast.arg) -> ast.arg:
        node.arg = self._new(node.arg)
        node.annotation = None
        return node

    def visit_Name(self, node: ast.Name) -> ast.Name:
        if node.id in self.local:
            node.id = self._new(node.id)
        return node


def _local_names(func: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    local = {a.arg for a in ast.walk(func.args) if isinstance(a, ast.arg)}
    for node in ast.walk(func):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            local.add(node.id)
    return local


def _function(source: str, name: str | None) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef)
    found = [n for n in ast.walk(tree) if isinstance(n, kinds) and (name is None or n.name == name)]
    return found[-1] if found else None  # the last definition is the one a notebook keeps


def normalized_dump(source: str, name: str | None = None) -> tuple[str, int] | None:
    """The normalized AST of function ``name`` in ``source`` as text, and its body's node count.

    Args:
        source: Python source holding the function (e.g. from ``extraction.function_source``).
        name: the function's name; ``None``: the last function defined.

    Returns:
        ``(dump, nodes)``, or ``None`` when the source does not parse or defines no such function.
    """
    func = _function(source, name)
    if func is None:
        return None
    body = list(func.body)
    first = body[0] if body else None
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        body = body[1:]  # the docstring: given by the assignment, and free to reword
    func.body = body or [ast.Pass()]
    func.decorator_list = []
    func.returns = None
    _Renamer(_local_names(func)).visit(func)
    nodes = sum(1 for stmt in func.body for _ in ast.walk(stmt))
    dump = ast.dump(ast.Module(body=func.body, type_ignores=[]), annotate_fields=False)
    return f"{ast.dump(func.args, annotate_fields=False)}\n{dump}", nodes


def fingerprint(source: str | None, name: str | None = None) -> dict[str, Any] | None:
    """A function's fingerprint: ``{"digest": 16 hex digits, "nodes": body size}``.

    Args:
        source: Python source holding the function; ``None`` or unparsable gives ``None``.
        name: the function's name (default: the last function defined).

    Example:
        >>> a = fingerprint("def f(x):\\n    y = x + 1  # one\\n    return y")
        >>> a == fingerprint("def f(img):\\n    out = img+1\\n    return out")
        True
    """
    if not source or len(source) > MAX_SOURCE_CHARS:
        return None
    try:
        normalized = normalized_dump(source, name)
    except (RecursionError, MemoryError):  # pathological nesting: no fingerprint, never a grader error
        return None
    if normalized is None:
        return None
    dump, nodes = normalized
    return {"digest": hashlib.sha256(dump.encode()).hexdigest()[:16], "nodes": nodes}
