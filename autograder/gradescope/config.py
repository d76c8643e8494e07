"""The settings a Gradescope zip was built with (``source/gradescope.json``), read without torch.

Kept apart from :mod:`autograder.gradescope.run` so that processes that only read them (the self-test
that ends ``setup.sh``, which shares the container's memory with the grader it measures) never
import torch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["CONFIG_NAME", "DEFAULT_VISIBILITY", "RunConfig"]

#: The zip's settings file, beside ``run_autograder`` in ``source/``.
CONFIG_NAME = "gradescope.json"
#: Visibility of scores and per-function feedback unless the zip was built with another.
DEFAULT_VISIBILITY = "after_published"


@dataclass(frozen=True)
class RunConfig:
    """Settings the zip was built with.

    Attributes:
        assignments: the notebooks this Gradescope assignment grades.
        references: ``"hidden"`` (``hidden.pt`` in the zip) or ``"public"``.
        visibility: of scores and per-function feedback.
        timeout_s: seconds per function call.
    """

    assignments: tuple[str, ...]
    references: str = "hidden"
    visibility: str = DEFAULT_VISIBILITY
    timeout_s: float = 60.0

    @classmethod
    def read(cls, source: Path) -> RunConfig:
        """Read ``source/gradescope.json``; raises ``FileNotFoundError``/``ValueError`` when unusable."""
        data: dict[str, Any] = json.loads((source / CONFIG_NAME).read_text(encoding="utf-8"))
        return cls(
            assignments=tuple(data["assignments"]),
            references=str(data.get("references", "hidden")),
            visibility=str(data.get("visibility", DEFAULT_VISIBILITY)),
            timeout_s=float(data.get("timeout_s", 60.0)),
        )
