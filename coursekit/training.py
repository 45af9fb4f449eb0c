"""A small, seeded PyTorch training loop shared by the chapters' experiments.

The chapters compare *one* ingredient at a time (an activation, a normalization layer, an
optimizer...), so everything else (data, loop, evaluation) is this one piece of code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
from torch import nn

from coursekit.datasets import Split

# The experiments train small models: one thread is as fast as two, and much faster when
# the machine is shared. Flushing subnormal numbers to zero keeps networks whose signals
# vanish (a point several chapters make) from crawling through slow denormal arithmetic.
torch.set_num_threads(1)
torch.set_flush_denormal(True)


@dataclass
class History:
    """Per-epoch records of a training run (``extra`` holds what ``on_epoch`` returned)."""

    train_loss: list = field(default_factory=list)
    train_accuracy: list = field(default_factory=list)
    test_accuracy: list = field(default_factory=list)
    extra: list = field(default_factory=list)


def mlp(sizes, activation: Callable[[], nn.Module] = nn.ReLU,
        layer: Callable[[int], nn.Module] | None = None, seed: int = 0) -> nn.Sequential:
    """``Linear -> [layer(width)] -> activation`` for each hidden width, then a final Linear.

    ``sizes`` lists the widths from input to output, e.g. ``[64, 128, 128, 10]``;
    ``layer`` adds a module such as ``nn.BatchNorm1d`` or ``nn.Dropout`` after each hidden Linear.
    """
    torch.manual_seed(seed)
    modules: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        modules.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            if layer is not None:
                modules.append(layer(n_out))
            modules.append(activation())
    return nn.Sequential(*modules)


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    """Fraction of correct predictions, in evaluation mode (the mode is restored after)."""
    was_training = model.training
    model.eval()
    with torch.no_grad():
        predictions = model(torch.as_tensor(x)).argmax(dim=1).numpy()
    model.train(was_training)
    return float((predictions == y).mean())


def train_classifier(model: nn.Module, data: Split, optimizer: torch.optim.Optimizer, *,
                     epochs: int, batch_size: int = 64, seed: int = 0,
                     on_epoch: Callable[[nn.Module], object] | None = None,
                     scheduler=None) -> History:
    """Mini-batch training with cross-entropy; reshuffles every epoch with a seeded generator.

    A loss that becomes NaN or infinite ends the run early (the history then stops there).
    """
    generator = torch.Generator().manual_seed(seed)
    x, y = torch.as_tensor(data.x_train), torch.as_tensor(data.y_train)
    loss_fn = nn.CrossEntropyLoss()
    history = History()
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(x), generator=generator)
        total, count = 0.0, 0
        for start in range(0, len(x), batch_size):
            batch = order[start:start + batch_size]
            optimizer.zero_grad()
            loss = loss_fn(model(x[batch]), y[batch])
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
            count += len(batch)
        if scheduler is not None:
            scheduler.step()
        history.train_loss.append(total / count)
        if not np.isfinite(history.train_loss[-1]):
            break
        history.train_accuracy.append(accuracy(model, data.x_train, data.y_train))
        history.test_accuracy.append(accuracy(model, data.x_test, data.y_test))
        if on_epoch is not None:
            history.extra.append(on_epoch(model))
    return history


def over_seeds(run: Callable[[int], object], seeds=(0, 1, 2), *,
               require_spread: bool = True) -> np.ndarray:
    r"""Repeat an experiment once per seed and stack the results: ``out[k] = run(seeds[k])``.

    One run says little when the seed (initial weights, order of the batches, dropout masks)
    moves the result as much as the change under study. ``run(seed)`` returns a number or a
    sequence (a curve per epoch); the result has shape ``(len(seeds), ...)``. Curves of
    different lengths (a run that stopped early on a non-finite loss) are padded with NaN,
    so ``np.nanmean`` and :func:`mean_and_std` average over the seeds that got that far.

    A run that ignores its seed would give a spread of zero and a false sense of certainty:
    two or more seeds are required, and identical results for all of them raise an error,
    unless ``require_spread=False`` says that they can legitimately agree (a network stuck at
    the same constant prediction whatever its seed, a run that diverges at once).
    """
    seeds = list(seeds)
    if len(seeds) < 2:
        raise ValueError(f"a spread needs at least two seeds, got {seeds}")
    raw = [np.asarray(run(seed), dtype=np.float64) for seed in seeds]
    scalars = all(r.ndim == 0 for r in raw)
    results = [np.atleast_1d(r) for r in raw]
    if any(r.ndim != 1 for r in results):
        raise ValueError("run(seed) must return a number or a one-dimensional sequence")
    length = max(len(r) for r in results)
    out = np.full((len(seeds), length), np.nan)
    for k, r in enumerate(results):
        out[k, :len(r)] = r
    if require_spread and all(np.array_equal(out[0], r, equal_nan=True) for r in out[1:]):
        raise ValueError("every seed gave the same result: does run(seed) use its seed?")
    return out[:, 0] if scalars else out


def mean_and_std(runs, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    r"""Mean and sample standard deviation over the seeds (axis 0 of :func:`over_seeds`).

    .. math:: \bar y = \frac1S \sum_{s=1}^S y_s, \qquad
        \hat\sigma = \sqrt{\frac{1}{S-1} \sum_{s=1}^S (y_s - \bar y)^2},

    ignoring NaN entries (runs that ended early); with a single finite value the standard
    deviation is NaN (no spread can be estimated from one run).
    """
    runs = np.asarray(runs, dtype=np.float64)
    finite = np.sum(~np.isnan(runs), axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.nansum(runs, axis=axis) / finite
        dev = np.nansum((runs - np.expand_dims(mean, axis)) ** 2, axis=axis)
        std = np.sqrt(dev / (finite - 1))
    mean = np.where(finite > 0, mean, np.nan)
    std = np.where(finite > 1, std, np.nan)
    return mean, std
