"""Activation functions and their derivatives, in NumPy.

Every function takes an array-like ``x`` and returns a new array of the same shape.
Floating inputs keep their dtype (float32 stays float32); integer and boolean inputs are
promoted to float64. No function modifies its input.

``<name>(x)`` is the forward pass ``f(x)`` and ``<name>_grad(x)`` is the elementwise
derivative ``f'(x)`` evaluated at the *input* ``x``. During back-propagation the gradient
with respect to the input is ``grad_output * f'(x)``.

Where PyTorch picks a value at a kink (ReLU and friends at ``x = 0``) we pick the same one,
so that the tests can compare with ``torch.autograd`` exactly.

NaN inputs: the forward passes propagate NaN. The piecewise derivatives of ReLU, ELU and SELU
follow PyTorch's kernels, which test ``x <= 0`` for the "negative" branch: ``NaN <= 0`` is
false, so at a NaN input these derivatives take their *positive* branch (1 for ReLU and ELU,
``SELU_SCALE`` for SELU), not 0 and not NaN. Leaky ReLU and PReLU test ``x > 0`` in PyTorch,
so at NaN they return the negative slope. The smooth functions (sigmoid, tanh, GELU, SiLU,
softplus) give NaN. We chose to reproduce this policy exactly rather than to return NaN,
so that every comparison with ``torch.autograd``, PyTorch's own sample inputs included, is
exact; a NaN in the forward pass is the thing to debug, not its gradient.
"""

from __future__ import annotations

import math

import numpy as np

from nn_reference._arrays import as_float

__all__ = [
    "sigmoid", "sigmoid_grad",
    "tanh", "tanh_grad",
    "relu", "relu_grad",
    "leaky_relu", "leaky_relu_grad",
    "prelu", "prelu_grad", "prelu_weight_grad",
    "elu", "elu_grad",
    "selu", "selu_grad", "SELU_ALPHA", "SELU_SCALE",
    "gelu", "gelu_grad",
    "silu", "silu_grad",
    "softplus", "softplus_grad",
    "hardswish", "hardswish_grad",
    "mish", "mish_grad",
    "softmax", "softmax_backward", "log_softmax", "log_softmax_backward",
    "logsumexp", "logsumexp_backward",
    "glu", "glu_backward", "geglu", "swiglu", "gated_backward",
    "maxout", "maxout_backward",
]

#: Constants of SELU (Klambauer et al., 2017), chosen so that activations keep zero mean
#: and unit variance through a deep network initialized with LeCun normal weights.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_TANH_COEF = 0.044715
_erf_elementwise = np.frompyfunc(math.erf, 1, 1)




def _erf(x: np.ndarray) -> np.ndarray:
    """Error function, elementwise, computed in double precision and cast back."""
    # np.frompyfunc returns a bare Python float for 0-d input: wrap it back into an array.
    return np.asarray(_erf_elementwise(x), dtype=np.float64).astype(x.dtype)


# --------------------------------------------------------------------------- sigmoid, tanh

def sigmoid(x) -> np.ndarray:
    r"""Logistic sigmoid :math:`\sigma(x) = 1 / (1 + e^{-x})`, range :math:`(0, 1)`.

    The textbook formula overflows for large negative ``x`` (``exp(1e4)`` is ``inf``).
    We only ever exponentiate :math:`-|x| \le 0`:

    .. math::
        \sigma(x) = \begin{cases} 1 / (1 + e^{-|x|}) & x \ge 0 \\
                                  e^{-|x|} / (1 + e^{-|x|}) & x < 0 \end{cases}
    """
    x = as_float(x)
    z = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z)).astype(x.dtype, copy=False)


def sigmoid_grad(x) -> np.ndarray:
    r""":math:`\sigma'(x) = \sigma(x)\,(1 - \sigma(x)) \le 1/4`, with equality at ``x = 0``."""
    s = sigmoid(x)
    return s * (1.0 - s)


