"""Fixtures shared by the tests of the graded functions."""

from __future__ import annotations

from pathlib import Path

import pytest

from autograder.reference_build import build_references
from autograder.references import References, load_references

#: Another seed than the public one, as an instructor's hidden references would use.
HIDDEN_SEED = 4242


@pytest.fixture(scope="session")
def references(tmp_path_factory: pytest.TempPathFactory) -> dict[str, References]:
    """The public references, and hidden ones built here from the solutions with another seed."""
    hidden = build_references(HIDDEN_SEED, tmp_path_factory.mktemp("hidden") / "hidden.pt", private=True)
    return {"public": load_references("public"), "hidden": load_references("hidden", Path(hidden))}
