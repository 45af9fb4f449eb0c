"""The diagnosing and tuning tools against PyTorch and against deliberately broken cases.

* gradient checker: its numerical gradient agrees with ``torch.autograd``; it passes the
  course's correct backward passes and flags wrong ones; its verdict agrees with
  ``torch.autograd.gradcheck``; the design choices (central differences, float64, a step
  near 1e-6, the denominator guard) are each shown to matter by a variant that fails;
* statistics hooks: the numbers equal those computed directly from the layers' outputs and
  ``.grad``; the hooks are removed; "dead" means dead for the whole batch;
* range test: the rates are ``ExponentialLR``'s, the losses are those of a plain PyTorch loop
  with that scheduler, the model is restored, the suggestion lies before the minimum;
* diagnostician: the recorded runs of ``data/training_runs.npz`` are each named correctly,
  also after one noisy spike; a naive reading of the same histories is fooled.
"""

from __future__ import annotations

import pathlib

import numpy as np
import pytest
import torch
from torch import nn

from coursekit.datasets import digits_split
from coursekit.training import mlp
from nn_reference import activations as act
from nn_reference import normalization as norm
from nn_reference import tuning as tu
from oracle import DTYPES, assert_matches, random_inputs, torch_tensor

DTYPE_IDS = dict(ids=lambda d: np.dtype(d).name)
RUNS = pathlib.Path(__file__).resolve().parents[1] / "data" / "training_runs.npz"
CORRECT = 1e-7   # a correct float64 backward pass stays below this
WRONG = 1e-3     # a wrong one is above this


# --------------------------------------------------------------------------- numerical gradient

def smooth_function_np(x):
    return float(np.sum(np.sin(x) * x**2) + np.log(np.sum(np.exp(x))))


def smooth_function_torch(t):
    return (torch.sin(t) * t**2).sum() + torch.logsumexp(t.reshape(-1), 0)


@pytest.mark.parametrize("dtype", DTYPES, **DTYPE_IDS)
@pytest.mark.parametrize("shape", [(7,), (3, 4), (1, 5), (2, 1, 3)])
def test_numerical_gradient_matches_autograd(dtype, shape):
    x = random_inputs(shape, dtype, seed=sum(shape))
    before = x.copy()
    numeric = tu.numerical_gradient(smooth_function_np, x)
    t = torch_tensor(x.astype(np.float64), requires_grad=True)
    smooth_function_torch(t).backward()
    assert numeric.dtype == np.float64 and numeric.shape == x.shape
    assert_matches(numeric, t.grad, what=f"numerical gradient {shape}", rtol=1e-8, atol=1e-8)
    np.testing.assert_array_equal(x, before, err_msg="numerical_gradient modified its input")


def test_numerical_gradient_at_large_magnitudes_and_zeros():
    for x in (np.zeros(4), np.array([1e3, -1e3, 50.0, 0.0])):
        numeric = tu.numerical_gradient(lambda v: float(np.sum(v**2)), x)
        # |f| ~ 2e6 costs digits (round-off ~ u |f| / eps) but stays below the threshold
        assert tu.relative_error(numeric, 2 * x) < CORRECT


def one_sided_gradient(f, x, eps=1e-6):
    """A wrong variant: forward differences, error O(eps) instead of O(eps^2)."""
    x = np.array(x, dtype=np.float64)
    g = np.zeros_like(x)
    f0 = f(x)
    for i in range(x.size):
        xp = x.copy()
        xp.flat[i] += eps
        g.flat[i] = (f(xp) - f0) / eps
    return g


def test_one_sided_differences_are_much_less_accurate():
    x = random_inputs((6,), np.float64, seed=3)
    t = torch_tensor(x, requires_grad=True)
    smooth_function_torch(t).backward()
    exact = t.grad.numpy()
    central = tu.relative_error(tu.numerical_gradient(smooth_function_np, x), exact)
    one_sided = tu.relative_error(one_sided_gradient(smooth_function_np, x), exact)
    assert central < 1e-9 < 1e-7 < one_sided
    assert one_sided > 100 * central


