"""Tight comparisons of the reference implementations with PyTorch."""

from __future__ import annotations

import numpy as np

from coursekit.checks import check_array
from coursekit.torch_oracle import seeded_normal as random_inputs, to_numpy
from coursekit.torch_oracle import to_torch as torch_tensor

__all__ = ["DTYPES", "assert_matches", "random_inputs", "torch_tensor"]

DTYPES = (np.float32, np.float64)

#: A few units in the last place: the reference code must agree with PyTorch's round-off.
REFERENCE_TOLERANCE = {
    np.dtype(np.float32): dict(rtol=2e-6, atol=1e-6),
    np.dtype(np.float64): dict(rtol=1e-12, atol=1e-13),
}


def assert_matches(ours, theirs, what: str = "", **tolerance) -> None:
    """``ours`` is an ndarray with the shape, dtype and values of ``theirs`` (tensor or array)."""
    theirs = to_numpy(theirs)
    tol = {**REFERENCE_TOLERANCE.get(theirs.dtype, REFERENCE_TOLERANCE[np.dtype(np.float64)]),
           **tolerance}
    check_array(ours, theirs, what, **tol)
