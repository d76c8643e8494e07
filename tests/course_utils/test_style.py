"""Tests for course_utils.style: the softmax feature transform offered to the style-transfer notebook."""

import pytest
import torch

from course_utils.messages import MESSAGE_WIDTH
from course_utils.style import DEFAULT_TEMPERATURE, require_losses, softmax_feature_map, softmax_features


def test_softmax_feature_map_sums_to_channel_count():
    """Do the C values at every position sum to C, all non-negative, shape unchanged?"""
    x = torch.randn(2, 5, 3, 4) * 10
    y = softmax_feature_map(x)
    assert y.shape == x.shape
    assert (y >= 0).all()
    torch.testing.assert_close(y.sum(dim=1), torch.full((2, 3, 4), 5.0))


def test_softmax_feature_map_temperature_controls_smoothness():
    """Is a higher temperature closer to uniform, and does the default match the documented constant?"""
    x = torch.tensor([0.0, 10.0, 20.0]).view(1, 3, 1, 1)
    hot = softmax_feature_map(x, temperature=100.0)
    cold = softmax_feature_map(x, temperature=1.0)
    assert hot.max() < cold.max()
    torch.testing.assert_close(softmax_feature_map(x), softmax_feature_map(x, DEFAULT_TEMPERATURE))


def test_softmax_feature_map_is_differentiable():
    """Do gradients flow back to the features?"""
    x = torch.randn(1, 4, 2, 2, requires_grad=True)
    (softmax_feature_map(x) * torch.arange(4.0).view(1, 4, 1, 1)).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


@pytest.mark.parametrize("temperature", [0.0, -1.0])
def test_softmax_feature_map_rejects_bad_temperature(temperature):
    """Is a non-positive temperature reported instead of producing NaNs?"""
    with pytest.raises(ValueError, match="temperature must be positive"):
        softmax_feature_map(torch.zeros(1, 2, 1, 1), temperature)


def test_softmax_feature_map_rejects_wrong_rank():
    """Is a feature map without a batch axis reported with its shape?"""
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        softmax_feature_map(torch.zeros(2, 1, 1))


def test_softmax_features_keeps_layer_order():
    """Does the list version transform every layer and keep indices meaningful?"""
    feats = [torch.randn(1, c, 2, 2) for c in (3, 5, 7)]
    out = softmax_features(feats, temperature=2.0)
    assert [f.shape for f in out] == [f.shape for f in feats]
    for f, g in zip(feats, out, strict=True):
        torch.testing.assert_close(g, softmax_feature_map(f, 2.0))


def test_require_losses_names_every_missing_function():
    """Does the guard list each unimplemented loss (the skeleton returns None) by name?"""

    def missing(*args, **kwargs):
        return None

    def content_loss(w, a, b):
        return w * (a - b).pow(2).sum()

    with pytest.raises(NotImplementedError) as info:
        require_losses(content_loss, missing, missing, missing)
    message = str(info.value)
    assert "needs your gram_matrix, style_loss and tv_loss" in " ".join(message.split())
    for name in ("gram_matrix", "style_loss", "tv_loss"):
        assert f"{name} returned None: not implemented yet" in message
    assert "content_loss returned" not in message


def test_missing_losses_show_as_a_short_message_in_a_notebook():
    """Issue 24: does a demo cell run before the losses exist show a few lines, not a traceback?

    IPython shows what an exception's ``_render_traceback_`` returns instead of the traceback; before
    the fix the notebook showed about 45 lines through course_utils/style_transfer.py and style.py.
    """

    def missing(*args, **kwargs):
        return None

    with pytest.raises(NotImplementedError) as info:
        require_losses(missing, missing, missing, missing)
    rendered = "\n".join(info.value._render_traceback_()).splitlines()
    assert 3 <= len(rendered) <= 7, rendered
    red_name = "\x1b[0;31mLossesNotImplementedError\x1b[0m"
    assert rendered[0].startswith(f"{red_name}: This cell needs your content_loss")
    assert not any("File " in line or "course_utils" in line for line in rendered)
    assert all(len(line) <= MESSAGE_WIDTH + len("\x1b[0;31m\x1b[0m") for line in rendered)


def test_require_losses_accepts_working_functions():
    """Does the guard stay silent when all four losses return tensors?"""

    def gram(f, normalize=True):
        n, c, h, w = f.shape
        flat = f.reshape(n, c, h * w)
        return flat @ flat.transpose(1, 2) / (h * w * c if normalize else 1)

    called: list[str] = []

    def spy(name, func):
        def wrapper(*args, **kwargs):
            called.append(name)
            return func(*args, **kwargs)

        return wrapper

    require_losses(
        spy("content_loss", lambda w, a, b: w * (a - b).pow(2).sum()),
        spy("gram_matrix", gram),
        spy(
            "style_loss",
            lambda feats, layers, targets, weights: sum(
                w * (gram(feats[i]) - t).pow(2).sum()
                for i, t, w in zip(layers, targets, weights, strict=True)
            ),
        ),
        spy("tv_loss", lambda img, w: w * img.diff(dim=2).pow(2).sum()),
    )
    # no exception, and each function really was tried once
    assert sorted(called) == ["content_loss", "gram_matrix", "style_loss", "tv_loss"]