@pytest.mark.parametrize("eps", [1e-12, 1e-1])
def test_a_step_too_small_or_too_large_flags_a_correct_layer(eps):
    """Too small: round-off dominates; too large: truncation does. Both give false alarms."""
    x = random_inputs((4, 5), np.float64, seed=1, scale=2.0)
    forward, backward = tu.elementwise_layer(act.tanh, act.tanh_grad)
    assert tu.check_layer(forward, backward, {"x": x})["x"] < CORRECT
    assert tu.check_layer(forward, backward, {"x": x}, eps=eps)["x"] > 1e-5


def test_a_float32_evaluation_flags_a_correct_layer():
    x = random_inputs((4, 5), np.float64, seed=1)

    def tanh32(x):
        return np.tanh(x.astype(np.float32)).astype(np.float64), x

    _, backward = tu.elementwise_layer(act.tanh, act.tanh_grad)
    assert tu.check_layer(tanh32, backward, {"x": x})["x"] > 1e-4


# --------------------------------------------------------------------------- relative error

def test_relative_error_values_and_guard():
    assert tu.relative_error([3.0, 4.0], [3.0, 4.0]) == 0.0
    assert tu.relative_error(np.zeros(3), np.zeros(3)) == 0.0  # 0/0 guarded
    assert tu.relative_error([1.0, 0.0], [0.0, 0.0]) == pytest.approx(1.0)
    assert tu.relative_error([1.0], [3.0]) == pytest.approx(0.5)
    a, b = np.array([1.0, 2.0]), np.array([1.5, 2.0])
    assert tu.relative_error(a, b) == tu.relative_error(b, a)
    with pytest.raises(ValueError):
        tu.relative_error(np.zeros(3), np.zeros(4))


def test_relative_error_without_guard_is_nan_on_zero_gradients():
    """A wrong variant: no floor in the denominator turns a dead layer into NaN (never < tol)."""
    def unguarded(a, n):
        with np.errstate(invalid="ignore"):
            return np.linalg.norm(a - n) / (np.linalg.norm(a) + np.linalg.norm(n))

    assert np.isnan(unguarded(np.zeros(3), np.zeros(3)))
    assert not unguarded(np.zeros(3), np.zeros(3)) < CORRECT
    assert tu.relative_error(np.zeros(3), np.zeros(3)) < CORRECT


# --------------------------------------------------------------------------- correct layers pass

def norm_layer(kind):
    if kind == "batch":
        return (lambda x, weight, bias: norm.batch_norm_forward(x, weight=weight, bias=bias,
                                                                training=True)[::3],
                norm.batch_norm_backward, (6, 3, 2))
    if kind == "layer":
        return (lambda x, weight, bias: norm.layer_norm_forward(x, (3, 2), weight, bias),
                norm.layer_norm_backward, (4, 3, 2))
    return (lambda x, weight, bias: norm.group_norm_forward(x, 2, weight, bias),
            norm.group_norm_backward, (3, 4, 2))


def norm_inputs(kind, shape, seed=10):
    pshape = (3, 2) if kind == "layer" else (shape[1],)
    return {"x": random_inputs(shape, np.float64, seed, scale=3.0) + 1.0,
            "weight": random_inputs(pshape, np.float64, seed + 1) + 1.0,
            "bias": random_inputs(pshape, np.float64, seed + 2)}


@pytest.mark.parametrize("kind", ["batch", "layer", "group"])
def test_normalization_backward_passes(kind):
    forward, backward, shape = norm_layer(kind)
    inputs = norm_inputs(kind, shape)
    before = {k: v.copy() for k, v in inputs.items()}
    errors = tu.check_layer(forward, backward, inputs)
    assert set(errors) == {"x", "weight", "bias"}
    assert max(errors.values()) < CORRECT, errors
    for k in inputs:
        np.testing.assert_array_equal(inputs[k], before[k], err_msg=f"{k} was modified")


