"""Tests for course_utils.fooling: recording, attacking and tabulating with a tiny linear classifier."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from course_utils.fooling import (
    FoolingNotImplementedError,
    ScoreRecorder,
    attack,
    fooling_table,
    format_fooling_table,
)
from course_utils.image import STD
from course_utils.messages import MESSAGE_WIDTH
from tests.course_utils.test_progress import _record_bars

NUM_CLASSES = 4


@pytest.fixture
def tiny_model() -> nn.Module:
    """A fixed random linear classifier over (3, 8, 8) images: fast, and easy to fool."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, NUM_CLASSES))
    for p in model.parameters():
        p.requires_grad_(False)
    return model.eval()


def reference_fooling(X, target_y, model):
    """The solution's loop: normalized ascent on the target score, stopping once the model is fooled."""
    X_fooling = X.clone().requires_grad_()
    for _ in range(100):
        scores = model(X_fooling)
        if scores.argmax(dim=1).item() == target_y:
            break
        scores[0, target_y].backward()
        with torch.no_grad():
            X_fooling += X_fooling.grad / X_fooling.grad.norm()
            X_fooling.grad.zero_()
    return X_fooling


def do_nothing(X, target_y, model):
    """A function that scores the image once and gives it back unchanged."""
    model(X)
    return X


def not_implemented(X, target_y, model):
    """The student's function before they write it (returns None)."""


def _image(seed: int = 1) -> torch.Tensor:
    return torch.randn(1, 3, 8, 8, generator=torch.Generator().manual_seed(seed)).clamp(-1, 1)


def _target_other_than_prediction(model, x) -> int:
    return (int(model(x).argmax()) + 1) % NUM_CLASSES


def test_score_recorder_remembers_every_image_and_passes_scores_through(tiny_model):
    """Does the recorder keep one detached (C,) row per image scored, in order, and pass scores through?"""
    recorder = ScoreRecorder(tiny_model)
    batch = torch.randn(3, 3, 8, 8)
    out = recorder(batch)
    recorder(batch[:1])
    torch.testing.assert_close(out, tiny_model(batch))
    stacked = recorder.stacked()
    assert stacked.shape == (4, NUM_CLASSES)
    torch.testing.assert_close(stacked[:3], out)
    assert not stacked.requires_grad


def test_attack_fools_and_counts_steps(tiny_model):
    """Does attack report fooled, the number of updates before the target was predicted, and the scores?"""
    x = _image()
    before = x.clone()
    target = _target_other_than_prediction(tiny_model, x)
    result = attack(reference_fooling, x, target, tiny_model)
    assert result.fooled
    assert result.original_y == int(tiny_model(x).argmax())
    # one forward pass per step: the last recorded pass is the first that predicts the target
    assert result.steps == len(result.scores) - 1 >= 1
    assert int(result.scores[-1].argmax()) == target
    assert all(int(s.argmax()) != target for s in result.scores[:-1])
    torch.testing.assert_close(result.probabilities.sum(dim=1), torch.ones(len(result.scores)))
    assert torch.equal(x, before), "attack must not modify its input"


def test_attack_change_is_mean_absolute_change_in_grey_levels(tiny_model):
    """Is change the mean |fooling - original| converted to 0..255 pixel units?"""
    x = _image()
    target = _target_other_than_prediction(tiny_model, x)
    result = attack(reference_fooling, x, target, tiny_model)
    expected = ((result.image - x).abs() * STD[0] * 255).mean().item()
    assert result.change == pytest.approx(expected, rel=1e-6)
    assert result.change > 0


def test_attack_that_changes_nothing_is_not_fooled(tiny_model):
    """Does a function that returns the image unchanged give fooled=False, steps=None and no change?"""
    x = _image()
    result = attack(do_nothing, x, _target_other_than_prediction(tiny_model, x), tiny_model)
    assert not result.fooled
    assert result.steps is None
    assert result.change == 0.0
    assert result.scores.shape == (1, NUM_CLASSES)


def test_attack_on_unimplemented_function_says_what_to_do(tiny_model):
    """Is a None return reported as 'implement it' rather than an AttributeError deep inside?"""
    with pytest.raises(TypeError, match="Implement it above"):
        attack(not_implemented, _image(), 0, tiny_model)


def test_attack_rejects_a_batch(tiny_model):
    """Is a batch of several images refused with the shape it needs?"""
    with pytest.raises(ValueError, match=r"\(1, 3, H, W\)"):
        attack(reference_fooling, torch.zeros(2, 3, 8, 8), 0, tiny_model)


def test_fooling_table_skips_pairs_already_of_the_target_class(tiny_model):
    """Does the table attack every (image, target) pair except those labelled with the target?"""
    X = torch.cat([_image(seed) for seed in range(3)])
    y = [0, 1, 2]
    rows = fooling_table(reference_fooling, X, y, targets=(1, 3), model=tiny_model)
    assert [(r.target_y, r.index) for r in rows] == [(1, 0), (1, 2), (3, 0), (3, 1), (3, 2)]
    assert all(r.fooled for r in rows)


def test_fooling_table_needs_one_label_per_image(tiny_model):
    """Is a label count that differs from the image count reported?"""
    with pytest.raises(ValueError, match="one label per image"):
        fooling_table(reference_fooling, torch.zeros(2, 3, 8, 8), [0], (1,), tiny_model)


def test_format_fooling_table_has_one_line_per_target(tiny_model):
    """Does the printed table name each target and count the fooled pairs?"""
    X = torch.cat([_image(seed) for seed in range(3)])
    rows = fooling_table(reference_fooling, X, torch.tensor([0, 1, 2]), (1, 3), tiny_model)
    text = format_fooling_table(rows, ["zero", "one", "two", "three"])
    lines = text.splitlines()
    assert len(lines) == 3
    assert lines[1].startswith("one") and "2/2" in lines[1]
    assert lines[2].startswith("three") and "3/3" in lines[2]


def test_fooling_table_stops_at_the_first_pair_of_an_unimplemented_function(tiny_model):
    """Issue 24: does the table say at once (first pair) that make_fooling_image is not implemented?

    Before the fix it attacked every pair (98 s in the notebook) only to print that nothing was fooled.
    """
    calls = []

    def skeleton(X, target_y, model):  # what the released stub does: returns the image it was given
        calls.append(target_y)
        return X

    X = torch.cat([_image(seed) for seed in range(3)])
    with pytest.raises(FoolingNotImplementedError, match="implement it above") as info:
        fooling_table(skeleton, X, [0, 1, 2], (1, 3), tiny_model)
    assert calls == [1]
    assert isinstance(info.value, NotImplementedError)
    assert all(len(line) <= MESSAGE_WIDTH for line in str(info.value).splitlines())


def test_fooling_table_shows_progress_over_every_pair(tiny_model, monkeypatch):
    """Issue 24: does the table run under a progress bar counting the (image, target) pairs?"""
    bars = _record_bars(monkeypatch)
    X = torch.cat([_image(seed) for seed in range(3)])
    rows = fooling_table(reference_fooling, X, [0, 1, 2], (1, 3), tiny_model)
    assert len(bars) == 1 and bars[0].kwargs["desc"] == "fooling table"
    assert bars[0].kwargs["total"] == len(rows) == 5
    assert bars[0].n == 5 and bars[0].closed
