"""Training runs that record everything a diagnosis needs, step by step.

``coursekit.training.train_classifier`` keeps one number per epoch; diagnosing a run needs
more: the loss of every step, the global gradient norm of every step, and the validation
loss once per epoch. ``record_run`` is that loop, seeded, and it keeps going after the loss
stops being finite (so that a NaN shows up in the record, as it would in a real log) for
at most a few more steps.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from coursekit import training as _training  # noqa: F401  (one thread, denormals flushed)
from coursekit.datasets import Split


class Run(NamedTuple):
    """Per-step training loss and gradient norm, per-epoch validation loss and accuracy."""

    step_loss: np.ndarray
    grad_norm: np.ndarray
    val_loss: np.ndarray
    val_accuracy: np.ndarray
    epoch_loss: np.ndarray


def evaluate(model: nn.Module, x, y) -> tuple[float, float]:
    """Cross-entropy and accuracy of ``model`` on ``(x, y)``, in evaluation mode."""
    was_training = model.training
    model.eval()
    with torch.no_grad():
        logits = model(torch.as_tensor(x))
        loss = nn.functional.cross_entropy(logits, torch.as_tensor(y)).item()
        acc = (logits.argmax(1).numpy() == np.asarray(y)).mean()
    model.train(was_training)
    return float(loss), float(acc)


def record_run(model: nn.Module, data: Split, optimizer: torch.optim.Optimizer, *, epochs: int,
               batch_size: int = 64, seed: int = 0, loss_fn=None, clip: float | None = None,
               extra_steps_after_nan: int = 3) -> Run:
    """Mini-batch training with a seeded shuffle, recording every step.

    ``loss_fn(logits, labels)`` defaults to cross-entropy; ``clip`` applies
    ``torch.nn.utils.clip_grad_norm_`` before each step.
    """
    loss_fn = loss_fn or nn.functional.cross_entropy
    generator = torch.Generator().manual_seed(seed)
    x, y = torch.as_tensor(data.x_train), torch.as_tensor(data.y_train)
    step_loss, grad_norm, val_loss, val_acc, epoch_loss = [], [], [], [], []
    after_nan = None
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x), batch_size):
            batch = order[start:start + batch_size]
            optimizer.zero_grad()
            loss = loss_fn(model(x[batch]), y[batch])
            loss.backward()
            params = [p for p in model.parameters() if p.grad is not None]
            total = torch.linalg.vector_norm(torch.stack(
                [torch.linalg.vector_norm(p.grad) for p in params])) if params else torch.tensor(0.0)
            if clip is not None:
                nn.utils.clip_grad_norm_(model.parameters(), clip)
            optimizer.step()
            step_loss.append(loss.item())
            grad_norm.append(float(total))
            if not np.isfinite(step_loss[-1]):
                after_nan = 0 if after_nan is None else after_nan + 1
                if after_nan >= extra_steps_after_nan:
                    break
        n = len(data.x_train)
        epoch_loss.append(float(np.mean(step_loss[-int(np.ceil(n / batch_size)):])))
        vl, va = evaluate(model, data.x_test, data.y_test)
        val_loss.append(vl)
        val_acc.append(va)
        if after_nan is not None:
            break
    return Run(*(np.array(v) for v in (step_loss, grad_norm, val_loss, val_acc, epoch_loss)))
