"""Image pre/post-processing that matches the course model's weights, and image-space regularizers.

Conventions used across the course:

* an *image* is ``uint8`` RGB, ``(H, W, 3)``, or a batch ``(N, H, W, 3)``, or a ``PIL.Image``;
* a *tensor* is what the model eats: ``float32``, ``(N, 3, H, W)``, RGB scaled to [0, 1] and then
  normalized per channel with :data:`MEAN` and :data:`STD` (for this network: values in [-1, 1]).

Every tensor function works on the device of its input and is vectorized over the batch.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

__all__ = [
    "IMAGE_SIZE",
    "MEAN",
    "STD",
    "blur_image",
    "channel_stats",
    "deprocess",
    "grey_levels",
    "jitter",
    "pixel_bounds",
    "preprocess",
    "rescale",
]

#: Side length, in pixels, of the images the weights were trained on.
IMAGE_SIZE = 224
#: Per-channel (R, G, B) mean subtracted after scaling pixels to [0, 1].
MEAN: tuple[float, float, float] = (0.5, 0.5, 0.5)
#: Per-channel (R, G, B) standard deviation divided by after subtracting :data:`MEAN`.
STD: tuple[float, float, float] = (0.5, 0.5, 0.5)

ImageLike = Image.Image | np.ndarray | Sequence[Image.Image]


def channel_stats(
    dtype: torch.dtype = torch.float32, device: torch.device | str | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """:data:`MEAN` and :data:`STD` as tensors ready to broadcast against ``(N, 3, H, W)``.

    The one place the normalization constants become tensors (``pixels01 = x * std + mean``,
    ``x = (pixels01 - mean) / std``).

    Args:
        dtype: their dtype (pass the tensor's own: ``channel_stats(x.dtype, x.device)``).
        device: where to put them (default: the CPU).

    Returns:
        ``(mean, std)``, each ``(1, 3, 1, 1)``.
    """
    mean = torch.tensor(MEAN, dtype=dtype, device=device).view(1, 3, 1, 1)
    std = torch.tensor(STD, dtype=dtype, device=device).view(1, 3, 1, 1)
    return mean, std


def _to_uint8_batch(img: ImageLike) -> np.ndarray:
    if isinstance(img, Image.Image):
        return np.asarray(img.convert("RGB"))[None]
    if isinstance(img, np.ndarray):
        if img.dtype != np.uint8:
            raise TypeError(
                f"preprocess expects uint8 pixels in [0, 255], got dtype {img.dtype}; "
                "convert with (x * 255).round().astype(np.uint8) if your image is float in [0, 1]."
            )
        if img.ndim == 3 and img.shape[-1] == 3:
            return img[None]
        if img.ndim == 4 and img.shape[-1] == 3:
            return img
        raise ValueError(
            f"preprocess expects an (H, W, 3) image or an (N, H, W, 3) batch, got shape {img.shape}"
        )
    if isinstance(img, Sequence) and img and all(isinstance(i, Image.Image) for i in img):
        return np.stack([np.asarray(i.convert("RGB")) for i in img])
    raise TypeError(
        f"preprocess expects a PIL image, a uint8 numpy array or a list of PIL images, got {type(img)}"
    )


def _resize(x: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    h, w = x.shape[-2:]
    if isinstance(size, int):
        scale = size / min(h, w)
        target = (max(1, round(h * scale)), max(1, round(w * scale)))
    else:
        target = (int(size[0]), int(size[1]))
    if target == (h, w):
        return x
    return F.interpolate(x, size=target, mode="bicubic", antialias=True, align_corners=False)


def preprocess(
    img: ImageLike,
    size: int | tuple[int, int] | None = IMAGE_SIZE,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Turn images into the normalized tensor the model expects.

    Args:
        img: a ``PIL.Image``, a list of them (same size), a ``uint8`` array ``(H, W, 3)``, or a
            ``uint8`` batch ``(N, H, W, 3)``.
        size: an ``int`` resizes so that the *shorter* side has that many pixels (aspect kept,
            bicubic with antialiasing, as ``torchvision.transforms.Resize(size)``); a pair
            ``(H, W)`` resizes to exactly that; ``None`` keeps the size.
        device: where to put the result (default: the CPU).

    Returns:
        ``float32`` tensor ``(N, 3, H', W')``, pixels scaled to [0, 1] then normalized with
        :data:`MEAN` / :data:`STD`.

    Example:
        >>> x = preprocess(np.zeros((224, 224, 3), np.uint8))
        >>> x.shape, float(x.min())
        (torch.Size([1, 3, 224, 224]), -1.0)
    """
    batch = _to_uint8_batch(img)
    x = torch.from_numpy(np.array(batch, dtype=np.uint8, copy=True)).to(device or "cpu")
    x = x.permute(0, 3, 1, 2).float().div_(255.0)
    if size is not None:
        x = _resize(x, size).clamp_(0.0, 1.0)
    mean, std = channel_stats(x.dtype, x.device)
    return (x - mean) / std


def pixel_bounds(
    device: torch.device | str | None = None, dtype: torch.dtype = torch.float32
) -> tuple[torch.Tensor, torch.Tensor]:
    """The valid range of a normalized tensor: where pixels 0 and 255 land after :func:`preprocess`.

    Args:
        device: where to put the bounds (default: the CPU).
        dtype: their dtype.

    Returns:
        ``(low, high)``, each ``(1, 3, 1, 1)``: ``(0 - MEAN) / STD`` and ``(1 - MEAN) / STD`` per
        channel (for this network -1 and 1), ready to broadcast against ``(N, 3, H, W)``, e.g.
        ``torch.maximum(torch.minimum(x, high), low)`` clamps ``x`` to valid pixels.

    Example:
        >>> low, high = pixel_bounds()
        >>> low.flatten().tolist(), high.flatten().tolist()
        ([-1.0, -1.0, -1.0], [1.0, 1.0, 1.0])
    """
    mean, std = channel_stats(dtype, device)
    return (0.0 - mean) / std, (1.0 - mean) / std


def grey_levels(delta: torch.Tensor) -> torch.Tensor:
    """Convert a change of a normalized tensor into pixel units (grey levels, 0..255 scale).

    Args:
        delta: ``(N, 3, H, W)`` difference of two normalized tensors (e.g. fooling image - photo).

    Returns:
        ``delta * STD * 255`` per channel, same shape, dtype and device: a change of 1 is one grey level.
    """
    _, std = channel_stats(delta.dtype, delta.device)
    return delta * std * 255.0


def rescale(x: torch.Tensor) -> torch.Tensor:
    """Min-max scale each image of a batch to [0, 1] independently.

    Args:
        x: ``(N, C, H, W)`` or ``(C, H, W)`` float tensor.

    Returns:
        Tensor of the same shape, dtype and device; an image with constant values becomes 0.
    """
    flat = x.reshape(x.shape[0], -1) if x.dim() == 4 else x.reshape(1, -1)
    low = flat.min(dim=1, keepdim=True).values
    high = flat.max(dim=1, keepdim=True).values
    scaled = (flat - low) / (high - low).clamp_min(1e-12)
    return scaled.reshape(x.shape)


def deprocess(x: torch.Tensor, should_rescale: bool = False) -> np.ndarray:
    """Undo :func:`preprocess`: normalized tensor back to displayable ``uint8`` pixels.

    Args:
        x: ``(N, 3, H, W)`` or ``(3, H, W)`` float tensor on any device (gradients are ignored).
        should_rescale: min-max scale each image to the full range first (useful for
            images produced by optimization, whose values drift outside the normal range).

    Returns:
        ``uint8`` numpy array ``(N, H, W, 3)`` for a batch, ``(H, W, 3)`` for a single image
        (also for a batch of one, as CS231n's ``deprocess`` returns a PIL-ready image).
    """
    x = x.detach().float()
    single = x.dim() == 3
    if single:
        x = x.unsqueeze(0)
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"deprocess expects (N, 3, H, W) or (3, H, W), got {tuple(x.shape)}")
    mean, std = channel_stats(x.dtype, x.device)
    x = x * std + mean
    if should_rescale:
        x = rescale(x)
    pixels = (x.clamp(0.0, 1.0) * 255.0).round().to(torch.uint8)
    out = pixels.permute(0, 2, 3, 1).cpu().numpy()
    return out[0] if single or out.shape[0] == 1 else out


