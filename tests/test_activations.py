"""The activation reference implementations against PyTorch: values and autograd gradients."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nn_reference import activations as act
from oracle import DTYPES, assert_matches, random_inputs, torch_tensor

# name -> (forward, derivative, the same function in PyTorch)
CASES = {
    "sigmoid": (act.sigmoid, act.sigmoid_grad, torch.sigmoid),
    "tanh": (act.tanh, act.tanh_grad, torch.tanh),
    "relu": (act.relu, act.relu_grad, F.relu),
    "leaky_relu": (act.leaky_relu, act.leaky_relu_grad, F.leaky_relu),
    "leaky_relu_0.2": (
        lambda x: act.leaky_relu(x, 0.2),
        lambda x: act.leaky_relu_grad(x, 0.2),
        lambda t: F.leaky_relu(t, 0.2),
    ),
    "elu": (act.elu, act.elu_grad, F.elu),
    "elu_alpha_0.5": (
        lambda x: act.elu(x, 0.5), lambda x: act.elu_grad(x, 0.5), lambda t: F.elu(t, 0.5),
    ),
    "selu": (act.selu, act.selu_grad, F.selu),
    "gelu": (act.gelu, act.gelu_grad, F.gelu),
    "gelu_tanh": (
        lambda x: act.gelu(x, "tanh"),
        lambda x: act.gelu_grad(x, "tanh"),
        lambda t: F.gelu(t, approximate="tanh"),
    ),
    "silu": (act.silu, act.silu_grad, F.silu),
    "softplus": (act.softplus, act.softplus_grad, F.softplus),
    "softplus_beta_2": (
        lambda x: act.softplus(x, beta=2.0),
        lambda x: act.softplus_grad(x, beta=2.0),
        lambda t: F.softplus(t, beta=2.0),
    ),
}

EXTREMES = np.array(
    [-1e4, -1e3, -100.0, -30.0, -20.0, -1.0, -1e-8, 0.0, 1e-8, 1.0, 20.0, 30.0, 100.0, 1e3, 1e4]
)


def inputs(dtype):
    """Random inputs of several shapes plus the extreme values, all of one dtype."""
    yield "random (7,)", random_inputs((7,), dtype, seed=0)
    yield "random (4, 5, 3)", random_inputs((4, 5, 3), dtype, seed=1)
    yield "batch of one (1, 6)", random_inputs((1, 6), dtype, seed=2)
    yield "extremes", EXTREMES.astype(dtype)


def torch_value_and_grad(torch_fn, x: np.ndarray, grad_output: np.ndarray):
    t = torch_tensor(x, requires_grad=True)
    y = torch_fn(t)
    y.backward(torch_tensor(grad_output))
    return y, t.grad


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", CASES)
def test_forward_and_derivative_match_torch(name, dtype):
    forward, derivative, torch_fn = CASES[name]
    for label, x in inputs(dtype):
        x_before = x.copy()
        grad_output = random_inputs(x.shape, dtype, seed=99, scale=1.0)
        expected_y, expected_dx = torch_value_and_grad(torch_fn, x, grad_output)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # an overflow or invalid-value warning fails the test
            y = forward(x)
            dx = grad_output * derivative(x)
        assert_matches(y, expected_y, what=f"{name} forward, {label}")
        assert_matches(dx, expected_dx, what=f"{name} input gradient, {label}")
        np.testing.assert_array_equal(x, x_before, err_msg=f"{name} modified its input")


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("num_parameters", [1, 3])
def test_prelu_matches_torch_including_slope_gradient(dtype, num_parameters):
    rng = np.random.default_rng(5)
    x = random_inputs((4, 3, 5, 2), dtype, seed=6)
    x[0, :, 0, 0] = 0.0  # the kink: PyTorch counts x = 0 on the negative side
    weight = rng.uniform(0.05, 0.4, size=num_parameters).astype(dtype)
    grad_output = random_inputs(x.shape, dtype, seed=7, scale=1.0)

    t = torch_tensor(x, requires_grad=True)
    w = torch_tensor(weight, requires_grad=True)
    y = F.prelu(t, w)
    y.backward(torch_tensor(grad_output))

    assert_matches(act.prelu(x, weight), y, what="prelu forward")
    assert_matches(grad_output * act.prelu_grad(x, weight), t.grad, what="prelu input grad")
    # The slope gradient is a sum over many elements: allow for summation order.
    assert_matches(act.prelu_weight_grad(x, weight, grad_output), w.grad,
                   what="prelu slope grad", rtol=1e-5 if dtype == np.float32 else 1e-12)


def test_prelu_rejects_wrong_number_of_slopes():
    with pytest.raises(ValueError, match="3 slopes"):
        act.prelu(np.ones((2, 4)), np.ones(3))


@pytest.mark.parametrize("fn", [act.gelu, act.gelu_grad])
def test_gelu_rejects_unknown_approximation(fn):
    with pytest.raises(ValueError, match="approximate"):
        fn(np.ones(3), approximate="erf")


def test_sigmoid_extremes_are_exact_and_silent():
    x = np.array([-1e4, 1e4])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(act.sigmoid(x), [0.0, 1.0])
        np.testing.assert_array_equal(act.sigmoid_grad(x), [0.0, 0.0])


def test_the_naive_sigmoid_would_fail_this_suite():
    """The negative side: the textbook formula overflows where ours stays silent."""
    with pytest.warns(RuntimeWarning, match="overflow"):
        1.0 / (1.0 + np.exp(-EXTREMES))


def test_integer_input_is_promoted_to_float64():
    assert act.relu(np.array([-2, 3])).dtype == np.float64
    np.testing.assert_array_equal(act.relu(np.array([-2, 3])), [0.0, 3.0])


def test_sigmoid_derivative_is_at_most_a_quarter():
    x = np.linspace(-10, 10, 2001)
    assert act.sigmoid_grad(x).max() == pytest.approx(0.25)
    assert act.sigmoid_grad(np.array([0.0]))[0] == 0.25



# --------------------------------------------------------------------------- edge behaviour

@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", CASES)
def test_zero_dimensional_input_matches_torch(name, dtype):
    """A 0-d input gives a 0-d result of its dtype (exact GELU used to crash here)."""
    forward, derivative, torch_fn = CASES[name]
    x = np.array(0.75, dtype=dtype)
    expected_y, expected_dx = torch_value_and_grad(torch_fn, x, np.array(1.0, dtype=dtype))
    y, dx = forward(x), derivative(x)
    assert np.shape(y) == () and np.asarray(y).dtype == dtype
    assert_matches(np.asarray(y), expected_y, what=f"{name} forward, 0-d")
    assert_matches(np.asarray(dx), expected_dx, what=f"{name} derivative, 0-d")


@pytest.mark.parametrize("name", CASES)
def test_nan_and_infinite_inputs_follow_torchs_gradient_policy(name):
    """The documented NaN policy: ReLU, ELU and SELU pass the gradient at a NaN input (their
    kernels test x <= 0), leaky ReLU gives its slope, the smooth functions give NaN."""
    forward, derivative, torch_fn = CASES[name]
    x = np.array([np.nan, np.inf, -np.inf, 0.0])
    expected_y, expected_dx = torch_value_and_grad(torch_fn, x, np.ones(4))
    with np.errstate(invalid="ignore", over="ignore"):
        y, dx = forward(x), derivative(x)
    np.testing.assert_array_equal(y, expected_y.detach().numpy(), err_msg=f"{name} forward")
    np.testing.assert_array_equal(dx, expected_dx.numpy(), err_msg=f"{name} gradient")


# --------------------------------------------------------------------------- PyTorch's samples

from torch_samples import grad_output_like, op_samples, operator, sample_id  # noqa: E402

# OpInfo name -> (forward, derivative) taking the sample's keyword arguments
OPINFO = {
    "sigmoid": (lambda x: act.sigmoid(x), lambda x: act.sigmoid_grad(x)),
    "tanh": (lambda x: act.tanh(x), lambda x: act.tanh_grad(x)),
    "nn.functional.relu": (lambda x: act.relu(x), lambda x: act.relu_grad(x)),
    "nn.functional.leaky_relu": (act.leaky_relu, act.leaky_relu_grad),
    "nn.functional.elu": (act.elu, act.elu_grad),
    "nn.functional.selu": (lambda x: act.selu(x), lambda x: act.selu_grad(x)),
    "nn.functional.gelu": (act.gelu, act.gelu_grad),
    "nn.functional.silu": (lambda x: act.silu(x), lambda x: act.silu_grad(x)),
    "nn.functional.softplus": (act.softplus, act.softplus_grad),
}


def _opinfo_cases():
    for name in OPINFO:
        for dtype in (torch.float32, torch.float64):
            for k, sample in enumerate(op_samples(name, dtype)):
                yield pytest.param(name, sample, id=f"{name}-{str(dtype)[6:]}-{k}-{sample_id(sample)}")


@pytest.mark.parametrize("name,sample", list(_opinfo_cases()))
def test_pytorch_opinfo_samples(name, sample):
    """Every sample input of PyTorch's own test-suite (OpInfo) for these activations: values
    and input gradients, including 0-d and zero-size inputs and the keyword arguments used."""
    forward, derivative = OPINFO[name]
    t, args, kwargs = sample
    op = operator(name)
    x = t.numpy().copy()
    tt = t.clone().requires_grad_(True)
    y = op(tt, *args, **kwargs)
    g = grad_output_like(y)
    y.backward(g)
    with np.errstate(over="ignore", invalid="ignore"):
        ours = np.asarray(forward(x, *args, **kwargs))
        dx = g.numpy() * np.asarray(derivative(x, *args, **kwargs))
    assert_matches(ours, y.detach(), what=f"{name} forward")
    assert_matches(np.asarray(dx, dtype=x.dtype), tt.grad, what=f"{name} input gradient")