ACTIVATIONS = {
    "sigmoid": (act.sigmoid, act.sigmoid_grad),
    "tanh": (act.tanh, act.tanh_grad),
    "gelu": (act.gelu, act.gelu_grad),
    "gelu_tanh": (lambda x: act.gelu(x, "tanh"), lambda x: act.gelu_grad(x, "tanh")),
    "elu": (act.elu, act.elu_grad),
    "silu": (act.silu, act.silu_grad),
    "softplus": (act.softplus, act.softplus_grad),
}


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_derivatives_pass(name):
    # Points away from 0, where ELU's derivative has a kink the differences would straddle.
    x = random_inputs((5, 4), np.float64, seed=2, scale=2.0)
    x = np.where(np.abs(x) < 1e-3, 0.5, x)
    errors = tu.check_layer(*tu.elementwise_layer(*ACTIVATIONS[name]), {"x": x})
    assert errors["x"] < CORRECT, errors


# --------------------------------------------------------------------------- wrong layers fail

def bn_backward_without_mean_path(grad_output, cache):
    """Wrong: drops the path through the batch mean."""
    g = grad_output * cache.weight
    axes = cache.reduce_axes
    dx = cache.inv_std * (g - cache.x_hat * (g * cache.x_hat).mean(axis=axes, keepdims=True))
    _, dw, db = norm.batch_norm_backward(grad_output, cache)
    return dx, dw, db


def bn_backward_without_variance_path(grad_output, cache):
    """Wrong: treats the variance as a constant."""
    g = grad_output * cache.weight
    dx = cache.inv_std * (g - g.mean(axis=cache.reduce_axes, keepdims=True))
    _, dw, db = norm.batch_norm_backward(grad_output, cache)
    return dx, dw, db


def bn_backward_weight_grad_from_x(grad_output, cache):
    """Wrong: the weight gradient uses the output instead of the normalized input."""
    dx, dw, db = norm.batch_norm_backward(grad_output, cache)
    out = cache.x_hat * cache.weight
    return dx, (grad_output * out).sum(axis=cache.param_axes), db


WRONG_BN = {
    "no mean path": (bn_backward_without_mean_path, "x"),
    "no variance path": (bn_backward_without_variance_path, "x"),
    "weight grad from output": (bn_backward_weight_grad_from_x, "weight"),
}


@pytest.mark.parametrize("mistake", WRONG_BN)
def test_wrong_batch_norm_backward_is_flagged(mistake):
    wrong_backward, culprit = WRONG_BN[mistake]
    forward, _, shape = norm_layer("batch")
    errors = tu.check_layer(forward, wrong_backward, norm_inputs("batch", shape))
    assert errors[culprit] > WRONG, errors
    # and only the wrong part is flagged
    assert all(e < CORRECT for name, e in errors.items() if name != culprit), errors


WRONG_ACTIVATIONS = {
    "sigmoid' = s": (act.sigmoid, act.sigmoid),
    "tanh' = 1 - tanh": (act.tanh, lambda x: 1 - np.tanh(x)),
    "gelu' = Phi only": (act.gelu, lambda x: act.gelu_grad(x) - x * np.exp(-x**2 / 2) / np.sqrt(2 * np.pi)),
    "softplus' with beta twice": (lambda x: act.softplus(x, 2.0), lambda x: act.sigmoid(2 * x) * 2),
}


@pytest.mark.parametrize("mistake", WRONG_ACTIVATIONS)
def test_wrong_activation_derivative_is_flagged(mistake):
    x = random_inputs((5, 4), np.float64, seed=2, scale=2.0)
    errors = tu.check_layer(*tu.elementwise_layer(*WRONG_ACTIVATIONS[mistake]), {"x": x})
    assert errors["x"] > WRONG, errors


class Cube(torch.autograd.Function):
    """x**3 with a selectable (correct or wrong) backward pass."""

    wrong = False

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * (2 * x**2 if Cube.wrong else 3 * x**2)


@pytest.mark.parametrize("wrong", [False, True])
def test_verdict_agrees_with_torch_gradcheck(wrong):
    Cube.wrong = wrong
    try:
        x = random_inputs((3, 4), np.float64, seed=5)
        torch_verdict = torch.autograd.gradcheck(Cube.apply, (torch_tensor(x, requires_grad=True),),
                                                 raise_exception=False)

        def forward(x):
            return Cube.apply(torch.tensor(x)).numpy(), x

        def backward(g, x):
            t = torch.tensor(x, requires_grad=True)
            Cube.apply(t).backward(torch.tensor(g))
            return t.grad.numpy()

        ours = tu.check_layer(forward, backward, {"x": x})["x"] < CORRECT
        assert ours == torch_verdict == (not wrong)
    finally:
        Cube.wrong = False


