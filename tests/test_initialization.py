"""The initialization reference implementations against ``torch.nn.init``.

Samples cannot match PyTorch bit for bit (different generators), so we test
* exactly: fans, gains, standard deviations and uniform bounds (the bound is checked against
  the largest of ~10^5 PyTorch samples, which lies within a hair of it);
* statistically: on large seeded tensors, the sample mean and standard deviation of OUR samples
  and of PyTorch's samples lie within a 5-sigma confidence interval of the same target
  (deterministic, because every generator is seeded);
* the negative side: the same checks reject the usual wrong formulas.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.nn import init as tinit

from nn_reference import initialization as ini
from oracle import DTYPES

# (out, in, *kernel): linear, conv1d, conv2d, conv3d, and shapes with fan_in != fan_out.
FAN_SHAPES = [(3, 5), (5, 3), (1, 1), (8, 4, 5), (16, 3, 3, 3), (4, 6, 3, 5), (2, 3, 1, 1, 1),
              (7, 2, 2, 3, 4)]
# Large weights for the statistics (10^5 to 3 * 10^5 entries each).
BIG_SHAPES = [(512, 256), (200, 700), (128, 64, 5, 5), (256, 128, 7), (32, 48, 3, 3, 3)]
Z = 5.0  # width of the confidence intervals in standard errors


def torch_sample(fill, shape, dtype, seed, **kwargs) -> np.ndarray:
    t = torch.empty(shape, dtype=torch.float64 if dtype == np.float64 else torch.float32)
    fill(t, generator=torch.Generator().manual_seed(seed), **kwargs)
    return t.numpy()


def assert_stats(w: np.ndarray, std: float, kind: str, what: str) -> None:
    """Mean 0 and standard deviation ``std`` within Z standard errors; shape of the law.

    Standard error of the sample std: sigma / sqrt(2n) for a normal law and
    sigma * sqrt(0.2 / n) for a uniform one (kurtosis 9/5).
    """
    x = w.astype(np.float64).ravel()
    n = x.size
    assert abs(x.mean()) <= Z * std / math.sqrt(n), f"{what}: mean {x.mean():.3g} is not 0"
    rel_se = math.sqrt(0.5 / n) if kind == "normal" else math.sqrt(0.2 / n)
    assert abs(x.std() / std - 1) <= Z * rel_se, (
        f"{what}: sample std {x.std():.6g}, expected {std:.6g} "
        f"(relative error {x.std() / std - 1:.2e}, allowed {Z * rel_se:.2e})")
    kurtosis = np.mean(x ** 4) / np.mean(x ** 2) ** 2
    expected_kurtosis = 3.0 if kind == "normal" else 1.8
    assert abs(kurtosis - expected_kurtosis) < 0.1, f"{what}: kurtosis {kurtosis:.3f} is not that of a {kind} law"


def assert_uniform_bound(w: np.ndarray, bound: float, what: str) -> None:
    """All samples in [-bound, bound], and the largest within 30/n of it (fails with prob. ~e^-30)."""
    m = float(np.abs(w.astype(np.float64)).max())
    assert m <= bound * (1 + 1e-6), f"{what}: a sample {m:.6g} lies outside the bound {bound:.6g}"
    assert m >= bound * (1 - 30.0 / w.size), f"{what}: the largest sample {m:.6g} is far below the bound {bound:.6g}"


# --------------------------------------------------------------------------- fans and gains

@pytest.mark.parametrize("shape", FAN_SHAPES, ids=str)
def test_fans_match_torch_exactly(shape):
    expected = tinit._calculate_fan_in_and_fan_out(torch.empty(shape))
    assert ini.calculate_fan_in_and_fan_out(shape) == expected
    assert ini.calculate_fan_in_and_fan_out(np.zeros(shape)) == expected  # an array works too


def test_conv_fan_includes_the_kernel_area():
    # A 3x3 convolution from 16 to 32 channels: each output sums 16 * 9 products.
    assert ini.calculate_fan_in_and_fan_out((32, 16, 3, 3)) == (144, 288)


@pytest.mark.parametrize("shape", [(), (5,)], ids=str)
def test_fans_need_two_dimensions_like_torch(shape):
    with pytest.raises(ValueError):
        tinit._calculate_fan_in_and_fan_out(torch.empty(shape))
    with pytest.raises(ValueError, match="fewer than 2"):
        ini.calculate_fan_in_and_fan_out(shape)


GAIN_CASES = [("linear", None), ("conv1d", None), ("conv2d", None), ("conv3d", None),
              ("conv_transpose2d", None), ("sigmoid", None), ("tanh", None), ("relu", None),
              ("leaky_relu", None), ("leaky_relu", 0), ("leaky_relu", 0.2), ("leaky_relu", 1),
              ("leaky_relu", 3.5), ("selu", None), ("relu", 0.3)]


@pytest.mark.parametrize("nonlinearity,param", GAIN_CASES)
def test_gain_matches_torch_exactly(nonlinearity, param):
    assert ini.calculate_gain(nonlinearity, param) == pytest.approx(
        tinit.calculate_gain(nonlinearity, param), rel=1e-15)


def test_gain_rejects_what_torch_rejects():
    for args in [("softmax",), ("leaky_relu", True), ("leaky_relu", "0.1")]:
        with pytest.raises(ValueError):
            tinit.calculate_gain(*args)
        with pytest.raises(ValueError):
            ini.calculate_gain(*args)


def test_leaky_relu_gain_is_not_the_plausible_wrong_ones():
    a = 0.2
    right = ini.calculate_gain("leaky_relu", a)
    assert right == pytest.approx(math.sqrt(2 / 1.04))
    for wrong in (math.sqrt(2 / (1 + a)), math.sqrt(2) / (1 + a ** 2), math.sqrt(2)):
        assert abs(wrong / right - 1) > 0.01


# --------------------------------------------------------------------------- stds and bounds

def _kaiming_cases():
    for mode in ("fan_in", "fan_out"):
        for nonlinearity, a in (("leaky_relu", 0.0), ("relu", 0.0), ("leaky_relu", 0.2),
                                ("leaky_relu", 1.0), ("tanh", 0.0), ("linear", 0.0)):
            yield dict(a=a, mode=mode, nonlinearity=nonlinearity)


KAIMING = list(_kaiming_cases())


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape", BIG_SHAPES, ids=str)
def test_xavier_uniform_bound_and_statistics(shape, dtype):
    for k, gain in enumerate((1.0, 5 / 3)):
        fan_in, fan_out = tinit._calculate_fan_in_and_fan_out(torch.empty(shape))
        bound = gain * math.sqrt(6.0 / (fan_in + fan_out))  # the formula of Glorot and Bengio
        assert ini.uniform_bound(ini.xavier_std(shape, gain)) == pytest.approx(bound, rel=1e-14)
        ours = ini.xavier_uniform(shape, gain, rng=np.random.default_rng(k), dtype=dtype)
        theirs = torch_sample(tinit.xavier_uniform_, shape, dtype, seed=k, gain=gain)
        assert ours.shape == shape and ours.dtype == dtype
        for name, w in (("ours", ours), ("torch", theirs)):
            assert_uniform_bound(w, bound, f"xavier_uniform {name} {shape} gain={gain}")
            assert_stats(w, bound / math.sqrt(3), "uniform", f"xavier_uniform {name} {shape}")


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape", BIG_SHAPES, ids=str)
def test_xavier_normal_statistics(shape, dtype):
    std = ini.xavier_std(shape, 0.5)
    ours = ini.xavier_normal(shape, 0.5, rng=np.random.default_rng(1), dtype=dtype)
    theirs = torch_sample(tinit.xavier_normal_, shape, dtype, seed=1, gain=0.5)
    assert ours.shape == shape and ours.dtype == dtype
    for name, w in (("ours", ours), ("torch", theirs)):
        assert_stats(w, std, "normal", f"xavier_normal {name} {shape}")


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape", BIG_SHAPES[:3], ids=str)
def test_kaiming_uniform_bound_and_statistics(shape, dtype):
    for k, kw in enumerate(KAIMING):
        std = ini.kaiming_std(shape, **kw)
        bound = ini.uniform_bound(std)
        ours = ini.kaiming_uniform(shape, **kw, rng=np.random.default_rng(k), dtype=dtype)
        theirs = torch_sample(tinit.kaiming_uniform_, shape, dtype, seed=k, **kw)
        assert ours.shape == shape and ours.dtype == dtype
        for name, w in (("ours", ours), ("torch", theirs)):
            assert_uniform_bound(w, bound, f"kaiming_uniform {name} {shape} {kw}")
            assert_stats(w, std, "uniform", f"kaiming_uniform {name} {shape} {kw}")


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape", BIG_SHAPES[:3], ids=str)
def test_kaiming_normal_statistics(shape, dtype):
    for k, kw in enumerate(KAIMING):
        std = ini.kaiming_std(shape, **kw)
        ours = ini.kaiming_normal(shape, **kw, rng=np.random.default_rng(k), dtype=dtype)
        theirs = torch_sample(tinit.kaiming_normal_, shape, dtype, seed=k, **kw)
        assert ours.shape == shape and ours.dtype == dtype
        for name, w in (("ours", ours), ("torch", theirs)):
            assert_stats(w, std, "normal", f"kaiming_normal {name} {shape} {kw}")


def test_kaiming_std_formula():
    shape = (64, 32, 3, 3)  # fan_in 288, fan_out 576
    assert ini.kaiming_std(shape) == pytest.approx(math.sqrt(2 / 288))
    assert ini.kaiming_std(shape, mode="fan_out") == pytest.approx(math.sqrt(2 / 576))
    assert ini.kaiming_std(shape, a=0.2) == pytest.approx(math.sqrt(2 / 1.04 / 288))
    # nonlinearity="leaky_relu" with the default a=0 is the ReLU gain, not the slope-0.01 one.
    assert ini.kaiming_std(shape, nonlinearity="leaky_relu") == ini.kaiming_std(shape, nonlinearity="relu")
    with pytest.raises(ValueError, match="fan_avg"):
        ini.kaiming_std(shape, mode="fan_avg")


def test_torch_linear_default_is_kaiming_uniform_with_a_sqrt5():
    """nn.Linear's default init: bound 1/sqrt(fan_in), whatever the activation that follows."""
    torch.manual_seed(0)
    layer = torch.nn.Linear(400, 300)
    bound = ini.uniform_bound(ini.kaiming_std((300, 400), a=math.sqrt(5)))
    assert bound == pytest.approx(1 / math.sqrt(400))
    assert_uniform_bound(layer.weight.detach().numpy(), bound, "nn.Linear default weight")


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape", BIG_SHAPES[:3], ids=str)
def test_lecun_normal_is_torch_kaiming_normal_linear(shape, dtype):
    fan_in = tinit._calculate_fan_in_and_fan_out(torch.empty(shape))[0]
    ours = ini.lecun_normal(shape, rng=np.random.default_rng(3), dtype=dtype)
    theirs = torch_sample(tinit.kaiming_normal_, shape, dtype, seed=3, nonlinearity="linear")
    assert ours.dtype == dtype and ours.shape == shape
    for name, w in (("ours", ours), ("torch", theirs)):
        assert_stats(w, 1 / math.sqrt(fan_in), "normal", f"lecun_normal {name} {shape}")


