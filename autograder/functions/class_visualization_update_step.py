"""``class_visualization_update_step`` (NetworkVisualization): one in-place step of regularized ascent."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from autograder.checks.base import FunctionReference, GradedFunction, GradingContext, Mistake, Verdict
from autograder.checks.compare import Tolerance
from autograder.checks.inputs import CHECK_SIZE
from autograder.checks.source import rebinds
from autograder.functions import register
from autograder.runner import MODEL_FLOAT64, Call, CallOutcome

#: The cases: (side in pixels, standard deviation of the random image, l2_reg). The first is CS231n-like;
#: in the second the image is small and l2_reg large, so that a penalty on the norm instead of its square
#: (whose gradient has length l2_reg whatever the image) changes the step by ~5 % instead of 0.1 %.
CASES = ((CHECK_SIZE, 0.5, 1e-2), (64, 0.03, 0.5))
LEARNING_RATE = 5.0


@register
class ClassVisualizationUpdateStep(GradedFunction):
    """Random float64 128 px images and target classes from the seed; the steps taken are compared."""

    name = "class_visualization_update_step"
    notebook = "NetworkVisualization"
    order = 3
    points = 4.0
    tolerance = Tolerance(
        1e-4,
        "norm",
        why="Compared on the step (image after minus image before), so the image cannot hide a wrong "
        "step; float64, the same noise argument as for saliency (correct steps agree within 1e-15). The "
        "closest mistakes, a penalty on the norm instead of its square and a missing regularizer, are 0.23 "
        "away (and 0.04 from each other on the second case, where l2_reg is large).",
    )
    hint = (
        "Checked: the step your function takes in place (img after minus img before) on two random images "
        "(l2_reg 0.01 and 0.5, learning_rate 5), against the reference steps (accepted when the norm-based "
        "rel_error is below {threshold}). Re-read 'Class visualization': gradient ASCENT on the regularized "
        "score s_y(I) - lambda * ||I||^2 (the squared L2 norm), the step normalized by the gradient's L2 "
        "norm, the update made in place inside `torch.no_grad()`, and the gradient reset after it."
    )
    mistakes = (
        Mistake(
            "class_vis_wrong_sign",
            "regularizer with the wrong sign",
            "Your step moves the wrong way on the L2 term. The objective is the class score MINUS l2_reg "
            "times the squared L2 norm of the image, so the regularizer is subtracted: its gradient must "
            "pull the pixels toward 0.",
        ),
        Mistake(
            "class_vis_unsquared_penalty",
            "penalty on the L2 norm, not on its square",
            "Your penalty is l2_reg times the L2 NORM of the image; the objective uses the SQUARED L2 norm "
            "(the sum of the squared pixels), whose gradient grows with each pixel's own value.",
        ),
        Mistake(
            "class_vis_no_regularizer",
            "regularizer missing",
            "Your step ignores the L2 regularization: the objective (in the docstring) includes the penalty "
            "l2_reg times the squared L2 norm of the image, and its gradient is part of the step.",
        ),
        Mistake(
            "class_vis_unnormalized",
            "unnormalized step",
            "Normalize the gradient: the step is learning_rate times the gradient divided by the gradient's "
            "L2 norm, so each step has length learning_rate whatever the gradient's scale.",
        ),
        Mistake(
            "class_vis_grad_not_zeroed",
            "img.grad left non-zero",
            "Zero the gradient after the step, in place (`.grad.zero_()`): backward() adds to .grad, so "
            "otherwise gradients accumulate across the steps of the visualization loop.",
            credit=0.5,
            detect="judge",
            evidence="img.grad after the call",
        ),
        Mistake(
            "class_vis_img_rebound",
            "img rebound to a new tensor instead of updated in place",
            "Your function assigns a new tensor to the name img (img = ...), which the caller never sees: "
            "the caller keeps its own img. Change the tensor itself, in place: an augmented assignment on "
            "img (+=) inside `torch.no_grad()`.",
            detect="judge",
            evidence="img unchanged, `img = ...` in the source",
        ),
    )

    def cases(self, params: dict[str, Any]) -> list[Call]:
        """Random float64 images (leaves that require grad, 128 and 64 px) and targets from the seed."""
        generator = torch.Generator().manual_seed(params["seed"] + 2)
        calls = []
        for size, std, l2_reg in CASES:
            img = std * torch.randn(1, 3, size, size, generator=generator, dtype=torch.float64)
            target = int(torch.randint(1000, (1,), generator=generator))
            args = (img.requires_grad_(), MODEL_FLOAT64, target, l2_reg, LEARNING_RATE)
            calls.append(Call(args=args, capture_args=(0,)))
        return calls

    def case_labels(self, ref: FunctionReference) -> list[str]:
        """``l2_reg=0.01``, ``l2_reg=0.5``."""
        return [f"l2_reg={call.args[3]:g}" for call in ref.calls]

    def observed(self, outcome: CallOutcome, call: Call) -> Any:
        """The step taken: img after minus img before (``None`` when img did not change)."""
        after = outcome.args.get(0, {}).get("value")
        if not isinstance(after, torch.Tensor) or after.shape != call.args[0].shape:
            return after
        step = after - call.args[0].detach()
        return None if step.abs().max() == 0 else step

    def judge(self, outcomes: Sequence[CallOutcome], ref: FunctionReference, ctx: GradingContext) -> Verdict:
        """Compare the steps; an unchanged img is named when the function rebinds it; correct steps that
        leave .grad non-zero earn half."""
        steps = [self.observed(o, c) for o, c in zip(outcomes, ref.calls, strict=True)]
        if any(step is None for step in steps):
            source = ctx.sources.source_of(self.name) if ctx.sources else None
            if rebinds(source, "img"):
                return self.named("class_vis_img_rebound", "img did not change: the function rebinds img")
            return self.not_implemented("img was not changed")
        verdict = self.compare(steps, ref)
        grads = [o.args[0].get("grad") for o in outcomes]
        if verdict.status == "passed" and any(g is not None and g.abs().max() > 0 for g in grads):
            return self.named(
                "class_vis_grad_not_zeroed",
                verdict.message + ", but img.grad was left non-zero",
                verdict.rel_error,
                verdict.threshold,
            )
        return verdict

    def not_implemented(self, what: str = "") -> Verdict:
        """NOT IMPLEMENTED YET: say that img is updated in place (the function returns nothing)."""
        verdict = super().not_implemented(what or "img was not changed")
        verdict.message = (
            f"NOT IMPLEMENTED YET: {what or 'img was not changed'}. Write your code between the START and "
            "END markers; it updates img in place (the function returns nothing)."
        )
        return verdict