def test_gradient_check_perturbs_one_input_at_a_time():
    def loss(a, b):
        return float(np.sum(a * b))

    a, b = random_inputs((3,), np.float64, 0), random_inputs((3,), np.float64, 1)
    errors = tu.gradient_check(loss, {"a": a, "b": b}, {"a": b, "b": a})
    assert max(errors.values()) < 1e-9
    swapped = tu.gradient_check(loss, {"a": a, "b": b}, {"a": a, "b": b})
    assert min(swapped.values()) > WRONG


# --------------------------------------------------------------------------- statistics hooks

def small_model(dtype=torch.float32, seed=0):
    model = mlp([6, 5, 4, 3], seed=seed)
    return model.to(dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_activation_stats_match_direct_computation(dtype):
    model = small_model(dtype)
    x = torch.as_tensor(random_inputs((9, 6), np.float32, seed=3)).to(dtype)
    stats = tu.record_activation_stats(model, x)
    assert list(stats) == ["1", "3"]  # the two ReLU modules, in order
    with torch.no_grad():
        for name, end in (("1", 2), ("3", 4)):
            a = model[:end](x).double().numpy()
            assert stats[name].mean == pytest.approx(a.mean(), rel=1e-12, abs=1e-12)
            assert stats[name].std == pytest.approx(a.std(), rel=1e-12, abs=1e-12)
            assert stats[name].dead_fraction == np.mean(np.all(a == 0, axis=0))


def test_hooks_are_removed_and_model_untouched():
    model = small_model()
    model.eval()
    x = torch.ones(2, 6)
    before = model(x).detach().clone()
    tu.record_activation_stats(model, x)
    assert all(not m._forward_hooks for m in model.modules())
    assert not model.training
    assert torch.equal(model(x), before)


def test_hooks_are_removed_even_when_forward_fails():
    model = small_model()
    with pytest.raises(RuntimeError):
        tu.record_activation_stats(model, torch.ones(2, 7))  # wrong width
    assert all(not m._forward_hooks for m in model.modules())


def test_dead_units_counted_per_unit_not_per_entry():
    a = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 2.0]])  # unit 0 dead; units 1, 2 alive
    assert tu.dead_fraction(a) == pytest.approx(1 / 3)
    assert np.mean(a == 0) == pytest.approx(4 / 6)  # the wrong reading: fraction of zeros
    conv = np.zeros((2, 3, 4, 4))
    conv[1, 2, 0, 0] = 1.0  # channel 2 alive for one sample at one position
    assert tu.dead_fraction(conv) == pytest.approx(2 / 3)
    assert tu.dead_fraction(np.ones((1, 4))) == 0.0  # batch of one


def test_dead_initialization_is_reported_dead():
    model = small_model()
    with torch.no_grad():
        model[0].bias.fill_(-100.0)
    stats = tu.record_activation_stats(model, torch.as_tensor(random_inputs((8, 6), np.float32, 0)))
    assert stats["1"].dead_fraction == 1.0 and stats["1"].std == 0.0


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_gradient_norms_match_grad(dtype):
    model = small_model(dtype)
    x = torch.as_tensor(random_inputs((5, 6), np.float64, seed=4)).to(dtype)
    nn.functional.cross_entropy(model(x), torch.tensor([0, 1, 2, 0, 1])).backward()
    weights = tu.gradient_norms(model)
    everything = tu.gradient_norms(model, only_weights=False)
    assert list(weights) == ["0.weight", "2.weight", "4.weight"]
    assert len(everything) == 6
    for name, p in model.named_parameters():
        assert everything[name] == pytest.approx(float(torch.linalg.vector_norm(p.grad.double())),
                                                 rel=1e-12)
    model.zero_grad(set_to_none=True)
    assert tu.gradient_norms(model) == {}


# --------------------------------------------------------------------------- range test

