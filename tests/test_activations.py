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



# --------------------------------------------------------------------------- edge behavior

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


# --------------------------------------------------------------------------- hard-swish, Mish

@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name,forward,derivative,torch_fn", [
    ("hardswish", act.hardswish, act.hardswish_grad, F.hardswish),
    ("mish", act.mish, act.mish_grad, F.mish),
])
def test_hardswish_and_mish_match_torch(name, forward, derivative, torch_fn, dtype):
    kinks = np.array([-3.0, 3.0, -3.0000001, 2.9999999, 0.0], dtype=dtype)
    for label, x in list(inputs(dtype)) + [("kinks", kinks)]:
        g = random_inputs(x.shape, dtype, seed=98, scale=1.0)
        expected_y, expected_dx = torch_value_and_grad(torch_fn, x, g)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            y, dx = forward(x), g * derivative(x)
        assert_matches(y, expected_y, what=f"{name} forward, {label}")
        assert_matches(dx, expected_dx, what=f"{name} gradient, {label}")


# --------------------------------------------------------------------------- softmax family

LOGITS = [("random (4, 7)", lambda d: random_inputs((4, 7), d, seed=11, scale=3.0)),
          ("huge logits", lambda d: np.array([[1000.0, 999.0, -1000.0], [-1e4, -1e4 + 1, 0.0]], dtype=d)),
          ("3-d", lambda d: random_inputs((2, 3, 5), d, seed=12, scale=2.0))]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_softmax_log_softmax_logsumexp_match_torch_without_overflow(dtype, axis):
    for label, make in LOGITS:
        x = make(dtype)
        g = random_inputs(x.shape, dtype, seed=13, scale=1.0)
        for name, forward, backward, torch_fn in [
            ("softmax", act.softmax, act.softmax_backward, lambda t: F.softmax(t, dim=axis)),
            ("log_softmax", act.log_softmax, act.log_softmax_backward, lambda t: F.log_softmax(t, dim=axis)),
        ]:
            expected_y, expected_dx = torch_value_and_grad(torch_fn, x, g)
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                y, dx = forward(x, axis), backward(g, x, axis)
            assert_matches(y, expected_y, what=f"{name} axis {axis}, {label}", atol=1e-6 if dtype == np.float32 else 1e-13)
            assert_matches(dx, expected_dx, what=f"{name} gradient axis {axis}, {label}",
                           atol=1e-6 if dtype == np.float32 else 1e-13)
        go = random_inputs(np.delete(np.array(x.shape), axis % x.ndim), dtype, seed=14, scale=1.0)
        # PyTorch's float32 gradient exp(x - lse) inherits the rounding of lse (~1e-4 relative for
        # logits near 1000); the oracle is PyTorch in float64, rounded to the input's dtype.
        t = torch_tensor(x.astype(np.float64), requires_grad=True)
        lse = torch.logsumexp(t, dim=axis)
        lse.backward(torch_tensor(go.astype(np.float64)))
        assert_matches(act.logsumexp(x, axis), lse.detach().numpy().astype(dtype),
                       what=f"logsumexp axis {axis}, {label}")
        assert_matches(act.logsumexp_backward(go, x, axis), t.grad.numpy().astype(dtype),
                       what=f"logsumexp gradient, {label}", atol=1e-6 if dtype == np.float32 else 1e-13)


def test_naive_softmax_overflows_where_ours_does_not():
    x = np.array([1000.0, 0.0])
    with np.errstate(over="ignore", invalid="ignore"):
        naive = np.exp(x) / np.exp(x).sum()
    assert np.isnan(naive[0])
    np.testing.assert_array_equal(act.softmax(x), [1.0, 0.0])
    assert act.log_softmax(x)[1] == -1000.0  # log(softmax) would give -inf


# --------------------------------------------------------------------------- gated units, maxout

