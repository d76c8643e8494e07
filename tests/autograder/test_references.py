"""Reference files: provenance recorded, version mismatch warned, inputs kept in sync, hidden kept private."""

from __future__ import annotations

import stat
import subprocess
import sys

import pytest
import torch

from autograder.checks import CHECKS
from autograder.references import PUBLIC_SEED, StaleReferencesError, inputs_digest, load_references
from autograder.settings import PUBLIC_REFERENCES as PUBLIC_PATH


def test_public_references_record_provenance() -> None:
    """Do the public references record torch/timm versions, the weights hash and the seed?"""
    from course_utils.models import WEIGHTS_SHA256

    refs = load_references("public")
    assert refs.seed == PUBLIC_SEED
    assert refs.meta["weights_sha256"] == WEIGHTS_SHA256
    assert refs.meta["torch"] and refs.meta["timm"]
    assert set(refs.entries) == set(CHECKS)


@pytest.mark.parametrize("function", list(CHECKS))
def test_public_references_match_check_inputs(function: str) -> None:
    """Were the public references built from today's check inputs (else run `make references`)?"""
    refs = load_references("public")
    assert refs.entries[function]["digest"] == inputs_digest(CHECKS[function].make_call(refs.seed))


def test_public_references_are_small() -> None:
    """Is the shipped reference file small (well under 2 MB)?"""
    assert PUBLIC_PATH.stat().st_size < 2_000_000


@pytest.mark.parametrize(
    ("field", "value"), [("torch", "0.0.1"), ("timm", "0.0.1"), ("weights_sha256", "0" * 64)]
)
def test_version_mismatch_warns(tmp_path, field: str, value: str) -> None:
    """Does loading references built with another torch, timm or weights file warn, naming it?"""
    payload = torch.load(PUBLIC_PATH, weights_only=True)
    payload["meta"][field] = value
    stale = tmp_path / "stale.pt"
    torch.save(payload, stale)
    with pytest.warns(UserWarning, match=field):
        load_references("public", stale)


def test_stale_inputs_stop_at_load(tmp_path) -> None:
    """Are references whose check inputs changed refused when loaded, before any grading starts?"""
    payload = torch.load(PUBLIC_PATH, weights_only=True)
    payload["entries"]["tv_loss"]["digest"] = "0" * 64
    stale = tmp_path / "stale.pt"
    torch.save(payload, stale)
    with pytest.raises(StaleReferencesError, match=r"tv_loss.*rebuild"):
        load_references("public", stale)


def test_missing_hidden_file_says_how_to_build(tmp_path) -> None:
    """Is a missing hidden file reported with the command that builds it?"""
    with pytest.raises(FileNotFoundError, match="autograder references --hidden"):
        load_references("hidden", tmp_path / "nope.pt")


def test_references_load_without_unpickling() -> None:
    """Are reference files plain tensors/containers readable with weights_only=True?"""
    payload = torch.load(PUBLIC_PATH, weights_only=True)
    assert set(payload) == {"format", "seed", "meta", "entries"}
    assert all(isinstance(entry["digest"], str) for entry in payload["entries"].values())


@pytest.mark.slow
def test_hidden_build_is_private_and_seeded(tmp_path) -> None:
    """Does `references --hidden --seed` write an owner-only file with that seed and other inputs?"""
    out = tmp_path / "hidden.pt"
    subprocess.run(
        [sys.executable, "-m", "autograder", "references", "--hidden", "--seed", "1234", "--out", str(out)],
        check=True,
    )
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    hidden = load_references("hidden", out)
    public = load_references("public")
    assert hidden.seed == 1234
    assert hidden.entries["gram_matrix"]["digest"] != public.entries["gram_matrix"]["digest"]
