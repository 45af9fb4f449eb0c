"""A seeded training loop with the regularizers of the regularization chapter switched on
one at a time: L1/L2 penalties (as a loss term, or L1 as a proximal step), augmentation of
each mini-batch, mixup, label smoothing and a moving average of the weights.

``coursekit.training.train_classifier`` is the loop of the other chapters; this one adds what
they do not need (a penalty inside the loss, a transform of each batch, the validation loss
per epoch) and keeps everything else the same: seeded shuffling, cross-entropy, evaluation
after every epoch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import coursekit.training  # noqa: F401  (sets the thread count and denormal flushing)
from coursekit.datasets import Split
from nn_reference import regularization as reg


@dataclass
class Run:
    """Per-epoch records: training loss and accuracy, validation loss and accuracy."""

    train_loss: list = field(default_factory=list)
    train_accuracy: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    val_accuracy: list = field(default_factory=list)
    extra: list = field(default_factory=list)


def weight_matrices(model: nn.Module) -> list[torch.Tensor]:
    """The weights that a penalty acts on: every parameter with 2 or more dimensions
    (Linear and Conv weights), not the biases."""
    return [p for p in model.parameters() if p.ndim >= 2]


def evaluate(model: nn.Module, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Mean cross-entropy and accuracy, in evaluation mode (the mode is restored after)."""
    was_training = model.training
    model.eval()
    with torch.no_grad():
        logits = model(torch.as_tensor(x))
        loss = F.cross_entropy(logits, torch.as_tensor(y)).item()
        acc = (logits.argmax(1).numpy() == y).mean()
    model.train(was_training)
    return loss, float(acc)


def fit(model: nn.Module, data: Split, *, epochs: int, lr: float = 1e-3,
        optimizer: str = "adam", weight_decay: float = 0.0, l2: float = 0.0, l1: float = 0.0,
        l1_proximal: bool = False, augment: Callable | None = None, mixup_alpha: float = 0.0,
        label_smoothing: float = 0.0, batch_size: int = 50, seed: int = 0,
        on_epoch: Callable[[nn.Module], object] | None = None) -> Run:
    """Train ``model`` on ``data.x_train`` and record ``data.x_test`` as the validation set.

    * ``optimizer``: ``"adam"``, ``"adamw"``, ``"sgd"`` (momentum 0.9) or ``"plain sgd"``
      (no momentum); ``weight_decay`` is passed to it;
    * ``l2``, ``l1``: penalties :math:`\\lambda\\sum w^2`, :math:`\\lambda\\sum|w|` on the weight
      matrices, added to the loss (autograd gives the subgradient of L1); with
      ``l1_proximal=True`` the L1 part is applied after each step by soft-thresholding with
      threshold ``lr * l1`` instead (exact for plain SGD);
    * ``augment(x, rng)``: a NumPy transform of each training batch, drawn from a generator
      seeded with ``seed``;
    * ``mixup_alpha``, ``label_smoothing``: see :mod:`nn_reference.regularization`.
    """
    torch_gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    params = list(model.parameters())
    if optimizer in ("sgd", "plain sgd"):
        momentum = 0.9 if optimizer == "sgd" else 0.0
        opt = torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    elif optimizer == "adamw":
        opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    else:
        opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    x_all, y_all = data.x_train, data.y_train
    n_classes = int(max(y_all.max(), data.y_test.max())) + 1
    weights = weight_matrices(model)
    run = Run()
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(x_all), generator=torch_gen).numpy()
        total = 0.0
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            xb, yb = x_all[idx], y_all[idx]
            if augment is not None:
                xb = augment(xb, rng)
            opt.zero_grad()
            logits_in = torch.as_tensor(np.ascontiguousarray(xb, dtype=np.float32))
            if mixup_alpha > 0:
                xm, ym, _, _ = reg.mixup(xb, np.eye(n_classes, dtype=np.float32)[yb],
                                         mixup_alpha, rng=rng)
                loss = F.cross_entropy(model(torch.as_tensor(xm)), torch.as_tensor(ym))
            else:
                loss = F.cross_entropy(model(logits_in), torch.as_tensor(yb),
                                       label_smoothing=label_smoothing)
            data_loss = loss.item()
            if l2:
                loss = loss + l2 * sum((w * w).sum() for w in weights)
            if l1 and not l1_proximal:
                loss = loss + l1 * sum(w.abs().sum() for w in weights)
            loss.backward()
            opt.step()
            if l1 and l1_proximal:
                with torch.no_grad():
                    for w in weights:
                        w.copy_(F.softshrink(w, lr * l1))
            total += data_loss * len(idx)
        run.train_loss.append(total / len(x_all))
        _, train_acc = evaluate(model, x_all, y_all)
        val_loss, val_acc = evaluate(model, data.x_test, data.y_test)
        run.train_accuracy.append(train_acc)
        run.val_loss.append(val_loss)
        run.val_accuracy.append(val_acc)
        if on_epoch is not None:
            run.extra.append(on_epoch(model))
    return run
