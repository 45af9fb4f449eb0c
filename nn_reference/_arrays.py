"""Array conventions shared by every reference module."""

from __future__ import annotations

import numpy as np


def as_float(x) -> np.ndarray:
    """``x`` as a floating array: floating inputs keep their dtype (and are not copied),
    integer and boolean inputs become float64."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    return x
