"""Tools for diagnosing and tuning a training run.

Four tools, each small enough to read in one sitting:

* a **gradient checker**: central differences in float64 and a relative error with a guard
  against dividing by zero, to catch a wrong hand-written backward pass;
* **per-layer statistics** of a PyTorch model, read by forward hooks (activation mean,
  standard deviation, fraction of dead units) and from ``.grad`` (gradient norms);
* the **learning-rate range test**: train for a few hundred steps while the rate grows
  exponentially, smooth the loss, and suggest a rate *before* the loss minimum;
* a **diagnostician** that reads a loss history (and optionally a validation loss and
  gradient norms) and names the likely symptom: NaN, diverging, oscillating, flat,
  overfitting, or healthy. It filters the history with a running median first, so that
  one noisy spike does not change its verdict.

NumPy functions never modify their inputs; the functions that train a PyTorch model say
what they leave behind.
"""

from __future__ import annotations

import copy
from typing import Callable, NamedTuple

import numpy as np

__all__ = [
    "numerical_gradient", "relative_error", "gradient_check", "check_layer", "elementwise_layer",
    "dead_fraction", "LayerStats", "record_activation_stats", "gradient_norms",
    "exponential_rates", "smooth_losses", "suggest_lr", "RangeTest", "lr_range_test",
    "running_median", "Diagnosis", "diagnose", "SYMPTOMS",
]


# --------------------------------------------------------------------------- gradient check

def numerical_gradient(f: Callable[[np.ndarray], float], x, eps: float = 1e-6) -> np.ndarray:
    r"""The gradient of a scalar function ``f`` at ``x`` by **central** differences, in float64.

    .. math::
        \frac{\partial f}{\partial x_i} \approx
        \frac{f(x + \epsilon e_i) - f(x - \epsilon e_i)}{2\epsilon} .

    The error of this estimate has two parts: truncation, :math:`O(\epsilon^2)` (a one-sided
    difference :math:`(f(x+\epsilon e_i) - f(x))/\epsilon` has :math:`O(\epsilon)`), and
    round-off, about :math:`u\,|f| / \epsilon` with the unit round-off :math:`u`. In float64
    (:math:`u \approx 1.1\times10^{-16}`) the sum is smallest near :math:`\epsilon = 10^{-6}`
    to :math:`10^{-5}`; in float32 (:math:`u \approx 6\times10^{-8}`) no step gives more than
    two or three correct digits, which is why ``x`` is converted to float64 first.

    ``f`` receives a float64 array of ``x``'s shape (a fresh copy each time); ``x`` itself
    is not modified.
    """
    x = np.array(x, dtype=np.float64)  # a copy: we perturb it in place below
    grad = np.zeros_like(x)
    flat, g = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        f_plus = float(f(x.copy()))
        flat[i] = old - eps
        f_minus = float(f(x.copy()))
        flat[i] = old
        g[i] = (f_plus - f_minus) / (2 * eps)
    return grad


def relative_error(analytic, numeric, floor: float = 1e-12) -> float:
    r"""Relative distance between two gradients, guarded against dividing by zero.

    .. math::
        r = \frac{\lVert a - n \rVert_2}{\max(\lVert a \rVert_2 + \lVert n \rVert_2,\ \text{floor})} .

    Without the ``floor`` two zero gradients (a dead ReLU layer, a bias that does not
    matter) give :math:`0/0`. With float64 central differences and a correct backward
    pass :math:`r` is typically below :math:`10^{-7}`; a wrong one gives :math:`10^{-2}` or
    more. The norm is taken over the whole array, so that entries near zero, whose own
    relative error is dominated by round-off, do not decide the verdict.
    """
    a = np.asarray(analytic, dtype=np.float64)
    n = np.asarray(numeric, dtype=np.float64)
    if a.shape != n.shape:
        raise ValueError(f"shapes differ: analytic {a.shape}, numeric {n.shape}")
    return float(np.linalg.norm(a - n) / max(np.linalg.norm(a) + np.linalg.norm(n), floor))


def gradient_check(loss: Callable[..., float], inputs: dict, grads: dict,
                   eps: float = 1e-6) -> dict:
    """Relative error of each analytic gradient in ``grads`` against central differences.

    ``loss(**inputs)`` returns a scalar; ``grads[name]`` is the hand-computed gradient of
    that scalar with respect to ``inputs[name]``. Each input is perturbed in turn while the
    others stay fixed. Returns ``{name: relative_error}`` for every name in ``grads``.
    """
    errors = {}
    for name in grads:
        def f(value, name=name):
            return loss(**{**inputs, name: value})

        errors[name] = relative_error(grads[name], numerical_gradient(f, inputs[name], eps))
    return errors