def tanh(x) -> np.ndarray:
    r"""Hyperbolic tangent :math:`\tanh(x) = 2\sigma(2x) - 1`, range :math:`(-1, 1)`."""
    return np.tanh(as_float(x))


def tanh_grad(x) -> np.ndarray:
    r""":math:`\tanh'(x) = 1 - \tanh^2(x) \le 1`, with equality at ``x = 0``."""
    t = tanh(x)
    return 1.0 - t * t


# --------------------------------------------------------------------------- ReLU family

def relu(x) -> np.ndarray:
    r"""Rectified linear unit :math:`\max(0, x)`."""
    x = as_float(x)
    return np.maximum(x, 0).astype(x.dtype, copy=False)


def relu_grad(x) -> np.ndarray:
    r""":math:`1` for :math:`x > 0`, else :math:`0` (PyTorch's choice at ``x = 0``; 1 at NaN)."""
    x = as_float(x)
    return (~(x <= 0)).astype(x.dtype)


def leaky_relu(x, negative_slope: float = 0.01) -> np.ndarray:
    r""":math:`x` for :math:`x > 0`, :math:`a x` otherwise, with ``a = negative_slope``."""
    x = as_float(x)
    return np.where(x > 0, x, x * negative_slope).astype(x.dtype, copy=False)


def leaky_relu_grad(x, negative_slope: float = 0.01) -> np.ndarray:
    r""":math:`1` for :math:`x > 0`, :math:`a` otherwise (``a`` at ``x = 0``, as PyTorch)."""
    x = as_float(x)
    return np.where(x > 0, 1.0, negative_slope).astype(x.dtype)


def _channel_weight(weight, x: np.ndarray) -> np.ndarray:
    """Reshape a PReLU weight of shape ``(1,)`` or ``(C,)`` to broadcast over channel axis 1."""
    weight = np.asarray(weight, dtype=x.dtype)
    if weight.size == 1:
        return weight.reshape(())
    if x.ndim < 2 or x.shape[1] != weight.size:
        raise ValueError(
            f"PReLU weight has {weight.size} slopes but the input {x.shape} has "
            f"{x.shape[1] if x.ndim >= 2 else 'no'} channels on axis 1"
        )
    return weight.reshape((1, -1) + (1,) * (x.ndim - 2))


def prelu(x, weight) -> np.ndarray:
    r"""Parametric ReLU :math:`\max(0, x) + a_c \min(0, x)` with a learned slope per channel.

    ``weight`` holds one slope shared by all channels (shape ``(1,)``) or one per channel
    (shape ``(C,)``, channel axis 1, as ``torch.nn.PReLU(num_parameters=C)``).
    """
    x = as_float(x)
    a = _channel_weight(weight, x)
    return np.where(x > 0, x, a * x).astype(x.dtype, copy=False)


def prelu_grad(x, weight) -> np.ndarray:
    r"""Derivative with respect to the input: :math:`1` for :math:`x > 0`, else :math:`a_c`."""
    x = as_float(x)
    a = _channel_weight(weight, x)
    return np.broadcast_to(np.where(x > 0, 1.0, a), x.shape).astype(x.dtype)


def prelu_weight_grad(x, weight, grad_output) -> np.ndarray:
    r"""Gradient of the loss with respect to the slopes.

    Since :math:`\partial y / \partial a_c = \min(0, x)` on channel ``c``,

    .. math::
        \frac{\partial L}{\partial a_c} = \sum_{i \in \text{channel } c,\; x_i \le 0}
            g_i\, x_i ,

    summed over the batch and all spatial positions. Returns an array shaped like ``weight``.
    """
    x = as_float(x)
    weight = np.asarray(weight)
    contribution = np.where(x > 0, 0.0, np.asarray(grad_output, dtype=x.dtype) * x)
    if weight.size == 1:
        total = contribution.sum()
    else:
        _channel_weight(weight, x)  # validates the channel count
        axes = (0,) + tuple(range(2, x.ndim))
        total = contribution.sum(axis=axes)
    return np.asarray(total, dtype=x.dtype).reshape(weight.shape)


