"""Classic mistakes, made by editing the solution notebooks' code text (no second copy of a solution).

Each :class:`Mistake` is a regular-expression edit of one solution cell. The demo builds a "student
who makes the classic mistakes" from them, and the tests check that each one is caught with the
right hint. When a solution is rewritten so that a pattern no longer matches, :func:`apply_mistakes`
says which one to update.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import nbformat

__all__ = ["MISTAKES", "Mistake", "apply_mistakes", "mistakes_for"]


@dataclass(frozen=True)
class Mistake:
    """One classic mistake as an edit of a solution cell.

    Attributes:
        name: short id, e.g. ``"saliency_sum"``.
        notebook: ``"NetworkVisualization"`` or ``"StyleTransfer"``.
        function: the graded function (and the solution cell's ``grade_id``) edited.
        pattern: regular expression matched in the cell's source.
        replacement: what replaces each match (``re.sub`` syntax).
        expect_status: the status the check must give.
        expect_in_hint: text the hint (or message) must contain.
        expect_mistake: the mistake id the verdict must carry (``Verdict.mistake``).
    """

    name: str
    notebook: str
    function: str
    pattern: str
    replacement: str
    expect_status: str
    expect_in_hint: str
    expect_mistake: str


MISTAKES: tuple[Mistake, ...] = (
    Mistake(
        "saliency_sum_of_scores",
        "NetworkVisualization",
        "compute_saliency_maps",
        r"scores\.gather\(\s*1\s*,\s*y\.view\(\s*-1\s*,\s*1\s*\)\s*\)(\.squeeze\(\s*1?\s*\))?",
        "scores",
        "failed",
        "sum of ALL class scores",
        "saliency_sum_of_scores",
    ),
    Mistake(
        "saliency_no_abs",
        "NetworkVisualization",
        "compute_saliency_maps",
        r"X\.grad\.abs\(\)",
        "X.grad",
        "failed",
        "absolute value",
        "saliency_no_abs",
    ),
    Mistake(
        "saliency_sum_over_channels",
        "NetworkVisualization",
        "compute_saliency_maps",
        r"\.max\(\s*dim\s*=\s*1\s*\)\.values",
        ".sum(dim=1)",
        "failed",
        "MAX over the 3 channels",
        "saliency_sum_over_channels",
    ),
    Mistake(
        "saliency_log_softmax",
        "NetworkVisualization",
        "compute_saliency_maps",
        r"scores = model\(X\)",
        "scores = model(X).log_softmax(dim=1)",
        "failed",
        "gradient of the loss",
        "saliency_loss_sum",
    ),
    Mistake(
        "saliency_softmax",
        "NetworkVisualization",
        "compute_saliency_maps",
        r"scores = model\(X\)",
        "scores = model(X).softmax(dim=1)",
        "failed",
        "softmax PROBABILITY",
        "saliency_softmax",
    ),
    Mistake(
        "saliency_loss_sum",
        "NetworkVisualization",
        "compute_saliency_maps",
        r"correct_scores\.sum\(\)\.backward\(\)",
        'torch.nn.functional.cross_entropy(scores, y, reduction="sum").backward()',
        "failed",
        "gradient of the loss",
        "saliency_loss_sum",
    ),
    Mistake(
        "saliency_loss_mean",
        "NetworkVisualization",
        "compute_saliency_maps",
        r"correct_scores\.sum\(\)\.backward\(\)",
        'torch.nn.functional.cross_entropy(scores, y, reduction="mean").backward()',
        "failed",
        "gradient of the loss",
        "saliency_loss_mean",
    ),
    Mistake(
        "saliency_batch_mean",
        "NetworkVisualization",
        "compute_saliency_maps",
        r"correct_scores\.sum\(\)",
        "correct_scores.mean()",
        "partial",
        "scaled by 1/N",
        "saliency_batch_mean",
    ),
    Mistake(
        "fooling_no_no_grad",
        "NetworkVisualization",
        "make_fooling_image",
        r"with torch\.no_grad\(\):",
        "if True:",
        "error",
        "torch.no_grad()",
        "in_place_update_outside_no_grad",
    ),
    Mistake(
        "fooling_no_stop",
        "NetworkVisualization",
        "make_fooling_image",
        r"\n\s*if scores\.argmax\(dim=1\)\.item\(\) == target_y:\n\s*break",
        "",
        "partial",
        "stop as soon as the model is fooled",
        "fooling_kept_stepping",
    ),
    Mistake(
        "fooling_grad_not_zeroed",
        "NetworkVisualization",
        "make_fooling_image",
        r"\n\s*X_fooling\.grad\.zero_\(\)",
        "",
        "partial",
        "gradient at the CURRENT image",
        "fooling_grad_not_zeroed",
    ),
    Mistake(
        "class_vis_wrong_sign",
        "NetworkVisualization",
        "class_visualization_update_step",
        r"-\s*l2_reg\s*\*",
        "+ l2_reg *",
        "failed",
        "regularizer is subtracted",
        "class_vis_wrong_sign",
    ),
    Mistake(
        "class_vis_unnormalized",
        "NetworkVisualization",
        "class_visualization_update_step",
        r"img\.grad\s*/\s*img\.grad\.norm\(\)",
        "img.grad",
        "failed",
        "Normalize the gradient",
        "class_vis_unnormalized",
    ),
    Mistake(
        "class_vis_grad_not_zeroed",
        "NetworkVisualization",
        "class_visualization_update_step",
        r"\n\s*img\.grad\.zero_\(\)",
        "",
        "partial",
        "Zero the gradient",
        "class_vis_grad_not_zeroed",
    ),
    Mistake(
        "content_not_squared",
        "StyleTransfer",
        "content_loss",
        r"\.pow\(2\)\.sum\(\)",
        ".pow(2).sum().sqrt()",
        "failed",
        "SQUARED",
        "content_not_squared",
    ),
    Mistake(
        "gram_unnormalized",
        "StyleTransfer",
        "gram_matrix",
        r"/\s*\(\s*H\s*\*\s*W\s*\*\s*C\s*\)",
        "/ 1",
        "partial",
        "Divide by H * W * C",
        "gram_unnormalized",
    ),
    Mistake(
        "gram_wrong_transpose",
        "StyleTransfer",
        "gram_matrix",
        r"torch\.bmm\(\s*flat\s*,\s*flat\.transpose\(\s*1\s*,\s*2\s*\)\s*\)",
        "torch.bmm(flat.transpose(1, 2), flat)",
        "failed",
        "(N, C, C)",
        "gram_wrong_transpose",
    ),
    Mistake(
        "style_weights_ignored",
        "StyleTransfer",
        "style_loss",
        r"weight\s*\*\s*\(",
        "(",
        "failed",
        "style_weights[i]",
        "style_weights_ignored",
    ),
    Mistake(
        "style_feats_by_position",
        "StyleTransfer",
        "style_loss",
        r"for layer, target, weight in zip\(style_layers, style_targets, style_weights\)",
        "for layer, (target, weight) in enumerate(zip(style_targets, style_weights))",
        "failed",
        "by the layer index",
        "style_feats_by_position",
    ),
    Mistake(
        "style_gram_of_target",
        "StyleTransfer",
        "style_loss",
        r"- target\)",
        "- gram_matrix(target))",
        "error",
        "already holds Gram matrices",
        "style_gram_of_target",
    ),
    Mistake(
        "style_unnormalized_gram",
        "StyleTransfer",
        "style_loss",
        r"gram_matrix\(feats\[layer\]\)",
        "gram_matrix(feats[layer], normalize=False)",
        "failed",
        "normalize=False",
        "style_unnormalized_gram",
    ),
    Mistake(
        "tv_python_loop",
        "StyleTransfer",
        "tv_loss",
        r"return tv_weight \* \(dh \+ dw\)",
        "total = 0\n    for c in range(img.shape[1]):\n"
        "        total = total + ((img[:, c, 1:, :] - img[:, c, :-1, :]) ** 2).sum()\n"
        "        total = total + ((img[:, c, :, 1:] - img[:, c, :, :-1]) ** 2).sum()\n"
        "    return tv_weight * total",
        "failed",
        "vectorized",
        "tv_python_loop",
    ),
)


def mistakes_for(notebook: str) -> list[Mistake]:
    """The mistakes that edit ``notebook``."""
    return [m for m in MISTAKES if m.notebook == notebook]


def apply_mistakes(nb: nbformat.NotebookNode, mistakes: Sequence[Mistake]) -> nbformat.NotebookNode:
    """Return a copy of a solution notebook with each mistake's edit applied to its cell.

    Raises:
        ValueError: when a mistake's pattern is not found (the solution changed: update the pattern).
    """
    nb = nbformat.reads(nbformat.writes(nb), as_version=4)
    for mistake in mistakes:
        cells = [
            c
            for c in nb.cells
            if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade_id") == mistake.function
        ]
        if not cells:
            raise ValueError(f"mistake {mistake.name}: no cell with grade_id {mistake.function}")
        new, count = re.subn(mistake.pattern, mistake.replacement, cells[0].source)
        if count == 0:
            raise ValueError(
                f"mistake {mistake.name}: pattern {mistake.pattern!r} not found in the {mistake.function} "
                f"cell of {mistake.notebook}.ipynb; update autograder/mistakes.py to the new solution text"
            )
        cells[0].source = new
    return nb