def check_layer(forward: Callable, backward: Callable, inputs: dict, seed: int = 0,
                eps: float = 1e-6) -> dict:
    r"""Gradient-check a ``forward(**inputs) -> (out, cache)`` /
    ``backward(grad_output, cache) -> grads`` pair (CS231n style).

    The layer is turned into a scalar with a fixed random projection,
    :math:`L = \sum_j G_j\, \mathrm{out}_j`, so that :math:`\partial L/\partial\mathrm{out} = G`
    exercises every output (a plain sum would give the same weight to all of them and can
    hide mistakes: the input gradient of a normalization layer is zero for it). ``backward``
    returns one gradient per input, in the order of ``inputs`` (a single array if there is
    one input). Everything is evaluated in float64. Returns ``{name: relative_error}``.
    """
    inputs64 = {k: np.array(v, dtype=np.float64) for k, v in inputs.items()}
    out, cache = forward(**inputs64)
    G = np.random.default_rng(seed).standard_normal(np.shape(out))
    grads = backward(G, cache)
    if len(inputs64) == 1 and not isinstance(grads, (tuple, list)):
        grads = (grads,)
    grads = dict(zip(inputs64, grads))

    def loss(**values):
        return float(np.sum(G * forward(**values)[0]))

    return gradient_check(loss, inputs64, grads, eps)


def elementwise_layer(f: Callable, f_grad: Callable):
    """A ``(forward, backward)`` pair for :func:`check_layer` from an elementwise function
    ``f(x)`` and its derivative ``f_grad(x)`` (as ``nn_reference.activations`` writes them):
    the backward pass is ``grad_output * f_grad(x)``."""
    def forward(x):
        return f(x), x

    def backward(grad_output, x):
        return grad_output * f_grad(x)

    return forward, backward


# --------------------------------------------------------------------------- layer statistics

def dead_fraction(activations) -> float:
    r"""Fraction of **units** that output zero for *every* sample of the batch.

    ``activations`` has shape ``(N, units)`` or ``(N, C, *spatial)`` (a unit is then a
    channel). A ReLU unit that is zero for one sample is working as intended; one that is
    zero for all of them passes no gradient to its weights and may never recover.
    """
    a = np.asarray(activations)
    per_unit = np.moveaxis(a, 1, 0).reshape(a.shape[1], -1) if a.ndim > 2 else a.T
    return float(np.mean(np.all(per_unit == 0, axis=1)))


class LayerStats(NamedTuple):
    """Statistics of one module's output on one batch."""

    mean: float
    std: float
    dead_fraction: float


def record_activation_stats(model, x, module_types=None) -> dict:
    """Run ``model(x)`` once and return ``{module name: LayerStats}`` for its output.

    A forward hook is registered on every module whose type is in ``module_types``
    (default: ``torch.nn.ReLU``) and removed before returning, whatever happens. The model
    is run under ``torch.no_grad()`` in the mode it is in; neither is changed.
    """
    import torch
    from torch import nn

    module_types = tuple(module_types or (nn.ReLU,))
    stats, handles = {}, []

    def hook(name):
        def record(module, inputs, output):
            a = output.detach().cpu().double().numpy()
            stats[name] = LayerStats(float(a.mean()), float(a.std()), dead_fraction(a))
        return record

    try:
        for name, module in model.named_modules():
            if isinstance(module, module_types):
                handles.append(module.register_forward_hook(hook(name)))
        with torch.no_grad():
            model(torch.as_tensor(x))
    finally:
        for h in handles:
            h.remove()
    return stats


def gradient_norms(model, only_weights: bool = True) -> dict:
    r"""``{parameter name: \lVert \nabla \rVert_2}`` after a backward pass, in model order.

    With ``only_weights`` the biases and other one-dimensional parameters are skipped
    (one number per layer is easier to read). Parameters without a gradient are skipped.
    """
    return {name: float(p.grad.detach().double().norm())
            for name, p in model.named_parameters()
            if p.grad is not None and (p.ndim > 1 or not only_weights)}


# --------------------------------------------------------------------------- LR range test

def exponential_rates(start_lr: float, end_lr: float, num_iter: int) -> np.ndarray:
    r"""``num_iter`` rates growing geometrically from ``start_lr`` to ``end_lr``:

    .. math::
        \eta_i = \eta_0 \,(\eta_{\text{end}}/\eta_0)^{i/(n-1)}, \quad i = 0, \dots, n-1 ,

    which is ``torch.optim.lr_scheduler.ExponentialLR`` with
    :math:`\gamma = (\eta_{\text{end}}/\eta_0)^{1/(n-1)}`, stepped once per iteration.
    """
    if num_iter < 2:
        raise ValueError("num_iter must be at least 2")
    return start_lr * (end_lr / start_lr) ** (np.arange(num_iter) / (num_iter - 1))


