"""The Style Transfer notebook's examples as data: one table that the notebook and the benches read.

Each preset is a :class:`~course_utils.style_transfer.StyleTask` (images, sizes, layers, weights) for
the driver's defaults (:class:`~course_utils.style_transfer.Optimization()`, 192 pixels). The weights
look wildly different from layer to layer because the raw Gram differences have very different sizes at
each layer: each was chosen so that the layers contribute comparably at the start. Change one setting
with :func:`dataclasses.replace`::

    >>> from dataclasses import replace
    >>> replace(STYLE_PRESETS["the_scream"], tv_weight=0).tv_weight
    0
"""

from __future__ import annotations

from course_utils.style_transfer import StyleTask

__all__ = ["STYLE_LAYERS", "STYLE_PRESETS"]

#: Style layers of every preset: indices into :data:`course_utils.models.FEATURE_LAYERS` (strides 2 to 16).
STYLE_LAYERS: tuple[int, ...] = (0, 1, 2, 3, 4)


def _transfer(style_image: str, style_weights: tuple[float, ...]) -> StyleTask:
    """Tübingen in the style of ``style_image``: what the three examples share, and their weights."""
    return StyleTask(
        content_image="tubingen",
        style_image=style_image,
        image_size=192,
        style_size=384,
        content_layer=3,
        content_weight=0.003,
        style_layers=STYLE_LAYERS,
        style_weights=style_weights,
        tv_weight=0.03,
    )


#: Style image name -> the notebook's transfer of the Tübingen photo into that painting's style.
STYLE_PRESETS: dict[str, StyleTask] = {
    "composition_vii": _transfer("composition_vii", (3000, 150, 22, 65, 70)),  # Kandinsky
    "the_scream": _transfer("the_scream", (1000, 160, 18, 42, 38)),  # Munch
    "starry_night": _transfer("starry_night", (3000, 130, 26, 72, 62)),  # van Gogh
}