def elu(x, alpha: float = 1.0) -> np.ndarray:
    r"""Exponential linear unit: :math:`x` for :math:`x > 0`, :math:`\alpha(e^{x} - 1)` otherwise.

    Smooth at 0 when :math:`\alpha = 1`; saturates to :math:`-\alpha` for very negative
    inputs, which pushes mean activations toward zero.
    """
    x = as_float(x)
    negative = alpha * np.expm1(np.minimum(x, 0))  # never exponentiates a large positive x
    return np.where(x > 0, x, negative).astype(x.dtype, copy=False)


def elu_grad(x, alpha: float = 1.0) -> np.ndarray:
    r""":math:`1` for :math:`x > 0`, :math:`\alpha e^{x}` otherwise (1 at NaN, as PyTorch)."""
    x = as_float(x)
    return np.where(x <= 0, alpha * np.exp(np.minimum(x, 0)), 1.0).astype(x.dtype)


def selu(x) -> np.ndarray:
    r"""Scaled ELU :math:`\lambda\,\mathrm{ELU}_\alpha(x)` with SELU's fixed
    :math:`\alpha \approx 1.6733` and :math:`\lambda \approx 1.0507`."""
    return (SELU_SCALE * elu(x, SELU_ALPHA)).astype(as_float(x).dtype, copy=False)


def selu_grad(x) -> np.ndarray:
    r""":math:`\lambda` for :math:`x > 0`, :math:`\lambda \alpha e^{x}` otherwise."""
    return (SELU_SCALE * elu_grad(x, SELU_ALPHA)).astype(as_float(x).dtype, copy=False)


# --------------------------------------------------------------------------- smooth gates

def gelu(x, approximate: str = "none") -> np.ndarray:
    r"""Gaussian error linear unit :math:`x\,\Phi(x)`, :math:`\Phi` the standard normal CDF.

    ``approximate="none"`` uses the exact form
    :math:`\Phi(x) = \tfrac12\,(1 + \operatorname{erf}(x/\sqrt2))`;
    ``approximate="tanh"`` the approximation of Hendrycks and Gimpel,

    .. math::
        \mathrm{GELU}(x) \approx \tfrac12 x \left(1 + \tanh\!\left(\sqrt{2/\pi}\,
        (x + 0.044715\,x^3)\right)\right),

    the same two options as ``torch.nn.functional.gelu``.
    """
    x = as_float(x)
    if approximate == "none":
        return (0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))).astype(x.dtype, copy=False)
    if approximate == "tanh":
        inner = _SQRT_2_OVER_PI * (x + _GELU_TANH_COEF * x**3)
        return (0.5 * x * (1.0 + np.tanh(inner))).astype(x.dtype, copy=False)
    raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")


def gelu_grad(x, approximate: str = "none") -> np.ndarray:
    r"""Derivative of GELU.

    Exact form: :math:`\Phi(x) + x\,\varphi(x)` with :math:`\varphi(x) = e^{-x^2/2}/\sqrt{2\pi}`.
    Tanh form, with :math:`u = \sqrt{2/\pi}\,(x + 0.044715x^3)` and :math:`t = \tanh u`:
    :math:`\tfrac12(1 + t) + \tfrac12 x (1 - t^2)\sqrt{2/\pi}\,(1 + 3 \cdot 0.044715\,x^2)`.
    """
    x = as_float(x)
    if approximate == "none":
        cdf = 0.5 * (1.0 + _erf(x / math.sqrt(2.0)))
        pdf = np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
        return (cdf + x * pdf).astype(x.dtype, copy=False)
    if approximate == "tanh":
        t = np.tanh(_SQRT_2_OVER_PI * (x + _GELU_TANH_COEF * x**3))
        du = _SQRT_2_OVER_PI * (1.0 + 3.0 * _GELU_TANH_COEF * x * x)
        return (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du).astype(x.dtype, copy=False)
    raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")


def silu(x) -> np.ndarray:
    r"""SiLU, also called Swish with :math:`\beta = 1`: :math:`x\,\sigma(x)`."""
    x = as_float(x)
    return x * sigmoid(x)