def smooth_losses(losses, beta: float = 0.98) -> np.ndarray:
    r"""Exponential moving average with bias correction (as Adam's first moment):

    .. math::
        m_t = \beta m_{t-1} + (1-\beta)\,\ell_t,\quad m_0 = 0, \qquad
        \hat m_t = \frac{m_t}{1 - \beta^t} .

    Without the correction the first values are pulled toward zero (a constant loss of 2
    would start at 0.04). Returns float64; ``losses`` is not modified.
    """
    losses = np.asarray(losses, dtype=np.float64)
    out = np.empty_like(losses)
    m = 0.0
    for t, value in enumerate(losses, start=1):
        m = beta * m + (1 - beta) * value
        out[t - 1] = m / (1 - beta**t)
    return out


def suggest_lr(lrs, losses, skip_start: int = 10, skip_end: int = 5) -> float:
    r"""The rate where the (smoothed) loss falls fastest, searched **before** its minimum.

    The loss minimum itself is a bad choice: there the loss is already about to blow up,
    because the rate is at the edge of stability. We take

    .. math::
        i^\star = \arg\min_{i < i_{\min}} \frac{\Delta \ell_i}{\Delta \log \eta_i},

    the steepest descent per decade of rate, among the points before the minimum
    :math:`i_{\min}` (the first ``skip_start`` and last ``skip_end`` points, where the
    smoothing is least reliable, are ignored). ``losses`` should already be smoothed.
    """
    lrs = np.asarray(lrs, dtype=np.float64)
    losses = np.asarray(losses, dtype=np.float64)
    finite = np.isfinite(losses)
    lrs, losses = lrs[finite], losses[finite]
    end = len(losses) - skip_end if len(losses) - skip_end > skip_start + 2 else len(losses)
    lrs, losses = lrs[skip_start:end], losses[skip_start:end]
    if len(losses) < 3:
        raise ValueError("too few finite points to suggest a rate")
    i_min = int(np.argmin(losses))
    slope = np.gradient(losses, np.log(lrs))
    if i_min < 1:
        return float(lrs[0])
    return float(lrs[int(np.argmin(slope[:i_min]))])


class RangeTest(NamedTuple):
    """A learning-rate range test: the rates tried, raw and smoothed losses, the suggestion."""

    lrs: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    suggested_lr: float


def lr_range_test(model, x, y, make_optimizer: Callable, loss_fn=None, start_lr: float = 1e-7,
                  end_lr: float = 10.0, num_iter: int = 100, batch_size: int = 64,
                  beta: float = 0.98, diverge_factor: float = 4.0, seed: int = 0) -> RangeTest:
    """Train on mini-batches while the rate grows from ``start_lr`` to ``end_lr``.

    ``make_optimizer(parameters, lr)`` builds the optimizer (e.g.
    ``lambda p, lr: torch.optim.SGD(p, lr=lr, momentum=0.9)``). The test stops early once
    the smoothed loss exceeds ``diverge_factor`` times its best value, or is not finite.
    The model's weights are restored afterwards: the test only *looks*. (PyTorch has no
    range test; the defaults follow fastai's ``lr_find``: 1e-7 to 10 in 100 steps,
    smoothing 0.98, stop at four times the best loss.)
    """
    import torch
    from torch import nn

    loss_fn = loss_fn or nn.CrossEntropyLoss()
    x, y = torch.as_tensor(x), torch.as_tensor(y)
    rates = exponential_rates(start_lr, end_lr, num_iter)
    saved = copy.deepcopy(model.state_dict())
    optimizer = make_optimizer(model.parameters(), float(rates[0]))
    generator = torch.Generator().manual_seed(seed)
    order, position = torch.randperm(len(x), generator=generator), 0
    losses, best, m = [], np.inf, 0.0
    model.train()
    try:
        for t, lr in enumerate(rates, start=1):
            if position + batch_size > len(x):
                order, position = torch.randperm(len(x), generator=generator), 0
            batch = order[position:position + batch_size]
            position += batch_size
            for group in optimizer.param_groups:
                group["lr"] = float(lr)
            optimizer.zero_grad()
            loss = loss_fn(model(x[batch]), y[batch])
            loss.backward()
            optimizer.step()
            losses.append(float(loss.item()))
            m = beta * m + (1 - beta) * losses[-1]
            smoothed = m / (1 - beta**t)
            if not np.isfinite(smoothed) or smoothed > diverge_factor * best:
                break
            best = min(best, smoothed)
    finally:
        model.load_state_dict(saved)
    losses = np.array(losses)
    lrs = rates[:len(losses)]
    smoothed = smooth_losses(losses, beta)
    return RangeTest(lrs, losses, smoothed, suggest_lr(lrs, smoothed))


