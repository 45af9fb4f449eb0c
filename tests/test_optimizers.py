"""The optimizer reference implementations against torch.optim: parameters AND state.

Each run takes 60 steps on several parameter tensors with seeded random gradients, in
float32 and float64, and compares every parameter and every piece of optimizer state.
In float64 the runs agree to round-off; in float32 to a few units in the last place
accumulated over the run.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nn_reference import optimizers as opt
from oracle import DTYPES, assert_matches, random_inputs, torch_tensor

STEPS = 60
SHAPES = [(5,), (3, 4), (1,), (2, 1, 3)]

#: Over a run of 60 steps float32 round-off accumulates; float64 must stay at round-off.
RUN_TOLERANCE = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-12, atol=1e-13)}

# name -> (our step function, torch class, keyword arguments, {our state field: torch state key})
CASES = {
    "sgd": (opt.sgd_step, torch.optim.SGD, dict(lr=0.05), {}),
    "sgd_momentum": (opt.sgd_step, torch.optim.SGD, dict(lr=0.05, momentum=0.9),
                     {"momentum_buffer": "momentum_buffer"}),
    "sgd_dampening_wd": (opt.sgd_step, torch.optim.SGD,
                         dict(lr=0.03, momentum=0.8, dampening=0.3, weight_decay=0.01),
                         {"momentum_buffer": "momentum_buffer"}),
    "sgd_nesterov_wd": (opt.sgd_step, torch.optim.SGD,
                        dict(lr=0.03, momentum=0.9, nesterov=True, weight_decay=1e-3),
                        {"momentum_buffer": "momentum_buffer"}),
    "adagrad": (opt.adagrad_step, torch.optim.Adagrad, dict(lr=0.1),
                {"sum": "sum", "step": "step"}),
    "adagrad_decay_wd_init": (opt.adagrad_step, torch.optim.Adagrad,
                              dict(lr=0.1, lr_decay=0.01, weight_decay=0.02,
                                   initial_accumulator_value=0.1),
                              {"sum": "sum", "step": "step"}),
    "rmsprop": (opt.rmsprop_step, torch.optim.RMSprop, dict(lr=0.01),
                {"square_avg": "square_avg", "step": "step"}),
    "rmsprop_centered_momentum_wd": (opt.rmsprop_step, torch.optim.RMSprop,
                                     dict(lr=0.01, alpha=0.9, momentum=0.5, centered=True,
                                          weight_decay=0.01),
                                     {"square_avg": "square_avg", "grad_avg": "grad_avg",
                                      "momentum_buffer": "momentum_buffer", "step": "step"}),
    "adam": (opt.adam_step, torch.optim.Adam, dict(lr=0.01),
             {"exp_avg": "exp_avg", "exp_avg_sq": "exp_avg_sq", "step": "step"}),
    "adam_l2": (opt.adam_step, torch.optim.Adam,
                dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
                {"exp_avg": "exp_avg", "exp_avg_sq": "exp_avg_sq", "step": "step"}),
    "adamw": (opt.adamw_step, torch.optim.AdamW, dict(lr=0.01),
              {"exp_avg": "exp_avg", "exp_avg_sq": "exp_avg_sq", "step": "step"}),
    "adamw_strong_decay": (opt.adamw_step, torch.optim.AdamW,
                           dict(lr=0.05, weight_decay=0.5, betas=(0.5, 0.9)),
                           {"exp_avg": "exp_avg", "exp_avg_sq": "exp_avg_sq", "step": "step"}),
    "sgd_maximize_momentum_wd": (opt.sgd_step, torch.optim.SGD,
                                 dict(lr=0.03, momentum=0.9, weight_decay=0.1, maximize=True),
                                 {"momentum_buffer": "momentum_buffer"}),
    "adagrad_maximize": (opt.adagrad_step, torch.optim.Adagrad,
                         dict(lr=0.1, weight_decay=0.1, maximize=True),
                         {"sum": "sum", "step": "step"}),
    "rmsprop_maximize_centered": (opt.rmsprop_step, torch.optim.RMSprop,
                                  dict(lr=0.01, weight_decay=0.1, centered=True, momentum=0.1,
                                       maximize=True),
                                  {"square_avg": "square_avg", "grad_avg": "grad_avg",
                                   "momentum_buffer": "momentum_buffer", "step": "step"}),
    "adam_amsgrad_wd": (opt.adam_step, torch.optim.Adam,
                        dict(lr=0.02, weight_decay=0.1, amsgrad=True),
                        {"exp_avg": "exp_avg", "exp_avg_sq": "exp_avg_sq",
                         "max_exp_avg_sq": "max_exp_avg_sq", "step": "step"}),
    "adam_maximize": (opt.adam_step, torch.optim.Adam, dict(lr=0.01, maximize=True),
                      {"exp_avg": "exp_avg", "exp_avg_sq": "exp_avg_sq", "step": "step"}),
    "adamw_amsgrad_maximize": (opt.adamw_step, torch.optim.AdamW,
                               dict(lr=0.02, weight_decay=0.1, amsgrad=True, maximize=True),
                               {"exp_avg": "exp_avg", "exp_avg_sq": "exp_avg_sq",
                                "max_exp_avg_sq": "max_exp_avg_sq", "step": "step"}),
    "nadam": (opt.nadam_step, torch.optim.NAdam, dict(lr=0.01),
              {"exp_avg": "exp_avg", "exp_avg_sq": "exp_avg_sq", "mu_product": "mu_product",
               "step": "step"}),
    "nadam_decoupled_wd": (opt.nadam_step, torch.optim.NAdam,
                           dict(lr=0.02, weight_decay=0.1, momentum_decay=0.01,
                                decoupled_weight_decay=True, betas=(0.8, 0.99)),
                           {"exp_avg": "exp_avg", "exp_avg_sq": "exp_avg_sq", "step": "step"}),
    "radam": (opt.radam_step, torch.optim.RAdam, dict(lr=0.01),
              {"exp_avg": "exp_avg", "exp_avg_sq": "exp_avg_sq", "step": "step"}),
    "radam_l2_short_average": (opt.radam_step, torch.optim.RAdam,
                               dict(lr=0.02, weight_decay=0.1, betas=(0.9, 0.9)),
                               {"exp_avg": "exp_avg", "exp_avg_sq": "exp_avg_sq", "step": "step"}),
}


def problem(dtype, seed=0, grad_scale=1.0):
    """Initial parameters and a fixed sequence of gradients for each of them."""
    params = [random_inputs(s, dtype, seed=seed + i) for i, s in enumerate(SHAPES)]
    grads = [[random_inputs(s, dtype, seed=1000 * (t + 1) + seed + i, scale=grad_scale)
              for i, s in enumerate(SHAPES)] for t in range(STEPS)]
    return params, grads


def run_ours(step_fn, kwargs, params, grads, lrs=None):
    states = [None] * len(params)
    params = list(params)
    for t, step_grads in enumerate(grads):
        extra = {} if lrs is None else {"lr": lrs[t]}
        for i, g in enumerate(step_grads):
            params[i], states[i] = step_fn(params[i], g, states[i], **{**kwargs, **extra})
    return params, states


def run_torch(cls, kwargs, params, grads, lrs=None):
    tensors = [torch_tensor(p, requires_grad=True) for p in params]
    # NAdam keeps its product of momentum coefficients in a tensor of the *default* dtype;
    # float64 makes it exact, like ours (with float32 it differs from ours by ~1e-7).
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        optimizer = cls(tensors, foreach=False, **kwargs)
        return _run_torch(optimizer, tensors, grads, lrs)
    finally:
        torch.set_default_dtype(default)


def _run_torch(optimizer, tensors, grads, lrs):
    for t, step_grads in enumerate(grads):
        if lrs is not None:
            optimizer.param_groups[0]["lr"] = lrs[t]
        for tensor, g in zip(tensors, step_grads):
            tensor.grad = torch_tensor(g)
        optimizer.step()
    return tensors, [optimizer.state[t] for t in tensors]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", CASES)
def test_a_long_run_matches_torch_parameters_and_state(name, dtype):
    step_fn, cls, kwargs, state_keys = CASES[name]
    params, grads = problem(dtype)
    before = [p.copy() for p in params], [g.copy() for g in grads[0]]
    ours, our_states = run_ours(step_fn, kwargs, params, grads)
    theirs, their_states = run_torch(cls, kwargs, params, grads)
    tol = RUN_TOLERANCE[dtype]
    for i in range(len(params)):
        assert_matches(ours[i], theirs[i], what=f"{name} parameter {i}", **tol)
        for field, key in state_keys.items():
            value = getattr(our_states[i], field)
            if field == "step":
                assert value == int(their_states[i][key]) == STEPS
            elif field == "mu_product":
                assert value == pytest.approx(float(their_states[i][key]), rel=1e-12)
            else:
                assert_matches(value, their_states[i][key], what=f"{name} state {field} {i}", **tol)
    for a, b in zip(before[0], params):
        np.testing.assert_array_equal(a, b, err_msg=f"{name} modified a parameter")
    for a, b in zip(before[1], grads[0]):
        np.testing.assert_array_equal(a, b, err_msg=f"{name} modified a gradient")


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_momentum_with_a_changing_learning_rate_matches_torch(nesterov):
    """Under a schedule, PyTorch's form (lr applied outside the buffer) is a different method
    from the textbook form v = mu v + lr g; we follow PyTorch, and the textbook form fails."""
    params, grads = problem(np.float64, seed=3)
    lrs = [0.1 * 0.93**t for t in range(STEPS)]
    kwargs = dict(momentum=0.9, nesterov=nesterov)
    ours, _ = run_ours(opt.sgd_step, kwargs, params, grads, lrs)
    theirs, _ = run_torch(torch.optim.SGD, kwargs, params, grads, lrs)
    for i in range(len(params)):
        assert_matches(ours[i], theirs[i], what=f"parameter {i}", rtol=1e-11, atol=1e-12)

    # The negative side: velocity that carries the learning rate inside it.
    folded = list(params)
    velocity = [np.zeros_like(p) for p in params]
    for t, step_grads in enumerate(grads):
        for i, g in enumerate(step_grads):
            velocity[i] = 0.9 * velocity[i] + lrs[t] * g
            step = lrs[t] * g + 0.9 * velocity[i] if nesterov else velocity[i]
            folded[i] = folded[i] - step
    gap = max(np.max(np.abs(f - t.detach().numpy())) for f, t in zip(folded, theirs))
    assert gap > 1e-2


def test_textbook_momentum_is_pytorch_momentum_when_the_learning_rate_is_constant():
    """v = gamma v + eta g, theta -= v  equals  b = gamma b + g, theta -= eta b  (v = eta b)."""
    params, grads = problem(np.float64, seed=4)
    ours, states = run_ours(opt.sgd_step, dict(lr=0.05, momentum=0.9), params, grads)
    theta, v = list(params), [np.zeros_like(p) for p in params]
    for step_grads in grads:
        for i, g in enumerate(step_grads):
            v[i] = 0.9 * v[i] + 0.05 * g
            theta[i] = theta[i] - v[i]
    for i in range(len(params)):
        np.testing.assert_allclose(theta[i], ours[i], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(v[i], 0.05 * states[i].momentum_buffer, rtol=1e-10, atol=1e-12)


def test_torch_nesterov_iterates_are_the_lookahead_points_of_classical_nesterov():
    """Sutskever et al. (2013): theta' = theta + gamma v, gradient at theta + gamma v.
    PyTorch's parameters are the look-ahead points theta + gamma v of that method."""
    a = np.array([1.0, 25.0])  # f(x) = 0.5 * sum(a x^2)
    theta, v, gamma, lr = np.array([1.0, 1.0]), np.zeros(2), 0.9, 0.01
    p, state = theta.copy(), None
    for _ in range(50):
        look = theta + gamma * v
        v = gamma * v - lr * a * look
        theta = theta + v
        p, state = opt.sgd_step(p, a * p, state, lr=lr, momentum=gamma, nesterov=True)
        np.testing.assert_allclose(p, theta + gamma * v, rtol=1e-12, atol=1e-14)


