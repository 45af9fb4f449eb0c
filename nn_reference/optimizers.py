"""Gradient-descent optimizers as pure NumPy functions, one step at a time.

Every optimizer is a function ``<name>_step(param, grad, state, *, lr, ...)`` that returns
``(new_param, new_state)``: a new parameter array and a new state (a NamedTuple, or ``None``
before the first step). Nothing is modified in place, so a step can be replayed, plotted or
compared. Names, arguments and defaults mirror ``torch.optim``; the order of the floating-point
operations follows PyTorch's single-tensor (``foreach=False``) code path, so that a run of
many steps agrees with PyTorch to round-off in float64.

One parameter tensor per call: to optimize several tensors, keep one state per tensor, as
``torch.optim`` does.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from nn_reference._arrays import as_float

__all__ = [
    "SGDState", "sgd_step",
    "AdagradState", "adagrad_step",
    "RMSpropState", "rmsprop_step",
    "AdamState", "adam_step", "adamw_step",
    "NAdamState", "nadam_step", "radam_step",
    "normalized_gd_step",
]




def _lerp(start: np.ndarray, end: np.ndarray, weight: float) -> np.ndarray:
    """``start + weight * (end - start)``, computed as ``torch.lerp`` does (two branches)."""
    if weight < 0.5:
        return start + weight * (end - start)
    return end - (end - start) * (1.0 - weight)


# --------------------------------------------------------------------------- SGD

class SGDState(NamedTuple):
    """State of SGD with momentum: the buffer ``b`` (``None`` before the first step)."""

    momentum_buffer: np.ndarray | None


def sgd_step(param, grad, state: SGDState | None = None, *, lr: float = 1e-3,
             momentum: float = 0.0, dampening: float = 0.0, weight_decay: float = 0.0,
             nesterov: bool = False, maximize: bool = False) -> tuple[np.ndarray, SGDState]:
    r"""One step of ``torch.optim.SGD``.

    With weight decay :math:`\lambda`, momentum :math:`\mu` and dampening :math:`d`:

    .. math::
        g_t &= \nabla f(\theta_{t-1}) + \lambda \theta_{t-1} \\
        b_t &= \begin{cases} g_t & t = 1 \\ \mu b_{t-1} + (1 - d)\, g_t & t > 1 \end{cases} \\
        \theta_t &= \theta_{t-1} - \eta \cdot \begin{cases} g_t + \mu b_t & \text{Nesterov} \\
                                                             b_t & \text{otherwise} \end{cases}

    The learning rate :math:`\eta` multiplies the buffer when it is applied, not when it is
    accumulated: changing ``lr`` between steps rescales the whole accumulated velocity.
    ``maximize=True`` ascends: the gradient's sign is flipped first (every optimizer here).
    """
    param, grad = as_float(param), np.asarray(grad, dtype=as_float(param).dtype)
    grad = -grad if maximize else grad
    if nesterov and (momentum <= 0 or dampening != 0):
        raise ValueError("Nesterov momentum requires a momentum and zero dampening")
    if weight_decay != 0:
        grad = grad + weight_decay * param
    buf = None
    if momentum != 0:
        previous = None if state is None else state.momentum_buffer
        if previous is None:
            buf = grad.copy()
        else:
            buf = momentum * previous + (1 - dampening) * grad
        grad = grad + momentum * buf if nesterov else buf
    return param - lr * grad, SGDState(buf)


# --------------------------------------------------------------------------- Adagrad

class AdagradState(NamedTuple):
    """State of Adagrad: the step count and the running sum of squared gradients."""

    step: int
    sum: np.ndarray


def adagrad_step(param, grad, state: AdagradState | None = None, *, lr: float = 1e-2,
                 lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0,
                 eps: float = 1e-10, maximize: bool = False) -> tuple[np.ndarray, AdagradState]:
    r"""One step of ``torch.optim.Adagrad`` (Duchi, Hazan and Singer, 2011).

    Each coordinate is divided by the root of the sum of *all* its past squared gradients:

    .. math::
        G_t = G_{t-1} + g_t \odot g_t, \qquad
        \theta_t = \theta_{t-1} - \frac{\eta_t}{\sqrt{G_t} + \epsilon} \odot g_t,
        \qquad \eta_t = \frac{\eta}{1 + (t - 1)\,\text{lr\_decay}} .

    :math:`G_0` is ``initial_accumulator_value`` (0 by default) and ``eps`` (``1e-10``) is
    added *after* the square root. Because :math:`G_t` only grows, the step keeps shrinking.
    """
    param = as_float(param)
    grad = np.asarray(grad, dtype=param.dtype)
    grad = -grad if maximize else grad
    if state is None:
        state = AdagradState(0, np.full_like(param, initial_accumulator_value))
    step = state.step + 1
    if weight_decay != 0:
        grad = grad + weight_decay * param
    clr = lr / (1 + (step - 1) * lr_decay)
    total = state.sum + grad * grad
    std = np.sqrt(total) + eps
    return param - clr * (grad / std), AdagradState(step, total)


# --------------------------------------------------------------------------- RMSprop

class RMSpropState(NamedTuple):
    """State of RMSprop: step count, running mean of g^2, optional mean of g and velocity."""

    step: int
    square_avg: np.ndarray
    grad_avg: np.ndarray | None
    momentum_buffer: np.ndarray | None


def rmsprop_step(param, grad, state: RMSpropState | None = None, *, lr: float = 1e-2,
                 alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0.0,
                 momentum: float = 0.0,
                 centered: bool = False, maximize: bool = False) -> tuple[np.ndarray, RMSpropState]:
    r"""One step of ``torch.optim.RMSprop`` (Tieleman and Hinton, 2012, lecture 6.5).

    Adagrad's sum becomes an exponential moving average, so old gradients are forgotten:

    .. math::
        v_t = \alpha v_{t-1} + (1 - \alpha)\, g_t \odot g_t, \qquad
        \theta_t = \theta_{t-1} - \eta\, \frac{g_t}{\sqrt{v_t} + \epsilon}.

    Defaults ``alpha=0.99``, ``eps=1e-8`` (after the square root), no bias correction.
    ``centered=True`` divides by the root of the running *variance*
    :math:`v_t - \bar g_t^2`; ``momentum`` accumulates :math:`g_t / (\sqrt{v_t} + \epsilon)`
    in a buffer as SGD does.
    """
    param = as_float(param)
    grad = np.asarray(grad, dtype=param.dtype)
    grad = -grad if maximize else grad
    if state is None:
        zeros = np.zeros_like(param)
        state = RMSpropState(0, zeros, zeros if centered else None,
                             zeros if momentum > 0 else None)
    if weight_decay != 0:
        grad = grad + weight_decay * param
    square_avg = alpha * state.square_avg + (1 - alpha) * (grad * grad)
    grad_avg = None
    if centered:
        grad_avg = _lerp(state.grad_avg, grad, 1 - alpha)
        avg = np.sqrt(square_avg - grad_avg * grad_avg) + eps
    else:
        avg = np.sqrt(square_avg) + eps
    buf = None
    if momentum > 0:
        buf = momentum * state.momentum_buffer + grad / avg
        new_param = param - lr * buf
    else:
        new_param = param - lr * (grad / avg)
    return new_param, RMSpropState(state.step + 1, square_avg, grad_avg, buf)


# --------------------------------------------------------------------------- Adam, AdamW

class AdamState(NamedTuple):
    """State of Adam: the step count ``t``, the two moving averages ``m`` and ``v``, and
    (AMSGrad only) the running maximum of ``v``."""

    step: int
    exp_avg: np.ndarray
    exp_avg_sq: np.ndarray
    max_exp_avg_sq: np.ndarray | None = None


def adam_step(param, grad, state: AdamState | None = None, *, lr: float = 1e-3,
              betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
              weight_decay: float = 0.0, amsgrad: bool = False,
              maximize: bool = False) -> tuple[np.ndarray, AdamState]:
    r"""One step of ``torch.optim.Adam`` (Kingma and Ba, 2015).

    .. math::
        t &\leftarrow t + 1 \\
        m_t &= \beta_1 m_{t-1} + (1 - \beta_1)\, g_t, \qquad
        v_t = \beta_2 v_{t-1} + (1 - \beta_2)\, g_t \odot g_t \\
        \hat m_t &= \frac{m_t}{1 - \beta_1^t}, \qquad \hat v_t = \frac{v_t}{1 - \beta_2^t} \\
        \theta_t &= \theta_{t-1} - \eta\, \frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon}

    The step count is incremented *before* the bias corrections (so the first step divides by
    :math:`1 - \beta`, never by 0) and ``eps`` is added *after* the square root.
    ``weight_decay`` here is an L2 penalty added to the gradient (see :func:`adamw_step`).

    ``amsgrad=True`` (Reddi, Kale and Kumar, 2018) divides by the running *maximum*
    :math:`\hat v^{\max}_t = \max(\hat v^{\max}_{t-1}, v_t)` instead of :math:`v_t`, so the
    per-coordinate step size can never grow again: the fix of a case where Adam provably
    fails to converge. As PyTorch, the maximum is taken before the bias correction.
    """
    param = as_float(param)
    grad = np.asarray(grad, dtype=param.dtype)
    grad = -grad if maximize else grad
    beta1, beta2 = betas
    if state is None:
        state = AdamState(0, np.zeros_like(param), np.zeros_like(param),
                          np.zeros_like(param) if amsgrad else None)
    if weight_decay != 0:
        grad = grad + weight_decay * param
    step = state.step + 1
    exp_avg = _lerp(state.exp_avg, grad, 1 - beta1)
    exp_avg_sq = beta2 * state.exp_avg_sq + (1 - beta2) * (grad * grad)
    bias_correction1 = 1 - beta1**step
    bias_correction2 = 1 - beta2**step
    step_size = lr / bias_correction1
    max_exp_avg_sq = None
    if amsgrad:
        previous = state.max_exp_avg_sq
        max_exp_avg_sq = exp_avg_sq if previous is None else np.maximum(previous, exp_avg_sq)
        denom = np.sqrt(max_exp_avg_sq) / bias_correction2**0.5 + eps
    else:
        denom = np.sqrt(exp_avg_sq) / bias_correction2**0.5 + eps
    return (param - step_size * (exp_avg / denom),
            AdamState(step, exp_avg, exp_avg_sq, max_exp_avg_sq))


def adamw_step(param, grad, state: AdamState | None = None, *, lr: float = 1e-3,
               betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
               weight_decay: float = 1e-2, amsgrad: bool = False,
               maximize: bool = False) -> tuple[np.ndarray, AdamState]:
    r"""One step of ``torch.optim.AdamW`` (Loshchilov and Hutter, 2019): decoupled decay.

    The weights shrink by the factor :math:`1 - \eta\lambda` *outside* the adaptive update,
    then an ordinary Adam step follows with the raw gradient:

    .. math::
        \theta' = (1 - \eta\lambda)\,\theta_{t-1}, \qquad
        \theta_t = \theta' - \eta\, \frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon} .

    With Adam's L2 penalty the decay :math:`\lambda\theta` would be divided by
    :math:`\sqrt{\hat v_t}` like the gradient, so weights with large gradients would hardly be
    decayed; AdamW decays every weight at the same rate. Default ``weight_decay=1e-2``.
    """
    param = as_float(param)
    decayed = param * (1 - lr * weight_decay)
    return adam_step(decayed, grad, state, lr=lr, betas=betas, eps=eps, amsgrad=amsgrad,
                     maximize=maximize)


# --------------------------------------------------------------------------- NAdam, RAdam

def _decay(param, grad, weight_decay, decoupled, lr):
    """Weight decay as an L2 term in the gradient, or decoupled (AdamW-style) on the weights."""
    if weight_decay == 0:
        return param, grad
    if decoupled:
        return param * (1 - lr * weight_decay), grad
    return param, grad + weight_decay * param


class NAdamState(NamedTuple):
    """State of NAdam: Adam's, plus the running product of the momentum coefficients."""

    step: int
    exp_avg: np.ndarray
    exp_avg_sq: np.ndarray
    mu_product: float