# --------------------------------------------------------------------------- diagnostician

SYMPTOMS = ("nan", "diverging", "oscillating", "flat", "overfitting", "healthy")


class Diagnosis(NamedTuple):
    """The symptom (one of ``SYMPTOMS``) and a sentence that says why."""

    symptom: str
    reason: str


def running_median(values, window: int = 5) -> np.ndarray:
    """Median of each window of ``window`` (odd) values centered on each point; the ends use
    the part of the window that exists. One outlier cannot move a median of 3 or more."""
    v = np.asarray(values, dtype=np.float64)
    half = window // 2
    width, n = 2 * half + 1, len(v)
    out = np.empty(n)
    ends = range(n)
    if n >= width:  # the full windows at once; only the ends one by one
        out[half:n - half] = np.median(np.lib.stride_tricks.sliding_window_view(v, width), axis=1)
        ends = [*range(half), *range(n - half, n)]
    for i in ends:
        out[i] = np.median(v[max(0, i - half):i + half + 1])
    return out


def diagnose(train_loss, val_loss=None, grad_norms=None, *, flat_tol: float = 0.02,
             rise_tol: float = 0.1, oscillation_tol: float = 0.1,
             window: int = 5) -> Diagnosis:
    r"""Name the likely symptom of a training run from its loss history.

    The checks run in this order; the first that fires is the verdict.

    1. **nan**: a loss that is NaN or infinite (a run does not come back from NaN).
    2. **diverging**: after a running median of width ``window`` (which removes single
       spikes), the last fifth of the run ends more than ``rise_tol`` above the first
       fifth; or the gradient norms grew more than a hundredfold.
    3. **oscillating**: the median size of the step-to-step changes (the *jitter*) is
       more than ``oscillation_tol`` of the median loss level *and* of the progress made
       (first fifth minus last fifth). A noisy run that still makes progress has jitter
       small against its progress; a spike is two large changes, which the median ignores.
    4. **flat**: the filtered loss fell by less than ``flat_tol`` of its starting value;
       with gradient norms, near-zero gradients are named as the cause.
    5. **overfitting** (only with ``val_loss``): the filtered validation loss has risen by
       more than ``rise_tol`` above its minimum while the training loss kept falling.
    6. **healthy** otherwise.

    ``train_loss`` is per step or per epoch (at least 5 values); ``val_loss`` is per epoch.
    Nothing is modified.
    """
    train = np.asarray(train_loss, dtype=np.float64)
    if train.ndim != 1 or len(train) < 5:
        raise ValueError("train_loss must be a 1-D history of at least 5 values")
    bad = np.flatnonzero(~np.isfinite(train))
    if bad.size:
        return Diagnosis("nan", f"the loss is not finite from step {bad[0]} on "
                                f"(too high a rate, log of zero, or a bad input)")
    smooth = running_median(train, window)
    fifth = max(1, len(train) // 5)
    start, end = np.median(smooth[:fifth]), np.median(smooth[-fifth:])
    scale = max(abs(start), 1e-12)
    if grad_norms is not None:
        gn = np.asarray(grad_norms, dtype=np.float64)
        gn_smooth = running_median(gn, window)
        if np.median(gn_smooth[-max(1, len(gn) // 5):]) > 100 * max(np.median(gn_smooth[:max(1, len(gn) // 5)]), 1e-30):
            return Diagnosis("diverging", "the gradient norms grew more than a hundredfold")
    if end > start + rise_tol * scale:
        return Diagnosis("diverging", f"the loss went up from {start:.3g} to {end:.3g}")
    jitter = float(np.median(np.abs(np.diff(train))))
    level = max(float(np.median(np.abs(train))), 1e-12)
    if jitter > oscillation_tol * level and jitter > oscillation_tol * max(start - end, 0.0):
        return Diagnosis("oscillating", f"the loss jumps by {jitter:.3g} per step around a "
                                        f"level of {level:.3g}, for a net fall of {start - end:.3g}")
    if start - end < flat_tol * scale:
        if grad_norms is not None and np.median(grad_norms) < 1e-6:
            return Diagnosis("flat", "the gradients are (nearly) zero: dead units or a "
                                     "detached graph")
        return Diagnosis("flat", f"the loss barely moved ({start:.3g} to {end:.3g})")
    if val_loss is not None:
        val = running_median(val_loss, window)
        best = int(np.argmin(val))
        if val[-1] > val[best] * (1 + rise_tol) and best < len(val) - 1:
            return Diagnosis("overfitting", f"the validation loss rose from {val[best]:.3g} "
                                            f"(epoch {best}) to {val[-1]:.3g} while the "
                                            f"training loss fell")
    return Diagnosis("healthy", f"the loss fell from {start:.3g} to {end:.3g}")
