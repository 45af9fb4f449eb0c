"""Rebuild ``data/training_runs.npz``: short, seeded training runs that each show one symptom.

The diagnostician of ``nn_reference.tuning`` is tested on these recordings. Every run trains
a small network on the course's own data (the digits, or the Fashion-MNIST subset) with
``coursekit.recording.record_run``, which records the loss and the global gradient norm of
every step and the validation loss of every epoch. For a run named ``NAME`` the file holds
``NAME/step_loss``, ``NAME/grad_norm``, ``NAME/val_loss`` and ``NAME/epoch_loss`` (float64).

Usage, from the repository root::

    python data/tools/make_training_runs.py            # writes data/training_runs.npz

The file is small (a few hundred numbers per run) and takes a few seconds to rebuild; the
values depend on the PyTorch version only through round-off.
"""

from __future__ import annotations

import pathlib
import sys

import numpy as np
import torch
from torch import nn

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from coursekit.datasets import Split, digits_split, fashion_mnist_split  # noqa: E402
from coursekit.recording import record_run  # noqa: E402
from coursekit.training import mlp  # noqa: E402

OUTPUT = ROOT / "data" / "training_runs.npz"


def flat_fashion() -> Split:
    f = fashion_mnist_split()
    return Split(f.x_train.reshape(-1, 784), f.y_train, f.x_test.reshape(-1, 784), f.y_test)


def runs() -> dict:
    """``{symptom: Run}``, one seeded run per symptom; what each does is said in its comment."""
    digits, fashion = digits_split(), flat_fashion()
    out = {}
    # healthy: the default recipe, Adam at 1e-3 on the digits.
    m = mlp([64, 128, 128, 10], seed=0)
    out["healthy"] = record_run(m, digits, torch.optim.Adam(m.parameters(), 1e-3), epochs=10)
    # nan: SGD with momentum at a rate of 1 on a leaky-ReLU network: the weights blow up.
    m = mlp([64, 128, 128, 10], activation=lambda: nn.LeakyReLU(0.1), seed=0)
    out["nan"] = record_run(m, digits, torch.optim.SGD(m.parameters(), 1.0, momentum=0.9),
                            epochs=3)
    # diverging: the same rate on a tanh network: the loss climbs but stays finite.
    m = mlp([64, 128, 128, 10], activation=nn.Tanh, seed=0)
    out["diverging"] = record_run(m, digits, torch.optim.SGD(m.parameters(), 1.0, momentum=0.9),
                                  epochs=3)
    # oscillating: Fashion-MNIST pixels left in 0..255 (not scaled), SGD with momentum.
    raw = Split(fashion.x_train * 255, fashion.y_train, fashion.x_test * 255, fashion.y_test)
    m = mlp([784, 128, 10], seed=0)
    out["oscillating"] = record_run(m, raw, torch.optim.SGD(m.parameters(), 3e-4, momentum=0.9),
                                    epochs=3)
    # flat: every hidden ReLU starts dead (biases of -5), so only the last bias learns.
    m = mlp([64, 128, 128, 10], seed=0)
    with torch.no_grad():
        for layer in list(m)[:-1]:
            if isinstance(layer, nn.Linear):
                layer.bias.fill_(-5.0)
    out["flat"] = record_run(m, digits, torch.optim.Adam(m.parameters(), 1e-3), epochs=10)
    # overfitting: 200 Fashion-MNIST images, a 256-256 MLP, 40 epochs.
    small = Split(fashion.x_train[:200], fashion.y_train[:200], fashion.x_test, fashion.y_test)
    m = mlp([784, 256, 256, 10], seed=0)
    out["overfitting"] = record_run(m, small, torch.optim.Adam(m.parameters(), 1e-3),
                                    epochs=40, batch_size=50)
    return out


def main() -> None:
    arrays = {}
    for name, run in runs().items():
        for field in ("step_loss", "grad_norm", "val_loss", "epoch_loss"):
            arrays[f"{name}/{field}"] = np.asarray(getattr(run, field), dtype=np.float64)
    np.savez_compressed(OUTPUT, **arrays)
    print(f"wrote {OUTPUT} ({OUTPUT.stat().st_size} bytes, {len(arrays)} arrays)")


if __name__ == "__main__":
    main()
