r"""Batch normalization and its relatives (layer, group and instance normalization), in NumPy.

Every layer of this module does the same two things and differs only in *which* elements
share a mean and a variance:

1. normalize: :math:`\\hat x = (x - \\mu) / \\sqrt{\\sigma^2 + \\epsilon}` with the mean
   :math:`\\mu` and the **biased** variance :math:`\\sigma^2` of a group of elements
   (``eps`` inside the square root, as PyTorch);
2. scale and shift: :math:`y = \\gamma \\hat x + \\beta` with learned ``weight`` :math:`\\gamma`
   and ``bias`` :math:`\\beta`.

========================  ======================================  =====================
layer                     statistics over                          ``weight`` shape
========================  ======================================  =====================
batch norm                (N, *spatial) for each channel           ``(C,)``
layer norm                the trailing ``normalized_shape`` axes   ``normalized_shape``
group norm                (C / G, *spatial) for each sample, group ``(C,)``
instance norm             (*spatial) for each sample and channel   ``(C,)``
========================  ======================================  =====================

Inputs are laid out as PyTorch lays them out: ``(N, C)``, ``(N, C, L)``, ``(N, C, H, W)``
or ``(N, C, D, H, W)``, channels on axis 1.

The forward functions return ``(out, cache)`` (batch norm also returns its updated running
statistics) and the backward functions take ``(grad_output, cache)`` and return
``(grad_input, grad_weight, grad_bias)``, CS231n-style. Statistics are computed in float64
and results are cast back, so float32 in gives float32 out. No function modifies its inputs:
where ``torch.nn.functional.batch_norm`` updates ``running_mean`` and ``running_var`` in place,
:func:`batch_norm_forward` returns new arrays instead (the one deliberate difference).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from nn_reference._arrays import as_float

__all__ = [
    "NormCache", "BatchNormResult",
    "update_running_stats",
    "batch_norm_forward", "batch_norm_backward",
    "layer_norm_forward", "layer_norm_backward",
    "RMSNormCache", "rms_norm_forward", "rms_norm_backward",
    "group_norm_forward", "group_norm_backward",
    "instance_norm_forward", "instance_norm_backward",
    "normalize_backward", "fuse_batch_norm",
]


class NormCache(NamedTuple):
    r"""What a backward pass needs from its forward pass.

    ``x_hat`` is the normalized input (before scale and shift), shaped like the input;
    ``inv_std`` is :math:`1/\\sqrt{\\sigma^2 + \\epsilon}`, broadcastable against ``x_hat`` in
    the *grouped* view; ``reduce_axes`` are the axes of that view the statistics were taken
    over (empty when the statistics were constants: batch norm in inference mode);
    ``group_shape`` is the grouped view (``None``: the input's own shape);
    ``weight`` is :math:`\\gamma` broadcast to the input's rank (``None`` if absent) and
    ``param_axes`` the axes summed to get the parameter gradients.
    """

    x_hat: np.ndarray
    inv_std: np.ndarray
    reduce_axes: tuple
    group_shape: tuple | None
    weight: np.ndarray | None
    param_axes: tuple
    param_shape: tuple


class BatchNormResult(NamedTuple):
    """The output of :func:`batch_norm_forward` and the running statistics after it."""

    out: np.ndarray
    running_mean: np.ndarray | None
    running_var: np.ndarray | None
    cache: NormCache


# --------------------------------------------------------------------------- helpers



def _channel_shape(x: np.ndarray) -> tuple:
    """Shape that broadcasts a per-channel vector against ``x`` (channels on axis 1)."""
    return (1, x.shape[1]) + (1,) * (x.ndim - 2)


def _batch_axes(x: np.ndarray) -> tuple:
    """Every axis but the channel axis: (0,) for (N, C), (0, 2) for (N, C, L), (0, 2, 3)..."""
    return (0,) + tuple(range(2, x.ndim))


def _check_channels(x: np.ndarray, name: str) -> None:
    if x.ndim < 2:
        raise ValueError(f"{name} expects input of shape (N, C, *), got {x.shape}")


def _empty_reduction(x: np.ndarray, axes: tuple) -> bool:
    """True when the statistics would be taken over no element at all (a zero-size batch)."""
    return any(x.shape[a] == 0 for a in axes)


def _normalize(x64: np.ndarray, axes: tuple, eps: float):
    """``x_hat`` and ``1/sqrt(var + eps)`` with the biased variance over ``axes``.

    Over an empty group (a batch of zero samples) there is nothing to normalize: the output
    is empty like the input, and the statistics are set to ``mean = 0``, ``var = 1`` instead
    of NumPy's ``nan`` and its "mean of empty slice" warning.
    """
    if _empty_reduction(x64, axes):
        stat_shape = tuple(1 if a in axes else n for a, n in enumerate(x64.shape))
        mean, var = np.zeros(stat_shape), np.ones(stat_shape)
        inv_std = 1.0 / np.sqrt(var + eps)
        return (x64 - mean) * inv_std, inv_std, mean, var
    mean = x64.mean(axis=axes, keepdims=True)
    centered = x64 - mean
    var = (centered * centered).mean(axis=axes, keepdims=True)
    inv_std = 1.0 / np.sqrt(var + eps)
    return centered * inv_std, inv_std, mean, var


def _affine(x_hat: np.ndarray, weight, bias, shape: tuple):
    """``weight * x_hat + bias`` with both reshaped to ``shape``; also ``weight`` reshaped."""
    w = None if weight is None else np.asarray(weight, dtype=np.float64).reshape(shape)
    out = x_hat if w is None else x_hat * w
    if bias is not None:
        out = out + np.asarray(bias, dtype=np.float64).reshape(shape)
    return out, w


def normalize_backward(grad_x_hat: np.ndarray, x_hat: np.ndarray, inv_std: np.ndarray,
                       axes: tuple) -> np.ndarray:
    r"""Gradient through :math:`\hat x = (x - \mu)/\sqrt{\sigma^2+\epsilon}` when :math:`\mu` and
    :math:`\sigma^2` (biased) are the statistics of the ``m`` elements along ``axes``.

    The compact closed form, shared by every layer of this module:

    .. math::
        \frac{\partial L}{\partial x_i} = \frac{1}{\sqrt{\sigma^2+\epsilon}}
        \left( g_i - \frac1m \sum_j g_j - \hat x_i\, \frac1m \sum_j g_j \hat x_j \right),
        \qquad g = \frac{\partial L}{\partial \hat x}.

    The two subtracted terms are the paths through the mean and through the variance.
    With ``axes = ()`` (constant statistics) it reduces to :math:`g_i / \sqrt{\sigma^2+\epsilon}`.
    """
    if not axes or _empty_reduction(grad_x_hat, axes):
        return grad_x_hat * inv_std
    mean_g = grad_x_hat.mean(axis=axes, keepdims=True)
    mean_gx = (grad_x_hat * x_hat).mean(axis=axes, keepdims=True)
    return inv_std * (grad_x_hat - mean_g - x_hat * mean_gx)


def _backward(grad_output, cache: NormCache, dtype) -> tuple:
    """Shared backward pass: parameter gradients, then the input gradient in the grouped view."""
    g = np.asarray(grad_output, dtype=np.float64)
    x_hat = cache.x_hat
    grad_weight = None if cache.weight is None else (g * x_hat).sum(axis=cache.param_axes)
    grad_bias = g.sum(axis=cache.param_axes)
    grad_x_hat = g if cache.weight is None else g * cache.weight
    shape = x_hat.shape
    if cache.group_shape is not None:
        grad_x_hat, x_hat = grad_x_hat.reshape(cache.group_shape), x_hat.reshape(cache.group_shape)
    grad_input = normalize_backward(grad_x_hat, x_hat, cache.inv_std, cache.reduce_axes)
    cast = (lambda a: None if a is None else np.asarray(a).reshape(cache.param_shape).astype(dtype))
    return grad_input.reshape(shape).astype(dtype), cast(grad_weight), cast(grad_bias)


# --------------------------------------------------------------------------- batch norm

def update_running_stats(running_mean, running_var, x, momentum: float | None = 0.1,
                         num_batches_tracked: int = 0):
    r"""The running statistics after one training step of batch norm, PyTorch's convention.

    With :math:`m` elements per channel (``N * H * W`` for ``(N, C, H, W)`` input),

    .. math::
        \hat\mu \leftarrow (1 - \alpha)\,\hat\mu + \alpha\,\mu_B, \qquad
        \hat\sigma^2 \leftarrow (1 - \alpha)\,\hat\sigma^2 + \alpha\,\frac{m}{m-1}\,\sigma_B^2,

    :math:`\alpha` = ``momentum``. The running variance stores the **unbiased** batch variance
    (the normalization itself uses the biased one). Returns new arrays ``(mean, var)`` of the
    running statistics' dtype.

    ``momentum=None`` is PyTorch's *cumulative* average (``nn.BatchNorm2d(momentum=None)``):
    :math:`\alpha = 1/k` for the :math:`k`-th batch, ``k = num_batches_tracked + 1``, so that
    after :math:`k` batches the running statistics are the plain mean of the :math:`k` batch
    statistics. ``num_batches_tracked`` counts the batches seen *before* this one (the
    module's buffer of that name); the caller increments it. A zero-size batch leaves the
    statistics unchanged, as PyTorch does.
    """
    x = as_float(x)
    _check_channels(x, "update_running_stats")
    axes = _batch_axes(x)
    running_mean = np.asarray(running_mean)
    running_var = np.asarray(running_var)
    if x.size == 0:
        return running_mean.copy(), running_var.copy()
    m = x.size // x.shape[1]
    if m < 2:
        raise ValueError("expected more than 1 value per channel when training "
                         f"(input of shape {x.shape})")
    if momentum is None:
        momentum = 1.0 / (int(num_batches_tracked) + 1)
    x64 = x.astype(np.float64)
    batch_mean = x64.mean(axis=axes)
    batch_var = x64.var(axis=axes) * m / (m - 1)
    new_mean = (1 - momentum) * running_mean.astype(np.float64) + momentum * batch_mean
    new_var = (1 - momentum) * running_var.astype(np.float64) + momentum * batch_var
    return new_mean.astype(running_mean.dtype), new_var.astype(running_var.dtype)


def batch_norm_forward(x, running_mean=None, running_var=None, weight=None, bias=None,
                       training: bool = False, momentum: float | None = 0.1,
                       eps: float = 1e-5, *, num_batches_tracked: int = 0) -> BatchNormResult:
    r"""Batch normalization of ``(N, C, *)`` input, as ``torch.nn.functional.batch_norm``.

    In training mode each channel :math:`c` is normalized
    with the mean and the biased variance of its :math:`m = N \cdot \prod \text{spatial}` values
    in the batch,

    .. math::
        \mu_c = \frac1m \sum_{n,h,w} x_{nchw}, \qquad
        \sigma_c^2 = \frac1m \sum_{n,h,w} (x_{nchw} - \mu_c)^2, \qquad
        y_{nchw} = \gamma_c\, \frac{x_{nchw} - \mu_c}{\sqrt{\sigma_c^2 + \epsilon}} + \beta_c ,

    and the running statistics, if given, are updated (:func:`update_running_stats`).
    In inference mode the running statistics replace :math:`\mu_c, \sigma_c^2` and nothing
    is updated, so the output of one example does not depend on the rest of the batch.
    Inference mode without running statistics raises ``RuntimeError``, as PyTorch does
    (silently using batch statistics instead would hide a model that was never trained in
    training mode). ``momentum=None`` and ``num_batches_tracked`` are passed on to
    :func:`update_running_stats` (cumulative average). A zero-size batch gives an empty output
    and leaves the running statistics unchanged.

    Returns ``BatchNormResult(out, running_mean, running_var, cache)``; the running statistics
    are new arrays (PyTorch updates its buffers in place; we never modify inputs).
    """
    x = as_float(x)
    _check_channels(x, "batch_norm_forward")
    x64 = x.astype(np.float64)
    shape = _channel_shape(x)
    if not training and (running_mean is None or running_var is None):
        raise RuntimeError("running_mean and running_var must be defined in evaluation mode "
                           "(training=False); pass training=True to use batch statistics")
    if training:
        axes = _batch_axes(x)
        if x.size and x.size // x.shape[1] < 2:
            raise ValueError("expected more than 1 value per channel when training "
                             f"(input of shape {x.shape})")
        x_hat, inv_std, _, _ = _normalize(x64, axes, eps)
        reduce_axes = axes
    else:
        mean = np.asarray(running_mean, dtype=np.float64).reshape(shape)
        inv_std = 1.0 / np.sqrt(np.asarray(running_var, dtype=np.float64).reshape(shape) + eps)
        x_hat, reduce_axes = (x64 - mean) * inv_std, ()
    if training and running_mean is not None and running_var is not None:
        running_mean, running_var = update_running_stats(running_mean, running_var, x, momentum,
                                                         num_batches_tracked)
    out, w = _affine(x_hat, weight, bias, shape)
    cache = NormCache(x_hat, inv_std, reduce_axes, None, w, _batch_axes(x), (x.shape[1],))
    return BatchNormResult(out.astype(x.dtype), running_mean, running_var, cache)


def batch_norm_backward(grad_output, cache: NormCache):
    r"""Gradients of batch norm: ``(grad_input, grad_weight, grad_bias)``.

    With :math:`g = \partial L/\partial y`, summing over the :math:`m` positions of a channel,

    .. math::
        \frac{\partial L}{\partial \beta_c} = \sum g, \qquad
        \frac{\partial L}{\partial \gamma_c} = \sum g\, \hat x, \qquad
        \frac{\partial L}{\partial x} = \frac{\gamma_c}{\sqrt{\sigma_c^2+\epsilon}}
        \left(g - \frac1m\sum g - \hat x\,\frac1m \sum g\,\hat x\right)

    in training mode; in inference mode the statistics are constants and
    :math:`\partial L/\partial x = \gamma_c\, g / \sqrt{\hat\sigma_c^2 + \epsilon}`.
    ``grad_weight`` is ``None`` when the forward pass had no weight.
    """
    return _backward(grad_output, cache, np.asarray(grad_output).dtype)


# --------------------------------------------------------------------------- layer norm

def layer_norm_forward(x, normalized_shape, weight=None, bias=None, eps: float = 1e-5):
    r"""Layer normalization, as ``torch.nn.functional.layer_norm``.

    Each sample is normalized over its last ``len(normalized_shape)`` axes with the biased
    variance; ``weight`` and ``bias`` have shape ``normalized_shape`` (one per feature, not one
    per channel as in batch norm). No running statistics: training and inference agree.
    """
    x = as_float(x)
    normalized_shape = (normalized_shape,) if np.isscalar(normalized_shape) else tuple(normalized_shape)
    k = len(normalized_shape)
    if tuple(x.shape[x.ndim - k:]) != normalized_shape:
        raise ValueError(f"normalized_shape {normalized_shape} does not end the input shape {x.shape}")
    axes = tuple(range(x.ndim - k, x.ndim))
    x_hat, inv_std, _, _ = _normalize(x.astype(np.float64), axes, eps)
    out, w = _affine(x_hat, weight, bias, normalized_shape)
    cache = NormCache(x_hat, inv_std, axes, None, w, tuple(range(x.ndim - k)), normalized_shape)
    return out.astype(x.dtype), cache


def layer_norm_backward(grad_output, cache: NormCache):
    r"""Gradients of layer norm; the same closed form as batch norm's, with the mean over the
    normalized features of each sample, and parameter gradients summed over the leading axes."""
    return _backward(grad_output, cache, np.asarray(grad_output).dtype)


# --------------------------------------------------------------------------- RMS norm

class RMSNormCache(NamedTuple):
    """What :func:`rms_norm_backward` needs: the normalized input, ``1/rms``, the axes."""

    x_hat: np.ndarray
    inv_rms: np.ndarray
    axes: tuple
    weight: np.ndarray | None


def rms_norm_forward(x, normalized_shape, weight=None, eps: float | None = None):
    r"""Root-mean-square normalization (Zhang and Sennrich, 2019), as ``torch.nn.RMSNorm``.

    Layer norm without the mean: each sample is divided by the root mean square of its last
    ``len(normalized_shape)`` axes, then scaled per feature (there is no shift),

    .. math::
        \operatorname{RMS}(x) = \sqrt{\frac1d \sum_k x_k^2 + \epsilon}, \qquad
        y_k = \gamma_k\, \frac{x_k}{\operatorname{RMS}(x)} .

    Skipping the centering saves a reduction and, in the authors' experiments, loses nothing;
    LLaMA and many recent Transformers use it. ``eps=None`` is PyTorch's default, the machine
    epsilon of the input's dtype (``torch.finfo(dtype).eps``), not layer norm's ``1e-5``.
    Returns ``(out, cache)``.
    """
    x = as_float(x)
    normalized_shape = (normalized_shape,) if np.isscalar(normalized_shape) else tuple(normalized_shape)
    k = len(normalized_shape)
    if tuple(x.shape[x.ndim - k:]) != normalized_shape:
        raise ValueError(f"normalized_shape {normalized_shape} does not end the input shape {x.shape}")
    if eps is None:
        eps = float(np.finfo(x.dtype).eps)
    axes = tuple(range(x.ndim - k, x.ndim))
    x64 = x.astype(np.float64)
    inv_rms = 1.0 / np.sqrt((x64 * x64).mean(axis=axes, keepdims=True) + eps)
    x_hat = x64 * inv_rms
    w = None if weight is None else np.asarray(weight, dtype=np.float64).reshape(normalized_shape)
    out = x_hat if w is None else x_hat * w
    return out.astype(x.dtype), RMSNormCache(x_hat, inv_rms, axes, w)


def rms_norm_backward(grad_output, cache: RMSNormCache):
    r"""Gradients ``(grad_input, grad_weight)`` of :func:`rms_norm_forward`.

    With :math:`\hat x = x / \operatorname{RMS}(x)` and :math:`\hat g = \gamma \odot g`, the
    path through the RMS gives one correction term (layer norm has two, the mean's and the
    variance's):

    .. math::
        \frac{\partial L}{\partial x} = \frac{1}{\operatorname{RMS}(x)}
        \left(\hat g - \hat x\, \frac1d \sum_k \hat g_k \hat x_k\right), \qquad
        \frac{\partial L}{\partial \gamma} = \sum_{\text{leading axes}} g \odot \hat x .

    ``grad_weight`` is ``None`` when the forward pass had no weight.
    """
    dtype = np.asarray(grad_output).dtype
    g = np.asarray(grad_output, dtype=np.float64)
    lead = tuple(range(g.ndim - len(cache.axes)))
    grad_weight = None if cache.weight is None else (g * cache.x_hat).sum(axis=lead)
    g_hat = g if cache.weight is None else g * cache.weight
    if _empty_reduction(g_hat, cache.axes):
        grad_input = g_hat * cache.inv_rms
    else:
        grad_input = cache.inv_rms * (g_hat - cache.x_hat * (g_hat * cache.x_hat).mean(axis=cache.axes, keepdims=True))
    return grad_input.astype(dtype), None if grad_weight is None else grad_weight.astype(dtype)


# --------------------------------------------------------------------------- group norm

def group_norm_forward(x, num_groups: int, weight=None, bias=None, eps: float = 1e-5):
    r"""Group normalization (Wu and He, 2018), as ``torch.nn.functional.group_norm``.

    The ``C`` channels are split into ``num_groups`` consecutive groups; each sample and group
    is normalized over its ``C / G`` channels and all spatial positions (biased variance);
    then a per-channel affine map. ``G = 1`` normalizes each sample over everything (like
    layer norm over ``(C, *)`` but with per-channel parameters); ``G = C`` is instance norm.
    """
    x = as_float(x)
    _check_channels(x, "group_norm_forward")
    n, c = x.shape[:2]
    if c % num_groups:
        raise ValueError(f"{c} channels cannot be split into {num_groups} groups")
    group_shape = (n, num_groups, (c // num_groups) * int(np.prod(x.shape[2:], dtype=np.int64)))
    grouped = x.astype(np.float64).reshape(group_shape)
    x_hat, inv_std, _, _ = _normalize(grouped, (2,), eps)
    x_hat = x_hat.reshape(x.shape)
    out, w = _affine(x_hat, weight, bias, _channel_shape(x))
    cache = NormCache(x_hat, inv_std, (2,), group_shape, w, _batch_axes(x), (c,))
    return out.astype(x.dtype), cache


def group_norm_backward(grad_output, cache: NormCache):
    """Gradients of group norm: the closed form applied within each (sample, group)."""
    return _backward(grad_output, cache, np.asarray(grad_output).dtype)


def instance_norm_forward(x, weight=None, bias=None, eps: float = 1e-5):
    r"""Instance normalization (Ulyanov et al., 2016): each sample and channel normalized over
    its spatial positions, as ``torch.nn.functional.instance_norm`` with
    ``use_input_stats=True`` (the default of ``nn.InstanceNorm2d``, which keeps no running
    statistics and has no affine parameters unless asked). It is group norm with ``G = C``."""
    x = as_float(x)
    if x.ndim < 3:
        raise ValueError(f"instance norm expects (N, C, *spatial) input, got {x.shape}")
    return group_norm_forward(x, x.shape[1], weight, bias, eps)


def instance_norm_backward(grad_output, cache: NormCache):
    """Gradients of instance norm (group norm with one channel per group)."""
    return _backward(grad_output, cache, np.asarray(grad_output).dtype)


# --------------------------------------------------------------------------- deployment

def fuse_batch_norm(linear_weight, linear_bias, running_mean, running_var, weight, bias,
                    eps: float = 1e-5):
    r"""Fold an inference-mode batch norm into the linear (or convolution) layer before it.

    In ``eval()`` mode batch norm is the fixed affine map
    :math:`y = \gamma (z - \hat\mu)/\sqrt{\hat\sigma^2+\epsilon} + \beta` of
    :math:`z = W x + b`, so it collapses into one layer with

    .. math::
        W' = \operatorname{diag}(s)\, W, \quad b' = s\,(b - \hat\mu) + \beta, \quad
        s = \gamma / \sqrt{\hat\sigma^2 + \epsilon}.

    ``linear_weight`` has the output channels on axis 0 (``(out, in)`` or a conv kernel
    ``(out, in, kh, kw)``). Returns new ``(weight, bias)`` arrays. A missing ``linear_bias``
    is zero; a batch norm without affine parameters (``affine=False``: ``weight`` and ``bias``
    ``None``) has :math:`\gamma = 1`, :math:`\beta = 0`.
    """
    w = np.asarray(linear_weight)
    gamma = 1.0 if weight is None else np.asarray(weight, dtype=np.float64)
    beta = 0.0 if bias is None else np.asarray(bias, dtype=np.float64)
    inv_std = 1.0 / np.sqrt(np.asarray(running_var, dtype=np.float64) + eps)
    scale = np.broadcast_to(gamma * inv_std, (w.shape[0],))
    b = np.zeros(w.shape[0]) if linear_bias is None else np.asarray(linear_bias, dtype=np.float64)
    fused_w = w.astype(np.float64) * scale.reshape((-1,) + (1,) * (w.ndim - 1))
    fused_b = scale * (b - np.asarray(running_mean, dtype=np.float64)) + beta
    return fused_w.astype(w.dtype), fused_b.astype(w.dtype)