def test_exponential_rates_are_exponential_lr():
    start, end, n = 1e-5, 1.0, 30
    rates = tu.exponential_rates(start, end, n)
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=start)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=(end / start) ** (1 / (n - 1)))
    theirs = []
    for _ in range(n):
        theirs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    np.testing.assert_allclose(rates, theirs, rtol=1e-12)
    assert rates[0] == start and rates[-1] == pytest.approx(end, rel=1e-12)
    with pytest.raises(ValueError):
        tu.exponential_rates(1e-3, 1.0, 1)


@pytest.mark.parametrize("dtype", DTYPES, **DTYPE_IDS)
def test_smooth_losses(dtype):
    losses = np.abs(random_inputs((40,), dtype, seed=6)) + 1.0
    before = losses.copy()
    out = tu.smooth_losses(losses, beta=0.9)
    m, expected = 0.0, []
    for t, v in enumerate(losses.astype(np.float64), 1):
        m = 0.9 * m + 0.1 * v
        expected.append(m / (1 - 0.9**t))
    np.testing.assert_allclose(out, expected, rtol=1e-13)
    np.testing.assert_array_equal(losses, before)
    np.testing.assert_allclose(tu.smooth_losses(np.full(10, 2.0)), 2.0, rtol=1e-13)


def test_smoothing_without_bias_correction_is_wrong():
    """The wrong variant starts near zero: a constant loss of 2 would read as 0.04."""
    m, biased = 0.0, []
    for v in np.full(10, 2.0):
        m = 0.98 * m + 0.02 * v
        biased.append(m)
    assert biased[0] == pytest.approx(0.04)
    assert not np.allclose(biased, tu.smooth_losses(np.full(10, 2.0)))


def synthetic_range_curve(n=100):
    lrs = tu.exponential_rates(1e-5, 10.0, n)
    u = np.log10(lrs)
    loss = 2.3 - 2.0 / (1 + np.exp(-3 * (u + 2.5))) + np.exp(3 * (u - 0.3))
    return lrs, loss


def test_suggestion_is_the_steepest_point_before_the_minimum():
    lrs, loss = synthetic_range_curve()
    before = loss.copy()
    suggestion = tu.suggest_lr(lrs, loss)
    lr_at_min = lrs[np.argmin(loss)]
    assert suggestion < lr_at_min / 10
    # the steepest fall of the curve is at log10(lr) = -2.5
    assert abs(np.log10(suggestion) + 2.5) < 0.1
    np.testing.assert_array_equal(loss, before)


def test_suggestion_ignores_non_finite_tail_and_rejects_too_few_points():
    lrs, loss = synthetic_range_curve()
    loss = loss.copy()
    loss[-20:] = np.nan
    assert np.isfinite(tu.suggest_lr(lrs, loss))
    with pytest.raises(ValueError):
        tu.suggest_lr(lrs[:12], loss[:12])


def test_minimum_loss_rate_is_not_the_suggestion():
    """The wrong variant (argmin) picks a rate where the loss is about to blow up."""
    lrs, loss = synthetic_range_curve()
    wrong = lrs[np.argmin(loss)]
    assert tu.suggest_lr(lrs, loss) != wrong
    i = np.argmin(loss)
    assert loss[min(i + 10, len(loss) - 1)] > loss[i]  # 10 steps further it is already worse


def digits_tensors(n=512):
    data = digits_split()
    return torch.as_tensor(data.x_train[:n]), torch.as_tensor(data.y_train[:n])


