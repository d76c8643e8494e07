"""Tests for course_utils.style_presets: the StyleTransfer notebook's examples as data."""

from __future__ import annotations

from dataclasses import replace

from course_utils.data import STYLE_IMAGES
from course_utils.models import FEATURE_LAYERS
from course_utils.style_presets import STYLE_PRESETS
from course_utils.style_transfer import StyleTask


def test_presets_are_style_tasks_of_known_images_and_layers():
    """Is every preset a valid StyleTask on course images, one weight per style layer?"""
    assert list(STYLE_PRESETS) == ["composition_vii", "the_scream", "starry_night"]
    for name, task in STYLE_PRESETS.items():
        assert isinstance(task, StyleTask)
        assert task.style_image == name and task.content_image == "tubingen"
        assert {task.style_image, task.content_image} <= set(STYLE_IMAGES)
        assert len(task.style_weights) == len(task.style_layers)
        assert max(task.style_layers, default=0) < len(FEATURE_LAYERS)


def test_presets_are_frozen_and_changed_by_replace():
    """Does dataclasses.replace make a changed copy and leave the table alone?"""
    scream = STYLE_PRESETS["the_scream"]
    changed = replace(scream, tv_weight=0)
    assert changed.tv_weight == 0 and STYLE_PRESETS["the_scream"].tv_weight == scream.tv_weight != 0
