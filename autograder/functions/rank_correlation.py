"""``rank_correlation`` (Attribution): Spearman's rho per pair of maps, tied values sharing their rank."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from autograder.checks.base import FunctionReference, GradedFunction, GradingContext, Mistake, Verdict
from autograder.checks.compare import Tolerance
from autograder.functions import register
from autograder.runner import Call, CallOutcome

#: Three pairs of 16 x 16 maps.
SHAPE = (3, 16, 16)
#: Tie orders tried at build time for the range of "ties broken in some order" (the solution with its
#: 'spearman_ties_random_order' edit, one torch seed each), and the margin around that range.
TIE_ORDERS, TIE_MARGIN = 50, 0.02

_AVERAGE = "Tied values must share the AVERAGE of the ranks they occupy"


@register
class RankCorrelation(GradedFunction):
    """Three pairs of 16 x 16 float64 maps with many tied values (about half zeros), one anti-correlated."""

    name = "rank_correlation"
    notebook = "Attribution"
    order = 3
    stub_returns = "rho"
    points = 3.0
    tolerance = Tolerance(
        1e-6,
        why="Three numbers in [-1, 1], none near 0 here. 1 vs 2 threads and one pair at a time agree "
        "exactly; computed in float32 (a student converting the maps) within 6.4e-8. The closest mistake "
        "(ties given the lowest rank) is 0.017 away (seeds 0-3, bench/bench_attribution_checks.py).",
    )
    hint = (
        "Checked: your correlations for 3 pairs of 16 x 16 maps with many tied values (about half zeros; one "
        "pair anti-correlated), against the reference (accepted when rel_error < {threshold}). Re-read the "
        "docstring: ranks 1 .. D per map, tied values sharing their average rank, then the Pearson "
        "correlation of each pair of rank vectors, one number per pair."
    )
    mistakes = (
        Mistake(
            "spearman_pearson_on_values",
            "Pearson correlation of the values, not of their ranks",
            "You correlated the values themselves. Spearman's rho is the Pearson correlation of their RANKS, "
            "which makes it blind to the scale of the maps and to any increasing transformation of them.",
        ),
        Mistake(
            "spearman_ties_lowest_rank",
            "tied values all get the lowest of their ranks",
            f"{_AVERAGE} (three values tied in places 1-3 all get rank 2); yours all get the lowest one. It "
            "matters here: about half of each map is 0.",
            credit=0.5,
        ),
        Mistake(
            "spearman_ties_not_averaged",
            "ties get distinct ranks (in some order)",
            "Your ranks are all different, so tied values got different ranks depending on where they happen "
            f"to be. {_AVERAGE}; the counting approach in the notebook (how many values are smaller, how "
            "many smaller or equal) gives it directly.",
            credit=0.5,
        ),
        Mistake(
            "spearman_argsort_not_ranks",
            "argsort indices used as ranks",
            "argsort returns the ORDER (the index of the smallest element, then of the next, ...), not each "
            "element's rank; an element's rank is its position in that order, one more step away.",
        ),
        Mistake(
            "spearman_not_centered",
            "ranks not centred (cosine similarity of the ranks)",
            "Subtract each rank vector's mean before multiplying: the Pearson correlation is the cosine of "
            "the CENTRED vectors; ranks are all positive, so without centring even unrelated maps come out "
            "near 1.",
        ),
        Mistake(
            "spearman_one_number",
            "one number for the whole batch",
            "Return one correlation per PAIR of maps, shape (N,): reduce over each map's values only, not "
            "over the batch.",
        ),
        Mistake(
            "spearman_textbook_formula",
            "1 - 6 sum d^2 / (n (n^2 - 1)), exact only without ties",
            "The shortcut 1 - 6 sum d^2 / (n (n^2 - 1)) equals the Pearson correlation of the ranks only "
            "when there are no ties; with tied (averaged) ranks compute the Pearson correlation of the "
            "centred rank vectors, as the docstring says.",
            credit=0.5,
        ),
    )

    def cases(self, params: dict[str, Any]) -> list[Call]:
        """``a`` standard normal, ``b = 0.6 a + 0.8 noise`` (pair 1 negated), both rectified and rounded to
        quarters: about half of each map is an exact 0, the rest ties in small groups, as Grad-CAM maps."""
        generator = torch.Generator().manual_seed(params["seed"] + 30)
        a = torch.randn(SHAPE, generator=generator, dtype=torch.float64)
        b = 0.6 * a + 0.8 * torch.randn(SHAPE, generator=generator, dtype=torch.float64)
        b[1] = -b[1]
        return [Call(args=(torch.relu(a).mul(4).round() / 4, torch.relu(b).mul(4).round() / 4))]

    def extras(self, calls: Sequence[Call], build: Any) -> dict[str, Any]:
        """The range of each pair's value when ties get distinct ranks in a random order: the solution with
        its 'spearman_ties_random_order' edit, run with :data:`TIE_ORDERS` torch seeds."""
        values = []
        for seed in range(TIE_ORDERS):
            outcome = build.run(self.name, calls[0], "spearman_ties_random_order", seed=seed)
            if outcome.status != "ok":
                raise RuntimeError(
                    f"rank_correlation's 'spearman_ties_random_order' edit failed: {outcome.message}"
                )
            values.append(torch.as_tensor(outcome.value, dtype=torch.float64))
        stacked = torch.stack(values)
        return {"tie_orders": [stacked.amin(dim=0), stacked.amax(dim=0)]}

    def judge(self, outcomes: Sequence[CallOutcome], ref: FunctionReference, ctx: GradingContext) -> Verdict:
        """As usual; a failure that no stored mistake explains is named 'ties not averaged' when every value
        lies in the range that ranks with ties broken in some order give."""
        verdict = super().judge(outcomes, ref, ctx)
        if verdict.status != "failed" or verdict.mistake or "tie_orders" not in ref.extras:
            return verdict
        value = outcomes[0].value
        low, high = ref.extras["tie_orders"]
        if isinstance(value, torch.Tensor) and value.shape == low.shape and value.is_floating_point():
            inside = (value >= low - TIE_MARGIN) & (value <= high + TIE_MARGIN)
            if bool(inside.all()):
                return self.named(
                    "spearman_ties_not_averaged",
                    f"{verdict.message}; looks like: ties given distinct ranks",
                    verdict.rel_error,
                    verdict.threshold,
                )
        return verdict