def test_range_test_matches_a_plain_loop_with_exponential_lr_and_restores_the_model():
    x, y = digits_tensors()
    n, start, end = 40, 1e-4, 1.0
    model = mlp([64, 32, 10], seed=1)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    result = tu.lr_range_test(model, x, y, lambda p, lr: torch.optim.SGD(p, lr=lr, momentum=0.9),
                              start_lr=start, end_lr=end, num_iter=n, batch_size=64,
                              diverge_factor=1e9, seed=3)
    for k, v in model.state_dict().items():
        assert torch.equal(v, state[k]), f"{k} was not restored"
    # the same thing written with PyTorch's scheduler
    twin = mlp([64, 32, 10], seed=1)
    opt = torch.optim.SGD(twin.parameters(), lr=start, momentum=0.9)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=(end / start) ** (1 / (n - 1)))
    g = torch.Generator().manual_seed(3)
    order, pos, losses = torch.randperm(len(x), generator=g), 0, []
    for _ in range(n):
        if pos + 64 > len(x):
            order, pos = torch.randperm(len(x), generator=g), 0
        b = order[pos:pos + 64]
        pos += 64
        opt.zero_grad()
        loss = nn.functional.cross_entropy(twin(x[b]), y[b])
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
    np.testing.assert_allclose(result.losses, losses, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(result.lrs, tu.exponential_rates(start, end, n), rtol=1e-12)
    np.testing.assert_allclose(result.smoothed, tu.smooth_losses(result.losses), rtol=1e-12)


def test_range_test_stops_when_the_loss_blows_up_and_suggests_before_the_minimum():
    x, y = digits_tensors()
    model = mlp([64, 32, 10], seed=0)
    result = tu.lr_range_test(model, x, y, lambda p, lr: torch.optim.SGD(p, lr=lr, momentum=0.9),
                              start_lr=1e-4, end_lr=100.0, num_iter=120)
    assert len(result.losses) < 120  # stopped early
    assert result.suggested_lr < result.lrs[np.argmin(result.smoothed)]
    assert 1e-3 < result.suggested_lr < 10


# --------------------------------------------------------------------------- diagnostician

@pytest.mark.parametrize("dtype", DTYPES, **DTYPE_IDS)
def test_running_median(dtype):
    v = random_inputs((23,), dtype, seed=8)
    before = v.copy()
    out = tu.running_median(v, 5)
    expected = [np.median(v[max(0, i - 2):i + 3].astype(np.float64)) for i in range(len(v))]
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    np.testing.assert_array_equal(v, before)
    spiked = np.ones(9)
    spiked[4] = 1e6
    np.testing.assert_array_equal(tu.running_median(spiked, 3), np.ones(9))
    np.testing.assert_array_equal(tu.running_median(v[:1], 5), v[:1].astype(np.float64))  # one value


@pytest.mark.parametrize("window", [1, 2, 3, 4, 5, 9])
def test_running_median_is_the_windowed_median_at_every_length(window):
    """The vectorized reference equals the definition, point by point, ends and NaN included."""
    rng = np.random.default_rng(window)
    for n in range(0, 24):
        v = rng.normal(size=n)
        if n > 6:
            v[n // 2] = np.nan
        half = window // 2
        expected = [np.median(v[max(0, i - half):i + half + 1]) for i in range(n)]
        np.testing.assert_array_equal(tu.running_median(v, window), np.array(expected, dtype=np.float64))


@pytest.fixture(scope="module")
def runs():
    with np.load(RUNS) as z:
        return {k: z[k] for k in z.files}


SYMPTOM_RUNS = ["healthy", "nan", "diverging", "oscillating", "flat", "overfitting"]


@pytest.mark.parametrize("name", SYMPTOM_RUNS)
def test_recorded_runs_are_named(runs, name):
    train, val, grads = (runs[f"{name}/{k}"] for k in ("step_loss", "val_loss", "grad_norm"))
    before = train.copy()
    assert tu.diagnose(train, val).symptom == name
    assert tu.diagnose(train, val, grads).symptom == name
    assert tu.diagnose(list(train), list(val)).symptom == name
    assert tu.diagnose(train.astype(np.float32), val.astype(np.float32)).symptom == name
    np.testing.assert_array_equal(train, before)


def test_every_symptom_has_a_recorded_run(runs):
    assert set(SYMPTOM_RUNS) == set(tu.SYMPTOMS)


@pytest.mark.parametrize("name", [n for n in SYMPTOM_RUNS if n != "nan"])
@pytest.mark.parametrize("where", [0.02, 0.5, 0.98])
@pytest.mark.parametrize("size", [10.0, 0.1])
def test_one_spike_does_not_change_the_verdict(runs, name, where, size):
    train, val = runs[f"{name}/step_loss"].copy(), runs[f"{name}/val_loss"].copy()
    i = int(where * (len(train) - 1))
    train[i] *= size
    j = int(where * (len(val) - 1))
    val[j] *= size
    assert tu.diagnose(train, val).symptom == name


def naive_diagnose(train, val):
    """A wrong variant that reads the raw first and last values."""
    if val[-1] > min(val) * 1.1:
        return "overfitting"
    return "diverging" if train[-1] > train[0] else "healthy"


def test_a_naive_reading_is_fooled_by_one_spike(runs):
    train, val = runs["healthy/step_loss"].copy(), runs["healthy/val_loss"].copy()
    assert naive_diagnose(train, val) == "healthy" == tu.diagnose(train, val).symptom
    train[-1] *= 30
    assert naive_diagnose(train, val) == "diverging"
    val[-1] *= 3
    assert naive_diagnose(runs["healthy/step_loss"], val) == "overfitting"
    assert tu.diagnose(train, val).symptom == "healthy"
    # without the running median (window 1) the diagnostician itself is fooled by the val spike
    assert tu.diagnose(runs["healthy/step_loss"], val, window=1).symptom == "overfitting"


def test_synthetic_histories():
    rng = np.random.default_rng(0)
    steps = np.arange(200)
    noise = 0.02 * rng.standard_normal(200)
    assert tu.diagnose(2.3 * np.exp(-steps / 50) + 0.1 + noise).symptom == "healthy"
    assert tu.diagnose(2.3 + noise).symptom == "flat"
    flat = tu.diagnose(2.3 + noise, grad_norms=np.zeros(200))
    assert flat.symptom == "flat" and "gradient" in flat.reason
    assert tu.diagnose(2.3 + 0.01 * steps + noise).symptom == "diverging"
    exploding = tu.diagnose(2.3 * np.exp(-steps / 50) + 0.1, grad_norms=np.exp(steps / 20))
    assert exploding.symptom == "diverging"
    assert tu.diagnose(1.0 + 0.5 * (-1.0) ** steps).symptom == "oscillating"
    assert tu.diagnose(np.r_[2.3, 2.0, np.inf, 1.0, 1.0]).symptom == "nan"
    with pytest.raises(ValueError):
        tu.diagnose([1.0, 2.0])


# --------------------------------------------------------------------------- the recording loop

def test_record_run_matches_a_plain_loop_and_records_gradient_norms():
    from coursekit.datasets import Split
    from coursekit.recording import record_run

    data = digits_split()
    small = Split(data.x_train[:300], data.y_train[:300], data.x_test[:100], data.y_test[:100])
    model = mlp([64, 16, 10], seed=2)
    run = record_run(model, small, torch.optim.SGD(model.parameters(), 0.1), epochs=2,
                     batch_size=64, seed=4)
    twin = mlp([64, 16, 10], seed=2)
    opt = torch.optim.SGD(twin.parameters(), 0.1)
    g = torch.Generator().manual_seed(4)
    x, y = torch.as_tensor(small.x_train), torch.as_tensor(small.y_train)
    losses, norms = [], []
    for _ in range(2):
        order = torch.randperm(len(x), generator=g)
        for start in range(0, len(x), 64):
            b = order[start:start + 64]
            opt.zero_grad()
            loss = nn.functional.cross_entropy(twin(x[b]), y[b])
            loss.backward()
            norms.append(float(nn.utils.clip_grad_norm_(twin.parameters(), float("inf"))))
            opt.step()
            losses.append(loss.item())
    np.testing.assert_array_equal(run.step_loss, losses)
    np.testing.assert_allclose(run.grad_norm, norms, rtol=1e-6)
    assert len(run.val_loss) == len(run.epoch_loss) == 2


def test_record_run_stops_shortly_after_the_loss_stops_being_finite():
    from coursekit.recording import record_run

    model = mlp([64, 16, 10], seed=0)
    with torch.no_grad():
        model[0].weight.fill_(float("nan"))
    run = record_run(model, digits_split(), torch.optim.SGD(model.parameters(), 0.1), epochs=3,
                     extra_steps_after_nan=2)
    assert len(run.step_loss) == 3 and np.isnan(run.step_loss).all()
    assert tu.diagnose(np.r_[2.3, 2.2, 2.1, 2.0, run.step_loss]).symptom == "nan"
