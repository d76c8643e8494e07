"""Grain and content fidelity of the Style Transfer notebook's three transfers, per parameterization.

For each of the notebook's transfers (:data:`course_utils.style_presets.STYLE_PRESETS`, with the loss
functions of ``solutions/StyleTransfer.ipynb``, read from the notebook), run
:func:`course_utils.style_transfer.style_transfer` and print:

* **grain**: the share of luminance spectral power above half the Nyquist frequency in the result
  (:func:`course_utils.style.high_frequency_share`), divided by the same share of the style image
  resized to the result's size. 1 means "as fine-grained as the painting"; target <= 1.2;
* **content**: cosine similarity between the result's and the content photo's feature maps at the
  notebook's content layer (1 = same features), with the style image's similarity beside it as the
  "nothing of the photo left" baseline;
* the final weighted style loss and the seconds of the run.

Usage::

    COURSE_DATA_DIR=/path/to/data python bench/bench_style_grain.py [--parameterization fourier pixel]
        [--num-iters 200] [--save-dir DIR]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import nbformat
import torch
from PIL import Image

from course_utils.data import load_image
from course_utils.image import deprocess, preprocess
from course_utils.models import FEATURE_LAYERS, load_model
from course_utils.style import high_frequency_share
from course_utils.style_presets import STYLE_PRESETS
from course_utils.style_transfer import (
    Optimization,
    StyleLosses,
    extract_features_upto,
    style_transfer,
)

NOTEBOOK = Path(__file__).resolve().parents[1] / "solutions" / "StyleTransfer.ipynb"
LOSS_CELLS = ("content_loss", "gram_matrix", "style_loss", "tv_loss")
TARGET = 1.2


def _cells(nb: nbformat.NotebookNode) -> dict[str, str]:
    return {c.metadata.get("nbgrader", {}).get("grade_id", ""): c.source for c in nb.cells}


def notebook_losses(nb: nbformat.NotebookNode) -> StyleLosses:
    """The solution's four loss functions, executed from their cells."""
    namespace: dict[str, object] = {"torch": torch}
    cells = _cells(nb)
    for name in LOSS_CELLS:
        exec(compile(cells[name], f"<{name}>", "exec"), namespace)
    return StyleLosses(*(namespace[name] for name in LOSS_CELLS))


def content_similarity(
    image: torch.Tensor, reference: torch.Tensor, model: torch.nn.Module, layer: int
) -> float:
    """Cosine similarity of two images' feature maps at ``layer`` (same size images ``(1, 3, H, W)``)."""
    with torch.no_grad():
        a = extract_features_upto(image, model, layer)[layer].flatten()
        b = extract_features_upto(reference, model, layer)[layer].flatten()
    return float(torch.nn.functional.cosine_similarity(a, b, dim=0))


def main() -> None:
    """Run the three transfers per parameterization and print grain, content similarity and seconds."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--parameterization", nargs="+", default=["fourier", "pixel"], choices=["fourier", "pixel"]
    )
    parser.add_argument("--num-iters", type=int, default=None, help="steps (default: the driver's)")
    parser.add_argument("--save-dir", type=Path, default=None, help="write each result as a PNG here")
    args = parser.parse_args()

    nb = nbformat.read(NOTEBOOK, as_version=4)
    losses = notebook_losses(nb)
    model = load_model()
    device = next(model.parameters()).device
    if args.save_dir:
        args.save_dir.mkdir(parents=True, exist_ok=True)
    print(
        f"{'style':<17}{'param.':<9}{'grain':>7}{'content':>9}{'(style img)':>12}{'style loss':>12}{'s':>7}"
    )
    worst = 0.0
    for task in STYLE_PRESETS.values():
        for parameterization in args.parameterization:
            opt = Optimization(parameterization=parameterization)
            if parameterization == "pixel":  # the notebook's former driver: Adam on pixels, lr 0.3
                opt = Optimization(
                    parameterization="pixel", learning_rate=0.3, final_lr_fraction=0.17, max_jitter=0
                )
            if args.num_iters:
                opt = Optimization(**{**opt.__dict__, "num_iters": args.num_iters})
            start = time.perf_counter()
            result = style_transfer(model, losses, task, opt)
            seconds = time.perf_counter() - start
            size = tuple(result.image.shape[-2:])
            style = preprocess(load_image(task.style_image), size=size, device=device)
            grain = float(high_frequency_share(result.image) / high_frequency_share(style))
            layer = task.content_layer
            fidelity = content_similarity(result.image, result.content, model, layer)
            baseline = content_similarity(style, result.content, model, layer)
            if parameterization == "fourier":
                worst = max(worst, grain)
            print(
                f"{task.style_image:<17}{parameterization:<9}{grain:>7.2f}{fidelity:>9.3f}{baseline:>12.3f}"
                f"{result.history['style'][-1]:>12.3g}{seconds:>7.1f}",
                flush=True,
            )
            if args.save_dir:
                path = args.save_dir / f"{task.style_image}_{parameterization}.png"
                Image.fromarray(deprocess(result.image)).save(path)
    print(f"content similarity: cosine of {FEATURE_LAYERS[layer]} features with the photo's")
    if "fourier" in args.parameterization:
        verdict = "OK" if worst <= TARGET else "ABOVE TARGET"
        print(f"worst grain with the fourier parameterization: {worst:.2f} (target <= {TARGET}): {verdict}")


if __name__ == "__main__":
    main()