def jitter(x: torch.Tensor, ox: int, oy: int) -> torch.Tensor:
    """Shift images by ``(ox, oy)`` pixels with wrap-around (a random-translation regularizer).

    Args:
        x: ``(N, C, H, W)`` tensor.
        ox: shift along the width in pixels (positive: right).
        oy: shift along the height in pixels (positive: down).

    Returns:
        A new tensor of the same shape, dtype and device; ``jitter(jitter(x, ox, oy), -ox, -oy)``
        equals ``x``.
    """
    return torch.roll(x, shifts=(int(oy), int(ox)), dims=(2, 3))


def _gaussian_kernel(sigma: float, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    radius = max(1, int(4.0 * sigma + 0.5))  # scipy.ndimage: truncate=4
    offsets = torch.arange(-radius, radius + 1, dtype=dtype, device=device)
    kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
    return kernel / kernel.sum()


def blur_image(x: torch.Tensor, sigma: float = 1.0) -> torch.Tensor:
    """Gaussian-blur each channel of each image (a smoothness regularizer).

    Matches ``scipy.ndimage.gaussian_filter1d`` along H then W with ``mode="reflect"`` and
    ``truncate=4`` (CS231n's ``blur_image``), computed on the input's device.

    Args:
        x: ``(N, C, H, W)`` float tensor.
        sigma: standard deviation of the Gaussian, in pixels; ``0`` returns ``x`` unchanged.

    Returns:
        Blurred tensor of the same shape, dtype and device.
    """
    if sigma <= 0:
        return x
    n, c, h, w = x.shape
    kernel = _gaussian_kernel(sigma, x.dtype, x.device)
    radius = kernel.numel() // 2
    flat = _symmetric_pad(x.reshape(n * c, 1, h, w), radius, dim=2)
    flat = F.conv2d(flat, kernel.view(1, 1, -1, 1))
    flat = _symmetric_pad(flat, radius, dim=3)
    flat = F.conv2d(flat, kernel.view(1, 1, 1, -1))
    return flat.reshape(n, c, h, w)


def _symmetric_pad(x: torch.Tensor, radius: int, dim: int) -> torch.Tensor:
    """Pad ``radius`` pixels on both sides of ``dim``, mirroring about the edge (scipy's "reflect").

    torch's own "reflect" mode skips the edge pixel, so the mirror is built with ``flip``; images
    smaller than the kernel radius fall back to repeating the edge pixel.
    """
    size = x.shape[dim]
    if radius > size:
        pad = (0, 0, radius, radius) if dim == 2 else (radius, radius, 0, 0)
        return F.pad(x, pad, mode="replicate")
    head = x.narrow(dim, 0, radius).flip(dim)
    tail = x.narrow(dim, size - radius, radius).flip(dim)
    return torch.cat([head, x, tail], dim=dim)
