"""Learning-rate schedules as closed-form functions of the step (or epoch) number.

Each function returns the learning rate to use at ``step`` (0 is the first step), as a
Python float. They give the same values as the ``torch.optim.lr_scheduler`` classes named in
their docstrings after ``step`` calls of ``scheduler.step()``; PyTorch computes most of them
recursively (multiplying the previous rate), which differs from the closed form only by
round-off.
"""

from __future__ import annotations

import math

__all__ = ["step_lr", "exponential_lr", "cosine_annealing_lr", "warmup_cosine_lr"]


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
