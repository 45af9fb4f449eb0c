"""Moving data between NumPy and PyTorch, the oracle of the hidden and repository tests."""

from __future__ import annotations

import numpy as np
import torch


def to_torch(x, requires_grad: bool = False) -> torch.Tensor:
    """A tensor holding a copy of ``x``, same dtype, optionally tracking gradients."""
    return torch.tensor(np.array(x), requires_grad=requires_grad)


def to_numpy(t) -> np.ndarray:
    """A plain ``numpy.ndarray`` copy of a tensor (detached) or of any array-like."""
    if isinstance(t, torch.Tensor):
        return t.detach().cpu().numpy().copy()
    return np.array(t)


def seeded_normal(shape, dtype, seed: int, scale: float = 1.0) -> np.ndarray:
    """Reproducible standard-normal samples times ``scale``, of the given dtype."""
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(dtype)


#: Magnitudes that break naive formulas: overflow in exp, underflow to 0, the kink at 0.
EXTREME_VALUES = (-1e4, -1e3, -100.0, -30.0, -20.0, -1.0, -1e-8, 0.0, 1e-8, 1.0, 20.0, 30.0,
                  100.0, 1e3, 1e4)


def elementwise_cases(seed: int = 0, dtypes=(np.float32, np.float64), scale: float = 3.0,
                      extremes=EXTREME_VALUES):
    """Inputs for an elementwise function: several shapes, a batch of one, the extremes.

    Yields ``(label, x)``; the label names the shape and dtype for failure messages.
    """
    shapes = ((11,), (3, 4, 5), (1, 7))
    for dtype in dtypes:
        name = np.dtype(dtype).name
        for i, shape in enumerate(shapes):
            yield f"random {shape} {name}", seeded_normal(shape, dtype, seed + i, scale)
        yield f"extremes {name}", np.array(extremes, dtype=dtype)
        yield f"zeros {name}", np.zeros((2, 3), dtype=dtype)


def call_quietly(fn, *args):
    """Call a submitted function, keeping NumPy's warnings out of the grading output."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args)


def check_elementwise(student_fn, oracle_fn, name: str, cases=None) -> None:
    """Compare ``student_fn(x)`` with ``oracle_fn(tensor)`` on every case, dtype included.

    The oracle sees a copy of ``x`` taken before the call, and the input is checked to be
    unchanged before the values are compared, so that a function that modifies its input is
    told so (rather than that its values differ).
    """
    from coursekit.checks import check_array

    for label, x in (cases if cases is not None else elementwise_cases()):
        before = x.copy()
        expected = to_numpy(oracle_fn(to_torch(before)))
        result = call_quietly(student_fn, x)
        if not np.array_equal(x, before, equal_nan=True):
            raise AssertionError(f"{name} modified its input x ({label}): compute a new array")
        check_array(result, expected, f"{name}, {label}")
