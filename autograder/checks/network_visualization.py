"""Checks for NetworkVisualization.ipynb: saliency maps, fooling images, class-visualization step."""

from __future__ import annotations

import copy
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from autograder.checks.base import FunctionCheck, GradingContext, Variant, Verdict, compare_values
from autograder.runner import MODEL, MODEL_FLOAT64, Call, CallOutcome
from autograder.tolerances import CHECK_SIZE, FOOLING_MAX_L2, FOOLING_MAX_STEPS, REL_ERROR

__all__ = ["ClassVisualizationStepCheck", "FoolingCheck", "SaliencyCheck"]


@lru_cache(maxsize=1)
def _samples() -> tuple[np.ndarray, np.ndarray]:
    from course_utils.data import load_imagenet_samples

    X, y, _ = load_imagenet_samples()
    return X, y


def _images(indices: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    from course_utils.image import preprocess

    X, y = _samples()
    return preprocess(X[indices], size=CHECK_SIZE), torch.from_numpy(y[indices])


def _float64(model: torch.nn.Module) -> torch.nn.Module:
    """A float64 copy of ``model`` (the gradient checks compute in float64; see MODEL_FLOAT64)."""
    return copy.deepcopy(model).double()


def _input_gradient(
    model: torch.nn.Module, X: torch.Tensor, objective: Callable[[torch.Tensor], torch.Tensor]
) -> torch.Tensor:
    X = X.detach().clone().requires_grad_()
    objective(model(X)).backward()
    return X.grad.detach()


class SaliencyCheck(FunctionCheck):
    """compute_saliency_maps on two bundled photos, compared elementwise with the reference."""

    function = "compute_saliency_maps"
    hint = (
        "Forward X, select each image's correct-class score with scores.gather(1, y.view(-1, 1)) "
        "(not the sum of all scores, not a loss), sum them, call backward(), then take "
        "X.grad.abs() and the max over the channel dimension (dim=1)."
    )

    def make_call(self, seed: int) -> Call:
        """Two distinct bundled photos chosen by the seed, at 128 px, with their true labels; float64."""
        indices = np.random.default_rng(seed).choice(len(_samples()[1]), size=2, replace=False)
        X, y = _images(np.sort(indices))
        return Call(args=(X.double(), y, MODEL_FLOAT64))

    def variants(self, call: Call, model: torch.nn.Module) -> dict[str, Variant]:
        """Summed scores, a loss, a missing abs, a sum over channels."""
        X, y = call.args[0], call.args[1]
        model = _float64(model)
        correct = _input_gradient(model, X, lambda s: s.gather(1, y.view(-1, 1)).sum())
        summed = _input_gradient(model, X, lambda s: s.sum())
        loss = _input_gradient(model, X, lambda s: F.cross_entropy(s, y))
        return {
            "sum of all class scores": Variant(
                summed.abs().amax(dim=1),
                "You back-propagated the sum of ALL class scores. Gather the correct class of each image: "
                "scores.gather(1, y.view(-1, 1)).squeeze() (or scores[torch.arange(N), y]), then sum.",
            ),
            "gradient of the loss": Variant(
                loss.abs().amax(dim=1),
                "You used the gradient of the cross-entropy loss; the saliency map is the gradient of the "
                "unnormalized correct-class SCORE.",
            ),
            "no absolute value": Variant(
                correct.amax(dim=1), "Take the absolute value of the gradient before the max over channels."
            ),
            "sum over channels": Variant(
                correct.abs().sum(dim=1), "Take the MAX over the 3 channels (dim=1), not the sum or mean."
            ),
            "mean over channels": Variant(
                correct.abs().mean(dim=1), "Take the MAX over the 3 channels (dim=1), not the sum or mean."
            ),
        }

    def judge(self, outcome: CallOutcome, expected: Any, call: Call, ctx: GradingContext) -> Verdict:
        """Shape (N, H, W), then rel_error against the reference and known mistakes."""
        return compare_values(
            outcome.value,
            expected,
            REL_ERROR[self.function],
            ctx.variants,
            self.hint,
            norm_based=self.norm_based,
        )


class FoolingCheck(FunctionCheck):
    """make_fooling_image, checked by property: the grader's model predicts the target, small change."""

    function = "make_fooling_image"
    needs_model = True
    hint = (
        "Loop at most 100 times: forward, stop if the prediction is target_y, else backward the "
        "target score, and inside `with torch.no_grad():` do X_fooling += learning_rate * g / g.norm() "
        "and X_fooling.grad.zero_()."
    )

    def make_call(self, seed: int) -> Call:
        """One bundled photo and a target class other than its label, both chosen by the seed."""
        rng = np.random.default_rng(seed + 1)
        index = int(rng.integers(len(_samples()[1])))
        X, y = _images(np.array([index]))
        target = int(rng.integers(1000))
        while target == int(y[0]):
            target = int(rng.integers(1000))
        return Call(args=(X, target, MODEL))

    def expected(self, outcome: CallOutcome, call: Call) -> Any:
        """Nothing to compare with: many fooling images are right. Kept: the solution's change norm."""
        return torch.tensor((outcome.value - call.args[0]).norm().item())

    def judge(self, outcome: CallOutcome, expected: Any, call: Call, ctx: GradingContext) -> Verdict:
        """Shape, finiteness, the grader's own model predicts the target, and an L2 budget of 100 steps."""
        from course_utils.models import imagenet_class_names

        X, target = call.args[0], call.args[1]
        value = outcome.value
        if value is None:
            return Verdict(
                "not_implemented", 0.0, "NOT IMPLEMENTED YET: the function returned None.", self.hint
            )
        if not isinstance(value, torch.Tensor) or value.shape != X.shape:
            got = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
            return Verdict(
                "failed", 0.0, f"expected a tensor of shape {tuple(X.shape)}, got {got}", self.hint
            )
        if not value.is_floating_point() or not torch.isfinite(value).all():
            return Verdict("failed", 0.0, "the image holds NaN/inf or is not floating point", self.hint)
        change = (value.float() - X).norm().item()
        if change == 0:
            return Verdict(
                "not_implemented", 0.0, "NOT IMPLEMENTED YET: the returned image equals the input.", self.hint
            )
        with torch.no_grad():
            probs = ctx.model(value.float()).softmax(dim=1)[0]
        names = imagenet_class_names()
        predicted = int(probs.argmax())
        if predicted != target:
            return Verdict(
                "failed",
                0.0,
                f"the model predicts '{names[predicted]}' (p={probs[predicted]:.2f}), not the target "
                f"'{names[target]}' (p={probs[target]:.2f})",
                "Keep stepping until the prediction is target_y (at most 100 steps). If nothing changes, are "
                "you zeroing .grad and stepping in the direction of +gradient of the TARGET score?",
            )
        if change > FOOLING_MAX_L2:
            return Verdict(
                "failed",
                0.0,
                f"fooled, but the image changed by an L2 norm of {change:.1f} (normalized units), more than "
                f"{FOOLING_MAX_STEPS} L2-normalized steps of learning rate 1 allow",
                "Normalize each step: dX = learning_rate * g / ||g||_2, and stop as soon as the model is "
                "fooled.",
            )
        return Verdict(
            "passed",
            1.0,
            f"the model predicts the target '{names[target]}' (p={probs[target]:.2f}); "
            f"change L2 {change:.2f}",
        )


class ClassVisualizationStepCheck(FunctionCheck):
    """class_visualization_update_step: the in-place step is compared with the reference step."""

    function = "class_visualization_update_step"
    hint = (
        "Compute score = model(img)[0, target_y] - l2_reg * (img ** 2).sum(), call backward(), then "
        "inside `with torch.no_grad():` img += learning_rate * img.grad / img.grad.norm(), and zero img.grad."
    )
    l2_reg = 1e-2
    learning_rate = 5.0

    def make_call(self, seed: int) -> Call:
        """A random 128 px float64 image (a leaf that requires grad) and a target class from the seed."""
        generator = torch.Generator().manual_seed(seed + 2)
        img = (0.5 * torch.randn(1, 3, 128, 128, generator=generator)).double().requires_grad_()
        target = int(torch.randint(1000, (1,), generator=generator))
        return Call(args=(img, MODEL_FLOAT64, target, self.l2_reg, self.learning_rate), capture_args=(0,))

    def expected(self, outcome: CallOutcome, call: Call) -> Any:
        """The step the solution took: image after minus image before."""
        return outcome.args[0]["value"] - call.args[0].detach()

    def variants(self, call: Call, model: torch.nn.Module) -> dict[str, Variant]:
        """Wrong regularizer sign, no regularizer, unnormalized step."""
        img, target = call.args[0].detach(), call.args[2]
        model = _float64(model)

        def step(sign: float, normalize: bool) -> torch.Tensor:
            g = _input_gradient(model, img, lambda s: s[0, target]) + sign * 2 * self.l2_reg * img
            return self.learning_rate * (g / g.norm() if normalize else g)

        return {
            "regularizer with the wrong sign": Variant(
                step(+1.0, True),
                "Gradient ASCENT on s_y(img) - l2_reg * ||img||^2: the regularizer is subtracted.",
            ),
            "regularizer missing": Variant(
                step(0.0, True), "Include the L2 term: - l2_reg * (img ** 2).sum()."
            ),
            "unnormalized step": Variant(
                step(-1.0, False), "Normalize the gradient: img += learning_rate * g / g.norm()."
            ),
        }

    def judge(self, outcome: CallOutcome, expected: Any, call: Call, ctx: GradingContext) -> Verdict:
        """Compare the step; a correct step that leaves .grad non-zero earns half, with a hint."""
        after = outcome.args.get(0, {}).get("value")
        before = call.args[0].detach()
        if not isinstance(after, torch.Tensor) or after.shape != before.shape:
            return Verdict("failed", 0.0, "img was replaced instead of updated in place", self.hint)
        step = after - before
        if step.abs().max() == 0:
            return Verdict(
                "not_implemented",
                0.0,
                "NOT IMPLEMENTED YET: img was not changed. Update it in place "
                "(img += ... inside torch.no_grad()).",
                self.hint,
            )
        verdict = compare_values(
            step, expected, REL_ERROR[self.function], ctx.variants, self.hint, norm_based=self.norm_based
        )
        grad = outcome.args[0].get("grad")
        if verdict.status == "passed" and grad is not None and grad.abs().max() > 0:
            return Verdict(
                "partial",
                0.5,
                verdict.message + ", but img.grad was left non-zero",
                "Zero the gradient after the step (img.grad.zero_()); otherwise gradients accumulate across "
                "steps of the visualization loop.",
                verdict.rel_error,
                verdict.threshold,
            )
        return verdict
