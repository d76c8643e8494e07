"""Skip markers shared by the tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

__all__ = ["requires_course_data"]


def requires_course_data() -> pytest.MarkDecorator:
    """Skip marker for tests that need the downloadable course data and have no offline copy."""
    data_dir = os.environ.get("COURSE_DATA_DIR")
    missing = not data_dir or not (Path(data_dir) / "imagenet_val_25.npz").is_file()
    # CI always has the data: there a missing folder must fail the test, never skip it.
    return pytest.mark.skipif(
        missing and not os.environ.get("CI"),
        reason="set COURSE_DATA_DIR to a folder holding the course data (CI uses ../shared/data)",
    )
