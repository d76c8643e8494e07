"""Tests for the provided class-visualization loop (real model, small images, few steps)."""

from __future__ import annotations

import pytest
import torch

from course_utils.class_visualization import (
    ClassVisualization,
    TransformedModel,
    compose,
    create_class_visualization,
    cs231n_recipe,
    precondition,
    random_jitter,
    random_rotate,
    random_scale,
)

TARANTULA = 76


def reference_step(img, model, target_y, l2_reg, learning_rate):
    """The solution's update step: normalized gradient ascent on s_y - l2_reg * ||img||^2."""
    score = model(img)[0, target_y] - l2_reg * img.pow(2).sum()
    score.backward()
    with torch.no_grad():
        img += learning_rate * img.grad / img.grad.norm()
        img.grad.zero_()


def unimplemented_step(img, model, target_y, l2_reg, learning_rate):
    """A student's update step before they write it (the solution region replaced by pass)."""


@pytest.mark.parametrize(
    "transform",
    [random_jitter(4), random_rotate(10.0), compose([random_jitter(3), random_rotate(5.0)])],
    ids=["jitter", "rotate", "compose"],
)
def test_shape_preserving_transforms_keep_shape_dtype_and_device(transform):
    """Do jitter, rotation and their composition keep shape, dtype and device?"""
    x = torch.randn(2, 3, 20, 24)
    out = transform(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    assert out.dtype == x.dtype
    assert out.device == x.device


def test_random_scale_changes_size_only_by_the_chosen_factor():
    """Does random_scale resize by one of the given factors and keep channels?"""
    out = random_scale((0.5,))(torch.randn(1, 3, 20, 30), torch.Generator().manual_seed(0))
    assert out.shape == (1, 3, 10, 15)


def test_transforms_are_reproducible_from_the_generator():
    """Do two generators with the same seed give the same random transform?"""
    transform = compose([random_jitter(5), random_scale((0.8, 1.0, 1.2)), random_rotate(15.0)])
    x = torch.randn(1, 3, 16, 16)
    a = transform(x, torch.Generator().manual_seed(3))
    b = transform(x, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


def test_transformed_model_passes_gradients_back_to_the_image(model):
    """Does a gradient reach the untransformed image through the random transforms?"""
    seen = TransformedModel(model, compose([random_scale((0.9,)), random_rotate(5.0)]), torch.Generator())
    img = torch.zeros(1, 3, 64, 64, requires_grad=True)
    seen(img)[0, TARANTULA].backward()
    assert img.grad is not None
    assert img.grad.abs().sum() > 0


def test_precondition_keeps_norm_and_favours_low_frequencies():
    """Does preconditioning keep the step's L2 norm while shifting energy to low frequencies?"""
    step = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    out = precondition(step, decay=1.0, decorrelate=True)
    assert out.shape == step.shape
    assert torch.allclose(out.norm(), step.norm(), rtol=1e-5)

    # Neighbouring pixels of white noise are uncorrelated; after 1/f weighting they are not.
    def neighbour_correlation(x):
        return torch.corrcoef(torch.stack([x[..., :, :-1].flatten(), x[..., :, 1:].flatten()]))[0, 1]

    assert neighbour_correlation(out) > neighbour_correlation(step) + 0.3


def test_precondition_off_is_identity():
    """With decay 0 and no colour decorrelation, is the step returned unchanged?"""
    step = torch.randn(1, 3, 8, 8)
    assert torch.allclose(precondition(step, decay=0.0, decorrelate=False), step)


def test_target_probability_increases_after_a_few_steps(model):
    """Does the tuned loop raise the target probability within a few steps of the reference update?"""
    result = create_class_visualization(
        TARANTULA, model, reference_step, num_iterations=10, image_size=96, learning_rate=4.0, seed=0
    )
    assert isinstance(result, ClassVisualization)
    assert result.probabilities[-1] > 10 * result.probabilities[0]


def test_result_image_shape_dtype_range_and_snapshots(model):
    """Is the result a (1, 3, S, S) float32 image in the valid pixel range, with the asked snapshots?"""
    result = create_class_visualization(
        TARANTULA, model, reference_step, num_iterations=4, image_size=48, show_every=2, seed=1
    )
    assert result.image.shape == (1, 3, 48, 48)
    assert result.image.dtype == torch.float32
    assert not result.image.requires_grad
    assert result.image.min() >= -1.0 and result.image.max() <= 1.0
    assert [step for step, _ in result.snapshots] == [2, 4]
    assert len(result.probabilities) == 2  # start and the last step
    assert 0.0 <= result.probability <= 1.0


def test_same_seed_gives_the_same_image(model):
    """Is a run reproducible from its seed?"""
    kwargs = {"num_iterations": 3, "image_size": 40, "seed": 7}
    a = create_class_visualization(TARANTULA, model, reference_step, **kwargs)
    b = create_class_visualization(TARANTULA, model, reference_step, **kwargs)
    assert torch.equal(a.image, b.image)


def test_cs231n_recipe_runs(model):
    """Does CS231n's plain recipe (no transforms, no preconditioning) run through the same loop?"""
    kwargs = {**cs231n_recipe(num_iterations=2), "image_size": 48}
    result = create_class_visualization(TARANTULA, model, reference_step, **kwargs)
    assert result.image.shape == (1, 3, 48, 48)


def test_unimplemented_update_step_gets_a_clear_error(model):
    """Does an update step that leaves the image unchanged raise an error saying what to implement?"""
    with pytest.raises(RuntimeError, match="class_visualization_update_step"):
        create_class_visualization(TARANTULA, model, unimplemented_step, num_iterations=2, image_size=32)


def test_bad_class_index_is_rejected(model):
    """Is a target outside [0, 1000) refused with a message naming the valid range?"""
    with pytest.raises(ValueError, match=r"\[0, 1000\)"):
        create_class_visualization(1000, model, reference_step, num_iterations=1, image_size=32)
