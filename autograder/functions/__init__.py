"""The graded functions: one module each in this package, registered where it is defined.

Each module holds one :class:`~autograder.checks.base.GradedFunction` subclass decorated with
:func:`register`: everything about that function (notebook, points, tolerance, check inputs, verdicts,
named mistakes). Modules are discovered when this package is imported, so adding a graded function is
one new module here plus its solution cell in ``solutions/<Notebook>.ipynb`` (see docs/grading.md,
"Adding a graded function"). :data:`FUNCTIONS` and :func:`functions_of` are views of the registry.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator, Mapping

from autograder.checks.base import GradedFunction
from autograder.course import NOTEBOOKS

__all__ = ["FUNCTIONS", "autograded_points", "function_names", "functions_of", "register", "unregister"]

_REGISTRY: dict[str, GradedFunction] = {}


def register(cls: type[GradedFunction]) -> type[GradedFunction]:
    """Class decorator: register one graded function (an instance of ``cls``) under its name.

    Raises:
        ValueError: an unknown notebook, a name registered twice, no positive points, a mistake id used
            twice, or a credit outside [0, 1).
    """
    fn = cls()
    if fn.notebook not in NOTEBOOKS:
        raise ValueError(f"{cls.__name__}: unknown notebook {fn.notebook!r}; known: {', '.join(NOTEBOOKS)}")
    if fn.name in _REGISTRY and type(_REGISTRY[fn.name]) is not cls:
        raise ValueError(f"{cls.__name__}: a graded function named {fn.name!r} is already registered")
    if not fn.points > 0:
        raise ValueError(f"{cls.__name__}: points must be positive, not {fn.points!r}")
    ids = [m.id for m in fn.mistakes]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{cls.__name__}: a mistake id is used twice: {ids}")
    if any(not 0 <= m.credit < 1 for m in fn.mistakes):
        raise ValueError(f"{cls.__name__}: every mistake's credit must be in [0, 1)")
    _REGISTRY[fn.name] = fn
    return cls


def unregister(name: str) -> None:
    """Remove a registered function (for tests that register a throw-away one)."""
    _REGISTRY.pop(name, None)


def _key(fn: GradedFunction) -> tuple[int, int, str]:
    return (list(NOTEBOOKS).index(fn.notebook), fn.order, fn.name)


class _Functions(Mapping[str, GradedFunction]):
    """Every registered function by name, in course order (notebook order, then position)."""

    def __getitem__(self, name: str) -> GradedFunction:
        try:
            return _REGISTRY[name]
        except KeyError:
            raise KeyError(f"no graded function named {name!r}; known: {', '.join(self)}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(_REGISTRY, key=lambda name: _key(_REGISTRY[name])))

    def __len__(self) -> int:
        return len(_REGISTRY)

    def __repr__(self) -> str:
        return f"FUNCTIONS({', '.join(self)})"


#: Every graded function by name, in course order.
FUNCTIONS: Mapping[str, GradedFunction] = _Functions()


def functions_of(notebook: str) -> list[GradedFunction]:
    """The graded functions of ``notebook``, in order.

    Raises:
        KeyError: for an unknown notebook.
    """
    if notebook not in NOTEBOOKS:
        raise KeyError(f"unknown notebook {notebook!r}; known: {', '.join(NOTEBOOKS)}")
    return [fn for fn in FUNCTIONS.values() if fn.notebook == notebook]


def function_names(notebook: str) -> tuple[str, ...]:
    """Names of the graded functions of ``notebook``, in order (``KeyError`` for an unknown one)."""
    return tuple(fn.name for fn in functions_of(notebook))


def autograded_points(notebook: str) -> float:
    """Points of all autograded functions of ``notebook`` (what the batch grader gives)."""
    return sum(fn.points for fn in functions_of(notebook))


for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
