"""Dropout and its relatives (channel dropout, DropConnect, drop path), in NumPy.

Every layer is a pair ``<name>_forward(x, ...) -> (out, cache)`` and a backward pass that
takes the upstream gradient and the cache. Randomness never comes from a global state:
pass either an explicit ``numpy.random.Generator`` (``rng``) or the mask itself (``mask``).
A mask is a **keep** mask: ``True`` where a unit survives.

Conventions follow PyTorch (``torch.nn.functional.dropout``):

* ``p`` is the probability to **drop** a unit, not to keep it;
* in training mode the survivors are scaled by :math:`1/(1-p)` ("inverted dropout"), so
  nothing changes at inference;
* with ``training=False`` every layer is the identity (``model.eval()``);
* ``p = 1`` drops everything and returns zeros (no division by zero).

Floating inputs keep their dtype and are never modified.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

from nn_reference._arrays import as_float

__all__ = [
    "DropoutCache", "keep_mask", "dropout_forward", "dropout_backward",
    "dropout2d_forward", "drop_path_forward",
    "DropConnectCache", "dropconnect_linear_forward", "dropconnect_linear_backward",
    "mc_dropout_predict",
    "DropBlockCache", "dropblock_keep_mask", "dropblock_forward", "dropblock_backward",
]


class DropoutCache(NamedTuple):
    """What the backward pass of a dropout layer needs."""

    mask: np.ndarray | None  #: boolean keep mask, broadcastable to the input; None in eval mode
    p: float                 #: the drop probability
    training: bool




def _check_p(p: float) -> float:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    return float(p)


def _survivor_scale(p: float) -> float:
    """:math:`1/(1-p)`, and 0 for ``p = 1`` where every unit is dropped anyway."""
    return 0.0 if p == 1.0 else 1.0 / (1.0 - p)


def keep_mask(shape, p: float, rng: np.random.Generator) -> np.ndarray:
    r"""A boolean mask whose entries are independently ``True`` with probability :math:`1-p`.

    With :math:`U \sim \mathcal U[0, 1)`, :math:`P(U \ge p) = 1 - p`; so ``p = 0`` keeps
    everything and ``p = 1`` keeps nothing.
    """
    _check_p(p)
    return rng.random(shape) >= p


def _apply_mask(x, p, training, rng, mask, mask_shape) -> tuple[np.ndarray, DropoutCache]:
    x = as_float(x)
    p = _check_p(p)
    if not training:
        return x.copy(), DropoutCache(None, p, False)
    if mask is None:
        if rng is None:
            raise ValueError("training mode needs a random generator `rng` or a `mask`")
        mask = keep_mask(mask_shape, p, rng)
    mask = np.asarray(mask, dtype=bool)
    scale = x.dtype.type(_survivor_scale(p))
    out = x * (mask.astype(x.dtype) * scale)
    return out, DropoutCache(mask, p, True)


def dropout_forward(x, p: float = 0.5, mask=None, training: bool = True, *,
                    rng: np.random.Generator | None = None):
    r"""Inverted dropout, as ``torch.nn.functional.dropout(x, p, training)``.

    With a keep mask :math:`m_i \sim \mathrm{Bernoulli}(1-p)`,

    .. math::
        y_i = \frac{m_i\, x_i}{1-p} \quad\text{(training)}, \qquad y_i = x_i
        \quad\text{(inference)},

    so that :math:`\mathbb E[y_i] = x_i` in both modes. ``mask`` (boolean keep mask,
    broadcastable to ``x``) replaces the random draw; without it, ``rng`` (keyword only)
    draws one of ``x``'s shape. The arguments ``(x, p, mask, training)`` come in the order of
    the chapter's assignment. Returns ``(out, cache)``.
    """
    x = as_float(x)
    return _apply_mask(x, p, training, rng, mask, x.shape)


def dropout_backward(grad_output, cache: DropoutCache) -> np.ndarray:
    r"""Gradient with respect to the input: :math:`\partial L/\partial x_i = g_i\, m_i/(1-p)`.

    It reuses the mask of the forward pass (drawing a new one would differentiate another
    network); in inference mode the layer is the identity and so is its gradient.
    """
    grad_output = as_float(grad_output)
    if not cache.training:
        return grad_output.copy()
    scale = grad_output.dtype.type(_survivor_scale(cache.p))
    return grad_output * (np.asarray(cache.mask).astype(grad_output.dtype) * scale)


def dropout2d_forward(x, p: float = 0.5, mask=None, training: bool = True, *,
                      rng: np.random.Generator | None = None):
    r"""Channel dropout ("SpatialDropout"), as ``torch.nn.functional.dropout2d`` on (N, C, H, W).

    One Bernoulli draw per sample and channel, shared by all spatial positions:

    .. math::
        y_{n,c,h,w} = \frac{m_{n,c}\, x_{n,c,h,w}}{1-p}.

    Neighboring pixels of a feature map are strongly correlated, so dropping single pixels
    removes little information; dropping whole maps does. ``mask`` has shape ``(N, C, 1, 1)``
    (or anything that broadcasts). The backward pass is :func:`dropout_backward`.
    """
    x = as_float(x)
    if x.ndim < 3:
        raise ValueError(f"dropout2d expects (N, C, H, W), got shape {x.shape}")
    return _apply_mask(x, p, training, rng, mask, x.shape[:2] + (1,) * (x.ndim - 2))


def drop_path_forward(x, p: float = 0.5, mask=None, training: bool = True, *,
                      rng: np.random.Generator | None = None):
    r"""Drop path (stochastic depth) for the output of a residual branch, one draw per sample.

    In a residual block :math:`y = x + f(x)` the branch output is replaced by

    .. math::
        \tilde f(x)_n = \frac{m_n\, f(x)_n}{1-p}, \qquad m_n \sim \mathrm{Bernoulli}(1-p),

    so for a dropped sample the whole block is the identity. This is the inverted form used
    by ``timm`` and ``torchvision.ops.stochastic_depth(mode="row")``; Huang et al. (2016)
    scaled by the survival probability at test time instead. ``mask`` has shape
    ``(N, 1, ..., 1)``. The backward pass is :func:`dropout_backward`.
    """
    x = as_float(x)
    return _apply_mask(x, p, training, rng, mask, x.shape[:1] + (1,) * (x.ndim - 1))


class DropConnectCache(NamedTuple):
    x: np.ndarray
    weight_used: np.ndarray  #: the masked and rescaled weight (the plain weight in eval mode)
    dropout: DropoutCache    #: mask over the weight matrix
    has_bias: bool


def dropconnect_linear_forward(x, weight, bias=None, p: float = 0.5, training: bool = True, *,
                               rng: np.random.Generator | None = None, mask=None):
    r"""A linear layer whose **weights** are dropped (Wan et al., 2013), not its outputs.

    .. math::
        y = x \left(\frac{M \odot W}{1-p}\right)^{\!\top} + b, \qquad
        M_{jk} \sim \mathrm{Bernoulli}(1-p),

    with ``weight`` of shape ``(out_features, in_features)`` as ``torch.nn.Linear``. One mask
    is drawn per call (per mini-batch), which equals ``F.linear(x, F.dropout(W, p), b)``.
    The paper draws a mask per example and replaces the plain mean network at inference by a
    Gaussian moment-matching approximation; with the inverted scaling used here the
    inference network is simply :math:`x W^\top + b`.
    """
    x = as_float(x)
    weight = np.asarray(weight, dtype=x.dtype)
    weight_used, drop_cache = dropout_forward(weight, p, mask, training, rng=rng)
    out = x @ weight_used.T
    if bias is not None:
        out = out + np.asarray(bias, dtype=x.dtype)
    return out, DropConnectCache(x, weight_used, drop_cache, bias is not None)


def dropconnect_linear_backward(dout, cache: DropConnectCache):
    r"""Gradients ``(dx, dweight, dbias)`` of :func:`dropconnect_linear_forward`.

    .. math::
        \frac{\partial L}{\partial x} = G\,\tilde W, \quad
        \frac{\partial L}{\partial W} = \frac{M}{1-p} \odot (G^\top x), \quad
        \frac{\partial L}{\partial b} = \textstyle\sum_n G_n,

    with :math:`\tilde W` the weight used in the forward pass. ``dbias`` is None without bias.
    """
    dout = np.asarray(dout, dtype=cache.x.dtype)
    dx = dout @ cache.weight_used
    dweight = dropout_backward(dout.T @ cache.x, cache.dropout)
    dbias = dout.sum(axis=0) if cache.has_bias else None
    return dx, dweight, dbias


def mc_dropout_predict(forward: Callable[[np.ndarray, np.random.Generator], np.ndarray], x,
                       n_samples: int, rng: np.random.Generator):
    r"""Monte Carlo dropout (Gal and Ghahramani, 2016): keep dropout on at test time.

    Runs ``forward(x, rng)`` (a network with dropout in training mode) ``T = n_samples``
    times and returns the per-entry mean and variance over the runs,

    .. math::
        \hat\mu = \frac1T \sum_t f_t(x), \qquad \hat\sigma^2 = \frac1T \sum_t (f_t(x)-\hat\mu)^2 .

    The mean approximates the ensemble average that the single scaled network only
    approximates by "weight scaling"; the variance is a (rough) measure of uncertainty.
    """
    if n_samples < 1:
        raise ValueError("n_samples must be at least 1")
    samples = np.stack([np.asarray(forward(x, rng)) for _ in range(n_samples)])
    return samples.mean(axis=0), samples.var(axis=0)


# --------------------------------------------------------------------------- DropBlock

class DropBlockCache(NamedTuple):
    mask: np.ndarray | None  #: boolean keep mask of the input's shape; None in eval mode
    scale: float             #: the factor applied to the survivors
    training: bool


def dropblock_keep_mask(shape, p: float, block_size: int, rng: np.random.Generator) -> np.ndarray:
    r"""A keep mask for DropBlock on ``(N, C, H, W)`` maps: square blocks of zeros.

    Block *seeds* are drawn independently with probability :math:`\gamma` at the
    :math:`(H - b + 1)(W - b + 1)` positions where a :math:`b \times b` block fits, and each seed
    drops the block whose top-left corner it marks. Ghiasi, Lin and Le (2018) choose

    .. math:: \gamma = \frac{p}{b^2}\, \frac{H W}{(H - b + 1)(W - b + 1)}

    so that about a fraction :math:`p` of the positions is dropped (a little less, since
    blocks overlap). ``block_size`` is capped at the map's size, as in
    ``torchvision.ops.drop_block2d``.
    """
    n, c, h, w = shape
    b = min(block_size, h, w)
    gamma = p * h * w / (b * b * (h - b + 1) * (w - b + 1))
    seeds = rng.random((n, c, h - b + 1, w - b + 1)) < gamma
    dropped = np.zeros(shape, dtype=bool)
    for i in range(b):          # OR of the seed map shifted to every offset of the block
        for j in range(b):
            dropped[:, :, i:i + h - b + 1, j:j + w - b + 1] |= seeds
    return ~dropped


def dropblock_forward(x, p: float = 0.1, block_size: int = 3, mask=None, training: bool = True, *,
                      rng: np.random.Generator | None = None):
    r"""DropBlock (Ghiasi, Lin and Le, 2018): drop contiguous square regions of each feature map.

    Dropping single pixels of a convolutional map hides little (the neighbors carry the same
    information); dropping whole channels hides a lot at once. DropBlock sits in between: it
    zeroes :math:`b \times b` squares, so that the network cannot read a dropped feature off
    its neighborhood. As ``torchvision.ops.drop_block2d``, the survivors are rescaled by
    :math:`\text{(number of entries)}/\text{(number kept)}`, measured on the whole batch rather
    than :math:`1/(1-p)`, because the dropped fraction is only approximately :math:`p`.
    ``mask`` (a keep mask of ``x``'s shape) replaces the draw. Returns ``(out, cache)``.
    """
    x = as_float(x)
    p = _check_p(p)
    if x.ndim != 4:
        raise ValueError(f"DropBlock expects (N, C, H, W), got shape {x.shape}")
    if not training or p == 0.0:
        return x.copy(), DropBlockCache(None, 1.0, False)
    if mask is None:
        if rng is None:
            raise ValueError("training mode needs a random generator `rng` or a `mask`")
        mask = dropblock_keep_mask(x.shape, p, block_size, rng)
    mask = np.asarray(mask, dtype=bool)
    kept = int(mask.sum())
    scale = 0.0 if kept == 0 else mask.size / kept
    return (x * (mask * x.dtype.type(scale))).astype(x.dtype, copy=False), DropBlockCache(mask, scale, True)


def dropblock_backward(grad_output, cache: DropBlockCache) -> np.ndarray:
    r"""Gradient of :func:`dropblock_forward`: the same mask and scale applied to the gradient."""
    grad_output = as_float(grad_output)
    if not cache.training:
        return grad_output.copy()
    return grad_output * (cache.mask * grad_output.dtype.type(cache.scale))
