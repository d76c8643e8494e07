"""Hand-written procedure variants of every graded function, written from the notebooks' specifications.

``EQUIVALENT[function]``: the specified computation written differently; each must keep full marks.
``WRONG[function]``: a wrong procedure and the mistake id it must be named as (``""``: a combination of
mistakes, which must lose the points without being named). These are student-like functions written for
the tests from the docstrings and TODOs, not copies of the solution cells; they live in tests/ and never
ship to students.
"""

from __future__ import annotations

__all__ = ["EQUIVALENT", "WRONG"]

_FOOL_HEAD = """
def make_fooling_image(X, target_y, model):
    X_fooling = X.clone()
    X_fooling = X_fooling.requires_grad_()
    learning_rate = 1
"""

_STEP_HEAD = """
def class_visualization_update_step(img, model, target_y, l2_reg, learning_rate):
"""

EQUIVALENT: dict[str, dict[str, str]] = {
    "compute_saliency_maps": {
        "index_with_arange": """
def compute_saliency_maps(X, y, model):
    model.eval()
    X.requires_grad_()
    scores = model(X)
    scores[torch.arange(X.shape[0]), y].sum().backward()
    saliency = X.grad.abs().amax(dim=1)
    return saliency
""",
        "one_image_at_a_time": """
def compute_saliency_maps(X, y, model):
    model.eval()
    maps = []
    for i in range(X.shape[0]):
        x = X[i : i + 1].clone().requires_grad_()
        model(x)[0, y[i]].backward()
        maps.append(x.grad.abs().max(dim=1)[0])
    return torch.cat(maps)
""",
        "autograd_grad": """
def compute_saliency_maps(X, y, model):
    X = X.clone().requires_grad_(True)
    correct = model(X).gather(1, y.unsqueeze(1))
    (grad,) = torch.autograd.grad(correct.sum(), X)
    return torch.max(torch.abs(grad), dim=1).values
""",
    },
    "make_fooling_image": {
        "check_after_the_step": _FOOL_HEAD
        + """
    for _ in range(100):
        scores = model(X_fooling)
        scores[0, target_y].backward()
        with torch.no_grad():
            g = X_fooling.grad
            X_fooling += learning_rate * g / g.norm()
            X_fooling.grad.zero_()
        if model(X_fooling).argmax(dim=1).item() == target_y:
            break
    return X_fooling
""",
        "grad_set_to_none": _FOOL_HEAD
        + """
    for it in range(100):
        scores = model(X_fooling)
        if scores.max(1)[1].item() == target_y:
            break
        scores[0, target_y].backward()
        with torch.no_grad():
            X_fooling += learning_rate * X_fooling.grad / torch.norm(X_fooling.grad)
        X_fooling.grad = None
    return X_fooling
""",
        "data_without_no_grad": _FOOL_HEAD
        + """
    for it in range(100):
        scores = model(X_fooling)
        if torch.argmax(scores) == target_y:
            break
        scores[0][target_y].backward()
        dX = learning_rate * X_fooling.grad.data / X_fooling.grad.data.norm(p=2)
        X_fooling.data += dX
        X_fooling.grad.data.zero_()
    return X_fooling
""",
        "new_leaf_each_step": _FOOL_HEAD
        + """
    for it in range(100):
        scores = model(X_fooling)
        if scores.argmax().item() == target_y:
            break
        scores[:, target_y].sum().backward()
        g = X_fooling.grad
        X_fooling = (X_fooling + learning_rate * g / torch.linalg.vector_norm(g)).detach().requires_grad_()
    return X_fooling
""",
        "while_with_cap": _FOOL_HEAD
        + """
    steps = 0
    while model(X_fooling).argmax(dim=1).item() != target_y and steps < 100:
        (grad,) = torch.autograd.grad(model(X_fooling)[0, target_y], X_fooling)
        with torch.no_grad():
            X_fooling.add_(learning_rate * grad / grad.norm())
        steps += 1
    return X_fooling.detach()
""",
    },
    "class_visualization_update_step": {
        "autograd_and_data": _STEP_HEAD
        + """
    objective = model(img)[0, target_y] - l2_reg * (img ** 2).sum()
    (g,) = torch.autograd.grad(objective, img)
    img.data += learning_rate * g / g.norm()
""",
        "analytic_penalty_gradient": _STEP_HEAD
        + """
    model(img)[0, target_y].backward()
    with torch.no_grad():
        g = img.grad - 2 * l2_reg * img
        img += learning_rate * g / torch.norm(g)
        img.grad.zero_()
""",
        "grad_set_to_none": _STEP_HEAD
        + """
    score = model(img)[:, target_y].sum() - l2_reg * torch.norm(img) ** 2
    score.backward()
    with torch.no_grad():
        img.add_(learning_rate * img.grad / img.grad.norm())
    img.grad = None
""",
    },
    "content_loss": {
        "mse_sum": """
def content_loss(content_weight, content_current, content_original):
    return content_weight * torch.nn.functional.mse_loss(content_current, content_original, reduction="sum")
""",
        "squared_norm": """
def content_loss(content_weight, content_current, content_original):
    return content_weight * torch.norm(content_current - content_original) ** 2
""",
        "python_float": """
def content_loss(content_weight, content_current, content_original):
    return float(content_weight * torch.sum((content_current - content_original) ** 2))
""",
    },
    "gram_matrix": {
        "einsum": """
def gram_matrix(features, normalize=True):
    N, C, H, W = features.size()
    gram = torch.einsum("nchw,ndhw->ncd", features, features)
    return gram / (C * H * W) if normalize else gram
""",
        "matmul_flatten": """
def gram_matrix(features, normalize=True):
    f = features.flatten(start_dim=2)
    gram = f @ f.permute(0, 2, 1)
    if normalize:
        gram /= f.shape[1] * f.shape[2]
    return gram
""",
    },
    "style_loss": {
        "comprehension": """
def style_loss(feats, style_layers, style_targets, style_weights):
    return sum(
        w * torch.sum((gram_matrix(feats[l]) - t) ** 2)
        for l, t, w in zip(style_layers, style_targets, style_weights)
    )
""",
        "index_loop": """
def style_loss(feats, style_layers, style_targets, style_weights):
    loss = torch.zeros(())
    for i in range(len(style_layers)):
        G = gram_matrix(feats[style_layers[i]])
        loss += style_weights[i] * torch.nn.functional.mse_loss(G, style_targets[i], reduction="sum")
    return loss
""",
    },
    "tv_loss": {
        "diff": """
def tv_loss(img, tv_weight):
    return tv_weight * (img.diff(dim=2).pow(2).sum() + img.diff(dim=3).pow(2).sum())
""",
        "slices_with_ellipsis": """
def tv_loss(img, tv_weight):
    h = torch.sum((img[..., 1:, :] - img[..., :-1, :]) ** 2)
    w = torch.sum((img[..., 1:] - img[..., :-1]) ** 2)
    return tv_weight * h + tv_weight * w
""",
    },
}

