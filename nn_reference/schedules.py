"""Learning-rate schedules as closed-form functions of the step (or epoch) number.

Each function returns the learning rate to use at ``step`` (0 is the first step), as a
Python float. They give the same values as the ``torch.optim.lr_scheduler`` classes named in
their docstrings after ``step`` calls of ``scheduler.step()``; PyTorch computes most of them
recursively (multiplying the previous rate), which differs from the closed form only by
round-off.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["step_lr", "exponential_lr", "cosine_annealing_lr", "warmup_cosine_lr",
           "one_cycle_lr", "reduce_lr_on_plateau", "ema_update"]


def step_lr(base_lr: float, step: int, step_size: int, gamma: float = 0.1) -> float:
    r"""Step decay, ``torch.optim.lr_scheduler.StepLR``: multiply by ``gamma`` every
    ``step_size`` steps.

    .. math:: \eta_t = \eta_0\, \gamma^{\lfloor t / s \rfloor}
    """
    return base_lr * gamma ** (step // step_size)


def exponential_lr(base_lr: float, step: int, gamma: float) -> float:
    r"""Exponential decay, ``torch.optim.lr_scheduler.ExponentialLR``:
    :math:`\eta_t = \eta_0\, \gamma^t` (e.g. ``gamma=0.98`` per epoch)."""
    return base_lr * gamma**step


def cosine_annealing_lr(base_lr: float, step: int, T_max: int, eta_min: float = 0.0) -> float:
    r"""Cosine annealing without restarts, ``torch.optim.lr_scheduler.CosineAnnealingLR``.

    .. math::
        \eta_t = \eta_{\min} + \tfrac12 (\eta_0 - \eta_{\min})
                 \left(1 + \cos\frac{\pi t}{T_{\max}}\right), \qquad 0 \le t \le T_{\max}.

    (Past :math:`T_{\max}` PyTorch's formula keeps following the cosine back up; use it
    for exactly :math:`T_{\max}` steps.)
    """
    return eta_min + (base_lr - eta_min) * (1 + math.cos(math.pi * step / T_max)) / 2


def warmup_cosine_lr(step: int, base_lr: float, warmup_steps: int, total_steps: int,
                     start_factor: float = 0.0, eta_min: float = 0.0) -> float:
    r"""Linear warm-up to ``base_lr``, then cosine decay to ``eta_min`` at ``total_steps``.

    .. math::
        \eta_t = \begin{cases}
            \eta_0 \left(f + (1 - f)\, \dfrac{t}{W}\right) & 0 \le t < W \\[1ex]
            \eta_{\min} + \tfrac12 (\eta_0 - \eta_{\min})
                \left(1 + \cos \dfrac{\pi (t - W)}{T - W}\right) & W \le t \le T \\[1ex]
            \eta_{\min} & t > T
        \end{cases}

    with :math:`W` = ``warmup_steps`` (0 means no warm-up), :math:`T` = ``total_steps`` and
    :math:`f` = ``start_factor``. The peak :math:`\eta_0` is reached exactly at step
    :math:`W`. For :math:`f > 0` and :math:`t \le T` this is PyTorch's
    ``SequentialLR([LinearLR(opt, f, 1.0, W), CosineAnnealingLR(opt, T - W, eta_min)],
    milestones=[W])``; :math:`f = 0` (PyTorch's ``LinearLR`` refuses it) starts from a
    learning rate of exactly 0.
    """
    if not 0 <= warmup_steps < total_steps:
        raise ValueError("need 0 <= warmup_steps < total_steps")
    if step < warmup_steps:
        return base_lr * (start_factor + (1 - start_factor) * step / warmup_steps)
    if step > total_steps:
        return eta_min
    progress = (step - warmup_steps) / (total_steps - warmup_steps)
    return eta_min + (base_lr - eta_min) * (1 + math.cos(math.pi * progress)) / 2


def one_cycle_lr(step: int, max_lr: float, total_steps: int, pct_start: float = 0.3,
                 anneal_strategy: str = "cos", div_factor: float = 25.0,
                 final_div_factor: float = 1e4, three_phase: bool = False) -> float:
    r"""The 1cycle policy (Smith and Topin, 2019, "Super-convergence"), as
    ``torch.optim.lr_scheduler.OneCycleLR`` (its learning rate only; PyTorch also cycles the
    momentum inversely by default).

    The rate climbs from :math:`\eta_{\max}/d` (``div_factor`` :math:`d = 25`) to
    :math:`\eta_{\max}` during the first ``pct_start`` of the run, then anneals down to
    :math:`\eta_{\max}/(d\,f)` (``final_div_factor`` :math:`f = 10^4`), far below where it
    started. Each phase interpolates with half a cosine (or linearly); phase :math:`i` ends at
    step :math:`p\,T - 1` and the last at :math:`T - 1`, exactly as PyTorch counts.
    ``three_phase=True`` climbs, comes back down to the start in as many steps, then anneals.
    """
    initial = max_lr / div_factor
    minimum = initial / final_div_factor
    if three_phase:
        phases = [(pct_start * total_steps - 1, initial, max_lr),
                  (2 * pct_start * total_steps - 2, max_lr, initial),
                  (total_steps - 1, initial, minimum)]
    else:
        phases = [(pct_start * total_steps - 1, initial, max_lr), (total_steps - 1, max_lr, minimum)]
    if not 0 <= step <= total_steps:
        raise ValueError(f"step {step} outside 0..{total_steps}")
    start_step = 0.0
    for i, (end_step, start, end) in enumerate(phases):
        if step <= end_step or i == len(phases) - 1:
            pct = (step - start_step) / (end_step - start_step)
            if anneal_strategy == "cos":
                return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
            if anneal_strategy == "linear":
                return (end - start) * pct + start
            raise ValueError(f"anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}")
        start_step = end_step
    raise AssertionError("unreachable")


def reduce_lr_on_plateau(metrics, base_lr: float, mode: str = "min", factor: float = 0.1,
                         patience: int = 10, threshold: float = 1e-4,
                         threshold_mode: str = "rel", cooldown: int = 0, min_lr: float = 0.0,
                         eps: float = 1e-8) -> list[float]:
    r"""The learning rate after each of a sequence of validation ``metrics``, as
    ``torch.optim.lr_scheduler.ReduceLROnPlateau`` (one ``scheduler.step(metric)`` per value).

    Unlike the other schedules it reacts to the run: a metric counts as an improvement when it
    beats the best so far by more than ``threshold`` (relative: :math:`m < m^* (1 - \tau)` in
    ``"min"`` mode); after more than ``patience`` evaluations without one, the rate is
    multiplied by ``factor`` (never below ``min_lr``; a change smaller than ``eps`` is skipped)
    and ``cooldown`` evaluations are ignored. Returns the rate in force after each metric.
    """
    if mode not in ("min", "max") or threshold_mode not in ("rel", "abs"):
        raise ValueError("mode must be 'min' or 'max' and threshold_mode 'rel' or 'abs'")

    def is_better(a, best):
        if mode == "min":
            return a < best * (1.0 - threshold) if threshold_mode == "rel" else a < best - threshold
        return a > best * (threshold + 1.0) if threshold_mode == "rel" else a > best + threshold

    lr, best = float(base_lr), (math.inf if mode == "min" else -math.inf)
    bad, cooldown_left, rates = 0, 0, []
    for metric in metrics:
        current = float(metric)
        if is_better(current, best):
            best, bad = current, 0
        else:
            bad += 1
        if cooldown_left > 0:
            cooldown_left -= 1
            bad = 0
        if bad > patience:
            new_lr = max(lr * factor, min_lr)
            if lr - new_lr > eps:
                lr = new_lr
            cooldown_left, bad = cooldown, 0
        rates.append(lr)
    return rates


def ema_update(average, param, decay: float = 0.999):
    r"""One step of an exponential moving average of the weights (Polyak averaging with
    forgetting), :math:`\bar\theta \leftarrow \beta\,\bar\theta + (1 - \beta)\,\theta`.

    The average is kept *beside* the training weights, updated after every optimizer step and
    used for evaluation: it smooths out the noise of the last steps, so it often evaluates
    better than the final iterate. ``torch.optim.swa_utils.AveragedModel`` with
    ``get_ema_multi_avg_fn(decay)`` computes the same (it copies the weights at the first
    update, i.e. starts the average at :math:`\theta_0`). ``average=None`` starts it.
    Returns a new array.
    """
    param = np.asarray(param)
    if average is None:
        return param.copy()
    return (decay * np.asarray(average) + (1 - decay) * param).astype(param.dtype)
