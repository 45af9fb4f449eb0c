"""Weight initialization schemes, in NumPy, with the names and defaults of ``torch.nn.init``.

PyTorch's initializers fill a tensor in place (``kaiming_normal_(w)``); ours take the weight's
*shape* and return a new array, so nothing is ever modified. Weights follow PyTorch's layout:
a linear layer's weight has shape ``(out_features, in_features)`` and a convolution's
``(out_channels, in_channels, *kernel_size)``.

Every random initializer takes an explicit ``numpy.random.Generator`` (``rng``) and a
``dtype`` (float32 by default, like PyTorch). Random samples cannot equal PyTorch's bit for bit;
the tests compare the deterministic parts exactly (fans, gains, standard deviations, bounds)
and the samples' statistics within confidence intervals.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

__all__ = [
    "calculate_fan_in_and_fan_out", "calculate_gain",
    "xavier_std", "xavier_uniform", "xavier_normal",
    "kaiming_std", "kaiming_uniform", "kaiming_normal",
    "lecun_normal", "orthogonal", "uniform_bound", "lsuv",
]

_LINEAR_FNS = ("linear", "conv1d", "conv2d", "conv3d",
               "conv_transpose1d", "conv_transpose2d", "conv_transpose3d")


def _shape_of(shape) -> tuple[int, ...]:
    """A shape given as a tuple (or list) of ints, or the shape of an array."""
    if hasattr(shape, "shape"):
        return tuple(int(s) for s in shape.shape)
    return tuple(int(s) for s in shape)


def calculate_fan_in_and_fan_out(shape) -> tuple[int, int]:
    r"""Fan-in and fan-out of a weight of shape ``(out, in, *kernel)`` (or an array of that shape).

    Each output unit of a layer sums ``fan_in`` products; each input unit feeds ``fan_out``
    of them. For a convolution every output position sees a whole kernel window of every
    input channel, so the kernel area (the *receptive field*) multiplies both:

    .. math::
        \text{fan\_in} = C_\text{in} \prod_i k_i, \qquad
        \text{fan\_out} = C_\text{out} \prod_i k_i .

    Raises ``ValueError`` for fewer than two dimensions, as PyTorch does.
    """
    shape = _shape_of(shape)
    if len(shape) < 2:
        raise ValueError("Fan in and fan out can not be computed for a weight with fewer "
                         f"than 2 dimensions (shape {shape})")
    receptive_field = math.prod(shape[2:])
    return shape[1] * receptive_field, shape[0] * receptive_field


def _fan(shape, mode: str) -> int:
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = calculate_fan_in_and_fan_out(shape)
    return fan_in if mode == "fan_in" else fan_out


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    r"""The factor by which an initializer scales its standard deviation for a non-linearity.

    ======================  =====================================================
    linear, conv, sigmoid   :math:`1`
    tanh                    :math:`5/3`
    relu                    :math:`\sqrt 2`
    leaky_relu              :math:`\sqrt{2 / (1 + a^2)}`, ``a = param`` (0.01 if ``None``)
    selu                    :math:`3/4`
    ======================  =====================================================

    The ReLU gain undoes the halving of the second moment, :math:`E[\max(0, z)^2] = \tfrac12 E[z^2]`
    for a symmetric :math:`z`; a Leaky ReLU keeps :math:`\tfrac12 (1 + a^2)` of it.
    """
    if nonlinearity in _LINEAR_FNS or nonlinearity == "sigmoid":
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3.0
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float, np.integer, np.floating)) and not isinstance(param, bool):
            slope = float(param)
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1.0 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4.0
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def uniform_bound(std: float) -> float:
    r"""The half-width :math:`b` of :math:`U(-b, b)` whose standard deviation is ``std``.

    :math:`\operatorname{Var} U(-b, b) = b^2 / 3`, so :math:`b = \sqrt 3\,\sigma`.
    """
    return math.sqrt(3.0) * std


def xavier_std(shape, gain: float = 1.0) -> float:
    r"""Glorot and Bengio's standard deviation, a compromise between the forward and backward pass:

    .. math:: \sigma = \text{gain}\,\sqrt{\frac{2}{\text{fan\_in} + \text{fan\_out}}}
    """
    fan_in, fan_out = calculate_fan_in_and_fan_out(shape)
    return gain * math.sqrt(2.0 / (fan_in + fan_out))


def kaiming_std(shape, a: float = 0.0, mode: str = "fan_in",
                nonlinearity: str = "leaky_relu") -> float:
    r"""He et al.'s standard deviation :math:`\sigma = \text{gain} / \sqrt{\text{fan}}`.

    ``fan`` is the fan-in (keeps the forward activations' variance) or the fan-out (keeps the
    backward gradients' variance); the gain is ``calculate_gain(nonlinearity, a)``.
    """
    return calculate_gain(nonlinearity, a) / math.sqrt(_fan(shape, mode))


def _has_no_element(shape) -> bool:
    return math.prod(_shape_of(shape)) == 0


def _zero_size(shape, dtype) -> np.ndarray:
    """The empty array of a weight with no element, with PyTorch's warning.

    ``torch.nn.init.kaiming_*_`` warns "Initializing zero-element tensors is a no-op" and
    returns the tensor untouched; we do the same for every random initializer, Xavier's
    included (PyTorch's Xavier divides by ``fan_in + fan_out`` and fails when both are 0).
    Nothing is drawn from ``rng``.
    """
    shape = _shape_of(shape)
    calculate_fan_in_and_fan_out(shape)  # still reject 0-d and 1-d shapes, as PyTorch
    warnings.warn("Initializing zero-element tensors is a no-op", UserWarning, stacklevel=3)
    return np.zeros(shape, dtype=dtype)


def _uniform(shape, bound: float, rng: np.random.Generator, dtype) -> np.ndarray:
    out = rng.uniform(-bound, bound, size=_shape_of(shape)).astype(dtype)
    return np.clip(out, -bound, bound).astype(dtype)  # float32 rounding must not leave [-b, b]


def _normal(shape, std: float, rng: np.random.Generator, dtype) -> np.ndarray:
    return (rng.standard_normal(_shape_of(shape)) * std).astype(dtype)


def xavier_uniform(shape, gain: float = 1.0, *, rng: np.random.Generator,
                   dtype=np.float32) -> np.ndarray:
    r"""Samples of :math:`U(-b, b)` with :math:`b = \text{gain}\sqrt{6 / (\text{fan\_in} + \text{fan\_out})}`."""
    if _has_no_element(shape):
        return _zero_size(shape, dtype)
    return _uniform(shape, uniform_bound(xavier_std(shape, gain)), rng, dtype)


def xavier_normal(shape, gain: float = 1.0, *, rng: np.random.Generator,
                  dtype=np.float32) -> np.ndarray:
    r"""Samples of :math:`\mathcal N(0, \sigma^2)` with :math:`\sigma^2 = \text{gain}^2 \cdot 2 / (\text{fan\_in} + \text{fan\_out})`."""
    if _has_no_element(shape):
        return _zero_size(shape, dtype)
    return _normal(shape, xavier_std(shape, gain), rng, dtype)


def kaiming_uniform(shape, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu", *, rng: np.random.Generator,
                    dtype=np.float32) -> np.ndarray:
    r"""Samples of :math:`U(-b, b)` with :math:`b = \sqrt 3\,\text{gain} / \sqrt{\text{fan}}`."""
    if _has_no_element(shape):
        return _zero_size(shape, dtype)
    std = kaiming_std(shape, a, mode, nonlinearity)
    return _uniform(shape, uniform_bound(std), rng, dtype)


def kaiming_normal(shape, a: float = 0.0, mode: str = "fan_in",
                   nonlinearity: str = "leaky_relu", *, rng: np.random.Generator,
                   dtype=np.float32) -> np.ndarray:
    r"""Samples of :math:`\mathcal N(0, \sigma^2)` with :math:`\sigma = \text{gain} / \sqrt{\text{fan}}`."""
    if _has_no_element(shape):
        return _zero_size(shape, dtype)
    return _normal(shape, kaiming_std(shape, a, mode, nonlinearity), rng, dtype)


def lecun_normal(shape, *, rng: np.random.Generator, dtype=np.float32) -> np.ndarray:
    r"""LeCun et al. (1998): :math:`\mathcal N(0, 1/\text{fan\_in})`, for SELU networks.

    PyTorch has no function of this name; it is ``kaiming_normal_(w, nonlinearity='linear')``.
    """
    if _has_no_element(shape):
        return _zero_size(shape, dtype)
    fan_in, _ = calculate_fan_in_and_fan_out(shape)
    return _normal(shape, 1.0 / math.sqrt(fan_in), rng, dtype)


def orthogonal(shape, gain: float = 1.0, *, rng: np.random.Generator,
               dtype=np.float32) -> np.ndarray:
    r"""A (semi-)orthogonal matrix times ``gain`` (Saxe et al., 2014), as ``torch.nn.init.orthogonal_``.

    The weight is viewed as a matrix of ``rows = shape[0]`` by ``cols = prod(shape[1:])``.
    The QR decomposition of a Gaussian matrix gives :math:`Q`; multiplying each column by the
    sign of :math:`R`'s diagonal makes the result uniformly (Haar) distributed. Then
    :math:`W W^\top = \text{gain}^2 I` when ``rows <= cols`` and :math:`W^\top W = \text{gain}^2 I`
    otherwise: every singular value equals ``gain``, so no direction is stretched or shrunk.
    """
    shape = _shape_of(shape)
    if len(shape) < 2:
        raise ValueError("Only weights with 2 or more dimensions are supported")
    rows = shape[0]
    cols = math.prod(shape[1:])
    if rows * cols == 0:
        return np.zeros(shape, dtype=dtype)
    flat = rng.standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return (gain * q).reshape(shape).astype(dtype)


def lsuv(weights, x, activation, *, biases=None, tol: float = 0.05,
         max_iter: int = 10) -> list[np.ndarray]:
    r"""Layer-sequential unit-variance initialization (Mishkin and Matas, 2016, "All you need is
    a good init"): rescale each layer's weights, in order, until its output has variance 1 on a
    batch of real data.

    ``weights`` are the ``(out, in)`` matrices of a stack of linear layers (usually initialized
    orthogonally first), ``x`` a batch of inputs ``(N, in)`` and ``activation`` the NumPy
    non-linearity applied after every layer but the last. Layer :math:`l` computes
    :math:`z_l = h_{l-1} W_l^\top (+\, b_l)` and is divided by :math:`\sqrt{\operatorname{Var}(z_l)}`
    until :math:`|\operatorname{Var}(z_l) - 1| <` ``tol`` (one division suffices without biases,
    since :math:`z_l` is linear in :math:`W_l`), then :math:`h_l = f(z_l)` feeds the next layer.
    Instead of deriving a gain for each activation and architecture, the data measure it.
    Returns new arrays; the inputs are not modified.
    """
    h = np.asarray(x, dtype=np.float64)
    out = []
    for i, w in enumerate(weights):
        w = np.asarray(w, dtype=np.float64).copy()
        b = None if biases is None or biases[i] is None else np.asarray(biases[i], dtype=np.float64)
        for _ in range(max_iter):
            z = h @ w.T + (0.0 if b is None else b)
            var = z.var()
            if abs(var - 1.0) < tol or var == 0:
                break
            w /= np.sqrt(var)
        z = h @ w.T + (0.0 if b is None else b)
        out.append(w.astype(np.asarray(weights[i]).dtype))
        h = activation(z) if i < len(weights) - 1 else z
    return out