WRONG: dict[str, dict[str, tuple[str, str]]] = {
    "compute_saliency_maps": {
        "all_scores": (
            "saliency_sum_of_scores",
            """
def compute_saliency_maps(X, y, model):
    X.requires_grad_()
    model(X).sum().backward()
    return X.grad.abs().max(dim=1).values
""",
        ),
        "log_softmax": (
            "saliency_loss_sum",
            """
def compute_saliency_maps(X, y, model):
    X.requires_grad_()
    model(X).log_softmax(dim=1).gather(1, y.view(-1, 1)).sum().backward()
    return X.grad.abs().max(dim=1).values
""",
        ),
        "channel_mean": (
            "saliency_mean_over_channels",
            """
def compute_saliency_maps(X, y, model):
    X.requires_grad_()
    model(X).gather(1, y.view(-1, 1)).sum().backward()
    return X.grad.abs().mean(dim=1)
""",
        ),
    },
    "make_fooling_image": {
        "squared_norm": (
            "fooling_squared_norm",
            _FOOL_HEAD
            + """
    for _ in range(100):
        scores = model(X_fooling)
        if scores.argmax(dim=1).item() == target_y:
            break
        scores[0, target_y].backward()
        with torch.no_grad():
            g = X_fooling.grad
            X_fooling += learning_rate * g / (g.norm() ** 2)
            X_fooling.grad.zero_()
    return X_fooling
""",
        ),
        "always_100_steps_and_squared_norm": (
            "",
            _FOOL_HEAD
            + """
    for _ in range(100):
        scores = model(X_fooling)
        scores[0, target_y].backward()
        with torch.no_grad():
            g = X_fooling.grad
            X_fooling += learning_rate * g / torch.sum(g * g)
            X_fooling.grad.zero_()
    return X_fooling
""",
        ),
        "ascends_probability": (
            "fooling_not_the_score",
            _FOOL_HEAD
            + """
    for _ in range(100):
        scores = model(X_fooling)
        if scores.argmax(dim=1).item() == target_y:
            break
        torch.softmax(scores, dim=1)[0, target_y].backward()
        with torch.no_grad():
            X_fooling += learning_rate * X_fooling.grad / X_fooling.grad.norm()
            X_fooling.grad.zero_()
    return X_fooling
""",
        ),
        "descends_cross_entropy": (
            "fooling_not_the_score",
            _FOOL_HEAD
            + """
    target = torch.tensor([target_y])
    for _ in range(100):
        scores = model(X_fooling)
        if scores.argmax(dim=1).item() == target_y:
            break
        loss = torch.nn.functional.cross_entropy(scores, target)
        loss.backward()
        with torch.no_grad():
            X_fooling -= learning_rate * X_fooling.grad / X_fooling.grad.norm()
            X_fooling.grad.zero_()
    return X_fooling
""",
        ),
        "per_channel_norm": (
            "fooling_per_channel_norm",
            _FOOL_HEAD
            + """
    for _ in range(100):
        scores = model(X_fooling)
        if scores.argmax(dim=1).item() == target_y:
            break
        scores[0, target_y].backward()
        with torch.no_grad():
            g = X_fooling.grad
            norms = g.pow(2).sum(dim=(2, 3), keepdim=True).sqrt()
            X_fooling += learning_rate * g / norms
            X_fooling.grad.zero_()
    return X_fooling
""",
        ),
        "gives_up_after_19_steps": (
            "fooling_gave_up_early",
            _FOOL_HEAD
            + """
    for _ in range(19):
        scores = model(X_fooling)
        if scores.argmax(dim=1).item() == target_y:
            break
        scores[0, target_y].backward()
        with torch.no_grad():
            X_fooling += learning_rate * X_fooling.grad / X_fooling.grad.norm()
            X_fooling.grad.zero_()
    return X_fooling
""",
        ),
        "no_cap": (
            "fooling_too_many_steps",
            _FOOL_HEAD
            + """
    while model(X_fooling).argmax(dim=1).item() != target_y:
        model(X_fooling)[0, target_y].backward()
        with torch.no_grad():
            X_fooling += learning_rate * X_fooling.grad / X_fooling.grad.norm()
            X_fooling.grad.zero_()
    return X_fooling
""",
        ),
        "kept_stepping": (
            "fooling_kept_stepping",
            _FOOL_HEAD
            + """
    for _ in range(100):
        scores = model(X_fooling)
        scores[0, target_y].backward()
        with torch.no_grad():
            X_fooling += learning_rate * X_fooling.grad / X_fooling.grad.norm()
            X_fooling.grad.zero_()
    return X_fooling
""",
        ),
        "never_resets_grad": (
            "fooling_grad_not_zeroed",
            _FOOL_HEAD
            + """
    for _ in range(100):
        scores = model(X_fooling)
        if scores.argmax(dim=1).item() == target_y:
            break
        scores[0, target_y].backward()
        with torch.no_grad():
            X_fooling += learning_rate * X_fooling.grad / X_fooling.grad.norm()
    return X_fooling
""",
        ),
        "unnormalized_stops_when_fooled": (
            "fooling_unnormalized_step",
            _FOOL_HEAD
            + """
    for _ in range(100):
        scores = model(X_fooling)
        if scores.argmax(dim=1).item() == target_y:
            break
        scores[0, target_y].backward()
        with torch.no_grad():
            X_fooling += learning_rate * X_fooling.grad
            X_fooling.grad.zero_()
    return X_fooling
""",
        ),
    },
    "class_visualization_update_step": {
        "unsquared_penalty": (
            "class_vis_unsquared_penalty",
            _STEP_HEAD
            + """
    score = model(img)[0, target_y] - l2_reg * img.norm()
    score.backward()
    with torch.no_grad():
        img += learning_rate * img.grad / img.grad.norm()
        img.grad.zero_()
""",
        ),
        "rebinds_img": (
            "class_vis_img_rebound",
            _STEP_HEAD
            + """
    score = model(img)[0, target_y] - l2_reg * (img * img).sum()
    score.backward()
    g = img.grad.detach()
    img = img.detach() + learning_rate * g / g.norm()
""",
        ),
        "no_regularizer": (
            "class_vis_no_regularizer",
            _STEP_HEAD
            + """
    model(img)[0, target_y].backward()
    with torch.no_grad():
        img += learning_rate * img.grad / img.grad.norm()
        img.grad.zero_()
""",
        ),
    },
    "content_loss": {
        "mean": (
            "content_mean_instead_of_sum",
            """
def content_loss(content_weight, content_current, content_original):
    return content_weight * torch.nn.functional.mse_loss(content_current, content_original)
""",
        ),
    },
    "gram_matrix": {
        "ignores_normalize": (
            "gram_always_normalized",
            """
def gram_matrix(features, normalize=True):
    N, C, H, W = features.shape
    f = features.view(N, C, H * W)
    return torch.bmm(f, f.transpose(1, 2)) / (C * H * W)
""",
        ),
        "loop_over_channels": (
            "gram_python_loop",
            """
def gram_matrix(features, normalize=True):
    N, C, H, W = features.shape
    f = features.reshape(N, C, H * W)
    gram = torch.zeros(N, C, C, dtype=features.dtype)
    for i in range(C):
        for j in range(C):
            gram[:, i, j] = (f[:, i] * f[:, j]).sum(dim=1)
    if normalize:
        gram = gram / (H * W * C)
    return gram
""",
        ),
        "loop_over_batch": (
            "gram_python_loop",
            """
def gram_matrix(features, normalize=True):
    N, C, H, W = features.shape
    grams = [f.reshape(C, -1) @ f.reshape(C, -1).t() for f in features]
    gram = torch.stack(grams)
    return gram / (H * W * C) if normalize else gram
""",
        ),
    },
    "style_loss": {
        "gram_of_the_target_value": (
            "style_gram_of_target",
            """
def style_loss(feats, style_layers, style_targets, style_weights):
    loss = 0
    for layer, target, weight in zip(style_layers, style_targets, style_weights):
        loss = loss + weight * (gram_matrix(feats[layer]) - gram_matrix(target)).pow(2).sum()
    return loss
""",
        ),
        "gram_of_the_target": (
            "style_gram_of_target",
            """
def style_loss(feats, style_layers, style_targets, style_weights):
    loss = 0
    for layer, target, weight in zip(style_layers, style_targets, style_weights):
        loss = loss + weight * (gram_matrix(feats[layer]) - gram_matrix(target)).pow(2).sum()
    return loss
""",
        ),
    },
    "tv_loss": {
        "helper_with_loop": (
            "tv_python_loop",
            """
def _squared_differences(img, dim):
    total = 0
    for c in range(img.shape[1]):
        total = total + img[:, c].diff(dim=dim - 1).pow(2).sum()
    return total

def tv_loss(img, tv_weight):
    return tv_weight * (_squared_differences(img, 2) + _squared_differences(img, 3))
""",
        ),
        "alias_of_a_loop": (
            "tv_python_loop",
            """
def _tv_loop(img, tv_weight):
    total = 0
    for c in range(img.shape[1]):
        total += ((img[:, c, 1:] - img[:, c, :-1]) ** 2).sum()
        total += ((img[:, c, :, 1:] - img[:, c, :, :-1]) ** 2).sum()
    return tv_weight * total

tv_loss = _tv_loop
""",
        ),
        "absolute": (
            "tv_absolute_differences",
            """
def tv_loss(img, tv_weight):
    h = (img[:, :, 1:] - img[:, :, :-1]).abs().sum()
    return tv_weight * (h + (img[..., 1:] - img[..., :-1]).abs().sum())
""",
        ),
    },
}