def silu_grad(x) -> np.ndarray:
    r""":math:`\sigma(x)\,(1 + x\,(1 - \sigma(x)))`; note it exceeds 1 near :math:`x \approx 2.4`."""
    x = as_float(x)
    s = sigmoid(x)
    return s * (1.0 + x * (1.0 - s))


def softplus(x, beta: float = 1.0, threshold: float = 20.0) -> np.ndarray:
    r"""Softplus :math:`\frac1\beta \log(1 + e^{\beta x})`, a smooth ReLU.

    Computed as ``logaddexp(0, beta * x) / beta``, which never overflows. Like PyTorch we
    return ``x`` itself where :math:`\beta x >` ``threshold``; there the two differ by less
    than :math:`e^{-20}/\beta`.
    """
    x = as_float(x)
    bx = beta * x
    smooth = np.logaddexp(0.0, bx) / beta
    return np.where(bx > threshold, x, smooth).astype(x.dtype, copy=False)


def softplus_grad(x, beta: float = 1.0, threshold: float = 20.0) -> np.ndarray:
    r""":math:`\sigma(\beta x)`, and exactly 1 above the threshold (PyTorch's convention)."""
    x = as_float(x)
    bx = beta * x
    return np.where(bx > threshold, 1.0, sigmoid(bx)).astype(x.dtype, copy=False)


# --------------------------------------------------------------------------- cheap and smooth gates

def hardswish(x) -> np.ndarray:
    r"""Hard-swish (Howard et al., 2019, MobileNetV3): :math:`x\,\mathrm{ReLU6}(x + 3)/6`.

    A piecewise version of SiLU/Swish without an exponential, for mobile hardware: 0 below
    :math:`-3`, :math:`x` above 3, the parabola :math:`x(x+3)/6` in between.
    """
    x = as_float(x)
    return (x * np.clip(x + 3.0, 0.0, 6.0) / 6.0).astype(x.dtype, copy=False)


def hardswish_grad(x) -> np.ndarray:
    r""":math:`0` for :math:`x \le -3`, :math:`x/3 + 1/2` for :math:`-3 < x < 3`, :math:`1` for
    :math:`x \ge 3` (PyTorch's choice at the two kinks: the outer pieces, 0 at :math:`-3` and 1
    at 3; the derivative jumps there, from 0 to :math:`-1/2` and from :math:`3/2` to 1)."""
    x = as_float(x)
    return np.where(x <= -3.0, 0.0, np.where(x < 3.0, x / 3.0 + 0.5, 1.0)).astype(x.dtype)


def mish(x) -> np.ndarray:
    r"""Mish (Misra, 2019): :math:`x \tanh(\operatorname{softplus}(x))`, smooth and non-monotonic,
    close to SiLU (a dip to about :math:`-0.31` near :math:`x \approx -1.19`)."""
    x = as_float(x)
    return (x * np.tanh(softplus(x))).astype(x.dtype, copy=False)


def mish_grad(x) -> np.ndarray:
    r""":math:`\tanh(s) + x\,\sigma(x)\,(1 - \tanh^2(s))` with :math:`s = \operatorname{softplus}(x)`
    (since :math:`s'(x) = \sigma(x)`)."""
    x = as_float(x)
    t = np.tanh(softplus(x))
    return (t + x * sigmoid(x) * (1.0 - t * t)).astype(x.dtype, copy=False)


# --------------------------------------------------------------------------- softmax, log-sum-exp

