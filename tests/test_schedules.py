"""The learning-rate schedules against torch.optim.lr_scheduler, step by step."""

from __future__ import annotations

import math
import warnings

import pytest
import torch
from torch.optim import lr_scheduler as S

from nn_reference import schedules as sch


def torch_rates(make_scheduler, steps, base_lr=0.1):
    """The learning rate PyTorch uses at steps 0 .. steps-1."""
    p = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([p], lr=base_lr)
    scheduler = make_scheduler(optimizer)
    rates = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "scheduler.step() before optimizer.step()"
        for _ in range(steps):
            rates.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            scheduler.step()
    return rates


def assert_rates(ours, theirs, what):
    assert len(ours) == len(theirs)
    for t, (a, b) in enumerate(zip(ours, theirs)):
        assert isinstance(a, float), f"{what}: step {t} returned {type(a).__name__}"
        assert a == pytest.approx(b, rel=1e-12, abs=1e-15), f"{what}: step {t}: {a} vs {b}"


@pytest.mark.parametrize("step_size,gamma", [(1, 0.5), (7, 0.1), (10, 0.3)])
def test_step_lr(step_size, gamma):
    theirs = torch_rates(lambda o: S.StepLR(o, step_size, gamma), 50)
    assert_rates([sch.step_lr(0.1, t, step_size, gamma) for t in range(50)], theirs, "StepLR")


@pytest.mark.parametrize("gamma", [0.98, 0.5, 0.9])
def test_exponential_lr(gamma):
    theirs = torch_rates(lambda o: S.ExponentialLR(o, gamma), 100)
    assert_rates([sch.exponential_lr(0.1, t, gamma) for t in range(100)], theirs, "ExponentialLR")


@pytest.mark.parametrize("T_max,eta_min", [(10, 0.0), (37, 1e-3), (1, 0.0)])
def test_cosine_annealing_lr(T_max, eta_min):
    theirs = torch_rates(lambda o: S.CosineAnnealingLR(o, T_max, eta_min), T_max + 1)
    ours = [sch.cosine_annealing_lr(0.1, t, T_max, eta_min) for t in range(T_max + 1)]
    assert_rates(ours, theirs, "CosineAnnealingLR")


@pytest.mark.parametrize("start_factor", [0.01, 0.25, 1 / 3])
@pytest.mark.parametrize("warmup,total,eta_min", [(5, 50, 0.0), (1, 10, 1e-4), (10, 11, 0.0)])
def test_warmup_cosine_matches_sequential_linear_then_cosine(start_factor, warmup, total, eta_min):
    def make(o):
        return S.SequentialLR(o, [S.LinearLR(o, start_factor, 1.0, total_iters=warmup),
                                  S.CosineAnnealingLR(o, total - warmup, eta_min)],
                              milestones=[warmup])
    theirs = torch_rates(make, total + 1)
    ours = [sch.warmup_cosine_lr(t, 0.1, warmup, total, start_factor, eta_min) for t in range(total + 1)]
    assert_rates(ours, theirs, "warm-up then cosine")
    assert max(ours) == ours[warmup] == 0.1  # the peak is reached exactly at step W
    assert ours[-1] == pytest.approx(eta_min, abs=1e-15)


def test_warmup_cosine_without_warmup_is_cosine_annealing():
    theirs = torch_rates(lambda o: S.CosineAnnealingLR(o, 20), 21)
    assert_rates([sch.warmup_cosine_lr(t, 0.1, 0, 20) for t in range(21)], theirs, "no warm-up")


def test_warmup_cosine_from_zero_and_after_the_end():
    assert sch.warmup_cosine_lr(0, 0.1, 4, 10) == 0.0
    assert sch.warmup_cosine_lr(2, 0.1, 4, 10) == pytest.approx(0.05)
    assert sch.warmup_cosine_lr(12, 0.1, 4, 10, eta_min=1e-3) == 1e-3
    with pytest.raises(ValueError):
        sch.warmup_cosine_lr(0, 0.1, 10, 10)


