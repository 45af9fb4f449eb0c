"""Convolution, pooling and a residual block, in NumPy.

Layouts and names follow ``torch.nn.functional``: images are ``(N, C, H, W)``, a convolution
weight is ``(C_out, C_in, kH, kW)``, and ``stride`` and ``padding`` are an int or a pair
``(rows, columns)``. Like every deep-learning library, "convolution" here is the
**cross-correlation**

.. math::
    y_{n,o,i,j} = b_o + \\sum_{c}\\sum_{u=0}^{k_H-1}\\sum_{v=0}^{k_W-1}
    w_{o,c,u,v}\\; x^{\\text{pad}}_{n,c,\\,s_H i+u,\\,s_W j+v},

with no flip of the kernel (a flipped kernel would be the convolution of signal processing;
since the kernel is learned, the two are equally expressive). The output has

.. math::
    H_{\\text{out}} = \\left\\lfloor \\frac{H + 2p_H - k_H}{s_H} \\right\\rfloor + 1

rows, and likewise columns. ``dilation`` and ``groups`` are not implemented (both are 1).

Every layer is a pair ``<name>_forward(...) -> (out, cache)`` and
``<name>_backward(grad_output, cache)``. Arithmetic is done in float64 and results are cast
back to the input's dtype, so float32 in gives float32 out; no function modifies its inputs.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from nn_reference._arrays import as_float

__all__ = [
    "conv_output_size", "Conv2dCache", "conv2d_forward", "conv2d_forward_loop", "conv2d_backward",
    "PoolCache", "max_pool2d_forward", "max_pool2d_backward",
    "avg_pool2d_forward", "avg_pool2d_backward",
    "ResidualCache", "residual_block_forward", "residual_block_backward",
]


def _pair(v) -> tuple[int, int]:
    """``3 -> (3, 3)``, ``(2, 1) -> (2, 1)``, as PyTorch reads ``stride=`` and ``padding=``."""
    if np.isscalar(v):
        return int(v), int(v)
    a, b = v
    return int(a), int(b)


def conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    r"""Output length along one axis: :math:`\lfloor (n + 2p - k)/s \rfloor + 1`.

    Positions past the last full window are dropped (PyTorch's ``ceil_mode=False``).
    """
    out = (size + 2 * padding - kernel) // stride + 1
    if out < 1:
        raise ValueError(f"kernel {kernel} does not fit an input of size {size} with padding {padding}")
    return out


def _pad(x: np.ndarray, padding: tuple[int, int], value: float = 0.0) -> np.ndarray:
    ph, pw = padding
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value)


def _windows(xp: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int]) -> np.ndarray:
    """All ``kH x kW`` windows of the padded input, a read-only *view* of shape
    ``(N, C, H_out, W_out, kH, kW)``: the im2col matrix without copying anything."""
    (kh, kw), (sh, sw) = kernel, stride
    return sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]


def _scatter_windows(dwin: np.ndarray, padded_shape: tuple, stride: tuple[int, int]) -> np.ndarray:
    """The adjoint of :func:`_windows` (col2im): add every window's gradient
    ``dwin[n, c, i, j, u, v]`` back to the pixel ``(s_H i + u, s_W j + v)`` it was read from.
    Overlapping windows add up. One vectorized addition per kernel position ``(u, v)``."""
    n, c, oh, ow, kh, kw = dwin.shape
    sh, sw = stride
    dxp = np.zeros(padded_shape, dtype=dwin.dtype)
    for u in range(kh):
        for v in range(kw):
            dxp[:, :, u:u + sh * (oh - 1) + 1:sh, v:v + sw * (ow - 1) + 1:sw] += dwin[..., u, v]
    return dxp


def _crop(dxp: np.ndarray, padding: tuple[int, int]) -> np.ndarray:
    ph, pw = padding
    return dxp[:, :, ph:dxp.shape[2] - ph, pw:dxp.shape[3] - pw]


# --------------------------------------------------------------------------- convolution

class Conv2dCache(NamedTuple):
    """What :func:`conv2d_backward` needs from the forward pass."""

    x_padded: np.ndarray   #: the zero-padded input, float64, (N, C_in, H + 2p_H, W + 2p_W)
    weight: np.ndarray     #: float64, (C_out, C_in, kH, kW)
    has_bias: bool
    stride: tuple
    padding: tuple
    dtype: np.dtype        #: the dtype results are cast to


def conv2d_forward(input, weight, bias=None, stride=1, padding=0):
    r"""2-D convolution (cross-correlation), as ``torch.nn.functional.conv2d``.

    Vectorized with im2col: the windows of the padded input form a tensor of shape
    ``(N, C_in, H_out, W_out, kH, kW)`` (a strided view, no copy), and the whole layer is one
    contraction with the weight over ``(C_in, kH, kW)``, a matrix product of
    ``(N H_out W_out) x (C_in kH kW)`` by ``(C_in kH kW) x C_out``. Returns ``(out, cache)``.
    """
    x = as_float(input)
    if x.ndim != 4:
        raise ValueError(f"conv2d expects input of shape (N, C, H, W), got {x.shape}")
    w = np.asarray(weight, dtype=np.float64)
    if w.ndim != 4 or w.shape[1] != x.shape[1]:
        raise ValueError(f"weight of shape {w.shape} does not match {x.shape[1]} input channels")
    stride, padding = _pair(stride), _pair(padding)
    for axis in (0, 1):
        conv_output_size(x.shape[2 + axis], w.shape[2 + axis], stride[axis], padding[axis])
    xp = _pad(x.astype(np.float64), padding)
    cols = _windows(xp, w.shape[2:], stride)                               # (N, C, Ho, Wo, kH, kW)
    out = np.tensordot(cols, w, axes=([1, 4, 5], [1, 2, 3]))               # (N, Ho, Wo, C_out)
    out = out.transpose(0, 3, 1, 2)
    if bias is not None:
        out = out + np.asarray(bias, dtype=np.float64).reshape(1, -1, 1, 1)
    cache = Conv2dCache(xp, w, bias is not None, stride, padding, x.dtype)
    return np.ascontiguousarray(out).astype(x.dtype), cache


def conv2d_forward_loop(input, weight, bias=None, stride=1, padding=0) -> np.ndarray:
    r"""The same convolution written as the formula reads: one dot product per output value.

    Slow (four nested Python loops), but every index is visible; :func:`conv2d_forward` must
    agree with it to round-off.
    """
    x = as_float(input)
    w = np.asarray(weight, dtype=np.float64)
    (sh, sw), (ph, pw) = _pair(stride), _pair(padding)
    c_out, _, kh, kw = w.shape
    n, _, h, wd = x.shape
    h_out, w_out = conv_output_size(h, kh, sh, ph), conv_output_size(wd, kw, sw, pw)
    xp = _pad(x.astype(np.float64), (ph, pw))
    out = np.zeros((n, c_out, h_out, w_out))
    for b in range(n):
        for o in range(c_out):
            for i in range(h_out):
                for j in range(w_out):
                    window = xp[b, :, i * sh:i * sh + kh, j * sw:j * sw + kw]   # (C_in, kH, kW)
                    out[b, o, i, j] = np.sum(window * w[o])
            if bias is not None:
                out[b, o] += float(np.asarray(bias)[o])
    return out.astype(x.dtype)


def conv2d_backward(grad_output, cache: Conv2dCache):
    r"""Gradients of :func:`conv2d_forward`: ``(grad_input, grad_weight, grad_bias)``.

    With :math:`g = \partial L/\partial y` and :math:`X` the windows of the padded input,

    .. math::
        \frac{\partial L}{\partial b_o} = \sum_{n,i,j} g_{n,o,i,j}, \qquad
        \frac{\partial L}{\partial w_{o,c,u,v}} = \sum_{n,i,j} g_{n,o,i,j}\,
        x^{\text{pad}}_{n,c,\,s_H i+u,\,s_W j+v},

    .. math::
        \frac{\partial L}{\partial x^{\text{pad}}_{n,c,r,t}} =
        \sum_{o}\sum_{(i,u):\, s_H i+u=r}\ \sum_{(j,v):\, s_W j+v=t} g_{n,o,i,j}\, w_{o,c,u,v}.

    The weight gradient is a correlation of the input with the upstream gradient; the input
    gradient is a *full* convolution of the (stride-dilated) upstream gradient with the
    **flipped** kernel, computed here by scattering each window's gradient back (col2im)
    and cropping the padding off. ``grad_bias`` is ``None`` if the forward pass had no bias.
    """
    g = np.asarray(grad_output, dtype=np.float64)
    cols = _windows(cache.x_padded, cache.weight.shape[2:], cache.stride)
    grad_weight = np.tensordot(g, cols, axes=([0, 2, 3], [0, 2, 3]))         # (C_out, C_in, kH, kW)
    grad_bias = g.sum(axis=(0, 2, 3)) if cache.has_bias else None
    dwin = np.tensordot(g, cache.weight, axes=([1], [0]))                     # (N, Ho, Wo, C_in, kH, kW)
    dwin = dwin.transpose(0, 3, 1, 2, 4, 5)
    grad_input = _crop(_scatter_windows(dwin, cache.x_padded.shape, cache.stride), cache.padding)
    cast = (lambda a: None if a is None else np.ascontiguousarray(a).astype(cache.dtype))
    return cast(grad_input), cast(grad_weight), cast(grad_bias)


# --------------------------------------------------------------------------- pooling

class PoolCache(NamedTuple):
    """What a pooling layer's backward pass needs."""

    padded_shape: tuple
    kernel: tuple
    stride: tuple
    padding: tuple
    argmax: np.ndarray | None   #: max pooling: flat index of the maximum inside each window
    count_include_pad: bool
    divisor: np.ndarray | None  #: average pooling: the divisor of each output value
    dtype: np.dtype


def _pool_setup(x, kernel_size, stride, padding):
    kernel = _pair(kernel_size)
    stride = kernel if stride is None else _pair(stride)
    padding = _pair(padding)
    if x.ndim != 4:
        raise ValueError(f"pooling expects input of shape (N, C, H, W), got {x.shape}")
    for axis in (0, 1):
        if padding[axis] > kernel[axis] // 2:
            raise ValueError("pad should be at most half of effective kernel size (PyTorch's rule)")
        conv_output_size(x.shape[2 + axis], kernel[axis], stride[axis], padding[axis])
    return kernel, stride, padding


def max_pool2d_forward(input, kernel_size, stride=None, padding=0):
    r"""Max pooling, as ``torch.nn.functional.max_pool2d`` (``stride`` defaults to the kernel).

    :math:`y_{n,c,i,j} = \max_{u,v} x^{\text{pad}}_{n,c,\,s_H i+u,\,s_W j+v}`, the padding being
    :math:`-\infty` so that it never wins. Each channel is pooled on its own; there is nothing
    to learn. The cache remembers *where* each maximum was (the first one in a tie, as PyTorch).
    """
    x = as_float(input)
    kernel, stride, padding = _pool_setup(x, kernel_size, stride, padding)
    xp = _pad(x, padding, -np.inf)
    win = _windows(xp, kernel, stride)
    flat = win.reshape(win.shape[:4] + (-1,))
    argmax = flat.argmax(axis=-1)
    out = np.take_along_axis(flat, argmax[..., None], axis=-1)[..., 0]
    cache = PoolCache(xp.shape, kernel, stride, padding, argmax, True, None, x.dtype)
    return np.ascontiguousarray(out), cache


def max_pool2d_backward(grad_output, cache: PoolCache) -> np.ndarray:
    r"""The gradient flows only to the maximum of each window:
    :math:`\partial L/\partial x_{r,t} = \sum_{(i,j):\ (r,t) = \arg\max \text{ of window } (i,j)} g_{i,j}`
    (a pixel that is the maximum of several overlapping windows collects all their gradients)."""
    g = np.asarray(grad_output, dtype=np.float64)
    kh, kw = cache.kernel
    dwin = np.zeros(g.shape + (kh * kw,))
    np.put_along_axis(dwin, cache.argmax[..., None], g[..., None], axis=-1)
    dxp = _scatter_windows(dwin.reshape(g.shape + (kh, kw)), cache.padded_shape, cache.stride)
    return np.ascontiguousarray(_crop(dxp, cache.padding)).astype(cache.dtype)


def avg_pool2d_forward(input, kernel_size, stride=None, padding=0, count_include_pad: bool = True):
    r"""Average pooling, as ``torch.nn.functional.avg_pool2d``.

    :math:`y_{n,c,i,j} = \frac1{D_{ij}} \sum_{u,v} x^{\text{pad}}_{n,c,\,s_H i+u,\,s_W j+v}`
    with zero padding. The divisor :math:`D_{ij}` is :math:`k_H k_W` when
    ``count_include_pad=True`` (PyTorch's default: padded zeros count as pixels), otherwise
    the number of real pixels in the window.
    """
    x = as_float(input)
    kernel, stride, padding = _pool_setup(x, kernel_size, stride, padding)
    xp = _pad(x.astype(np.float64), padding)
    sums = _windows(xp, kernel, stride).sum(axis=(-2, -1))
    if count_include_pad:
        divisor = np.full(sums.shape[2:], float(kernel[0] * kernel[1]))
    else:
        ones = _pad(np.ones((1, 1) + x.shape[2:]), padding)
        divisor = _windows(ones, kernel, stride).sum(axis=(-2, -1))[0, 0]
    cache = PoolCache(xp.shape, kernel, stride, padding, None, count_include_pad, divisor, x.dtype)
    return (sums / divisor).astype(x.dtype), cache


def avg_pool2d_backward(grad_output, cache: PoolCache) -> np.ndarray:
    r"""Each window hands :math:`g_{ij}/D_{ij}` to every pixel it covers (padding excluded)."""
    g = np.asarray(grad_output, dtype=np.float64) / cache.divisor
    kh, kw = cache.kernel
    dwin = np.broadcast_to(g[..., None, None], g.shape + (kh, kw))
    dxp = _scatter_windows(dwin, cache.padded_shape, cache.stride)
    return np.ascontiguousarray(_crop(dxp, cache.padding)).astype(cache.dtype)


# --------------------------------------------------------------------------- residual block

class ResidualCache(NamedTuple):
    """Caches of the two convolutions and the ReLU masks of a residual block."""

    conv1: Conv2dCache
    conv2: Conv2dCache
    relu1_mask: np.ndarray
    relu2_mask: np.ndarray


def residual_block_forward(x, weight1, bias1, weight2, bias2):
    r"""A basic residual block with an identity shortcut (He et al., 2016, without batch norm):

    .. math::
        h = \mathrm{ReLU}(W_1 * x + b_1), \qquad
        y = \mathrm{ReLU}\big(x + W_2 * h + b_2\big),

    both convolutions 3x3 with ``padding=1`` and stride 1 and ``C -> C`` channels, so that
    :math:`x` and the branch have the same shape and can be added. Returns ``(out, cache)``.
    """
    x = as_float(x)
    a1, c1 = conv2d_forward(x.astype(np.float64), weight1, bias1, padding=1)   # float64 throughout
    h = np.maximum(a1, 0.0)
    a2, c2 = conv2d_forward(h, weight2, bias2, padding=1)
    if a2.shape != x.shape:
        raise ValueError("the residual branch must keep the input's shape (C -> C, 3x3, padding 1)")
    s = x + a2
    out = np.maximum(s, 0.0)
    return out.astype(x.dtype), ResidualCache(c1, c2, a1 > 0, s > 0)


def residual_block_backward(grad_output, cache: ResidualCache):
    r"""Gradients ``(grad_x, grad_weight1, grad_bias1, grad_weight2, grad_bias2)``.

    With :math:`\delta = g \odot [x + W_2 * h + b_2 > 0]`, the gradient reaching the input is

    .. math::
        \frac{\partial L}{\partial x} = \delta + \left(\frac{\partial (W_2 * h)}{\partial x}\right)^{\!\top}\!\delta :

    the first term is the shortcut, which hands :math:`\delta` to the input unchanged however
    small the branch's Jacobian is. That term is why deep residual networks keep their gradients.
    """
    dtype = np.asarray(grad_output).dtype
    delta = np.asarray(grad_output, dtype=np.float64) * cache.relu2_mask
    dh, dw2, db2 = conv2d_backward(delta, cache.conv2)
    da1 = dh * cache.relu1_mask
    dx_branch, dw1, db1 = conv2d_backward(da1, cache.conv1)
    grads = (delta + dx_branch, dw1, db1, dw2, db2)
    return tuple(None if a is None else a.astype(dtype) for a in grads)
