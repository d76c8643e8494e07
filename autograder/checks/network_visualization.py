"""Checks for NetworkVisualization.ipynb: saliency maps, fooling images, class-visualization step."""

from __future__ import annotations

import copy
from collections.abc import Callable
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from autograder.checks.base import (
    FunctionCheck,
    GradingContext,
    KnownMistake,
    Variant,
    Verdict,
    compare_values,
    norm_rel_error,
)
from autograder.runner import MODEL, MODEL_FLOAT64, Call, CallOutcome
from autograder.tolerances import (
    CHECK_SIZE,
    FOOLING_ACCUMULATED_MATCH,
    FOOLING_MAX_L2,
    FOOLING_MAX_STEPS,
    FOOLING_STOP_SLACK,
    REL_ERROR,
)

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
    """compute_saliency_maps on two bundled photos, compared with the reference (norm-based rel_error)."""

    function = "compute_saliency_maps"
    hint = (
        "Measured: your map for 2 bundled photos (float64, 128 px, their true labels) against the "
        "reference map of shape (N, H, W), by the norm-based rel_error shown above. Re-read 'Saliency "
        "maps': the map is the absolute value of the gradient of each image's UNNORMALIZED "
        "correct-class score (no softmax, no loss) with respect to its pixels, reduced over the colour "
        "channels by a maximum. Look at which value you call backward() on and how you reduce dim=1."
    )
    known: ClassVar[dict[str, KnownMistake]] = {
        "saliency_sum_of_scores": KnownMistake(
            "sum of all class scores",
            "You back-propagated the sum of ALL class scores, so all 1000 classes shape the map. Select "
            "only each image's correct-class score (index the score matrix with the labels, e.g. with "
            "`gather` along the class dimension), then reduce those N values to one number.",
        ),
        "saliency_loss_sum": KnownMistake(
            "gradient of the loss (cross-entropy with reduction='sum', or the log-softmax of the "
            "correct class)",
            "You used the gradient of the loss (cross-entropy, or the log-softmax it is made of); the "
            "saliency map is the gradient of the unnormalized correct-class SCORE, read straight from "
            "the model's output. The loss also depends on every other class's score through the "
            "softmax's normalization.",
        ),
        "saliency_loss_mean": KnownMistake(
            "gradient of the loss (cross-entropy with reduction='mean')",
            "You used the gradient of the cross-entropy loss; the saliency map is the gradient of the "
            "unnormalized correct-class SCORE, read straight from the model's output (no softmax, no "
            "loss, no averaging over the batch).",
        ),
        "saliency_softmax": KnownMistake(
            "gradient of the softmax probability",
            "You used the gradient of the softmax PROBABILITY of the correct class; the saliency map is "
            "the gradient of the unnormalized SCORE (the logit before softmax). The probability's "
            "gradient is scaled by how confident the model is and mixes in the other classes.",
        ),
        "saliency_batch_mean": KnownMistake(
            "scaled by 1/N: the batch MEAN of the correct-class scores instead of their sum",
            "Right pattern, wrong scale: your maps are the correct ones divided by N, the batch size, "
            "because you averaged the correct-class scores. Each image's map is the gradient of its OWN "
            "score; summing the scores leaves every image's gradient unchanged, averaging divides it by "
            "N (the notebook's TODO says: combine across the batch by summing).",
            0.5,
        ),
        "saliency_no_abs": KnownMistake(
            "no absolute value",
            "Take the absolute value of the gradient before the max over channels: a large negative "
            "gradient matters as much as a large positive one.",
        ),
        "saliency_sum_over_channels": KnownMistake(
            "sum over channels", "Take the MAX over the 3 channels (dim=1), not the sum or mean."
        ),
        "saliency_mean_over_channels": KnownMistake(
            "mean over channels", "Take the MAX over the 3 channels (dim=1), not the sum or mean."
        ),
    }

    def make_call(self, seed: int) -> Call:
        """Two distinct bundled photos chosen by the seed, at 128 px, with their true labels; float64."""
        indices = np.random.default_rng(seed).choice(len(_samples()[1]), size=2, replace=False)
        X, y = _images(np.sort(indices))
        return Call(args=(X.double(), y, MODEL_FLOAT64))

    def variants(self, call: Call, model: torch.nn.Module) -> dict[str, Variant]:
        """Summed scores, losses and probabilities, the batch mean, a missing abs, a sum over channels.

        The log-softmax of the correct class has the same gradient as the summed cross-entropy up to
        its sign, so one variant (``saliency_loss_sum``) names both.
        """
        X, y = call.args[0], call.args[1]
        model = _float64(model)

        def correct(s: torch.Tensor) -> torch.Tensor:
            return s.gather(1, y.view(-1, 1))

        def saliency(objective: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
            return _input_gradient(model, X, objective).abs().amax(dim=1)

        gradient = _input_gradient(model, X, lambda s: correct(s).sum())
        outputs = {
            "saliency_sum_of_scores": saliency(lambda s: s.sum()),
            "saliency_loss_sum": saliency(lambda s: F.cross_entropy(s, y, reduction="sum")),
            "saliency_loss_mean": saliency(lambda s: F.cross_entropy(s, y)),
            "saliency_softmax": saliency(lambda s: correct(s.softmax(dim=1)).sum()),
            "saliency_batch_mean": saliency(lambda s: correct(s).mean()),
            "saliency_no_abs": gradient.amax(dim=1),
            "saliency_sum_over_channels": gradient.abs().sum(dim=1),
            "saliency_mean_over_channels": gradient.abs().mean(dim=1),
        }
        return {name: self.variant(name, output) for name, output in outputs.items()}

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


def _fooling_change(model: torch.nn.Module, X: torch.Tensor, target: int, zero_grad: bool) -> torch.Tensor:
    """The change (fooling image minus X) of the specified loop, or of one that never resets .grad."""
    X_fooling = X.clone().requires_grad_()
    for _ in range(FOOLING_MAX_STEPS):
        scores = model(X_fooling)
        if scores.argmax(dim=1).item() == target:
            break
        scores[0, target].backward()
        with torch.no_grad():
            g = X_fooling.grad
            X_fooling += g / g.norm()
            if zero_grad:
                X_fooling.grad.zero_()
    return (X_fooling - X).detach()


class FoolingCheck(FunctionCheck):
    """make_fooling_image, checked by property: the grader's model predicts the target, small change.

    Rules, in order: the grader's own model predicts the target; the change fits in 100 normalized
    steps; the steps are not those of a loop that never resets ``.grad`` (a stored variant); and the
    change is at most the reference's on the same input plus :data:`FOOLING_STOP_SLACK` (the loop
    stopped as soon as the model was fooled).
    """

    function = "make_fooling_image"
    needs_model = True
    hint = (
        "Measured: on one bundled photo (float32, 128 px) and a target class, whether the grader's own "
        "model predicts the target for your image, and the L2 size of your change (normalized units). "
        "Re-read 'Fooling images' and the TODO: gradient ASCENT on the target class's score, each step "
        "the gradient divided by its L2 norm times the learning rate, the update made inside "
        "`torch.no_grad()`, .grad reset after every step, at most 100 iterations, and stop as soon as "
        "the prediction is target_y."
    )
    known: ClassVar[dict[str, KnownMistake]] = {
        "fooling_not_fooled": KnownMistake(
            "not fooled",
            "Keep stepping until the prediction is target_y (at most 100 steps). If nothing changes, are "
            "you zeroing .grad and stepping in the direction of +gradient of the TARGET score?",
        ),
        "fooling_over_budget": KnownMistake(
            "change larger than 100 normalized steps",
            "Normalize each step: it is learning_rate times the gradient divided by the gradient's L2 "
            "norm (dX in the TODO), so no step is longer than learning_rate; and stop as soon as the "
            "model is fooled.",
        ),
        "fooling_grad_not_zeroed": KnownMistake(
            "steps follow the accumulated gradient (.grad never reset)",
            "Rule broken: each step must follow the gradient at the CURRENT image. backward() ADDS to "
            ".grad, so without a reset each step follows the sum of all earlier gradients. Reset the "
            "gradient in place after every step (`.grad.zero_()`, inside `torch.no_grad()`).",
            0.5,
        ),
        "fooling_kept_stepping": KnownMistake(
            "kept stepping after the model was fooled",
            "Rule broken: stop as soon as the model is fooled. Check the prediction in every iteration, "
            "before taking the step, and leave the loop once it is target_y: every extra step makes the "
            "change larger (and more visible) for nothing.",
            0.5,
        ),
    }

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

    def variants(self, call: Call, model: torch.nn.Module) -> dict[str, Variant]:
        """The change made by the specified loop when it never resets ``.grad``."""
        X, target = call.args[0], call.args[1]
        accumulated = _fooling_change(model, X, target, zero_grad=False)
        specified = _fooling_change(model, X, target, zero_grad=True)
        if norm_rel_error(accumulated, specified) < 2 * FOOLING_ACCUMULATED_MATCH:
            return {}  # e.g. fooled in one step: both loops take the same steps, nothing to tell apart
        return {"fooling_grad_not_zeroed": self.variant("fooling_grad_not_zeroed", accumulated)}

    def judge(self, outcome: CallOutcome, expected: Any, call: Call, ctx: GradingContext) -> Verdict:
        """Shape, finiteness, then the rules of the class docstring, each named when broken."""
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
        change = value.float() - X
        size = change.norm().item()
        if size == 0:
            return Verdict(
                "not_implemented", 0.0, "NOT IMPLEMENTED YET: the returned image equals the input.", self.hint
            )
        with torch.no_grad():
            probs = ctx.model(value.float()).softmax(dim=1)[0]
        names = imagenet_class_names()
        predicted = int(probs.argmax())
        if predicted != target:
            return self.named(
                "fooling_not_fooled",
                f"the model predicts '{names[predicted]}' (p={probs[predicted]:.2f}), not the target "
                f"'{names[target]}' (p={probs[target]:.2f})",
            )
        if size > FOOLING_MAX_L2:
            return self.named(
                "fooling_over_budget",
                f"fooled, but the image changed by an L2 norm of {size:.1f} (normalized units), more than "
                f"{FOOLING_MAX_STEPS} L2-normalized steps of learning rate 1 allow",
            )
        fooled = f"fooled ('{names[target]}', p={probs[target]:.2f})"
        accumulated = ctx.variants.get("fooling_grad_not_zeroed")
        if accumulated is not None and norm_rel_error(change, accumulated.output) < FOOLING_ACCUMULATED_MATCH:
            return self.named(
                "fooling_grad_not_zeroed",
                f"{fooled}, but your change equals that of a loop that never resets .grad "
                f"(L2 {size:.2f}; the reference's {float(expected):.2f})",
            )
        if size > float(expected) + FOOLING_STOP_SLACK:
            return self.named(
                "fooling_kept_stepping",
                f"{fooled}, but the image changed by L2 {size:.2f}, more than the reference needed on "
                f"this input ({float(expected):.2f}) plus one extra step ({FOOLING_STOP_SLACK:g})",
            )
        return Verdict(
            "passed",
            1.0,
            f"the model predicts the target '{names[target]}' (p={probs[target]:.2f}); "
            f"change L2 {size:.2f} (reference {float(expected):.2f})",
        )


class ClassVisualizationStepCheck(FunctionCheck):
    """class_visualization_update_step: the in-place step is compared with the reference step."""

    function = "class_visualization_update_step"
    hint = (
        "Measured: the step your function took in place (img after minus img before) on a random "
        "float64 128 px image, with the check's target class, l2_reg=1e-2 and learning_rate=5, against "
        "the reference step, by the norm-based rel_error shown above. Re-read 'Class visualization': "
        "gradient ASCENT on the regularized score s_y(I) - lambda * ||I||^2, the step normalized by the "
        "gradient's L2 norm, the update made inside `torch.no_grad()`, and the gradient reset after it."
    )
    known: ClassVar[dict[str, KnownMistake]] = {
        "class_vis_wrong_sign": KnownMistake(
            "regularizer with the wrong sign",
            "Your step moves the wrong way on the L2 term. The objective is the class score MINUS l2_reg "
            "times the squared L2 norm of the image, so the regularizer is subtracted: its gradient "
            "must pull the pixels toward 0.",
        ),
        "class_vis_no_regularizer": KnownMistake(
            "regularizer missing",
            "Your step ignores the L2 regularization: the objective (in the docstring) includes the "
            "penalty l2_reg times the squared L2 norm of the image, and its gradient is part of the step.",
        ),
        "class_vis_unnormalized": KnownMistake(
            "unnormalized step",
            "Normalize the gradient: the step is learning_rate times the gradient divided by the "
            "gradient's L2 norm, so each step has length learning_rate whatever the gradient's scale.",
        ),
        "class_vis_grad_not_zeroed": KnownMistake(
            "img.grad left non-zero",
            "Zero the gradient after the step, in place (`.grad.zero_()`): backward() adds to .grad, "
            "so otherwise gradients accumulate across the steps of the visualization loop.",
            0.5,
        ),
        "class_vis_img_replaced": KnownMistake(
            "img replaced instead of updated in place",
            "Update img in place (an augmented assignment on img itself, inside `torch.no_grad()`): the "
            "caller keeps its own reference to img, so a new tensor bound to the name is never seen.",
        ),
    }
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

        outputs = {
            "class_vis_wrong_sign": step(+1.0, True),
            "class_vis_no_regularizer": step(0.0, True),
            "class_vis_unnormalized": step(-1.0, False),
        }
        return {name: self.variant(name, output) for name, output in outputs.items()}

    def judge(self, outcome: CallOutcome, expected: Any, call: Call, ctx: GradingContext) -> Verdict:
        """Compare the step; a correct step that leaves .grad non-zero earns half, with a hint."""
        after = outcome.args.get(0, {}).get("value")
        before = call.args[0].detach()
        if not isinstance(after, torch.Tensor) or after.shape != before.shape:
            return self.named("class_vis_img_replaced", "img was replaced instead of updated in place")
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
            return self.named(
                "class_vis_grad_not_zeroed",
                verdict.message + ", but img.grad was left non-zero",
                verdict.rel_error,
                verdict.threshold,
            )
        return verdict
