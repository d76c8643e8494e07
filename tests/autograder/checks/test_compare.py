"""Tests of autograder.checks.compare: relative errors, tolerances, and what a returned value is."""

from __future__ import annotations

import pytest
import torch

from autograder.checks.compare import VARIANT_MATCH, Tolerance, as_tensor_result, norm_rel_error, rel_error


def test_rel_error_is_cs231ns() -> None:
    """Is rel_error the max over elements of |x - y| / (|x| + |y|), with NaN as infinity?"""
    assert rel_error(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.2])) == pytest.approx(0.2 / 4.2)
    assert rel_error(torch.tensor([float("nan")]), torch.tensor([1.0])) == float("inf")
    assert rel_error(torch.zeros(0), torch.zeros(0)) == 0.0


def test_norm_rel_error_ignores_tiny_entries() -> None:
    """Does the norm-based error stay small when only near-zero entries differ in relative terms?"""
    x = torch.tensor([1.0, 1e-6], dtype=torch.float64)
    y = torch.tensor([1.0, 2e-6], dtype=torch.float64)
    assert rel_error(x, y) > 0.3
    assert norm_rel_error(x, y) < 1e-6


def test_tolerance_measures_its_own_kind_and_never_matches_below_variant_match() -> None:
    """Does a Tolerance use its kind, print itself, and recognise mistakes at VARIANT_MATCH at least?"""
    norm = Tolerance(1e-6, "norm")
    assert norm.error(torch.tensor([1.0, 1e-9]), torch.tensor([1.0, 2e-9])) < 1e-8
    assert norm.match == VARIANT_MATCH
    assert str(norm) == "norm-based rel_error < 1e-06"
    assert Tolerance(0.1).match == 0.1


@pytest.mark.parametrize(
    ("value", "scalar", "problem"),
    [
        ("text", False, "expected a tensor, got a str"),
        (torch.ones(3, 3), False, "expected shape (2, 2), got (3, 3)"),
        (torch.ones(2, 2, dtype=torch.int64), False, "floating-point"),
        (torch.full((2, 2), float("nan")), False, "NaN or inf"),
        (torch.ones(2), True, "expected a scalar"),
    ],
)
def test_what_came_back_is_described(value, scalar: bool, problem: str) -> None:
    """Are a wrong type, shape, dtype, non-finite values and a non-scalar loss each described?"""
    _, found = as_tensor_result(value, torch.ones(2, 2), scalar)
    assert problem in found


def test_numbers_are_accepted_for_losses() -> None:
    """Is a Python number (or a one-element tensor) accepted where a scalar loss is expected?"""
    tensor, problem = as_tensor_result(3.0, torch.tensor(3.0), scalar=True)
    assert problem == "" and tensor.shape == ()
    tensor, problem = as_tensor_result(torch.ones(1, 1), torch.tensor(1.0), scalar=True)
    assert problem == "" and tensor.shape == ()