def test_adam_first_step_has_size_lr_along_the_sign_of_the_gradient():
    g = np.array([3.0, -1e-3, 50.0])
    p, state = opt.adam_step(np.zeros(3), g, lr=0.1)
    np.testing.assert_allclose(p, -0.1 * np.sign(g), rtol=1e-4)  # eps matters only at |g| ~ 1e-8
    assert state.step == 1


def adam_variant(params, grads, *, eps_inside=False, bias_correction=True, lr=1e-3, eps=1e-8):
    b1, b2 = 0.9, 0.999
    out = []
    for p, gs in zip(params, zip(*grads)):
        m, v = np.zeros_like(p), np.zeros_like(p)
        for t, g in enumerate(gs, start=1):
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            mh, vh = (m / (1 - b1**t), v / (1 - b2**t)) if bias_correction else (m, v)
            p = p - lr * mh / (np.sqrt(vh + eps) if eps_inside else np.sqrt(vh) + eps)
        out.append(p)
    return out


@pytest.mark.parametrize("variant", [dict(eps_inside=True), dict(bias_correction=False)])
def test_plausible_wrong_adams_fail_against_torch(variant):
    """The negative side: eps inside the root (visible with small gradients) and a missing
    bias correction both move the parameters far outside the tolerance."""
    params, grads = problem(np.float64, seed=5, grad_scale=1e-5)
    right = adam_variant(params, grads)
    wrong = adam_variant(params, grads, **variant)
    theirs, _ = run_torch(torch.optim.Adam, dict(lr=1e-3), params, grads)
    for i in range(len(params)):
        assert_matches(right[i], theirs[i], rtol=1e-11, atol=1e-12)
    assert max(np.max(np.abs(w - t.detach().numpy())) for w, t in zip(wrong, theirs)) > 1e-3


