"""Reference files: data only, provenance, version mismatch warned, inputs in sync, hidden private."""

from __future__ import annotations

import stat
import subprocess
import sys

import pytest
import torch

from autograder.functions import FUNCTIONS
from autograder.references import PUBLIC_SEED, StaleReferencesError, inputs_digest, load_references
from autograder.settings import PUBLIC_REFERENCES as PUBLIC_PATH


def test_public_references_record_provenance() -> None:
    """Do the public references record torch/timm versions, the weights hash and the seed?"""
    from course_utils.models import WEIGHTS_SHA256

    refs = load_references("public")
    assert refs.seed == PUBLIC_SEED
    assert refs.meta["weights_sha256"] == WEIGHTS_SHA256
    assert refs.meta["torch"] and refs.meta["timm"]
    assert set(refs.functions) == set(FUNCTIONS)


@pytest.mark.parametrize("function", list(FUNCTIONS))
def test_public_references_match_check_inputs(function: str) -> None:
    """Were the public references built from today's check inputs (else run `make references`)?"""
    payload = torch.load(PUBLIC_PATH, weights_only=True)
    entry = payload["functions"][function]
    calls = FUNCTIONS[function].cases(entry["params"])
    assert entry["digests"] == [inputs_digest(call) for call in calls]
    assert len(entry["expected"]) == len(calls)
    assert all(len(outputs) == len(calls) for outputs in entry["variants"].values())


def test_public_references_are_small() -> None:
    """Is the shipped reference file small (under 3.5 MB: the mistakes of the image-sized outputs are
    stored in float16, the fooling iterates at 12 px)?"""
    assert PUBLIC_PATH.stat().st_size < 3_500_000


def test_references_hold_data_and_no_text() -> None:
    """Are reference files plain tensors and containers (weights_only), holding no hint or label text?"""
    payload = torch.load(PUBLIC_PATH, weights_only=True)
    assert set(payload) == {"format", "seed", "meta", "functions"}

    def strings(value):
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            for k, v in value.items():
                yield from strings(k)
                yield from strings(v)
        elif isinstance(value, list | tuple):
            for v in value:
                yield from strings(v)

    texts = set(strings(payload["functions"]))
    mistakes = {m.id for fn in FUNCTIONS.values() for m in fn.mistakes}
    assert texts <= set(FUNCTIONS) | mistakes | {
        "params",
        "digests",
        "expected",
        "variants",
        "extras",
        "seed",
        "cases",
        "steps",
        "iterates",
        "tie_orders",
    } | {d for entry in payload["functions"].values() for d in entry["digests"]}


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
    payload["functions"]["tv_loss"]["digests"] = ["0" * 64]
    stale = tmp_path / "stale.pt"
    torch.save(payload, stale)
    with pytest.raises(StaleReferencesError, match=r"tv_loss.*rebuild"):
        load_references("public", stale)


def test_old_format_is_refused_with_the_fix(tmp_path) -> None:
    """Is a reference file of the previous format refused, saying to rebuild it?"""
    old = tmp_path / "old.pt"
    torch.save({"format": 1, "seed": 0, "meta": {}, "entries": {}}, old)
    with pytest.raises(ValueError, match="format 1, expected 2: rebuild"):
        load_references("public", old)


def test_missing_hidden_file_says_how_to_build(tmp_path) -> None:
    """Is a missing hidden file reported with the command that builds it?"""
    with pytest.raises(FileNotFoundError, match="autograder references --hidden"):
        load_references("hidden", tmp_path / "nope.pt")


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
    for function in FUNCTIONS:
        hidden_digests = [inputs_digest(c) for c in hidden[function].calls]
        assert hidden_digests != [inputs_digest(c) for c in public[function].calls], function
