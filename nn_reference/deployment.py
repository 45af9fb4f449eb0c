"""From a trained network to a deployed one: quantization, distillation, reduced precision, pruning.

Folding batch norm into the preceding layer is :func:`nn_reference.normalization.fuse_batch_norm`
(it takes a ``Linear`` weight or a ``Conv2d`` kernel); this module holds the rest:

* affine int8 quantization, per tensor and per channel: :func:`choose_qparams` (the
  min/max observer), :func:`quantize_per_tensor`, :func:`quantize_per_channel`,
  :func:`dequantize`, :func:`fake_quantize` and its straight-through backward pass;
* :func:`int8_linear`: a linear layer on int8 operands with an int32 accumulator;
* :func:`distillation_loss` and its gradient (Hinton et al., 2015);
* :func:`to_float16` (reports overflow and underflow) and :func:`to_bfloat16`;
* dynamic loss scaling as in ``torch.amp.GradScaler``: :func:`unscale_grads`, :func:`update_scale`;
* :func:`magnitude_prune_mask`, the mask of ``torch.nn.utils.prune.l1_unstructured``.

Rounding is to the nearest integer, **ties to even** (``np.rint``, C's ``nearbyint``), as in
PyTorch: 0.5 -> 0, 1.5 -> 2, 2.5 -> 2, -0.5 -> -0.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from nn_reference._arrays import as_float

__all__ = [
    "qrange", "choose_qparams", "quantize_per_tensor", "quantize_per_channel", "dequantize",
    "fake_quantize", "fake_quantize_backward", "int8_linear",
    "distillation_loss", "distillation_loss_backward",
    "Float16Report", "to_float16", "to_bfloat16", "FLOAT16_MAX", "FLOAT16_TINY",
    "FLOAT16_SMALLEST_SUBNORMAL",
    "unscale_grads", "update_scale", "magnitude_prune_mask",
]

FLOAT16_MAX = float(np.finfo(np.float16).max)                    # 65504
FLOAT16_TINY = float(np.finfo(np.float16).tiny)                  # 2**-14, smallest normal
FLOAT16_SMALLEST_SUBNORMAL = float(np.finfo(np.float16).smallest_subnormal)  # 2**-24


# --------------------------------------------------------------------------- int8 quantization

def qrange(dtype=np.int8) -> tuple[int, int]:
    """``(quant_min, quant_max)`` of an integer dtype: (-128, 127) for int8, (0, 255) for uint8."""
    info = np.iinfo(dtype)
    return int(info.min), int(info.max)


def choose_qparams(min_val, max_val, quant_min: int = -128, quant_max: int = 127,
                   symmetric: bool = False):
    r"""Scale and zero point from a calibrated range, as PyTorch's ``MinMaxObserver``.

    The range is first widened to contain 0 (so that 0.0 is represented exactly, which zero
    padding and ReLU outputs need): :math:`m_- = \min(m, 0)`, :math:`M_+ = \max(M, 0)`.

    Affine (asymmetric):

    .. math::
        s = \frac{M_+ - m_-}{q_{\max} - q_{\min}}, \qquad
        z = \operatorname{clamp}\big(q_{\min} - \operatorname{round}(m_- / s),\ q_{\min}, q_{\max}\big).

    Symmetric: :math:`s = \max(-m_-, M_+) / ((q_{\max} - q_{\min}) / 2)` and
    :math:`z = 0` for int8 (128 for uint8). In both, :math:`s` is at least the float32
    machine epsilon, so a constant-zero tensor still gets a usable scale.

    ``min_val`` and ``max_val`` are scalars (per tensor) or vectors (per channel). Returns
    ``(scale, zero_point)`` as arrays of the input's float dtype and int64.
    """
    lo, hi = as_float(min_val), as_float(max_val)
    dtype = np.result_type(lo, hi)
    lo, hi = np.minimum(lo, 0).astype(dtype), np.maximum(hi, 0).astype(dtype)
    eps = np.asarray(np.finfo(np.float32).eps, dtype=dtype)
    if symmetric:
        bound = np.maximum(-lo, hi)
        scale = np.maximum(bound / dtype.type((quant_max - quant_min) / 2), eps)
        zero = 128 if (quant_min, quant_max) == (0, 255) else 0
        zero_point = np.full(scale.shape, zero, dtype=np.int64)
    else:
        scale = np.maximum((hi - lo) / dtype.type(quant_max - quant_min), eps)
        zero_point = quant_min - np.rint(lo / scale).astype(np.int64)
        zero_point = np.clip(zero_point, quant_min, quant_max)
    return scale.astype(dtype), zero_point.astype(np.int64)


def _quantize(x: np.ndarray, scale, zero_point, quant_min: int, quant_max: int):
    """``rint(x / s) + z`` (unclamped, as int64) and its clamped value."""
    inverse = np.asarray(1, dtype=x.dtype) / np.asarray(scale, dtype=x.dtype)
    unclamped = np.rint(x * inverse).astype(np.int64) + np.asarray(zero_point, dtype=np.int64)
    return unclamped, np.clip(unclamped, quant_min, quant_max)


def quantize_per_tensor(input, scale: float, zero_point: int, dtype=np.int8) -> np.ndarray:
    r"""Affine quantization with one scale and zero point for the whole tensor.

    .. math::
        q = \operatorname{clamp}\big(\operatorname{round}(x / s) + z,\ q_{\min}, q_{\max}\big),

    rounding half to even; values beyond the representable range **saturate** at
    :math:`q_{\min}` or :math:`q_{\max}` (they do not wrap around). Like PyTorch, the division
    is a multiplication by :math:`1/s` computed in the input's precision. Returns an array of
    ``dtype`` (``np.int8`` or ``np.uint8``), the integers of ``torch.quantize_per_tensor(...).int_repr()``.
    """
    x = as_float(input)
    quant_min, quant_max = qrange(dtype)
    return _quantize(x, scale, zero_point, quant_min, quant_max)[1].astype(dtype)


def _channel_view(values, ndim: int, axis: int):
    shape = [1] * ndim
    shape[axis] = -1
    return np.asarray(values).reshape(shape)


def quantize_per_channel(input, scales, zero_points, axis: int, dtype=np.int8) -> np.ndarray:
    r"""Affine quantization with one :math:`(s_c, z_c)` per slice ``c`` along ``axis``.

    .. math::
        q_{\dots c \dots} = \operatorname{clamp}\big(\operatorname{round}(x_{\dots c \dots} / s_c)
        + z_c,\ q_{\min}, q_{\max}\big).

    For a weight of shape ``(out, in, ...)`` use ``axis=0``: each output channel gets a
    scale that fits its own range, so a channel of small weights is not crushed to a few
    levels by a neighbor with large ones. Matches ``torch.quantize_per_channel``.
    """
    x = as_float(input)
    quant_min, quant_max = qrange(dtype)
    s = _channel_view(np.asarray(scales, dtype=x.dtype), x.ndim, axis)
    z = _channel_view(np.asarray(zero_points, dtype=np.int64), x.ndim, axis)
    return _quantize(x, s, z, quant_min, quant_max)[1].astype(dtype)


def dequantize(q, scale, zero_point, axis: int | None = None, dtype=np.float32) -> np.ndarray:
    r""":math:`\hat x = s\,(q - z)`, per tensor (``axis=None``) or per channel along ``axis``.

    Returns float32 by default, as ``torch.Tensor.dequantize``.
    """
    q = np.asarray(q).astype(np.int64)
    scale = np.asarray(scale, dtype=dtype)
    zero_point = np.asarray(zero_point, dtype=np.int64)
    if axis is not None:
        scale, zero_point = _channel_view(scale, q.ndim, axis), _channel_view(zero_point, q.ndim, axis)
    return ((q - zero_point).astype(dtype) * scale).astype(dtype)


def fake_quantize(input, scale, zero_point, quant_min: int = -128, quant_max: int = 127,
                  axis: int | None = None):
    r"""Quantize then dequantize in one step, staying in floating point (quantization-aware training).

    .. math::
        \tilde x = s\,\big(\operatorname{clamp}(\operatorname{round}(x/s) + z,\ q_{\min}, q_{\max}) - z\big).

    Rounding has zero derivative almost everywhere, so training uses the **straight-through
    estimator**: the gradient passes unchanged where the value was not clamped and is zero
    where it saturated. Returns ``(out, mask)`` with ``out`` in the input's dtype and the
    boolean ``mask`` for :func:`fake_quantize_backward`. Matches
    ``torch.fake_quantize_per_tensor_affine`` (``axis=None``) and
    ``torch.fake_quantize_per_channel_affine``, values and gradients.
    """
    x = as_float(input)
    s, z = np.asarray(scale, dtype=x.dtype), np.asarray(zero_point, dtype=np.int64)
    if axis is not None:
        s, z = _channel_view(s, x.ndim, axis), _channel_view(z, x.ndim, axis)
    unclamped, q = _quantize(x, s, z, quant_min, quant_max)
    mask = (unclamped >= quant_min) & (unclamped <= quant_max)
    return ((q - z).astype(x.dtype) * s).astype(x.dtype), mask


def fake_quantize_backward(grad_output, mask) -> np.ndarray:
    r"""Straight-through gradient: :math:`\partial L/\partial x = \partial L/\partial \tilde x` where not clamped, else 0."""
    g = as_float(grad_output)
    return np.where(mask, g, np.zeros_like(g))


def int8_linear(x_q, x_scale: float, x_zero_point: int, w_q, w_scale, bias=None,
                accumulator=np.int32) -> np.ndarray:
    r"""A linear layer computed on integers: int8 (or uint8) inputs, int8 weights, int32 sums.

    With affine inputs :math:`x = s_x (q_x - z_x)` and symmetric per-output-channel weights
    :math:`W_{jk} = s_{w,j}\, q_{w,jk}`,

    .. math::
        y_{nj} = s_x\, s_{w,j} \underbrace{\sum_k (q_{x,nk} - z_x)\, q_{w,jk}}_{\text{integer accumulator}} + b_j .

    Each product of two 8-bit numbers needs up to 16 bits and a sum of :math:`K` of them
    :math:`16 + \log_2 K` bits, so the accumulator must be int32 (``accumulator=np.int16``
    shows the silent wrap-around a narrower one gives). Only the final rescaling is in
    floating point. Returns float32 ``(N, out)``, equal (up to float32 round-off) to
    ``F.linear`` applied to the dequantized input and weight.
    """
    centered = np.asarray(x_q).astype(accumulator) - accumulator(x_zero_point)
    acc = centered @ np.asarray(w_q).astype(accumulator).T        # integer sums, no rounding
    scale = (np.float32(x_scale) * np.asarray(w_scale, dtype=np.float32)).astype(np.float32)
    y = acc.astype(np.float32) * scale
    if bias is not None:
        y = y + np.asarray(bias, dtype=np.float32)
    return y.astype(np.float32)


# --------------------------------------------------------------------------- distillation

def _log_softmax(z: np.ndarray) -> np.ndarray:
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def distillation_loss(student_logits, teacher_logits, target=None, temperature: float = 4.0,
                      alpha: float = 0.9):
    r"""Knowledge-distillation loss of Hinton, Vinyals and Dean (2015), batch-averaged.

    With soft targets :math:`p^T = \operatorname{softmax}(t / T)` of the teacher and
    :math:`q^T = \operatorname{softmax}(s / T)` of the student (rows of ``(N, classes)`` logits),

    .. math::
        L = \alpha\, T^2\, \frac1N \sum_n \operatorname{KL}\big(p^T_n \,\|\, q^T_n\big)
            + (1 - \alpha)\, \frac1N \sum_n -\log \operatorname{softmax}(s_n)_{y_n} .

    The gradient of the KL term with respect to :math:`s` is
    :math:`(q^T - p^T) / T` per sample, so it shrinks like :math:`1/T`; the factor
    :math:`T^2` keeps its size comparable to the hard-label term when :math:`T` changes.
    Without ``target`` only the soft term is returned, unweighted by :math:`\alpha`:
    ``T**2 * F.kl_div(F.log_softmax(s/T, 1), F.log_softmax(t/T, 1), reduction="batchmean", log_target=True)``.
    Returns a Python float.
    """
    s, t = as_float(student_logits), as_float(teacher_logits)
    T = temperature
    log_q, log_p = _log_softmax(s / T), _log_softmax(t / T)
    soft = T * T * float((np.exp(log_p) * (log_p - log_q)).sum() / len(s))
    if target is None:
        return soft
    y = np.asarray(target)
    hard = float(-_log_softmax(s)[np.arange(len(s)), y].sum() / len(s))
    return alpha * soft + (1.0 - alpha) * hard


def distillation_loss_backward(student_logits, teacher_logits, target=None,
                               temperature: float = 4.0, alpha: float = 0.9) -> np.ndarray:
    r"""Gradient of :func:`distillation_loss` with respect to the student's logits.

    .. math::
        \frac{\partial L}{\partial s_n} = \alpha\, \frac{T}{N} \big(q^T_n - p^T_n\big)
        + (1 - \alpha)\, \frac1N \big(\operatorname{softmax}(s_n) - e_{y_n}\big),

    (only the first term, with :math:`\alpha = 1`, when ``target`` is ``None``).
    """
    s, t = as_float(student_logits), as_float(teacher_logits)
    T, n = temperature, len(s)
    soft = T / n * (np.exp(_log_softmax(s / T)) - np.exp(_log_softmax(t / T)))
    if target is None:
        return soft.astype(s.dtype)
    hard = np.exp(_log_softmax(s))
    hard[np.arange(n), np.asarray(target)] -= 1
    return (alpha * soft + (1.0 - alpha) * hard / n).astype(s.dtype)


# --------------------------------------------------------------------------- reduced precision

class Float16Report(NamedTuple):
    """What a cast to float16 did: counts of entries that overflowed to +-inf (from finite
    values), underflowed to zero (from non-zero values), and became subnormal."""

    overflow: int
    underflow: int
    subnormal: int


def to_float16(x):
    r"""Round to IEEE half precision (ties to even) and report what was lost.

    float16 has 5 exponent and 10 mantissa bits: the largest finite value is 65504 (values
    from 65520 up round to infinity), the smallest normal one :math:`2^{-14} \approx 6.1\cdot 10^{-5}`,
    and subnormals reach down to :math:`2^{-24} \approx 6.0\cdot 10^{-8}` with fewer and fewer
    significant bits; anything below half of that becomes 0. Returns ``(y, Float16Report)``;
    ``y`` equals ``torch.Tensor.half()``.
    """
    x = as_float(x)
    with np.errstate(over="ignore"):
        y = x.astype(np.float16)
    overflow = int((np.isinf(y) & np.isfinite(x)).sum())
    underflow = int(((y == 0) & (x != 0)).sum())
    subnormal = int(((y != 0) & (np.abs(y) < FLOAT16_TINY)).sum())
    return y, Float16Report(overflow, underflow, subnormal)


def to_bfloat16(x) -> np.ndarray:
    r"""Round to bfloat16 (8 exponent, 7 mantissa bits), returned as float32 values.

    bfloat16 is the upper half of a float32: the same exponent range (up to
    :math:`3.4\cdot 10^{38}`, so overflow and underflow are as rare as in float32) but only
    8 significant bits (relative spacing :math:`2^{-7} \approx 0.8\%`). Rounding to nearest,
    ties to even, on the bit pattern: add :math:`\texttt{0x7FFF}` plus the lowest kept bit,
    then clear the low 16 bits; NaN stays NaN. float64 input is first rounded to float32,
    as PyTorch does. Equals ``torch.Tensor.bfloat16().float()``.
    """
    x32 = np.ascontiguousarray(as_float(x), dtype=np.float32)
    bits = x32.view(np.uint32).astype(np.uint64)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000).astype(np.uint32)
    y = rounded.view(np.float32)
    return np.where(np.isnan(x32), np.float32(np.nan), y)


def unscale_grads(grads, scale: float):
    r"""Divide scaled gradients by the loss scale and look for infinities and NaNs.

    Loss scaling multiplies the loss by :math:`S` before the backward pass, so every
    gradient is :math:`S` times larger and small ones no longer underflow in float16; the
    optimizer must see :math:`g / S`. Returns ``(list of unscaled arrays, found_inf)``;
    ``found_inf`` is ``True`` if any entry is not finite (then the step must be skipped).
    As ``GradScaler.unscale_``, the division is a multiplication by :math:`1/S` in float32.
    """
    inverse = np.float32(1.0) / np.float32(scale)
    out = [(as_float(g) * np.asarray(inverse, dtype=as_float(g).dtype)) for g in grads]
    found_inf = any(not np.isfinite(g).all() for g in out)
    return out, found_inf


def update_scale(scale: float, growth_tracker: int, found_inf: bool, growth_factor: float = 2.0,
                 backoff_factor: float = 0.5, growth_interval: int = 2000):
    r"""Dynamic loss scaling, the rule of ``torch.amp.GradScaler.update``.

    If this step's gradients overflowed: :math:`S \leftarrow S \cdot \text{backoff\_factor}`
    and the count of good steps restarts at 0 (the step itself is skipped). Otherwise the
    count grows by one, and after ``growth_interval`` good steps in a row
    :math:`S \leftarrow S \cdot \text{growth\_factor}` and the count restarts. The scale
    thus hovers just below the largest value that does not overflow. Returns
    ``(scale, growth_tracker)``. (``GradScaler`` starts at ``init_scale=2.0**16``.)
    """
    if found_inf:
        return float(np.float32(scale) * np.float32(backoff_factor)), 0
    growth_tracker += 1
    if growth_tracker == growth_interval:
        return float(np.float32(scale) * np.float32(growth_factor)), 0
    return float(scale), growth_tracker


# --------------------------------------------------------------------------- pruning

def magnitude_prune_mask(weight, amount) -> np.ndarray:
    r"""Keep-mask of unstructured magnitude pruning: zero the ``k`` entries of smallest :math:`|w|`.

    ``amount`` is a fraction in [0, 1] (then :math:`k = \operatorname{round}(\text{amount}
    \cdot n)`, Python's round, half to even) or an integer count. Returns a float array of
    the weight's dtype with 0 at the pruned entries and 1 elsewhere, the ``weight_mask`` of
    ``torch.nn.utils.prune.l1_unstructured`` (ties in :math:`|w|` may be broken differently).
    """
    w = as_float(weight)
    n = w.size
    k = int(round(amount * n)) if isinstance(amount, float) else int(amount)
    if not 0 <= k <= n:
        raise ValueError(f"cannot prune {k} of {n} entries")
    mask = np.ones(n, dtype=w.dtype)
    mask[np.argsort(np.abs(w).ravel(), kind="stable")[:k]] = 0
    return mask.reshape(w.shape)