def test_adamw_is_not_adam_with_l2():
    params, grads = problem(np.float64, seed=6)
    kwargs = dict(lr=0.05, weight_decay=0.5)
    w, _ = run_ours(opt.adamw_step, kwargs, params, grads)
    l2, _ = run_ours(opt.adam_step, kwargs, params, grads)
    assert max(np.max(np.abs(a - b)) for a, b in zip(w, l2)) > 1e-2


def test_adagrad_steps_shrink_under_constant_gradients():
    p, state, sizes = np.zeros(1), None, []
    for _ in range(100):
        new, state = opt.adagrad_step(p, np.ones(1), state, lr=1.0)
        sizes.append(float(abs(new - p)[0]))
        p = new
    np.testing.assert_allclose(sizes, 1 / np.sqrt(np.arange(1, 101)), rtol=1e-9)


def test_normalized_gd_takes_steps_of_length_lr_and_is_not_adagrad():
    rng = np.random.default_rng(0)
    p, g = rng.standard_normal(6), rng.standard_normal(6) * 100
    new = opt.normalized_gd_step(p, g, lr=0.1)
    assert np.linalg.norm(new - p) == pytest.approx(0.1)
    np.testing.assert_array_equal(opt.normalized_gd_step(p, np.zeros(6), lr=0.1), p)
    adagrad, _ = opt.adagrad_step(p, g, lr=0.1)
    assert np.linalg.norm(adagrad - p) == pytest.approx(0.1 * np.sqrt(6))  # not the same step


