"""Tests for course_utils.attribution_sanity: re-initialization, cascading randomization (small models)."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr
from torch import nn

from course_utils.attribution_sanity import (
    RANDOMIZATION_STAGES,
    cascading_randomization,
    randomization_test,
    reinitialize_,
)


def scipy_rank_correlation(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Spearman per pair of rows, by scipy (a stand-in for the student's function)."""
    rows = [spearmanr(x.flatten().numpy(), z.flatten().numpy()).statistic for x, z in zip(a, b, strict=True)]
    return torch.tensor(rows, dtype=torch.float64)


def tiny_model() -> nn.Module:
    """conv -> batch norm -> ReLU -> global pool -> linear, 4 classes, frozen, in eval mode."""
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1, bias=False),
        nn.BatchNorm2d(6),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(6, 4),
    )
    with torch.no_grad():
        model[1].running_mean.uniform_(-1, 1)
        model[1].running_var.uniform_(0.5, 2)
        model[1].weight.uniform_(0.5, 2)
        model[1].bias.uniform_(-1, 1)
    for p in model.parameters():
        p.requires_grad_(False)
    return model.eval()


TINY_STAGES = (("classifier", ("5",)), ("features", ("0", "1")))


def test_reinitialize_follows_efficientnet_init():
    """Conv std sqrt(2 / fan_out), linear U(-1/sqrt(out), 1/sqrt(out)), batch norms the identity?"""
    conv = nn.Conv2d(64, 128, 3, bias=True)
    linear = nn.Linear(256, 100)
    bn = nn.BatchNorm2d(8)
    with torch.no_grad():
        bn.running_mean.fill_(3.0)
        bn.running_var.fill_(9.0)
        bn.weight.fill_(2.0)
        conv.bias.fill_(1.0)
    module = nn.ModuleList([conv, linear, bn])
    reinitialize_(module, torch.Generator().manual_seed(0))
    assert conv.weight.std().item() == pytest.approx(math.sqrt(2 / (9 * 128)), rel=0.02)
    assert conv.weight.mean().abs().item() < 0.1 * conv.weight.std().item()
    assert torch.all(conv.bias == 0)
    bound = 1 / math.sqrt(100)
    assert linear.weight.abs().max().item() <= bound
    assert linear.weight.abs().max().item() > 0.95 * bound
    assert torch.all(linear.bias == 0)
    assert torch.all(bn.running_mean == 0) and torch.all(bn.running_var == 1)
    assert torch.all(bn.weight == 1) and torch.all(bn.bias == 0)


def test_reinitialize_counts_groups_in_fan_out():
    """Is a depthwise convolution's fan_out k*k*out/groups (std sqrt(2/9) for 3x3, one filter per group)?"""
    depthwise = nn.Conv2d(512, 512, 3, groups=512, bias=False)
    reinitialize_(depthwise, torch.Generator().manual_seed(1))
    assert depthwise.weight.std().item() == pytest.approx(math.sqrt(2 / 9), rel=0.05)


def test_reinitialize_is_seeded_and_keeps_dtype_and_requires_grad():
    """Same generator seed, same weights, also on a float64 copy; requires_grad is left as it was?"""
    a = nn.Conv2d(3, 4, 3).requires_grad_(False)
    b = copy.deepcopy(a).double()
    reinitialize_(a, torch.Generator().manual_seed(7))
    reinitialize_(b, torch.Generator().manual_seed(7))
    assert b.weight.dtype == torch.float64 and not a.weight.requires_grad
    torch.testing.assert_close(a.weight.double(), b.weight, rtol=1e-6, atol=1e-7)


def test_reinitialize_refuses_unknown_layers():
    """Does a layer with parameters the scheme does not cover raise, naming it?"""
    with pytest.raises(TypeError, match="LayerNorm"):
        reinitialize_(nn.Sequential(nn.LayerNorm(4)), torch.Generator())


