"""What every graded function's check shares: the plug-in base class, its mistakes, and the default judge.

A graded function is one module under :mod:`autograder.functions` holding one subclass of
:class:`GradedFunction`: its notebook, points, tolerance, check inputs (:meth:`GradedFunction.cases`),
verdict logic and named :class:`Mistake`\\ s. It holds no computation of the graded value: the
reference outputs, and the outputs of every mistake recognised by its output, are DATA built from the
solution notebooks (:mod:`autograder.reference_build`) and handed to the judge as a
:class:`FunctionReference`.

The default judge compares what the student's function gave on every case with the reference (type,
shape, finiteness, then the relative error of :attr:`GradedFunction.tolerance`); when it fails, the first
mistake whose stored outputs the student's reproduce on EVERY case names the verdict, with its hint and
credit; a mistake detected from the source (a Python loop) can still cost points when the values pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import torch

from autograder.checks.compare import Tolerance, as_tensor_result
from autograder.checks.errors import error_hint
from autograder.checks.source import Sources, python_loops
from autograder.runner import Call, CallOutcome

__all__ = [
    "FunctionReference",
    "GradedFunction",
    "GradingContext",
    "Mistake",
    "Verdict",
]


@dataclass
class Verdict:
    """A check's judgement of one function, before points are attached.

    Attributes:
        status: ``"passed"``, ``"partial"``, ``"failed"``, ``"not_implemented"`` or a run status
            (``"error"``, ``"timeout"``, ``"memory"``, ``"crashed"``, ``"missing"``).
        fraction: share of the function's points earned, in [0, 1].
        message: what was found.
        hint: how to fix it.
        rel_error: measured relative error (the worst case), if values were compared.
        threshold: accepted relative error, if values were compared.
        mistake: id of the named mistake (a :class:`Mistake` id or an error-hint id), ``""`` if none.
    """

    status: str
    fraction: float
    message: str
    hint: str = ""
    rel_error: float | None = None
    threshold: float | None = None
    mistake: str = ""


@dataclass(frozen=True)
class Mistake:
    """A mistake a check can name: what it looks like, the hint that teaches the fix, its credit.

    How to reproduce it is not here (it would be solution code): it is a text edit of the solution
    cell, stored in that cell's metadata (``metadata.autograder.edits[<id>]``), which the reference
    build runs to get the mistake's outputs and the demo and tests use to make a student who makes it.

    Attributes:
        id: short id, unique in the course, e.g. ``"gram_unnormalized"`` (in results and reports).
        label: what the student's result looks like, e.g. ``"not normalized"`` (in the message).
        hint: names the mistake and the idea that fixes it, never code that computes the answer
            (tests/autograder/test_hints.py holds every hint to that).
        credit: share of the function's points it still earns, in [0, 1].
        detect: how it is recognised: ``"output"`` (the student's outputs equal the edited solution's
            on every case), ``"error"`` (a text of the error message, :attr:`error_text`), ``"loops"``
            (a Python loop in the function or a notebook function it calls) or ``"judge"`` (the
            function's own :meth:`GradedFunction.judge` names it).
        error_text: texts of which one in an error message names the mistake, whatever :attr:`detect`
            says (a mistake that gives a value with one student's helper and an error with another's).
        evidence: for ``detect="judge"``, what the check looks at, in a few words (docs/grading.md).
    """

    id: str
    label: str
    hint: str
    credit: float = 0.0
    detect: Literal["output", "error", "loops", "judge"] = "output"
    error_text: tuple[str, ...] = ()
    evidence: str = ""


@dataclass
class FunctionReference:
    """The reference data of one graded function, read from a reference file.

    Attributes:
        params: what the cases were built from (``{"seed": ...}``, or choices made at build time).
        calls: the check's calls (one per case), rebuilt from :attr:`params` and verified by digest.
        expected: per case, the solution's :meth:`GradedFunction.observed` value.
        variants: per mistake id, its outputs on every case (mistakes detected by output).
        extras: other data a function's judge needs, built from the solution (e.g. fooling iterates).
    """

    params: dict[str, Any]
    calls: list[Call]
    expected: list[Any]
    variants: dict[str, list[Any]] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass
class GradingContext:
    """What the grader knows besides the outcomes.

    Attributes:
        sources: where to read the student's source (loop and rebinding rules); ``None`` if unknown.
    """

    sources: Sources | None = None


_RUN_FAILURES = {
    "timeout": "ran out of time",
    "memory": "ran out of memory",
    "crashed": "crashed the process",
    "bad_output": "returned something that is not plain data",
    "error": "raised an exception",
}


class GradedFunction:
    """One function students implement; subclasses live in :mod:`autograder.functions`, one per module.

    Class attributes to set: :attr:`name`, :attr:`notebook`, :attr:`order`, :attr:`points`,
    :attr:`tolerance`, :attr:`hint`, :attr:`mistakes`; method to write: :meth:`cases`.
    """

    #: the function's name in the notebook (CS231n's), also its solution cell's nbgrader ``grade_id``
    name: ClassVar[str]
    #: the notebook it belongs to (a key of :data:`autograder.course.NOTEBOOKS`)
    notebook: ClassVar[str]
    #: its position among the notebook's graded functions (smaller first)
    order: ClassVar[int]
    #: points of its autograded test cell ``test_<name>``
    points: ClassVar[float]
    #: how its output is compared with the reference
    tolerance: ClassVar[Tolerance]
    #: a loss: a Python number or any one-element tensor is accepted
    scalar: ClassVar[bool] = False
    #: fallback hint when no mistake is named: what was checked and what to re-read. ``{threshold}``
    #: is replaced by the tolerance.
    hint: ClassVar[str]
    #: what the function returns in the student's stub when nothing is written (its variable name), for
    #: the NOT IMPLEMENTED message; empty when the stub has no return statement
    stub_returns: ClassVar[str] = ""
    #: every mistake the check can name
    mistakes: ClassVar[tuple[Mistake, ...]] = ()

    # ------------------------------------------------------------------ facts
    @property
    def test_cell(self) -> str:
        """``grade_id`` of its nbgrader test cell."""
        return f"test_{self.name}"

    def mistake(self, mistake_id: str) -> Mistake:
        """The :class:`Mistake` with id ``mistake_id``."""
        for mistake in self.mistakes:
            if mistake.id == mistake_id:
                return mistake
        raise KeyError(f"{self.name} has no mistake {mistake_id!r}")

    def fallback_hint(self) -> str:
        """:attr:`hint` with the threshold written in."""
        return self.hint.replace("{threshold}", f"{self.tolerance.threshold:.0e}")

    # ------------------------------------------------------------------ inputs
    def params(self, seed: int) -> dict[str, Any]:
        """What the cases are built from for ``seed`` (functions choosing cases at build time override
        :meth:`choose_params` instead)."""
        return {"seed": seed}

    def cases(self, params: dict[str, Any]) -> list[Call]:
        """The check's calls, built deterministically from ``params``."""
        raise NotImplementedError

    def case_labels(self, ref: FunctionReference) -> list[str]:
        """A short description of each case, for messages (default ``case 1``, ``case 2``, ...)."""
        return [f"case {i + 1}" for i in range(len(ref.calls))]

    def observed(self, outcome: CallOutcome, call: Call) -> Any:
        """What is compared from a call's outcome (default: the return value; in-place functions
        override). ``None`` means nothing was done (NOT IMPLEMENTED)."""
        return outcome.value

    # ------------------------------------------------------------ reference build hooks
    def choose_params(self, seed: int, build: Any) -> dict[str, Any]:
        """Build time: the params of the cases for ``seed``; ``build`` runs the solution (see
        :class:`autograder.reference_build.SolutionRunner`). Default :meth:`params`."""
        return self.params(seed)

    def extras(self, calls: Sequence[Call], build: Any) -> dict[str, Any]:
        """Build time: more reference data for :meth:`judge`, computed by running the solution."""
        return {}

    # ------------------------------------------------------------------ verdicts
    def named(
        self,
        mistake_id: str,
        message: str,
        rel_error: float | None = None,
        threshold: float | None = None,
        status: str | None = None,
    ) -> Verdict:
        """The verdict naming ``mistake_id``: its hint and credit (``partial`` when it earns any)."""
        mistake = self.mistake(mistake_id)
        status = status or ("partial" if mistake.credit > 0 else "failed")
        return Verdict(status, mistake.credit, message, mistake.hint, rel_error, threshold, mistake.id)

    def not_implemented(self, what: str = "") -> Verdict:
        """The NOT IMPLEMENTED YET verdict (0 points), saying where to write the code (no hint: the stub's
        docstring and TODO say what to write)."""
        if not what:
            what = f"{self.stub_returns} is still None" if self.stub_returns else "the function returned None"
        where = "Write your code between the START and END markers"
        where += "." if self.stub_returns else " and return the result."
        return Verdict("not_implemented", 0.0, f"NOT IMPLEMENTED YET: {what}. {where}")

    def grade(self, outcomes: Sequence[CallOutcome], ref: FunctionReference, ctx: GradingContext) -> Verdict:
        """Grade the outcomes of the cases: a failed run first (the first case that failed), then
        :meth:`judge`. ``outcomes`` may stop at the first case that did not run ``"ok"``."""
        labels = self.case_labels(ref)
        for index, outcome in enumerate(outcomes):
            if outcome.status != "ok":
                where = f" ({labels[index]})" if len(ref.calls) > 1 else ""
                return self.run_failure(outcome, where)
        if len(outcomes) != len(ref.calls):
            raise ValueError(f"{self.name}: {len(outcomes)} outcomes for {len(ref.calls)} cases")
        return self.judge(outcomes, ref, ctx)

    def run_failure(self, outcome: CallOutcome, where: str = "") -> Verdict:
        """The verdict for a call that did not return: missing, an error (named when recognised), a
        timeout, a crash, too much memory, or something that is not plain data."""
        if outcome.status == "missing":
            return Verdict(
                "missing",
                0.0,
                f"{self.name} is not defined in the notebook",
                "Keep the function's name and signature exactly as given.",
            )
        label = _RUN_FAILURES.get(outcome.status, outcome.status)
        status = outcome.status if outcome.status != "bad_output" else "failed"
        text = f"{self.name} {label}{where}: {outcome.message}".strip()
        if status == "error":
            for mistake in self.mistakes:
                if any(text in outcome.message for text in mistake.error_text):
                    return Verdict(status, mistake.credit, text, mistake.hint, mistake=mistake.id)
        mistake_id, hint = error_hint(outcome.message)
        return Verdict(status, 0.0, text, hint or self.fallback_hint(), mistake=mistake_id)

    def judge(self, outcomes: Sequence[CallOutcome], ref: FunctionReference, ctx: GradingContext) -> Verdict:
        """Compare every case with the reference; name a mistake when the student's outputs are its
        outputs; apply the loop rule when the values pass."""
        observed = [self.observed(o, c) for o, c in zip(outcomes, ref.calls, strict=True)]
        if any(v is None for v in observed):
            return self.not_implemented()
        verdict = self.compare(observed, ref)
        return self.loop_rule(verdict, ctx)

    def compare(self, observed: Sequence[Any], ref: FunctionReference) -> Verdict:
        """The value comparison of :meth:`judge`, case by case (every value not ``None``)."""
        labels = self.case_labels(ref)
        several = len(ref.calls) > 1
        threshold = self.tolerance.threshold
        checked = [as_tensor_result(v, e, self.scalar) for v, e in zip(observed, ref.expected, strict=True)]
        values = [tensor for tensor, _ in checked]
        problems = [(index, problem) for index, (_, problem) in enumerate(checked) if problem]
        if problems:
            index, problem = problems[0]
            where = f" ({labels[index]})" if several else ""
            if (named := self.match_output(values, ref)) is not None:
                return self.named(named.id, f"{problem}{where}; looks like: {named.label}")
            return Verdict("failed", 0.0, problem + where, self.fallback_hint())
        errors = [self.tolerance.error(v, e) for v, e in zip(values, ref.expected, strict=True)]
        worst = max(range(len(errors)), key=errors.__getitem__)
        err = errors[worst]
        cases = f" ({len(errors)} cases)" if several else ""
        if err < threshold:
            return Verdict("passed", 1.0, f"rel_error {err:.1e} < {threshold:.0e}{cases}", "", err, threshold)
        where = f" ({labels[worst]})" if several else ""
        message = f"rel_error {err:.1e} >= {threshold:.0e}{where}"
        if (named := self.match_output(values, ref)) is not None:
            return self.named(named.id, f"{message}; looks like: {named.label}", err, threshold)
        return Verdict("failed", 0.0, message, self.fallback_hint(), err, threshold)

    def match_output(self, values: Sequence[torch.Tensor | None], ref: FunctionReference) -> Mistake | None:
        """The first mistake detected by output whose stored outputs ``values`` reproduce on every case
        (a case whose value is ``None`` matches nothing)."""
        for mistake in self.mistakes:
            outputs = ref.variants.get(mistake.id) if mistake.detect == "output" else None
            if outputs is None or len(outputs) != len(values):
                continue
            if all(_same(v, out, self.tolerance) for v, out in zip(values, outputs, strict=True)):
                return mistake
        return None

    def loop_rule(self, verdict: Verdict, ctx: GradingContext) -> Verdict:
        """A passed (or partially credited) result costs points when the function, or a notebook function
        it calls, holds a Python loop and the function has a mistake detected by ``"loops"``."""
        rule = next((m for m in self.mistakes if m.detect == "loops"), None)
        if rule is None or verdict.status not in ("passed", "partial"):
            return verdict
        loops = python_loops(self.name, ctx.sources)
        if not loops:
            return verdict
        found = f"{self.name} uses a Python loop ({loops[0]})"
        if verdict.status == "partial" and verdict.fraction <= rule.credit:
            verdict.message += f"; also, {found}"
            return verdict
        return self.named(
            rule.id, f"values match ({verdict.message}) but {found}", verdict.rel_error, verdict.threshold
        )


def _same(value: torch.Tensor | None, output: Any, tolerance: Tolerance) -> bool:
    if value is None or not isinstance(output, torch.Tensor):
        return False
    output = output.reshape(()) if value.dim() == 0 and output.numel() == 1 else output
    return output.shape == value.shape and tolerance.error(value, output) < tolerance.match
