"""Gradient clipping, as ``torch.nn.utils.clip_grad_norm_`` and ``clip_grad_value_``.

PyTorch clips the ``.grad`` of the parameters in place; these functions take a list of
gradient arrays and return a new list, leaving their inputs untouched.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["clip_grad_norm", "clip_grad_value"]


def clip_grad_norm(grads, max_norm: float, norm_type: float = 2.0,
                   error_if_nonfinite: bool = False) -> tuple[list[np.ndarray], float]:
    r"""Rescale *all* gradients together so that their global norm is at most ``max_norm``.

    The norm is taken over every entry of every array, as if they were one long vector:

    .. math::
        \lVert g \rVert = \Bigl(\sum_i \lVert g^{(i)} \rVert_p^p\Bigr)^{1/p}, \qquad
        g^{(i)} \leftarrow g^{(i)} \cdot \min\Bigl(1,\;
            \frac{\text{max\_norm}}{\lVert g \rVert + 10^{-6}}\Bigr).

    Every array is scaled by the *same* factor, so the direction of the full gradient is
    kept. Gradients below the threshold are left as they are. Returns the clipped list and
    the total norm before clipping (as PyTorch returns it).

    As PyTorch, the total is the ``norm_type``-norm of the vector of per-array norms.
    ``norm_type=inf`` is the largest :math:`|g|`, ``-inf`` the smallest, and ``0`` counts
    non-zero entries; for ``0`` PyTorch's total is then the number of *arrays* with a
    non-zero entry (the 0-"norm" of the per-array counts), which we reproduce.
    """
    grads = [np.asarray(g) for g in grads]
    if not grads:
        return [], 0.0
    p = float(norm_type)
    if p == math.inf:
        norms = np.array([np.max(np.abs(g)) if g.size else 0.0 for g in grads])
        total = norms.max()
    elif p == -math.inf:
        norms = np.array([np.min(np.abs(g)) if g.size else math.inf for g in grads])
        total = norms.min()
    elif p == 0:
        norms = np.array([np.count_nonzero(g) for g in grads], dtype=np.float64)
        total = np.count_nonzero(norms)
    else:
        with np.errstate(divide="ignore"):  # negative orders: 0 ** p = inf, as torch
            norms = np.array([np.sum(np.abs(g.astype(np.float64)) ** p) ** (1 / p) for g in grads])
            total = np.sum(norms**p) ** (1 / p)
    total = float(total)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"the total norm of order {norm_type} of the gradients is {total}")
    coef = min(max_norm / (total + 1e-6), 1.0)
    return [(g * coef).astype(g.dtype, copy=False) for g in grads], total


def clip_grad_value(grads, clip_value: float) -> list[np.ndarray]:
    r"""Clamp every entry of every gradient to :math:`[-c, c]`, independently.

    Unlike clipping by norm this changes the *direction* of the gradient: a coordinate
    above the threshold is cut while the others are kept.
    """
    return [np.clip(np.asarray(g), -clip_value, clip_value) for g in grads]