def test_cascading_randomization_is_cumulative_from_the_top_and_leaves_the_model_alone():
    """Is each stage re-initialized on top of the earlier ones, in a copy, the rest untouched?"""
    model = tiny_model()
    before = copy.deepcopy(model.state_dict())
    seen = []
    for label, randomized in cascading_randomization(model, TINY_STAGES, seed=0):
        changed = {k for k, v in randomized.state_dict().items() if not torch.equal(v, before[k])}
        seen.append((label, changed))
    assert seen[0] == ("classifier", {"5.weight", "5.bias"})
    assert seen[1][0] == "features"
    assert {"5.weight", "0.weight", "1.weight", "1.bias", "1.running_mean", "1.running_var"} <= seen[1][1]
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), f"{key} of the original model changed"


def test_cascading_randomization_is_seeded():
    """Same seed, same random weights; another seed, other weights?"""

    def last(seed: int) -> dict[str, torch.Tensor]:
        *_, (_, randomized) = cascading_randomization(tiny_model(), TINY_STAGES, seed=seed)
        return copy.deepcopy(randomized.state_dict())

    a, b, c = last(0), last(0), last(1)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["0.weight"], c["0.weight"])


def test_cascading_randomization_names_a_missing_module():
    """Does a stage naming a module the model lacks say which?"""
    with pytest.raises(AttributeError, match="'nope'"):
        list(cascading_randomization(tiny_model(), (("top", ("nope",)),)))


def test_course_stages_cover_every_parameter_of_the_course_model(model):
    """Do the stages name modules of the course model that, together, hold every parameter?"""
    names = [name for _, modules in RANDOMIZATION_STAGES for name in modules]
    covered = {f"{name}.{key}" for name in names for key, _ in model.get_submodule(name).named_parameters()}
    assert covered == {key for key, _ in model.named_parameters()}
    assert RANDOMIZATION_STAGES[0][0] == "classifier" and RANDOMIZATION_STAGES[-1][0] == "stem"


def test_fully_randomized_course_model_keeps_finite_activations(model):
    """After every stage, are the scores finite and not collapsed (the re-initialization keeps scales)?"""
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    for label, randomized in cascading_randomization(model, seed=0):
        with torch.no_grad():
            scores = randomized(x)
        assert torch.isfinite(scores).all(), label
        assert scores.std().item() > 1e-3, label


def weights_map(X: torch.Tensor, y: torch.Tensor, model: nn.Module) -> torch.Tensor:
    """A model-dependent map: the first channel of the first convolution's output."""
    return model[0](X)[:, 0].abs()


def image_map(X: torch.Tensor, y: torch.Tensor, model: nn.Module) -> torch.Tensor:
    """A model-independent map: the image's channel sum."""
    return X.sum(dim=1)


def test_randomization_test_separates_model_dependent_from_model_independent_maps():
    """Does a map of the first layer change only once that layer is randomized, while an image map and the
    edge control stay at 1; are several maps returned as a dict reported under their own labels?"""
    X = torch.randn(3, 3, 12, 12, generator=torch.Generator().manual_seed(0))
    y = torch.tensor([0, 1, 2])
    methods = {
        "weights": weights_map,
        "both": lambda X, y, m: {"image": image_map(X, y, m), "image, negated": -image_map(X, y, m)},
    }
    result = randomization_test(methods, X, y, tiny_model(), scipy_rank_correlation, TINY_STAGES)
    assert result.stages == ("trained", "classifier", "features")
    assert list(result.correlations) == ["weights", "image", "image, negated", "edge detector"]
    np.testing.assert_allclose(result.correlations["weights"][:2], 1.0)
    assert np.all(result.correlations["weights"][2] < 0.9)
    for name in ("image", "image, negated", "edge detector"):
        np.testing.assert_allclose(result.correlations[name], 1.0)
    np.testing.assert_allclose(result.edge_correlations["edge detector"], 1.0)
    assert result.maps["weights"].shape == (3, 12, 12)
    np.testing.assert_allclose(result.mean("image"), [1.0, 1.0, 1.0])


def test_randomization_test_says_which_function_is_missing():
    """Does a method or rank correlation that returns None raise TypeError saying what to implement?"""
    X, y = torch.randn(1, 3, 8, 8), torch.tensor([0])
    with pytest.raises(TypeError, match="the stub method returned None"):
        randomization_test({"stub": lambda *a: None}, X, y, tiny_model(), scipy_rank_correlation, TINY_STAGES)
    with pytest.raises(TypeError, match="rank_correlation returned None"):
        randomization_test({"image": image_map}, X, y, tiny_model(), lambda a, b: None, TINY_STAGES)
