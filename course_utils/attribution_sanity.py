"""The sanity check of attribution maps: cascading randomization of the course model (Adebayo et al.).

Adebayo, Gilmer, Muelly, Goodfellow, Hardt and Kim, "Sanity Checks for Saliency Maps", NeurIPS 2018,
https://arxiv.org/abs/1810.03292: re-initialize the model's layers from the top (classifier, head, then the
blocks from the last to the first, then the stem), one stage more at a time, and see whether a method's map
changes. A map that does not change with the weights cannot explain what the weights learned. The methods and
the rank correlation are passed in (the student's functions); nothing here computes an attribution.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from course_utils.attribution import AttributionFunction, sobel_edges
from course_utils.progress import progress

__all__ = [
    "RANDOMIZATION_STAGES",
    "RandomizationResult",
    "cascading_randomization",
    "randomization_test",
    "reinitialize_",
]

#: Cascading randomization stages of the course model, from the top: (label, module names re-initialized
#: at that stage, in addition to all earlier stages). "head" is the last 1x1 convolution (``conv_head``)
#: and its batch norm + ReLU6 (``bn2``); "stem" the first convolution (``conv_stem``) and ``bn1``.
RANDOMIZATION_STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("classifier", ("classifier",)),
    ("head", ("conv_head", "bn2")),
    ("blocks.6", ("blocks.6",)),
    ("blocks.5", ("blocks.5",)),
    ("blocks.4", ("blocks.4",)),
    ("blocks.3", ("blocks.3",)),
    ("blocks.2", ("blocks.2",)),
    ("blocks.1", ("blocks.1",)),
    ("blocks.0", ("blocks.0",)),
    ("stem", ("conv_stem", "bn1")),
)


def reinitialize_(module: nn.Module, generator: torch.Generator) -> nn.Module:
    """Re-initialize every layer inside ``module`` in place, as the untrained network would be.

    The scheme is EfficientNet's own (Tan and Le 2019, as in timm's ``_init_weight_goog``):
    convolutions get normal weights with standard deviation ``sqrt(2 / fan_out)``, ``fan_out`` being
    ``kernel_h * kernel_w * out_channels / groups``; linear layers uniform weights in
    ``[-r, r]`` with ``r = 1 / sqrt(out_features)``; biases 0; batch norms the identity (weight 1, bias 0,
    running mean 0, running variance 1). Batch-norm statistics are reset too: a trained layer's running
    variance would rescale the random layer's output by an arbitrary factor.

    Args:
        module: a part of the course model (any device and dtype); ``requires_grad`` is kept.
        generator: CPU generator the random weights are drawn from (same weights on every device).

    Returns:
        ``module``, changed in place.

    Raises:
        TypeError: if ``module`` holds a layer with parameters of a kind this scheme does not cover.
    """
    with torch.no_grad():
        for layer in module.modules():
            own = list(layer.parameters(recurse=False))
            if isinstance(layer, nn.Conv2d):
                fan_out = layer.kernel_size[0] * layer.kernel_size[1] * layer.out_channels // layer.groups
                weight = torch.randn(layer.weight.shape, generator=generator, dtype=torch.float64)
                layer.weight.copy_(weight * math.sqrt(2.0 / fan_out))
                if layer.bias is not None:
                    layer.bias.zero_()
            elif isinstance(layer, nn.Linear):
                bound = 1.0 / math.sqrt(layer.out_features)
                weight = torch.rand(layer.weight.shape, generator=generator, dtype=torch.float64)
                layer.weight.copy_((2 * weight - 1) * bound)
                if layer.bias is not None:
                    layer.bias.zero_()
            elif isinstance(layer, nn.modules.batchnorm._BatchNorm):
                layer.reset_running_stats()
                if layer.affine:
                    layer.weight.fill_(1.0)
                    layer.bias.zero_()
            elif own:
                raise TypeError(
                    f"reinitialize_ does not know how to re-initialize a {type(layer).__name__}; "
                    "it covers Conv2d, Linear and BatchNorm layers"
                )
    return module


def cascading_randomization(
    model: nn.Module,
    stages: Sequence[tuple[str, Sequence[str]]] = RANDOMIZATION_STAGES,
    seed: int = 0,
) -> Iterator[tuple[str, nn.Module]]:
    """Yield the model with more and more of its layers re-initialized, from the top (Adebayo et al.).

    ``model`` itself is never changed: one deep copy is made, and each stage re-initializes its modules
    in that copy on top of the earlier stages (cumulative, "cascading"). Stage ``i`` draws its weights
    from a generator seeded with ``seed + i``, so a stage's weights do not depend on which stages were
    asked for before it in another run with the same list.

    Args:
        model: the trained course model (any device and dtype; it stays in eval mode).
        stages: ``(label, module names)`` pairs, top first; default :data:`RANDOMIZATION_STAGES`.
        seed: seeds the random weights.

    Yields:
        ``(label, randomized)`` after each stage. ``randomized`` is the SAME copy each time, randomized
        further at every step: use it before asking for the next stage (or ``copy.deepcopy`` it).

    Raises:
        AttributeError: if a module name does not exist in the model (the message names it).
    """
    randomized = copy.deepcopy(model).eval()
    for index, (label, names) in enumerate(stages):
        generator = torch.Generator().manual_seed(seed + index)
        for name in names:
            try:
                module = randomized.get_submodule(name)
            except AttributeError as exc:
                raise AttributeError(
                    f"stage {label!r} names the module {name!r}, which the model does not have"
                ) from exc
            reinitialize_(module, generator)
        yield label, randomized


@dataclass(frozen=True)
class RandomizationResult:
    """What :func:`randomization_test` measured.

    Attributes:
        stages: ``"trained"``, then the label of each randomization stage (cumulative).
        correlations: method -> ``(S, N)`` float64 array: the rank correlation of each image's map at
            stage ``s`` with its map from the trained model (row 0, the trained model itself, is 1).
        maps: method -> ``(S, H, W)`` float32 array: the map of the first image at every stage.
        edge_correlations: method -> ``(S, N)``: rank correlation of the map with the Sobel edge map.
    """

    stages: tuple[str, ...]
    correlations: dict[str, np.ndarray]
    maps: dict[str, np.ndarray]
    edge_correlations: dict[str, np.ndarray]

    def mean(self, method: str) -> np.ndarray:
        """``(S,)`` mean over images of :attr:`correlations` (NaN, from constant maps, left out)."""
        return np.nanmean(self.correlations[method], axis=1)


def randomization_test(
    methods: Mapping[str, AttributionFunction],
    X: torch.Tensor,
    y: torch.Tensor,
    model: nn.Module,
    rank_correlation: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    stages: Sequence[tuple[str, Sequence[str]]] = RANDOMIZATION_STAGES,
    seed: int = 0,
    edge_label: str = "edge detector",
) -> RandomizationResult:
    """The cascading randomization test of Adebayo et al. for several methods, with the edge control.

    Each method's maps are computed with the trained model and then after every stage of
    :func:`cascading_randomization`; ``rank_correlation`` (the student's) compares each image's map with
    its trained-model map. The Sobel edge map (:func:`sobel_edges`), which ignores the model, is added
    under ``edge_label`` as the control: its correlation stays exactly 1 at every stage.

    Args:
        methods: label -> ``f(X, y, model) -> (N, H, W)``; a method may also return several maps at
            once as a dict label -> ``(N, H, W)`` (e.g. one attribution with and without absolute values),
            each then reported under its own label.
        X: images ``(N, 3, H, W)`` on the model's device and dtype.
        y: labels ``(N,)`` (int64).
        model: the trained model (not changed).
        rank_correlation: ``f(a, b) -> (N,)`` for two batches of maps ``(N, ...)``.
        stages: randomization stages, top first (default :data:`RANDOMIZATION_STAGES`).
        seed: seeds the random weights.
        edge_label: the control's label in the result.

    Returns:
        A :class:`RandomizationResult` with ``1 + len(stages)`` stages.

    Raises:
        TypeError: if a method or ``rank_correlation`` returns ``None`` (not implemented yet).
    """

    def maps_of(net: nn.Module) -> dict[str, torch.Tensor]:
        out = {}
        for label, method in methods.items():
            value = method(X.clone(), y, net)
            if value is None:
                raise TypeError(f"the {label} method returned None: implement the function it calls first.")
            several = value if isinstance(value, Mapping) else {label: value}
            out.update({name: v.detach() for name, v in several.items()})
        out[edge_label] = sobel_edges(X)
        return out

    def correlate(a: torch.Tensor, b: torch.Tensor) -> np.ndarray:
        value = rank_correlation(a, b)
        if value is None:
            raise TypeError("rank_correlation returned None: implement it first.")
        return value.detach().double().cpu().numpy()

    trained = maps_of(model)
    edges = trained[edge_label]
    labels = ["trained"]
    correlations = {k: [correlate(v, v)] for k, v in trained.items()}
    edge_correlations = {k: [correlate(v, edges)] for k, v in trained.items()}
    maps = {k: [v[0].float().cpu().numpy()] for k, v in trained.items()}
    for label, randomized in progress(
        cascading_randomization(model, stages, seed), desc="randomizing", total=len(stages)
    ):
        labels.append(label)
        for method, value in maps_of(randomized).items():
            correlations[method].append(correlate(value, trained[method]))
            edge_correlations[method].append(correlate(value, edges))
            maps[method].append(value[0].float().cpu().numpy())
    return RandomizationResult(
        stages=tuple(labels),
        correlations={k: np.stack(v) for k, v in correlations.items()},
        maps={k: np.stack(v) for k, v in maps.items()},
        edge_correlations={k: np.stack(v) for k, v in edge_correlations.items()},
    )