def test_nesterov_needs_momentum():
    with pytest.raises(ValueError):
        opt.sgd_step(np.ones(2), np.ones(2), lr=0.1, nesterov=True)


def test_float32_stays_float32():
    p = np.ones(3, dtype=np.float32)
    for fn in (opt.sgd_step, opt.adagrad_step, opt.rmsprop_step, opt.adam_step, opt.adamw_step,
               opt.nadam_step, opt.radam_step):
        new, _ = fn(p, p, None, lr=0.1)
        assert new.dtype == np.float32, fn.__name__


def test_amsgrad_never_lets_the_denominator_shrink():
    """With a large gradient followed by small ones, Adam's v_t decays and its steps grow
    again; AMSGrad keeps the maximum, so its later steps are smaller than Adam's."""
    p = np.zeros(1)
    a_state = m_state = None
    a, m = p, p
    for g in [100.0] + [0.1] * 50:
        a_new, a_state = opt.adam_step(a, np.array([g]), a_state, lr=0.1)
        m_new, m_state = opt.adam_step(m, np.array([g]), m_state, lr=0.1, amsgrad=True)
        a_step, m_step = abs(a_new - a)[0], abs(m_new - m)[0]
        a, m = a_new, m_new
    assert m_step < a_step
    np.testing.assert_allclose(m_state.max_exp_avg_sq, [0.001 * 100.0**2], rtol=1e-12)