# --------------------------------------------------------------------------- orthogonal

@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape", [(5, 5), (3, 7), (7, 3), (4, 2, 3, 3), (20, 2, 3), (1, 6)], ids=str)
def test_orthogonal_has_all_singular_values_equal_to_gain(shape, dtype):
    gain = 1.7
    ours = ini.orthogonal(shape, gain, rng=np.random.default_rng(0), dtype=dtype)
    theirs = torch_sample(tinit.orthogonal_, shape, dtype, seed=0, gain=gain)
    assert ours.shape == shape and ours.dtype == dtype
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for name, w in (("ours", ours), ("torch", theirs)):
        m = w.reshape(shape[0], -1).astype(np.float64)
        gram = m @ m.T if m.shape[0] <= m.shape[1] else m.T @ m
        np.testing.assert_allclose(gram, gain ** 2 * np.eye(len(gram)), atol=tol * gain ** 2,
                                   err_msg=f"orthogonal {name} {shape}")
        np.testing.assert_allclose(np.linalg.svd(m, compute_uv=False), gain, rtol=tol)


def test_orthogonal_entries_have_std_gain_over_sqrt_cols():
    # A random orthogonal 400x400 matrix has entries of variance 1/400 (rows of unit norm),
    # nearly Gaussian; the sign fix of R's diagonal makes them symmetric around 0.
    ours = ini.orthogonal((400, 400), rng=np.random.default_rng(2), dtype=np.float64)
    theirs = torch_sample(tinit.orthogonal_, (400, 400), np.float64, seed=2)
    for w in (ours, theirs):
        assert abs(w.std() * 20 - 1) < 1e-3  # exact up to the mean: every row has norm 1
        assert abs(w.mean()) < Z * 0.05 / 400