def test_an_off_by_one_warmup_would_fail():
    """The negative side: peaking one step late ((t + 1) / (W + 1)) does not match PyTorch."""
    def make(o):
        return S.SequentialLR(o, [S.LinearLR(o, 0.01, 1.0, total_iters=5),
                                  S.CosineAnnealingLR(o, 15)], milestones=[5])
    theirs = torch_rates(make, 21)
    late = [0.1 * (0.01 + 0.99 * t / 6) if t < 6 else sch.cosine_annealing_lr(0.1, t - 6, 14)
            for t in range(21)]
    assert max(abs(a - b) for a, b in zip(late, theirs)) > 1e-3


def test_step_lr_decays_by_the_factor_of_the_sources():
    """x0.98 per epoch: after 100 epochs the rate is 0.98^100 = 13% of the start."""
    assert sch.exponential_lr(1.0, 100, 0.98) == pytest.approx(math.exp(100 * math.log(0.98)))


# --------------------------------------------------------------------------- one-cycle, plateau, EMA

@pytest.mark.parametrize("kwargs", [dict(), dict(pct_start=0.25, anneal_strategy="linear"),
                                    dict(three_phase=True), dict(div_factor=10.0, final_div_factor=100.0)],
                         ids=["default", "linear", "three_phase", "factors"])
@pytest.mark.parametrize("total", [10, 100])
def test_one_cycle_lr_matches_torch(kwargs, total):
    theirs = torch_rates(lambda o: S.OneCycleLR(o, max_lr=0.5, total_steps=total, **kwargs), total)
    ours = [sch.one_cycle_lr(t, 0.5, total, **kwargs) for t in range(total)]
    assert_rates(ours, theirs, f"OneCycleLR {kwargs}")
    assert max(ours) <= 0.5 * (1 + 1e-12) and ours[-1] < ours[0]  # peaks at max_lr, ends below its start


def plateau_rates(metrics, **kwargs):
    p = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([p], lr=0.1)
    scheduler = S.ReduceLROnPlateau(optimizer, **kwargs)
    rates = []
    for m in metrics:
        optimizer.step()
        scheduler.step(m)
        rates.append(optimizer.param_groups[0]["lr"])
    return rates


@pytest.mark.parametrize("kwargs", [dict(), dict(patience=2, factor=0.5), dict(patience=1, cooldown=2),
                                    dict(mode="max", patience=0), dict(threshold_mode="abs", threshold=0.05,
                                                                       patience=1, min_lr=0.02)],
                         ids=["default", "patience2", "cooldown", "max", "abs_min_lr"])
def test_reduce_lr_on_plateau_matches_torch(kwargs):
    import numpy as np

    rng = np.random.default_rng(0)
    metrics = list(1.0 / (1 + np.arange(40)) + 0.02 * rng.standard_normal(40))
    metrics += [metrics[-1]] * 30  # a long plateau
    theirs = plateau_rates(metrics, **kwargs)
    ours = sch.reduce_lr_on_plateau(metrics, 0.1, **kwargs)
    assert_rates(ours, theirs, f"ReduceLROnPlateau {kwargs}")
    assert min(ours) < 0.1  # the plateau triggered at least one reduction


def test_ema_matches_torch_averaged_model():
    import numpy as np
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    model = torch.nn.Linear(3, 2).double()
    ema_model = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.9))
    ours = None
    rng = np.random.default_rng(1)
    for _ in range(20):
        with torch.no_grad():
            model.weight.add_(torch.tensor(rng.standard_normal((2, 3))))
        ema_model.update_parameters(model)
        ours = sch.ema_update(ours, model.weight.detach().numpy(), 0.9)
    np.testing.assert_allclose(ours, ema_model.module.weight.detach().numpy(), rtol=1e-12, atol=1e-13)
