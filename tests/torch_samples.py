"""PyTorch's own test inputs, reused as test cases for the reference implementations.

``torch.testing._internal`` holds the sample inputs that PyTorch's test-suite feeds to every
operator (the *OpInfo* database, ``op_db``) and the configurations it tries for every optimizer
(``optim_db``). They were written to hit edge cases: 0-d tensors, zero-size dimensions,
negative ``eps``, odd momenta, ``maximize``, ``amsgrad``. Importing them needs the
``expecttest`` package (pinned in requirements.txt).

The samples are drawn with a fixed seed and capped (``MAX_SAMPLES`` per operator and dtype),
so that the tests stay fast and deterministic.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

#: at most this many sample inputs per operator and dtype (PyTorch's lists are 1 to ~50 long)
MAX_SAMPLES = 40


@functools.lru_cache(maxsize=None)
def _op_db():
    from torch.testing._internal.common_methods_invocations import op_db  # needs expecttest

    return {(op.name, op.variant_test_name): op for op in op_db}


@functools.lru_cache(maxsize=None)
def _optim_db():
    from torch.testing._internal.common_optimizers import optim_db  # needs expecttest

    return {info.optim_cls.__name__: info for info in optim_db}


def _plain(value):
    """A sample argument as the reference code takes it: tensors become NumPy copies."""
    if torch.is_tensor(value):
        return value.detach().clone().numpy()
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    return value


def operator(name: str, variant: str = ""):
    """PyTorch's function for the OpInfo ``name`` (called as ``op(input, *args, **kwargs)``)."""
    return _op_db()[(name, variant)]


def op_samples(name: str, dtype=torch.float64, variant: str = "", limit: int = MAX_SAMPLES):
    """``[(input, args, kwargs), ...]`` of PyTorch's OpInfo samples for operator ``name``.

    ``input`` is a detached tensor; ``args`` and ``kwargs`` keep their tensors (the caller turns
    them into NumPy with :func:`to_numpy_args` where the reference code needs them). Sampling is
    seeded, so the list is the same on every run.
    """
    op = _op_db()[(name, variant)]
    torch.manual_seed(0)
    out = []
    for sample in op.sample_inputs("cpu", dtype, requires_grad=False):
        out.append((sample.input.detach().clone(), tuple(sample.args), dict(sample.kwargs)))
        if len(out) == limit:
            break
    assert out, f"PyTorch has no sample input for {name!r}"
    return out


def to_numpy_args(args):
    return _plain(args)


def optimizer_configs(cls_name: str):
    """``[(description, kwargs), ...]``: the keyword arguments PyTorch's tests try for an optimizer.

    A tensor learning rate (a configuration PyTorch tests for its capturable/compiled paths)
    becomes its float value.
    """
    info = _optim_db()[cls_name]
    configs = []
    for config in info.optim_inputs_func(device="cpu"):
        kwargs = {k: (float(v) if torch.is_tensor(v) else v) for k, v in config.kwargs.items()}
        configs.append((config.desc, kwargs))
    return configs


def sample_id(sample) -> str:
    """A short readable id for a sample: input shape and keyword arguments."""
    x, args, kwargs = sample
    parts = [f"{tuple(x.shape)}"]
    parts += [str(tuple(a.shape)) if torch.is_tensor(a) else repr(a) for a in args]
    parts += [f"{k}={tuple(v.shape) if torch.is_tensor(v) else v!r}" for k, v in kwargs.items()]
    return " ".join(parts)


def grad_output_like(t: torch.Tensor, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(t.shape, generator=g, dtype=torch.float64).to(t.dtype)


def same_nan(a, b) -> bool:
    return np.array_equal(np.isnan(np.asarray(a, dtype=np.float64)),
                          np.isnan(np.asarray(b, dtype=np.float64)))