def test_orthogonal_is_reproducible_and_needs_two_dimensions():
    a = ini.orthogonal((6, 4), rng=np.random.default_rng(9))
    b = ini.orthogonal((6, 4), rng=np.random.default_rng(9))
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError):
        ini.orthogonal((6,), rng=np.random.default_rng(0))


# --------------------------------------------------------------------------- negative side

def test_the_checks_reject_the_usual_mistakes():
    """Feeding PyTorch's samples to our checks with a wrong target must fail."""
    shape = (128, 64, 5, 5)  # fan_in 1600, fan_out 3200
    fan_in, fan_out = ini.calculate_fan_in_and_fan_out(shape)
    kaiming = torch_sample(tinit.kaiming_normal_, shape, np.float32, seed=0)
    wrong_stds = {
        "fan_in and fan_out swapped": math.sqrt(2 / fan_out),
        "kernel area left out of the fan": math.sqrt(2 / 64),
        "Leaky ReLU gain sqrt(2 / (1 + a)) for a = 0.2": math.sqrt(2 / 1.2 / fan_in),
    }
    for mistake, std in wrong_stds.items():
        with pytest.raises(AssertionError):
            assert_stats(kaiming, std, "normal", mistake)
    leaky = torch_sample(tinit.kaiming_normal_, shape, np.float32, seed=0, a=0.2)
    with pytest.raises(AssertionError):
        assert_stats(leaky, math.sqrt(2 / 1.2 / fan_in), "normal", "gain without the square")

    xavier = torch_sample(tinit.xavier_uniform_, shape, np.float32, seed=0)
    std = math.sqrt(2 / (fan_in + fan_out))
    with pytest.raises(AssertionError, match="far below"):  # bound = std, not sqrt(3) std
        assert_uniform_bound(xavier, std * math.sqrt(6), "bound too large")
    with pytest.raises(AssertionError, match="outside"):
        assert_uniform_bound(xavier, std, "bound equal to the std")
    with pytest.raises(AssertionError, match="outside"):  # Xavier's bound without the 6
        assert_uniform_bound(xavier, math.sqrt(1 / (fan_in + fan_out)), "no 6")
    with pytest.raises(AssertionError, match="kurtosis"):  # a normal law where a uniform is wanted
        assert_stats(kaiming, ini.kaiming_std(shape), "uniform", "normal instead of uniform")


