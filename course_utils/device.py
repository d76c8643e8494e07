"""Choice of the device computations run on."""

from __future__ import annotations

import os

import torch

__all__ = ["DEVICE_ENV", "get_device"]

#: Environment variable that overrides the automatic choice, e.g. ``COURSE_DEVICE=cpu``.
DEVICE_ENV = "COURSE_DEVICE"


def _mps_works() -> bool:
    backend = getattr(torch.backends, "mps", None)
    if backend is None or not backend.is_available():
        return False
    try:
        torch.zeros(1, device="mps")
    except RuntimeError:
        return False
    return True


def get_device(device: torch.device | str | None = None) -> torch.device:
    """Pick the device to compute on.

    Args:
        device: an explicit choice (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"`` or a
            ``torch.device``); ``None`` means: the ``COURSE_DEVICE`` environment variable if set,
            else CUDA if available, else Apple's MPS if it works, else the CPU.

    Returns:
        The chosen ``torch.device``.

    Raises:
        ValueError: if the device string is not one torch understands, or names CUDA on a machine
            without it.
    """
    choice = device if device is not None else os.environ.get(DEVICE_ENV) or None
    if choice is None:
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_works():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        resolved = torch.device(choice)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"Unknown device {choice!r}: use 'cpu', 'cuda', 'cuda:N' or 'mps' (or unset {DEVICE_ENV})."
        ) from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"Device {choice!r} was asked for but this machine has no usable CUDA GPU: "
            f"use 'cpu' (or unset {DEVICE_ENV})."
        )
    return resolved