def logsumexp(x, axis=-1, keepdims: bool = False) -> np.ndarray:
    r""":math:`\log \sum_k e^{x_k}` along ``axis``, without overflow.

    Exponentiating a logit of 1000 overflows (``exp(1000) = inf``); but for any constant
    :math:`c`, :math:`\log\sum_k e^{x_k} = c + \log\sum_k e^{x_k - c}`. With
    :math:`c = \max_k x_k` every exponent is :math:`\le 0` and the largest term is exactly 1,
    so the sum lies in :math:`[1, n]`: no overflow, and no underflow to :math:`\log 0`.
    An all :math:`-\infty` slice gives :math:`-\infty`, as ``torch.logsumexp``.
    """
    x = as_float(x)
    if x.ndim == 0:  # a 0-d input is a slice of one element, as in PyTorch
        return logsumexp(x.reshape(1), 0).reshape(())
    if x.size == 0:
        return np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims)).astype(x.dtype)
    c = np.max(x, axis=axis, keepdims=True)
    c = np.where(np.isfinite(c), c, 0.0)  # an all -inf (or +inf) slice: no shift
    with np.errstate(divide="ignore"):
        out = np.log(np.sum(np.exp(x - c), axis=axis, keepdims=True)) + c
    return (out if keepdims else np.squeeze(out, axis=axis)).astype(x.dtype, copy=False)


def logsumexp_backward(grad_output, x, axis=-1, keepdims: bool = False) -> np.ndarray:
    r"""The gradient of log-sum-exp is the softmax: :math:`\partial L/\partial x_k = g\,
    \operatorname{softmax}(x)_k`."""
    x = as_float(x)
    g = np.asarray(grad_output, dtype=x.dtype)
    if x.ndim == 0:
        return (g * softmax(x)).astype(x.dtype, copy=False)
    if not keepdims:
        g = np.expand_dims(g, axis)
    return (g * softmax(x, axis)).astype(x.dtype, copy=False)


def softmax(x, axis=-1) -> np.ndarray:
    r"""Softmax :math:`e^{x_k} / \sum_j e^{x_j}` along ``axis``, computed as
    :math:`e^{x_k - \max_j x_j} / \sum_j e^{x_j - \max_j x_j}` (the same value; no overflow)."""
    x = as_float(x)
    if x.ndim == 0:
        return np.ones_like(x)  # one element: probability 1
    if x.size == 0:
        return x.copy()
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return (e / np.sum(e, axis=axis, keepdims=True)).astype(x.dtype, copy=False)


def softmax_backward(grad_output, x, axis=-1) -> np.ndarray:
    r"""Vector-Jacobian product of softmax, :math:`y \odot (g - \langle g, y\rangle)`
    with :math:`y = \operatorname{softmax}(x)` (the Jacobian is :math:`\operatorname{diag}(y) - y y^\top`)."""
    y = softmax(x, axis)
    g = np.asarray(grad_output, dtype=y.dtype)
    if y.ndim == 0:
        return np.zeros_like(y)
    return (y * (g - np.sum(g * y, axis=axis, keepdims=True))).astype(y.dtype, copy=False)


def log_softmax(x, axis=-1) -> np.ndarray:
    r""":math:`x_k - \operatorname{logsumexp}(x)`, computed as :math:`(x_k - m) - \log\sum_j
    e^{x_j - m}` with :math:`m = \max_j x_j`: exact where ``log(softmax(x))`` gives
    :math:`\log 0 = -\infty` for a logit far below the others."""
    x = as_float(x)
    if x.ndim == 0:
        return np.zeros_like(x)
    if x.size == 0:
        return x.copy()
    shifted = x - np.max(x, axis=axis, keepdims=True)  # subtract the max first: exact, and <= 0
    return (shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))).astype(x.dtype, copy=False)


def log_softmax_backward(grad_output, x, axis=-1) -> np.ndarray:
    r""":math:`g - \operatorname{softmax}(x) \sum_k g_k`."""
    y = softmax(x, axis)
    g = np.asarray(grad_output, dtype=y.dtype)
    if y.ndim == 0:
        return np.zeros_like(y)
    return (g - y * np.sum(g, axis=axis, keepdims=True)).astype(y.dtype, copy=False)


# --------------------------------------------------------------------------- gated linear units

def _halves(x, axis):
    x = as_float(x)
    if x.ndim == 0 or x.shape[axis] % 2:
        raise ValueError(f"a gated unit splits axis {axis} in two halves; got shape {x.shape}")
    a, b = np.split(x, 2, axis=axis)
    return x, a, b


