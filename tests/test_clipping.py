"""Gradient clipping against torch.nn.utils.clip_grad_norm_ and clip_grad_value_."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nn_reference import clipping
from oracle import DTYPES, assert_matches, random_inputs, torch_tensor

SHAPES = [(4, 3), (7,), (1,), (2, 2, 2)]


def grads(dtype, scale, seed=0, shapes=SHAPES):
    return [random_inputs(s, dtype, seed=seed + i, scale=scale) for i, s in enumerate(shapes)]


def torch_clip_norm(gs, max_norm, norm_type=2.0):
    params = [torch_tensor(g, requires_grad=True) for g in gs]
    for p, g in zip(params, gs):
        p.grad = torch_tensor(g)
    total = torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type=norm_type)
    return [p.grad for p in params], float(total)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("scale,max_norm", [(10.0, 1.0), (0.01, 1.0), (1.0, 3.0), (1e4, 5.0)])
@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf"), 0.0, -float("inf"), 3.0, 0.5])
def test_clip_grad_norm_matches_torch(dtype, scale, max_norm, norm_type):
    gs = grads(dtype, scale)
    before = [g.copy() for g in gs]
    ours, total = clipping.clip_grad_norm(gs, max_norm, norm_type)
    theirs, their_total = torch_clip_norm(gs, max_norm, norm_type)
    assert total == pytest.approx(their_total, rel=2e-6 if dtype == np.float32 else 1e-12)
    for i, (a, b) in enumerate(zip(ours, theirs)):
        assert_matches(a, b, what=f"gradient {i}", rtol=4e-6 if dtype == np.float32 else 1e-12)
    for a, b in zip(before, gs):
        np.testing.assert_array_equal(a, b)


def test_clip_grad_norm_keeps_the_direction_and_reaches_max_norm():
    gs = grads(np.float64, 10.0)
    ours, total = clipping.clip_grad_norm(gs, 1.0)
    flat = np.concatenate([g.ravel() for g in ours])
    assert np.linalg.norm(flat) == pytest.approx(1.0, rel=1e-5)
    np.testing.assert_allclose(flat * total, np.concatenate([g.ravel() for g in gs]), rtol=1e-5)


def test_clipping_each_tensor_separately_would_fail():
    """The negative side: per-tensor clipping is not clip_grad_norm_."""
    gs = [np.array([30.0, 40.0]), np.array([0.3])]
    theirs, _ = torch_clip_norm(gs, 1.0)
    per_tensor = [g * min(1.0, 1.0 / (np.linalg.norm(g) + 1e-6)) for g in gs]
    assert not np.allclose(per_tensor[1], theirs[1].numpy())


def test_clip_grad_norm_of_zeros_and_nonfinite():
    ours, total = clipping.clip_grad_norm([np.zeros(3)], 1.0)
    assert total == 0.0 and not ours[0].any()
    with pytest.raises(RuntimeError):
        clipping.clip_grad_norm([np.array([np.inf])], 1.0, error_if_nonfinite=True)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("clip_value", [0.1, 1.0, 100.0])
def test_clip_grad_value_matches_torch(dtype, clip_value):
    gs = grads(dtype, 2.0, seed=3)
    params = [torch_tensor(g, requires_grad=True) for g in gs]
    for p, g in zip(params, gs):
        p.grad = torch_tensor(g)
    torch.nn.utils.clip_grad_value_(params, clip_value)
    for i, (a, p) in enumerate(zip(clipping.clip_grad_value(gs, clip_value), params)):
        assert_matches(a, p.grad, what=f"gradient {i}")


@pytest.mark.parametrize("norm_type", [0.0, -float("inf")])
def test_clip_grad_norm_zero_and_minus_infinity_orders_match_torch_on_zeros(norm_type):
    """Order 0 counts non-zero entries (and PyTorch's total counts the arrays that have one);
    order -inf is the smallest |g|, not the largest. Arrays with zeros show both."""
    gs = [np.array([0.0, 3.0, -4.0]), np.array([1.0, 0.0]), np.array([[0.5, 2.0]])]
    ours, total = clipping.clip_grad_norm(gs, 1.0, norm_type)
    theirs, their_total = torch_clip_norm(gs, 1.0, norm_type)
    assert total == their_total == (3.0 if norm_type == 0 else 0.0)
    for a, b in zip(ours, theirs):
        assert_matches(a, b, rtol=1e-12)
