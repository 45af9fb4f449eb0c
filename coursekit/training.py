"""A small, seeded PyTorch training loop shared by the chapters' experiments.

The chapters compare *one* ingredient at a time (an activation, a normalisation layer, an
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
