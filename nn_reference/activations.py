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
]

#: Constants of SELU (Klambauer et al., 2017), chosen so that activations keep zero mean
#: and unit variance through a deep network initialised with LeCun normal weights.
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
    inputs, which pushes mean activations towards zero.
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
