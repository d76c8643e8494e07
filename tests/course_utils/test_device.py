"""Tests for course_utils.device."""

from __future__ import annotations

import pytest
import torch

from course_utils.device import get_device


def test_explicit_cpu():
    """Is an explicit choice honoured?"""
    assert get_device("cpu") == torch.device("cpu")


def test_environment_override(monkeypatch):
    """Does COURSE_DEVICE override the automatic choice?"""
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    assert get_device() == torch.device("cpu")


def test_automatic_choice_prefers_cuda(monkeypatch):
    """Without an override, is CUDA chosen when available and the CPU otherwise?"""
    monkeypatch.delenv("COURSE_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else None
    chosen = get_device()
    if expected:
        assert chosen.type == "cuda"
    else:
        assert chosen.type in {"cpu", "mps"}


def test_unknown_device_is_explained():
    """Is a misspelled device rejected with a message that lists the valid choices?"""
    with pytest.raises(ValueError, match="use 'cpu', 'cuda'"):
        get_device("gpu0")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU message")
def test_cuda_without_gpu_is_explained():
    """Is asking for CUDA on a machine without a GPU a clear error?"""
    with pytest.raises(ValueError, match="no usable CUDA GPU"):
        get_device("cuda")