def test_reference_is_reproducible_and_respects_dtype():
    for fn in (ini.xavier_uniform, ini.xavier_normal, ini.kaiming_uniform, ini.kaiming_normal,
               ini.lecun_normal):
        a = fn((8, 3, 2), rng=np.random.default_rng(4), dtype=np.float64)
        b = fn((8, 3, 2), rng=np.random.default_rng(4), dtype=np.float64)
        np.testing.assert_array_equal(a, b)
        assert fn((2, 3), rng=np.random.default_rng(0)).dtype == np.float32



@pytest.mark.parametrize("shape", [(0, 3), (3, 0), (0, 0), (2, 0, 3)], ids=str)
@pytest.mark.parametrize("name", ["xavier_uniform", "xavier_normal", "kaiming_uniform",
                                  "kaiming_normal", "lecun_normal"])
def test_zero_size_weight_warns_and_does_nothing_like_torch_kaiming(name, shape):
    """PyTorch's kaiming_*_ warn "Initializing zero-element tensors is a no-op" on an empty
    weight; its xavier_*_ fail with ZeroDivisionError on (0, 0). Ours all warn and return the
    empty array, without drawing from the generator."""
    with pytest.warns(UserWarning, match="zero-element"):
        tinit.kaiming_normal_(torch.empty(shape))
    rng = np.random.default_rng(0)
    with pytest.warns(UserWarning, match="zero-element"):
        w = getattr(ini, name)(shape, rng=rng)
    assert w.shape == shape and w.dtype == np.float32
    assert rng.random() == np.random.default_rng(0).random()  # nothing was drawn
    with pytest.raises(ValueError):
        getattr(ini, name)((0,), rng=rng)  # fewer than two dimensions is still an error


def test_lsuv_gives_unit_variance_outputs_layer_by_layer():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 32)) * 3.0 + 1.0
    sizes = [32, 64, 64, 64, 10]
    weights = [ini.orthogonal((o, i), rng=rng, dtype=np.float64) * 5.0 for i, o in zip(sizes, sizes[1:])]
    before = [w.copy() for w in weights]
    relu = lambda z: np.maximum(z, 0.0)  # noqa: E731
    new = ini.lsuv(weights, x, relu, tol=1e-3)
    h = x
    for i, w in enumerate(new):
        z = h @ w.T
        assert abs(z.var() - 1.0) < 1e-3, f"layer {i}: output variance {z.var()}"
        h = relu(z) if i < len(new) - 1 else z
        # a pure rescaling: same direction as the input weights
        ratio = w / before[i]
        np.testing.assert_allclose(ratio, ratio.flat[0], rtol=1e-12)
    for a, b in zip(before, weights):
        np.testing.assert_array_equal(a, b)


def test_lsuv_with_biases_iterates_and_matches_a_torch_network():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((128, 8))
    weights = [rng.standard_normal((16, 8)), rng.standard_normal((4, 16))]
    biases = [np.full(16, 2.0), np.full(4, -1.0)]
    new = ini.lsuv(weights, x, np.tanh, biases=biases, tol=0.01, max_iter=50)
    net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 4)).double()
    with torch.no_grad():
        for layer, w, b in zip((net[0], net[2]), new, biases):
            layer.weight.copy_(torch.tensor(w))
            layer.bias.copy_(torch.tensor(b))
        first = net[0](torch.tensor(x))
        assert abs(first.var(unbiased=False).item() - 1) < 0.01
        assert abs(net(torch.tensor(x)).var(unbiased=False).item() - 1) < 0.01