@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("axis", [-1, 1])
def test_glu_family_matches_torch(dtype, axis):
    x = random_inputs((3, 4, 6), dtype, seed=15, scale=2.0)
    g = random_inputs((3, 2, 6) if axis == 1 else (3, 4, 3), dtype, seed=16, scale=1.0)

    def split(fn):
        return lambda t: (lambda a, b: a * fn(b))(*torch.chunk(t, 2, dim=axis))

    cases = [
        ("glu", act.glu(x, axis), act.glu_backward(g, x, axis), lambda t: F.glu(t, dim=axis)),
        ("geglu", act.geglu(x, axis), act.gated_backward(g, x, act.gelu, act.gelu_grad, axis), split(F.gelu)),
        ("swiglu", act.swiglu(x, axis), act.gated_backward(g, x, act.silu, act.silu_grad, axis), split(F.silu)),
    ]
    for name, y, dx, torch_fn in cases:
        expected_y, expected_dx = torch_value_and_grad(torch_fn, x, g)
        assert_matches(y, expected_y, what=name)
        assert_matches(dx, expected_dx, what=f"{name} gradient")
    with pytest.raises(ValueError, match="two halves"):
        act.glu(np.ones((2, 3)))


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape,pieces,axis", [((4, 6), 3, 1), ((2, 8, 5, 5), 2, 1), ((3, 5, 4), 4, -1)], ids=str)
def test_maxout_matches_torch_max_over_groups(shape, pieces, axis, dtype):
    x = random_inputs(shape, dtype, seed=17)
    ax = axis % len(shape)
    out_shape = shape[:ax] + (shape[ax] // pieces,) + shape[ax + 1:]
    g = random_inputs(out_shape, dtype, seed=18, scale=1.0)
    expected_y, expected_dx = torch_value_and_grad(
        lambda t: t.unflatten(ax, (shape[ax] // pieces, pieces)).max(dim=ax + 1).values, x, g)
    assert_matches(act.maxout(x, pieces, axis), expected_y, what="maxout")
    assert_matches(act.maxout_backward(g, x, pieces, axis), expected_dx, what="maxout gradient")
    with pytest.raises(ValueError, match="groups of"):
        act.maxout(x, 7, axis)


# OpInfo samples of the additions
OPINFO_AXIS = {
    "nn.functional.hardswish": lambda x, *a, **k: (act.hardswish(x), lambda g: g * act.hardswish_grad(x)),
    "nn.functional.mish": lambda x, *a, **k: (act.mish(x), lambda g: g * act.mish_grad(x)),
    "softmax": lambda x, dim, **k: (act.softmax(x, dim), lambda g: act.softmax_backward(g, x, dim)),
    "log_softmax": lambda x, dim, **k: (act.log_softmax(x, dim), lambda g: act.log_softmax_backward(g, x, dim)),
    "logsumexp": lambda x, dim, keepdim=False: (act.logsumexp(x, tuple(dim) if isinstance(dim, (list, tuple)) else dim, keepdim),
                                                None),
    "nn.functional.glu": lambda x, dim=-1: (act.glu(x, dim), lambda g: act.glu_backward(g, x, dim)),
}


def _opinfo_axis_cases():
    for name in OPINFO_AXIS:
        for dtype in (torch.float32, torch.float64):
            for k, sample in enumerate(op_samples(name, dtype)):
                yield pytest.param(name, sample, id=f"{name}-{str(dtype)[6:]}-{k}-{sample_id(sample)}")


@pytest.mark.parametrize("name,sample", list(_opinfo_axis_cases()))
def test_pytorch_opinfo_samples_of_the_additions(name, sample):
    t, args, kwargs = sample
    x = t.numpy().copy()
    tt = t.clone().requires_grad_(True)
    y = operator(name)(tt, *args, **kwargs)
    g = grad_output_like(y)
    if y.numel():
        y.backward(g)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours, backward = OPINFO_AXIS[name](x, *args, **kwargs)
    tol = dict(atol=1e-6) if x.dtype == np.float32 else dict(atol=1e-13)
    assert_matches(np.asarray(ours), y.detach(), what=f"{name} forward", **tol)
    if backward is not None and y.numel():
        assert_matches(np.asarray(backward(g.numpy())), tt.grad, what=f"{name} gradient", **tol)
