"""Datasets that ship with the course (see ``data/README.md``); nothing is downloaded."""

from __future__ import annotations

import pathlib
from typing import NamedTuple

import numpy as np

DATA_DIR = pathlib.Path(__file__).resolve().parents[1] / "data"


class Split(NamedTuple):
    """A train/test split of features ``x`` (float32) and integer labels ``y``."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 1797 handwritten 8x8 digits: pixels scaled to [0, 1] as float32, labels 0..9."""
    path = DATA_DIR / "digits.csv.gz"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: the digits data ships with the repository")
    table = np.loadtxt(path, delimiter=",", dtype=np.float64)
    return (table[:, :64] / 16.0).astype(np.float32), table[:, 64].astype(np.int64)


def split(x: np.ndarray, y: np.ndarray, test_fraction: float = 0.25, seed: int = 0) -> Split:
    """Shuffle with a seeded generator and hold out ``test_fraction`` of the samples."""
    order = np.random.default_rng(seed).permutation(len(x))
    n_test = int(round(test_fraction * len(x)))
    test, train = order[:n_test], order[n_test:]
    return Split(x[train], y[train], x[test], y[test])


def digits_split(test_fraction: float = 0.25, seed: int = 0) -> Split:
    """The digits data, split once with a fixed seed so every chapter sees the same split."""
    return split(*load_digits(), test_fraction=test_fraction, seed=seed)


#: Fashion-MNIST's class names, in label order.
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


def fashion_mnist_split() -> Split:
    """A class-balanced Fashion-MNIST subset: 5000 training and 1000 test 28x28 images.

    Images come as float32 of shape ``(N, 1, 28, 28)`` scaled to [0, 1], labels as int64
    0..9 (names in ``FASHION_CLASSES``). The split is Fashion-MNIST's own train/test split;
    ``data/tools/make_fashion_mnist_subset.py`` says how the subset was drawn.
    """
    path = DATA_DIR / "fashion_mnist_subset.npz"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: the Fashion-MNIST subset ships with the repository")
    with np.load(path) as data:
        def images(key):
            return (data[key].astype(np.float32) / 255.0)[:, None, :, :]

        return Split(images("x_train"), data["y_train"].astype(np.int64),
                     images("x_test"), data["y_test"].astype(np.int64))
