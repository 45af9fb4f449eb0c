"""How ``data/fashion_mnist_subset.npz`` was made (run once; the result is committed).

Source: Debian's ``dataset-fashion-mnist`` package (Zalando's Fashion-MNIST, MIT licence),
which installs the original IDX files under ``/usr/share/datasets/fashion-mnist/``. The course
never needs the package: this script documents the subset and lets anyone rebuild it.

The subset is class-balanced and seeded: 500 training images per class drawn from the
60 000 training images, and 100 test images per class drawn from the 10 000 test images,
kept as uint8 28x28 images with their labels.

    python data/tools/make_fashion_mnist_subset.py [SOURCE_DIR]
"""

from __future__ import annotations

import gzip
import pathlib
import sys

import numpy as np

SOURCE = pathlib.Path("/usr/share/datasets/fashion-mnist")
TARGET = pathlib.Path(__file__).resolve().parents[1] / "fashion_mnist_subset.npz"
PER_CLASS = {"train": 500, "test": 100}
SEED = 2017


def read_idx(path: pathlib.Path) -> np.ndarray:
    """An IDX file (big-endian header: magic, then one uint32 per dimension) as uint8."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def balanced_subset(images, labels, per_class: int, rng) -> tuple[np.ndarray, np.ndarray]:
    chosen = np.concatenate([rng.choice(np.flatnonzero(labels == k), per_class, replace=False)
                             for k in range(10)])
    chosen = rng.permutation(chosen)
    return images[chosen], labels[chosen]


def main(source: pathlib.Path = SOURCE) -> None:
    rng = np.random.default_rng(SEED)
    arrays = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images = read_idx(source / f"{prefix}-images-idx3-ubyte.gz")
        labels = read_idx(source / f"{prefix}-labels-idx1-ubyte.gz")
        arrays[f"x_{split}"], arrays[f"y_{split}"] = balanced_subset(images, labels, PER_CLASS[split], rng)
    np.savez_compressed(TARGET, **arrays)
    print(f"wrote {TARGET} ({TARGET.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else SOURCE)
