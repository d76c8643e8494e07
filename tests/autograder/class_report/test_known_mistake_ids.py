"""Are the classic mistakes named (``mistake``) in the check results the class report counts?"""

from __future__ import annotations

import pytest

from autograder.mistakes import MISTAKES
from autograder.selfcheck import run_check
from tests.helpers.notebooks import mistake_functions

#: The known-mistake id (a variant of the check) each classic mistake must be recognised as; the
#: others are caught by other means (an error, a loop, a non-zero gradient) and carry no id.
RECOGNISED_AS = {
    "saliency_sum_of_scores": "sum of all class scores",
    "saliency_no_abs": "no absolute value",
    "saliency_sum_over_channels": "sum over channels",
    "class_vis_wrong_sign": "regularizer with the wrong sign",
    "class_vis_unnormalized": "unnormalized step",
    "content_not_squared": "norm not squared",
    "gram_unnormalized": "not normalized",
    "gram_wrong_transpose": "wrong dimensions transposed",  # float16-stored variant (was missed)
    "style_weights_ignored": "weights ignored",
}
_CHEAP = [m for m in MISTAKES if m.notebook == "StyleTransfer"]


@pytest.mark.parametrize("mistake", _CHEAP, ids=[m.name for m in _CHEAP])
def test_mistake_id_is_recorded(mistake) -> None:
    """Does the check result carry the variant's id (and only for the mistakes that have one)?"""
    result = run_check(mistake.function, mistake_functions(mistake)[mistake.function])
    assert result.mistake == RECOGNISED_AS.get(mistake.name, ""), result.message
    assert result.seconds is not None and result.seconds >= 0


@pytest.mark.slow
@pytest.mark.parametrize(
    "mistake", [m for m in MISTAKES if m not in _CHEAP], ids=[m.name for m in MISTAKES if m not in _CHEAP]
)
def test_mistake_id_is_recorded_network_visualization(mistake) -> None:
    """The same for the NetworkVisualization mistakes (gradients through the model: slower)."""
    result = run_check(mistake.function, mistake_functions(mistake)[mistake.function])
    assert result.mistake == RECOGNISED_AS.get(mistake.name, ""), result.message