def test_maximize_is_descent_on_the_negated_gradient():
    p, g = np.array([1.0, -2.0]), np.array([0.5, 0.25])
    for fn in (opt.sgd_step, opt.adagrad_step, opt.rmsprop_step, opt.adam_step, opt.adamw_step,
               opt.nadam_step, opt.radam_step):
        up, _ = fn(p, g, None, lr=0.1, maximize=True)
        down, _ = fn(p, -g, None, lr=0.1)
        np.testing.assert_array_equal(up, down, err_msg=fn.__name__)


# --------------------------------------------------------------------------- PyTorch's configurations

from torch_samples import optimizer_configs  # noqa: E402

OURS = {"SGD": opt.sgd_step, "Adagrad": opt.adagrad_step, "RMSprop": opt.rmsprop_step,
        "Adam": opt.adam_step, "AdamW": opt.adamw_step, "NAdam": opt.nadam_step,
        "RAdam": opt.radam_step}


def _optim_cases():
    for cls_name in OURS:
        for desc, kwargs in optimizer_configs(cls_name):
            yield pytest.param(cls_name, kwargs, id=f"{cls_name}-{desc}")


@pytest.mark.parametrize("cls_name,kwargs", list(_optim_cases()))
def test_pytorch_optimizer_configurations(cls_name, kwargs):
    """Every configuration PyTorch's optimizer tests try (optim_db): maximize, amsgrad,
    nesterov, dampening, centered, lr_decay, initial accumulator...; 20 steps, float64."""
    params, grads = problem(np.float64, seed=7)
    grads = grads[:20]
    ours, _ = run_ours(OURS[cls_name], kwargs, params, grads)
    theirs, _ = run_torch(getattr(torch.optim, cls_name), kwargs, params, grads)
    for i, (a, b) in enumerate(zip(ours, theirs)):
        assert_matches(a, b, what=f"{cls_name} {kwargs} parameter {i}", **RUN_TOLERANCE[np.float64])


def test_radam_takes_momentum_steps_until_the_average_is_long_enough():
    """With beta2 = 0.999, rho_t > 5 first at step 6: steps 1..5 are SGD-with-momentum steps
    of size lr * |m_hat| (no division by sqrt(v)), so a gradient of 100 moves by 100 * lr."""
    rho_inf = 2 / (1 - 0.999) - 1
    rho = [rho_inf - 2 * t * 0.999**t / (1 - 0.999**t) for t in range(1, 8)]
    assert [r > 5 for r in rho] == [False] * 5 + [True] * 2
    p, state = np.zeros(1), None
    p, state = opt.radam_step(p, np.array([100.0]), state, lr=1e-3)
    np.testing.assert_allclose(p, [-0.1], rtol=1e-12)