def glu(x, axis=-1) -> np.ndarray:
    r"""Gated linear unit (Dauphin et al., 2017), as ``torch.nn.functional.glu``: split ``x`` in
    two halves :math:`(a, b)` along ``axis`` and return :math:`a \odot \sigma(b)`.

    In a network both halves are linear maps of the same input, :math:`(xW) \odot \sigma(xV)`:
    one half carries the values, the other decides, per unit, how much of them passes.
    """
    x, a, b = _halves(x, axis)
    return (a * sigmoid(b)).astype(x.dtype, copy=False)


def geglu(x, axis=-1, approximate: str = "none") -> np.ndarray:
    r"""GeGLU (Shazeer, 2020): :math:`a \odot \operatorname{GELU}(b)`."""
    x, a, b = _halves(x, axis)
    return (a * gelu(b, approximate)).astype(x.dtype, copy=False)


def swiglu(x, axis=-1) -> np.ndarray:
    r"""SwiGLU (Shazeer, 2020; PaLM, LLaMA): :math:`a \odot \operatorname{SiLU}(b)`.

    (Implementations differ in which half is gated; LLaMA writes :math:`\operatorname{SiLU}(xW_1)
    \odot xW_3`, the same function with the halves swapped.)
    """
    x, a, b = _halves(x, axis)
    return (a * silu(b)).astype(x.dtype, copy=False)


def gated_backward(grad_output, x, gate, gate_grad, axis=-1) -> np.ndarray:
    r"""Gradient of :math:`a \odot f(b)` with respect to ``x = concat(a, b)``:
    :math:`(g \odot f(b),\; g \odot a \odot f'(b))`, for any gate ``f`` with derivative
    ``gate_grad``."""
    x, a, b = _halves(x, axis)
    g = np.asarray(grad_output, dtype=x.dtype)
    return np.concatenate([g * gate(b), g * a * gate_grad(b)], axis=axis).astype(x.dtype, copy=False)


def glu_backward(grad_output, x, axis=-1) -> np.ndarray:
    """Gradient of :func:`glu`: :func:`gated_backward` with the sigmoid gate."""
    return gated_backward(grad_output, x, sigmoid, sigmoid_grad, axis)


# --------------------------------------------------------------------------- maxout

def maxout(x, num_pieces: int, axis: int = 1) -> np.ndarray:
    r"""Maxout (Goodfellow et al., 2013): the maximum of ``num_pieces`` consecutive units.

    Axis ``axis`` (channels, of size :math:`C`) is split into :math:`C/k` groups of
    :math:`k` = ``num_pieces`` units and each group is replaced by its maximum, so the output has
    :math:`C/k` channels. With :math:`k` linear pieces a maxout unit is a convex piecewise-linear
    function it *learns*; ReLU is the special case :math:`\max(w^\top x + b, 0)`.
    """
    x = as_float(x)
    axis = axis % x.ndim
    c = x.shape[axis]
    if num_pieces < 1 or c % num_pieces:
        raise ValueError(f"{c} units cannot be split into groups of {num_pieces}")
    grouped = x.reshape(x.shape[:axis] + (c // num_pieces, num_pieces) + x.shape[axis + 1:])
    return grouped.max(axis=axis + 1)


def maxout_backward(grad_output, x, num_pieces: int, axis: int = 1) -> np.ndarray:
    r"""The gradient goes to the winning unit of each group (the first one on a tie), 0 elsewhere."""
    x = as_float(x)
    axis = axis % x.ndim
    c = x.shape[axis]
    grouped = x.reshape(x.shape[:axis] + (c // num_pieces, num_pieces) + x.shape[axis + 1:])
    winner = np.expand_dims(grouped.argmax(axis=axis + 1), axis + 1)
    grad = np.zeros_like(grouped)
    np.put_along_axis(grad, winner, np.expand_dims(np.asarray(grad_output, dtype=x.dtype), axis + 1),
                      axis=axis + 1)
    return grad.reshape(x.shape)
