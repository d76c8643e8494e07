"""``make_fooling_image`` (NetworkVisualization): graded by its procedure, exactly.

The notebook specifies the loop: gradient ascent on the target's unnormalized score, each step
``learning_rate * g / ||g||_2``, stop as soon as the model predicts the target, at most 100 steps. Any
loop that is that computation written differently (checking before or after the step, ``.grad.zero_()``
or ``= None``, ``.data`` or ``torch.no_grad()``, a new leaf each step, a ``while`` loop with the cap)
returns the same image, so the check compares images, in float64, on three cases chosen when the
references are built: one fooled after a few steps, one after 20 or more, one not within 100 steps.

The network is the small fixed classifier of :mod:`autograder.probe` (the function takes the model as an
argument; 100 steps through EfficientNet-Lite0 would take seconds per case). The references hold,
besides the specified loop's images, the loop's iterates (built by running the solution without its stop
rule), so a loop that stopped after the wrong number of steps is told how many it took.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from autograder.checks.base import FunctionReference, GradedFunction, GradingContext, Mistake, Verdict
from autograder.checks.compare import Tolerance, as_tensor_result, norm_rel_error
from autograder.checks.inputs import bundled_photos, photo_count
from autograder.functions import register
from autograder.probe import probe_classifier
from autograder.runner import PROBE_MODEL, Call, CallOutcome

#: The notebook's cap on the number of steps.
MAX_STEPS = 100
#: Side of the check images, in pixels (the probe network's input): small, because the references keep
#: every iterate of the loop on every case.
IMAGE_SIZE = 12
#: The three cases: (label, fewest steps, most steps) of the specified loop without its cap.
CASE_KINDS = (
    ("fooled after a few steps", 2, 6),
    ("fooled after 20 or more steps", 20, 60),
    ("not fooled within 100 steps", MAX_STEPS + 1, 130),
)
#: How many iterates the solution's "no_stop" edit (no stop rule, a longer loop) must produce.
LONG_RUN = 140
#: Targets tried per photo while choosing the cases (the photo's top-scored classes but its prediction).
TARGETS_PER_PHOTO = 80

_STOP = (
    "stop as soon as the model predicts target_y (check the prediction in every iteration) and never take "
    "more than 100 steps"
)


@register
class MakeFoolingImage(GradedFunction):
    """Photos at 12 px with targets chosen at build time; the probe network; images compared."""

    name = "make_fooling_image"
    notebook = "NetworkVisualization"
    order = 2
    points = 4.0
    tolerance = Tolerance(
        1e-4,
        "norm",
        why="Float64 on a fixed network: loops that are the specified computation written differently "
        "return the same image within 1e-7 (tests/autograder/functions/test_corpus.py), and so does an "
        "epsilon of up to 1e-6 added to the gradient's norm; two consecutive iterates of the loop differ by "
        "at least 5e-3 (2e-2 early on), so a loop that takes one step more or less is 50 thresholds away; "
        "the closest mistake (.grad never reset) is 0.16 away.",
    )
    hint = (
        "Checked: the image your function returns on 3 tiny test images with a small fixed network, against "
        "the image of the loop the notebook specifies (accepted when the norm-based rel_error is below "
        "{threshold}). Re-read 'Fooling images' and the TODO: gradient ASCENT on the target class's "
        "unnormalized score, each step the gradient divided by its L2 norm times the learning rate, the "
        "update made inside `torch.no_grad()`, .grad reset after every step, stop as soon as the prediction "
        "is target_y, and at most 100 steps."
    )
    mistakes = (
        Mistake(
            "fooling_kept_stepping",
            "kept stepping after the model was fooled",
            "Your loop takes the right steps but does not stop when the model is fooled. Check the "
            "prediction in every iteration and leave the loop as soon as it is target_y: every extra step "
            "makes the change larger, and more visible, for nothing.",
            credit=0.5,
            detect="judge",
            evidence="which iterate of the loop it returns",
        ),
        Mistake(
            "fooling_gave_up_early",
            "stopped before the model was fooled",
            "Your loop takes the right steps but stops too early, before the model predicts target_y "
            f"and before 100 steps. The rule is: {_STOP}.",
            credit=0.5,
            detect="judge",
            evidence="which iterate of the loop it returns",
        ),
        Mistake(
            "fooling_too_many_steps",
            "more than 100 steps",
            f"Your loop takes the right steps but goes past 100 steps when the target is hard to reach. The "
            f"rule is: {_STOP}; return the image after 100 steps even if it is not fooled yet.",
            credit=0.5,
            detect="judge",
            evidence="which iterate of the loop it returns",
        ),
        Mistake(
            "fooling_grad_not_zeroed",
            "steps follow the accumulated gradient (.grad never reset)",
            "Each step must follow the gradient at the CURRENT image. backward() ADDS to .grad, so without a "
            "reset each step follows the sum of all earlier gradients. Reset the gradient in place after "
            "every step (`.grad.zero_()`, inside `torch.no_grad()`).",
            credit=0.25,
        ),
        Mistake(
            "fooling_unnormalized_step",
            "step not normalized",
            "Normalize each step: it is the learning rate times the gradient DIVIDED BY THE GRADIENT'S L2 "
            "NORM (dX in the TODO), so every step has length learning_rate whatever the gradient's scale.",
            credit=0.25,
        ),
        Mistake(
            "fooling_squared_norm",
            "step divided by the squared norm",
            "Your steps are divided by the SQUARED L2 norm of the gradient, so their length is learning_rate "
            "/ ||g|| instead of learning_rate. Divide by the norm itself.",
            credit=0.25,
        ),
        Mistake(
            "fooling_per_channel_norm",
            "each colour channel normalized separately",
            "Normalize the gradient by ONE number, its L2 norm over all its elements (channels and pixels "
            "together); normalizing each channel on its own changes the step's direction.",
            credit=0.25,
        ),
        Mistake(
            "fooling_not_the_score",
            "ascends the probability or the loss, not the score",
            "Ascend the target class's UNNORMALIZED SCORE (the logit, straight from the model's output). The "
            "softmax probability and the cross-entropy loss also depend on every other class's score, so "
            "their gradients point elsewhere.",
            credit=0.25,
        ),
        Mistake(
            "fooling_wrong_direction",
            "gradient descent instead of ascent",
            "Your steps go DOWN the target score, away from target_y. Gradient ascent ADDS the normalized "
            "gradient of the target score to the image.",
        ),
    )

    # ------------------------------------------------------------------ inputs
    def cases(self, params: dict[str, Any]) -> list[Call]:
        """One call per chosen ``(photo, target)``: the photo at 12 px (float64), the target, the probe."""
        calls = []
        for photo, target in params["cases"]:
            X, _ = bundled_photos([photo], IMAGE_SIZE)
            calls.append(Call(args=(X, int(target), PROBE_MODEL)))
        return calls

    def case_labels(self, ref: FunctionReference) -> list[str]:
        """``fooled after 4 steps``, ``fooled after 31 steps``, ``not fooled within 100 steps``."""
        return [_case_label(steps) for steps in ref.params["steps"]]

    # ------------------------------------------------------- reference build hooks
    def choose_params(self, seed: int, build: Any) -> dict[str, Any]:
        """Search photos (in an order drawn from ``seed``) and their top-scored targets for one case of
        each :data:`CASE_KINDS`, timing the solution's loop without its stop rule on the probe network.

        Raises:
            RuntimeError: no case of some kind was found (try another seed).
        """
        probe = probe_classifier()
        found: dict[int, tuple[int, int, int]] = {}
        for photo in np.random.default_rng(seed).permutation(photo_count()):
            X, _ = bundled_photos([int(photo)], IMAGE_SIZE)
            with torch.no_grad():
                ranked = probe(X)[0].argsort(descending=True)[1 : TARGETS_PER_PHOTO + 1]
            for target in ranked.tolist():
                steps = _stop_step(self._long_run(build, X, target), target)
                for kind, (_, low, high) in enumerate(CASE_KINDS):
                    if kind not in found and steps is not None and low <= steps <= high:
                        found[kind] = (int(photo), int(target), steps)
                if len(found) == len(CASE_KINDS):
                    chosen = [found[k] for k in range(len(CASE_KINDS))]
                    return {"cases": [[p, t] for p, t, _ in chosen], "steps": [s for _, _, s in chosen]}
        missing = [CASE_KINDS[k][0] for k in range(len(CASE_KINDS)) if k not in found]
        raise RuntimeError(
            f"make_fooling_image: no case '{', '.join(missing)}' for seed {seed}; use another seed"
        )

    def extras(self, calls: Sequence[Call], build: Any) -> dict[str, Any]:
        """The loop's iterates, which a loop with the wrong stop rule returns: per case, iterates 1 to 100
        and, for the case the loop does not fool within 100 steps, on to the step that fools it; a
        ``(K, 1, 3, H, W)`` float32 tensor per case, iterate ``k`` at index ``k - 1``."""
        iterates = []
        for call in calls:
            run = self._long_run(build, call.args[0], call.args[1])
            steps = _stop_step(run, call.args[1]) or MAX_STEPS
            last = max(MAX_STEPS, steps)
            iterates.append(torch.stack([image.float() for image, _ in run[1 : last + 1]]))
        return {"iterates": iterates}

    @staticmethod
    def _long_run(build: Any, X: torch.Tensor, target: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """``(image, scores)`` of every iterate of the solution's loop without its stop rule."""
        outcome, records = build.run_recorded("make_fooling_image", Call((X, target, PROBE_MODEL)), "no_stop")
        if outcome.status != "ok" or len(records) < LONG_RUN:
            raise RuntimeError(
                f"the solution's make_fooling_image with its 'no_stop' edit gave {len(records)} iterates "
                f"({outcome.status} {outcome.message}); the edit must remove the stop rule and run "
                f"{LONG_RUN} steps"
            )
        return records

    # ------------------------------------------------------------------ judging
    def judge(self, outcomes: Sequence[CallOutcome], ref: FunctionReference, ctx: GradingContext) -> Verdict:
        """The same image as the specified loop on every case; else which iterate each one is (a wrong
        stop rule), else a mistake's images, else what the network predicts for the student's images."""
        labels = self.case_labels(ref)
        images: list[torch.Tensor] = []
        for outcome, expected, label in zip(outcomes, ref.expected, labels, strict=True):
            if outcome.value is None:
                return self.not_implemented()
            image, problem = as_tensor_result(outcome.value, expected, scalar=False)
            if problem or image is None:
                return Verdict("failed", 0.0, f"{problem} ({label})", self.fallback_hint())
            images.append(image)
        if all(torch.equal(img, call.args[0]) for img, call in zip(images, ref.calls, strict=True)):
            return self.not_implemented("the function returned the input unchanged")
        errors = [norm_rel_error(img, exp) for img, exp in zip(images, ref.expected, strict=True)]
        threshold = self.tolerance.threshold
        worst = max(range(len(errors)), key=errors.__getitem__)
        if errors[worst] < threshold:
            return Verdict(
                "passed",
                1.0,
                f"the specified loop's image on all {len(errors)} cases ({', '.join(labels)}): rel_error "
                f"{errors[worst]:.1e} < {threshold:.0e}",
                "",
                errors[worst],
                threshold,
            )
        message = f"rel_error {errors[worst]:.1e} >= {threshold:.0e} ({labels[worst]})"
        if (stop_rule := self._stop_rule(images, ref, labels)) is not None:
            mistake_id, details = stop_rule
            return self.named(mistake_id, f"{message}; {details}", errors[worst], threshold)
        if (named := self.match_output(images, ref)) is not None:
            return self.named(named.id, f"{message}; looks like: {named.label}", errors[worst], threshold)
        return Verdict(
            "failed",
            0.0,
            f"{message}; {_predictions(images, ref)}",
            self.fallback_hint(),
            errors[worst],
            threshold,
        )

    def _stop_rule(
        self, images: Sequence[torch.Tensor], ref: FunctionReference, labels: Sequence[str]
    ) -> tuple[str, str] | None:
        """``(mistake id, details)`` when every image is an iterate of the specified steps, at least one
        after the wrong number of steps; ``None`` otherwise."""
        found: list[tuple[str, str]] = []
        threshold = self.tolerance.threshold
        cases = zip(images, ref.expected, ref.extras["iterates"], ref.params["steps"], labels, strict=True)
        for image, expected, iterates, steps, label in cases:
            if norm_rel_error(image, expected) < threshold:
                continue
            taken = next(
                (k + 1 for k, it in enumerate(iterates) if norm_rel_error(image, it) < threshold), None
            )
            if taken is None:
                return None
            specified = min(steps, MAX_STEPS)
            if taken > MAX_STEPS:
                mistake = "fooling_too_many_steps"
            elif taken > steps:
                mistake = "fooling_kept_stepping"
            else:
                mistake = "fooling_gave_up_early"
            found.append(
                (mistake, f"on '{label}' your image is the loop's after {taken} steps, not {specified}")
            )
        if not found:
            return None
        first = min(found, key=lambda item: self.mistake(item[0]).credit)[0]
        return first, "; ".join(details for _, details in found)


def _stop_step(run: Sequence[tuple[torch.Tensor, torch.Tensor]], target: int) -> int | None:
    """The first iterate the network classifies as ``target`` (0 = the input itself), ``None`` if none."""
    return next((k for k, (_, scores) in enumerate(run) if int(scores.argmax()) == target), None)


def _case_label(steps: int) -> str:
    return f"fooled after {steps} steps" if steps <= MAX_STEPS else f"not fooled within {MAX_STEPS} steps"


def _predictions(images: Sequence[torch.Tensor], ref: FunctionReference) -> str:
    """What the probe network predicts for each returned image, against each target."""
    probe = probe_classifier()
    parts = []
    with torch.no_grad():
        for image, call in zip(images, ref.calls, strict=True):
            predicted, target = int(probe(image.double()).argmax()), call.args[1]
            parts.append("fooled" if predicted == target else f"predicts class {predicted}, not {target}")
    return "the network " + ", ".join(parts) + " on the 3 cases" if len(parts) == 3 else ", ".join(parts)