def nadam_step(param, grad, state: NAdamState | None = None, *, lr: float = 2e-3,
               betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
               weight_decay: float = 0.0, momentum_decay: float = 4e-3,
               decoupled_weight_decay: bool = False,
               maximize: bool = False) -> tuple[np.ndarray, NAdamState]:
    r"""One step of ``torch.optim.NAdam`` (Dozat, 2016): Adam with Nesterov momentum.

    Nesterov's look-ahead applied to Adam's first moment: the step uses the momentum of the
    *next* step, :math:`\mu_{t+1} m_t`, plus the current gradient's share
    :math:`(1 - \mu_t) g_t`, each with its own bias correction,

    .. math::
        \theta_t = \theta_{t-1} - \eta \left(
            \frac{(1 - \mu_t)\, g_t}{1 - \prod_{i \le t} \mu_i}
            + \frac{\mu_{t+1}\, m_t}{1 - \prod_{i \le t+1} \mu_i} \right)
            \Big/ \left(\sqrt{\hat v_t} + \epsilon\right),

    with :math:`m_t, v_t` Adam's moving averages, :math:`\hat v_t = v_t/(1 - \beta_2^t)`, and a
    momentum coefficient that warms up, :math:`\mu_t = \beta_1 (1 - \tfrac12\, 0.96^{t\,\psi})`
    (:math:`\psi` = ``momentum_decay``). ``decoupled_weight_decay=True`` decays the weights as
    AdamW does (Loshchilov and Hutter's "NAdamW").
    """
    param = as_float(param)
    grad = np.asarray(grad, dtype=param.dtype)
    grad = -grad if maximize else grad
    beta1, beta2 = betas
    if state is None:
        state = NAdamState(0, np.zeros_like(param), np.zeros_like(param), 1.0)
    step = state.step + 1
    bias_correction2 = 1 - beta2**step
    param, grad = _decay(param, grad, weight_decay, decoupled_weight_decay, lr)
    mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * momentum_decay))
    mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * momentum_decay))
    mu_product = state.mu_product * mu
    exp_avg = _lerp(state.exp_avg, grad, 1 - beta1)
    exp_avg_sq = beta2 * state.exp_avg_sq + (1 - beta2) * (grad * grad)
    denom = np.sqrt(exp_avg_sq / bias_correction2) + eps
    param = param + (-lr * (1.0 - mu) / (1.0 - mu_product)) * grad / denom
    param = param + (-lr * mu_next / (1.0 - mu_product * mu_next)) * exp_avg / denom
    return param, NAdamState(step, exp_avg, exp_avg_sq, mu_product)


def radam_step(param, grad, state: AdamState | None = None, *, lr: float = 1e-3,
               betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
               weight_decay: float = 0.0, decoupled_weight_decay: bool = False,
               maximize: bool = False) -> tuple[np.ndarray, AdamState]:
    r"""One step of ``torch.optim.RAdam`` (Liu et al., 2020, "On the variance of the adaptive
    learning rate and beyond"): Adam with a *rectified* adaptive step.

    In the first steps :math:`\hat v_t` averages very few squared gradients, so the adaptive
    step :math:`1/\sqrt{\hat v_t}` has a huge variance (the reason warm-up helps Adam). RAdam
    estimates the length of the moving average, :math:`\rho_t = \rho_\infty - 2t\beta_2^t/(1 -
    \beta_2^t)` with :math:`\rho_\infty = 2/(1-\beta_2) - 1`, and

    * while :math:`\rho_t \le 5` takes an SGD-with-momentum step, :math:`\theta \leftarrow
      \theta - \eta\, \hat m_t` (no division at all);
    * afterwards an Adam step multiplied by the rectification
      :math:`r_t = \sqrt{\frac{(\rho_t - 4)(\rho_t - 2)\rho_\infty}{(\rho_\infty - 4)(\rho_\infty - 2)\rho_t}} < 1`,
      which tends to 1: a built-in warm-up.
    """
    param = as_float(param)
    grad = np.asarray(grad, dtype=param.dtype)
    grad = -grad if maximize else grad
    beta1, beta2 = betas
    if state is None:
        state = AdamState(0, np.zeros_like(param), np.zeros_like(param))
    step = state.step + 1
    param, grad = _decay(param, grad, weight_decay, decoupled_weight_decay, lr)
    exp_avg = _lerp(state.exp_avg, grad, 1 - beta1)
    exp_avg_sq = beta2 * state.exp_avg_sq + (1 - beta2) * (grad * grad)
    bias_correction1 = 1 - beta1**step
    bias_correction2 = 1 - beta2**step
    corrected = exp_avg / bias_correction1
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * step * (beta2**step) / bias_correction2
    if rho_t > 5.0:
        rect = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
        adaptive = bias_correction2**0.5 / (np.sqrt(exp_avg_sq) + eps)
        param = param - corrected * lr * adaptive * rect
    else:
        param = param - corrected * lr
    return param, AdamState(step, exp_avg, exp_avg_sq)


# --------------------------------------------------------------------------- not Adagrad

def normalized_gd_step(param, grad, *, lr: float) -> np.ndarray:
    r"""Normalized gradient descent: a step of length exactly ``lr`` along :math:`-g`.

    .. math::
        \theta_t = \theta_{t-1} - \eta\, \frac{g_t}{\lVert g_t \rVert_2}

    The direction of the gradient is kept and its size thrown away. This is what one of the
    course's source documents calls "Adagrad"; it is not: Adagrad divides each coordinate by
    its own history, which changes the direction as well. A zero gradient gives no step.
    """
    param = as_float(param)
    grad = np.asarray(grad, dtype=param.dtype)
    norm = np.sqrt(np.sum(grad * grad))
    if norm == 0:
        return param.copy()
    return param - lr * (grad / norm)
