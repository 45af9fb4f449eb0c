"""The regularization reference implementations against PyTorch.

Penalties are checked against autograd, weight decay against ``torch.optim``, the early
stopping tracker against ``ReduceLROnPlateau`` (which applies the same improvement test),
image augmentations against ``torch.flip``, ``F.pad`` and ``F.grid_sample`` given the same
random draws, label smoothing against ``F.cross_entropy(label_smoothing=)`` and the weight
average against ``torch.optim.swa_utils.AveragedModel``. Each group also shows that a
plausible wrong variant fails the very same comparison.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from nn_reference import optimizers as opt
from nn_reference import regularization as reg
from oracle import DTYPES, assert_matches, random_inputs, torch_tensor

DTYPE_IDS = dict(ids=lambda d: np.dtype(d).name)


def weight_cases(dtype):
    """Random weights of several shapes, a batch of one, zeros and large magnitudes."""
    yield "random (4, 5)", random_inputs((4, 5), dtype, seed=0)
    yield "random (3, 2, 2)", random_inputs((3, 2, 2), dtype, seed=1)
    yield "one row (1, 6)", random_inputs((1, 6), dtype, seed=2)
    yield "zeros", np.zeros((2, 3), dtype=dtype)
    yield "mixed extremes", np.array([-1e3, -1.0, 0.0, 0.0, 1e-8, 1e3], dtype=dtype)


def fails(check, *args) -> bool:
    try:
        check(*args)
    except AssertionError:
        return True
    return False


# --------------------------------------------------------------------------- penalties

def check_penalty(value_fn, grad_fn, torch_fn, dtype, lam=0.3):
    for label, w in weight_cases(dtype):
        before = w.copy()
        t = torch_tensor(w, requires_grad=True)
        penalty = lam * torch_fn(t).sum()
        penalty.backward()
        tol = dict(rtol=1e-5) if dtype == np.float32 else {}   # sums of many terms
        assert_matches(np.asarray(value_fn(w, lam), dtype=dtype), penalty, what=f"value, {label}", **tol)
        assert_matches(grad_fn(w, lam), t.grad, what=f"gradient, {label}")
        np.testing.assert_array_equal(w, before, err_msg="input modified")


@pytest.mark.parametrize("dtype", DTYPES, **DTYPE_IDS)
def test_l2_penalty_and_gradient_match_autograd(dtype):
    check_penalty(reg.l2_penalty, reg.l2_penalty_grad, lambda t: t * t, dtype)


def test_l2_gradient_without_the_factor_two_is_caught():
    # Mistake: d/dw (lam w^2) written as lam w (or doubled to 4 lam w).
    for wrong in (lambda w, lam: lam * w, lambda w, lam: 4 * lam * w):
        assert fails(check_penalty, reg.l2_penalty, wrong, lambda t: t * t, np.float64)


@pytest.mark.parametrize("dtype", DTYPES, **DTYPE_IDS)
def test_l1_penalty_and_subgradient_match_autograd(dtype):
    check_penalty(reg.l1_penalty, reg.l1_penalty_grad, torch.abs, dtype)


def test_l1_subgradient_that_is_not_zero_at_zero_is_caught():
    wrong = lambda w, lam: lam * np.where(w >= 0, 1.0, -1.0)   # sign(0) taken as +1
    assert fails(check_penalty, reg.l1_penalty, wrong, torch.abs, np.float64)


def check_soft_threshold(fn, dtype):
    for lambd in (0.0, 0.5, 2.0):
        for label, w in weight_cases(dtype):
            assert_matches(fn(w, lambd), F.softshrink(torch_tensor(w), lambd),
                           what=f"softshrink lambd={lambd}, {label}")


@pytest.mark.parametrize("dtype", DTYPES, **DTYPE_IDS)
def test_soft_threshold_is_torch_softshrink(dtype):
    check_soft_threshold(reg.soft_threshold, dtype)


def test_hard_threshold_is_not_soft_threshold():
    wrong = lambda x, t: np.where(np.abs(x) > t, x, 0.0).astype(x.dtype)
    assert fails(check_soft_threshold, wrong, np.float64)


@pytest.mark.parametrize("dtype", DTYPES, **DTYPE_IDS)
def test_l1_proximal_step_minimizes_the_local_model_and_gives_exact_zeros(dtype):
    lr, lam = 0.1, 2.0
    w = random_inputs((50,), dtype, seed=3)
    g = random_inputs((50,), dtype, seed=4)
    new = reg.l1_proximal_step(w, g, lr=lr, lam=lam)
    expected = F.softshrink(torch_tensor(w) - lr * torch_tensor(g), lr * lam)
    assert_matches(new, expected, what="proximal step")
    assert (new == 0).sum() > 5, "the proximal step sets small weights exactly to zero"
    # It minimizes 1/2 ||z - (w - lr g)||^2 + lr lam ||z||_1: no perturbation does better.
    v = (w - lr * g).astype(np.float64)
    objective = lambda z: 0.5 * np.sum((z - v) ** 2) + lr * lam * np.sum(np.abs(z))
    rng = np.random.default_rng(0)
    best = objective(new.astype(np.float64))
    for _ in range(50):
        assert objective(new + 1e-3 * rng.standard_normal(50)) >= best - 1e-7


def test_subgradient_steps_hover_around_zero_while_proximal_steps_land_on_it():
    # minimize 1/2 (w - 0.05)^2 + 0.1 |w|: the minimizer is exactly 0.
    w_sub = w_prox = np.array([1.0])
    for _ in range(200):
        w_sub = w_sub - 0.03 * ((w_sub - 0.05) + reg.l1_penalty_grad(w_sub, 0.1))
        w_prox = reg.l1_proximal_step(w_prox, w_prox - 0.05, lr=0.03, lam=0.1)
    assert w_prox[0] == 0.0
    assert w_sub[0] != 0.0 and abs(w_sub[0]) < 0.01


# --------------------------------------------------------------------------- weight decay

def torch_steps(optimizer_cls, w0, grads, **kwargs):
    p = torch.nn.Parameter(torch_tensor(w0))
    optimizer = optimizer_cls([p], foreach=False, **kwargs)
    for g in grads:
        p.grad = torch_tensor(g)
        optimizer.step()
    return p.detach()


@pytest.mark.parametrize("dtype", DTYPES, **DTYPE_IDS)
def test_sgd_weight_decay_is_the_l2_penalty_with_half_lambda(dtype):
    lr, wd = 0.1, 0.05
    w0 = random_inputs((3, 4), dtype, seed=5)
    grads = [random_inputs((3, 4), dtype, seed=10 + i) for i in range(5)]
    w_decay = w_l2 = w0
    state_a = state_b = None
    for g in grads:
        w_decay, state_a = opt.sgd_step(w_decay, g, state_a, lr=lr, momentum=0.9, weight_decay=wd)
        w_l2, state_b = opt.sgd_step(w_l2, g + reg.l2_penalty_grad(w_l2, wd / 2), state_b,
                                     lr=lr, momentum=0.9)
    expected = torch_steps(torch.optim.SGD, w0, grads, lr=lr, momentum=0.9, weight_decay=wd)
    assert_matches(w_decay, expected, what="sgd_step(weight_decay) vs torch.optim.SGD")
    assert_matches(w_l2, expected, what="SGD on loss + (wd/2)||w||^2", rtol=1e-5, atol=1e-6)
    # Plain SGD: with a zero gradient each step multiplies the weights by 1 - lr * wd.
    w1, _ = opt.sgd_step(w0, np.zeros_like(w0), lr=lr, weight_decay=wd)
    assert_matches(w1, torch_tensor(w0) * (1 - lr * wd), what="decay factor")
    # Mistake: the penalty lam ||w||^2 with lam = wd (its gradient is twice the decay).
    wrong, _ = opt.sgd_step(w0, reg.l2_penalty_grad(w0, wd), lr=lr)
    assert not np.allclose(wrong, w1, rtol=1e-4)


@pytest.mark.parametrize("dtype", DTYPES, **DTYPE_IDS)
def test_adamw_decays_decoupled_and_differs_from_adam_with_l2(dtype):
    w0 = random_inputs((6,), dtype, seed=6, scale=2.0)
    grads = [random_inputs((6,), dtype, seed=20 + i) for i in range(6)]
    w, state = w0, None
    for g in grads:
        w, state = opt.adamw_step(w, g, state, lr=0.05, weight_decay=0.1)
    expected = torch_steps(torch.optim.AdamW, w0, grads, lr=0.05, weight_decay=0.1)
    assert_matches(w, expected, what="adamw_step vs torch.optim.AdamW", rtol=1e-5, atol=1e-6)
    adam_l2 = torch_steps(torch.optim.Adam, w0, grads, lr=0.05, weight_decay=0.1)
    assert not np.allclose(w, adam_l2.numpy(), rtol=1e-3), "Adam's L2 penalty is not AdamW"


# --------------------------------------------------------------------------- early stopping

LOSS_CURVES = [
    [1.0, 0.8, 0.7, 0.71, 0.69, 0.72, 0.73, 0.74, 0.75, 0.76],
    [0.5, 0.5, 0.5, 0.5, 0.5, 0.5],
    [0.9, 0.7, 0.6, 0.599, 0.598, 0.597, 0.7, 0.8, 0.9, 1.0, 1.1],
    list(np.linspace(1, 0.1, 12)),
]


def torch_plateau(values, patience, min_delta):
    """The first epoch where ReduceLROnPlateau(patience - 1) cuts the rate, and its best value."""
    p = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([p], lr=1.0)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, patience=patience - 1, threshold=min_delta, threshold_mode="abs")
    for epoch, v in enumerate(values):
        scheduler.step(v)
        if optimizer.param_groups[0]["lr"] < 1.0:
            return epoch, scheduler.best
    return None, scheduler.best


def run_tracker(step_fn, values, patience, min_delta, mode="min"):
    state, stop_epoch = None, None
    for epoch, v in enumerate(values):
        state = step_fn(state, v, {"w": np.array([float(epoch)])}, patience=patience,
                        min_delta=min_delta, mode=mode)
        if state.stopped:
            return state, epoch       # training ends here
    return state, None


def check_tracker(step_fn):
    for values in LOSS_CURVES:
        for patience in (1, 2, 3):
            for min_delta in (0.0, 0.005):
                state, stop = run_tracker(step_fn, values, patience, min_delta)
                torch_stop, torch_best = torch_plateau(values, patience, min_delta)
                case = f"values={values} patience={patience} min_delta={min_delta}"
                assert stop == torch_stop, f"stop epoch {stop} vs {torch_stop}: {case}"
                assert state.best_value == torch_best, case
                # The weights kept are those of the best epoch (here w = epoch number).
                assert state.best_state["w"][0] == state.best_epoch, case
                assert values[state.best_epoch] == state.best_value, case


def test_early_stopping_agrees_with_reduce_lr_on_plateau():
    check_tracker(reg.early_stopping_step)


def test_patience_counted_one_epoch_late_is_caught():
    def late(state, value, weights, *, patience, min_delta, mode):
        return reg.early_stopping_step(state, value, weights, patience=patience + 1,
                                       min_delta=min_delta, mode=mode)
    assert fails(check_tracker, late)


def test_best_weights_are_a_copy_not_the_live_weights():
    live = {"w": np.array([1.0, 2.0])}
    state = reg.early_stopping_step(None, 0.5, live, patience=2)
    live["w"] += 10.0                    # training goes on and updates in place
    state = reg.early_stopping_step(state, 0.9, live, patience=2)
    np.testing.assert_array_equal(state.best_state["w"], [1.0, 2.0])

    def aliasing(state, value, weights, **kwargs):   # mistake: keeps a reference
        new = reg.early_stopping_step(state, value, weights, **kwargs)
        return new._replace(best_state=weights) if new.best_epoch == new.epoch - 1 else new
    live = {"w": np.array([1.0, 2.0])}
    state = aliasing(None, 0.5, live, patience=2)
    live["w"] += 10.0
    assert not np.array_equal(state.best_state["w"], [1.0, 2.0]), "the aliasing variant is caught"


def test_early_stopping_max_mode_and_torch_state_dict():
    model = torch.nn.Linear(2, 1)
    state = None
    for acc in (0.5, 0.7, 0.69, 0.68):
        state = reg.early_stopping_step(state, acc, model.state_dict(), patience=2, mode="max")
        with torch.no_grad():
            model.weight += 1.0
    assert state.stopped and state.best_epoch == 1 and state.best_value == 0.7
    assert not torch.equal(state.best_state["weight"], model.weight.detach())
    with pytest.raises(ValueError):
        reg.early_stopping_step(None, 1.0, {}, mode="up")


# --------------------------------------------------------------------------- images

def image_batch(dtype, shape=(5, 2, 8, 8), seed=7):
    return np.random.default_rng(seed).random(shape).astype(dtype)


def check_augmentation_contract(augment, dtype, *, identity=None):
    """Shape, dtype, range, input untouched, reproducible from the seed, varies with it."""
    x = image_batch(dtype)
    before = x.copy()
    a = augment(x, np.random.default_rng(1))
    assert a.shape == x.shape and a.dtype == x.dtype
    assert a.min() >= 0 and a.max() <= 1
    np.testing.assert_array_equal(x, before, err_msg="input modified")
    np.testing.assert_array_equal(a, augment(x, np.random.default_rng(1)))
    assert not np.array_equal(a, augment(x, np.random.default_rng(2)))
    if identity is not None:
        np.testing.assert_array_equal(identity(x, np.random.default_rng(1)), x)
    one = augment(x[:1], np.random.default_rng(3))
    assert one.shape == (1,) + x.shape[1:]


@pytest.mark.parametrize("dtype", DTYPES, **DTYPE_IDS)
def test_image_augmentations_keep_shape_dtype_range_and_seed(dtype):
    check_augmentation_contract(lambda x, r: reg.random_horizontal_flip(x, rng=r), dtype,
                                identity=lambda x, r: reg.random_horizontal_flip(x, 0.0, rng=r))
    check_augmentation_contract(lambda x, r: reg.random_crop(x, 8, 2, rng=r), dtype,
                                identity=lambda x, r: reg.random_crop(x, 8, 0, rng=r))
    check_augmentation_contract(lambda x, r: reg.random_rotation(x, 30, rng=r), dtype,
                                identity=lambda x, r: reg.random_rotation(x, 0, rng=r))
    check_augmentation_contract(lambda x, r: reg.gaussian_noise(x, 0.1, rng=r), dtype,
                                identity=lambda x, r: reg.gaussian_noise(x, 0.0, rng=r))
    check_augmentation_contract(lambda x, r: reg.color_jitter(x, 0.4, 0.4, rng=r), dtype,
                                identity=lambda x, r: reg.color_jitter(x, 0.0, 0.0, rng=r))


def torch_flip(x, p, seed):
    flip = np.random.default_rng(seed).random(len(x)) < p       # the same draws
    t = torch_tensor(x)
    return torch.where(torch.tensor(flip)[:, None, None, None], torch.flip(t, dims=[-1]), t), flip


def check_flip(fn, dtype):
    x = image_batch(dtype, (40, 1, 4, 5))
    for p in (0.0, 0.5, 1.0):
        expected, flip = torch_flip(x, p, seed=11)
        assert_matches(fn(x, p, rng=np.random.default_rng(11)), expected, what=f"flip p={p}")


@pytest.mark.parametrize("dtype", DTYPES, **DTYPE_IDS)
def test_horizontal_flip_matches_torch_flip_for_the_drawn_images(dtype):
    check_flip(reg.random_horizontal_flip, dtype)
    _, flip = torch_flip(image_batch(dtype, (400, 1, 2, 2)), 0.5, seed=11)
    assert 150 < flip.sum() < 250


def test_flip_along_the_wrong_axis_or_ignoring_the_generator_is_caught():
    def vertical(x, p, rng):
        flip = rng.random(len(x)) < p
        out = x.copy()
        out[flip] = x[flip][:, :, ::-1, :]
        return out

    def own_generator(x, p, rng):
        return reg.random_horizontal_flip(x, p, rng=np.random.default_rng(0))
    assert fails(check_flip, vertical, np.float64)
    assert fails(check_flip, own_generator, np.float64)


@pytest.mark.parametrize("dtype", DTYPES, **DTYPE_IDS)
def test_random_crop_is_a_window_of_the_padded_image(dtype):
    x = image_batch(dtype, (30, 2, 6, 7))
    padding, size = 2, (6, 7)
    out = reg.random_crop(x, size, padding, rng=np.random.default_rng(4))
    rng = np.random.default_rng(4)                               # the same draws
    tops = rng.integers(0, 6 + 4 - 6 + 1, size=30)
    lefts = rng.integers(0, 7 + 4 - 7 + 1, size=30)
    padded = F.pad(torch_tensor(x), (padding,) * 4)
    for n in range(30):
        window = padded[n, :, tops[n]:tops[n] + 6, lefts[n]:lefts[n] + 7]
        assert_matches(out[n], window, what=f"crop of image {n}")
    assert set(tops) == set(range(5)), "every offset 0..2p is reachable, none beyond"
    small = reg.random_crop(x, 4, 0, rng=np.random.default_rng(0))
    assert small.shape == (30, 2, 4, 4)
    with pytest.raises(ValueError):
        reg.random_crop(x, 20, 1, rng=np.random.default_rng(0))


@pytest.mark.parametrize("dtype", DTYPES, **DTYPE_IDS)
def test_rotation_matches_affine_grid_and_grid_sample(dtype):
    x = image_batch(dtype, (4, 2, 9, 9))
    angles = np.array([12.0, -35.0, 90.0, 180.0])
    a = np.deg2rad(angles)
    theta = np.stack([[[np.cos(t), -np.sin(t), 0], [np.sin(t), np.cos(t), 0]] for t in a])
    grid = F.affine_grid(torch_tensor(theta.astype(dtype)), list(x.shape), align_corners=False)
    expected = F.grid_sample(torch_tensor(x), grid, mode="bilinear", padding_mode="zeros",
                             align_corners=False)
    tol = dict(rtol=1e-5, atol=2e-6) if dtype == np.float32 else dict(atol=1e-12)
    assert_matches(reg.rotate(x, angles), expected, what="rotate", **tol)
    # 180 degrees of a square image is a flip of both axes.
    assert_matches(reg.rotate(x, 180.0), torch.flip(torch_tensor(x), dims=[-1, -2]),
                   what="rotate 180", **tol)
    # Mistake: the rotation in the other direction.
    assert not np.allclose(reg.rotate(x, -angles), expected.numpy(), atol=1e-3)


@pytest.mark.parametrize("dtype", DTYPES, **DTYPE_IDS)
def test_noise_and_color_jitter_follow_their_formulas(dtype):
    x = image_batch(dtype)
    noisy = reg.gaussian_noise(x, 0.2, rng=np.random.default_rng(5), clip=None)
    eps = np.random.default_rng(5).standard_normal(x.shape) * 0.2
    assert_matches(noisy, torch_tensor(x) + torch_tensor(eps.astype(dtype)), what="noise")
    rng = np.random.default_rng(6)
    b = rng.uniform(0.6, 1.4, size=5).astype(dtype)
    c = rng.uniform(0.7, 1.3, size=5).astype(dtype)
    t = torch.clamp(torch_tensor(x) * torch_tensor(b)[:, None, None, None], 0, 1)
    mean = t.mean(dim=(1, 2, 3), keepdim=True)
    cc = torch_tensor(c)[:, None, None, None]
    expected = torch.clamp(cc * t + (1 - cc) * mean, 0, 1)
    out = reg.color_jitter(x, 0.4, 0.3, rng=np.random.default_rng(6))
    assert_matches(out, expected, what="color jitter", rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- text

SYNONYMS = {"big": ["large", "great"], "dog": ["domestic_dog", "canine"], "runs": ["operates"]}


def test_synonym_replacement_replaces_at_most_n_tokens_by_synonyms():
    tokens = "the big dog runs past the big house".split()
    before = list(tokens)
    for n in (0, 1, 2, 10):
        for seed in range(20):
            out = reg.synonym_replacement(tokens, SYNONYMS, n, rng=np.random.default_rng(seed))
            changed = [i for i, (a, b) in enumerate(zip(tokens, out)) if a != b]
            assert len(out) == len(tokens) and len(changed) <= min(n, 4)
            assert all(out[i] in SYNONYMS[tokens[i]] for i in changed)
            if n >= 4:
                assert len(changed) == 4
    assert tokens == before
    a = reg.synonym_replacement(tokens, SYNONYMS, 2, rng=np.random.default_rng(3))
    assert a == reg.synonym_replacement(tokens, SYNONYMS, 2, rng=np.random.default_rng(3))
    outputs = {tuple(reg.synonym_replacement(tokens, SYNONYMS, 2, rng=np.random.default_rng(s)))
               for s in range(30)}
    assert len(outputs) > 5, "the generator decides which tokens and which synonyms"


def test_random_deletion_keeps_each_token_with_probability_1_minus_p():
    tokens = [f"w{i}" for i in range(2000)]
    assert reg.random_deletion(tokens, 0.0, rng=np.random.default_rng(0)) == tokens
    kept = reg.random_deletion(tokens, 0.3, rng=np.random.default_rng(0))
    assert abs(len(kept) - 1400) < 5 * np.sqrt(2000 * 0.21)
    assert kept == [t for t in tokens if t in set(kept)], "order is preserved"
    one = reg.random_deletion(tokens[:5], 1.0, rng=np.random.default_rng(0))
    assert len(one) == 1 and one[0] in tokens[:5], "a sentence never becomes empty"
    assert reg.random_deletion([], 0.5, rng=np.random.default_rng(0)) == []


# --------------------------------------------------------------------------- audio

@pytest.mark.parametrize("dtype", DTYPES, **DTYPE_IDS)
def test_time_shift_matches_torch_roll_and_zero_padding(dtype):
    x = random_inputs((2, 50), dtype, seed=8)
    for shift in (-7, 0, 3, 49, 60):
        assert_matches(reg.time_shift(x, shift, roll=True),
                       torch.roll(torch_tensor(x), shift, dims=-1), what=f"roll {shift}")
        t = torch_tensor(x)
        padded = F.pad(t, (shift, 0))[..., :50] if shift >= 0 else F.pad(t, (0, -shift))[..., -shift:]
        assert_matches(reg.time_shift(x, shift), padded, what=f"shift {shift}")
    a = reg.random_time_shift(x, 10, rng=np.random.default_rng(1))
    assert np.array_equal(a, reg.random_time_shift(x, 10, rng=np.random.default_rng(1)))


def measured_snr(clean, noisy):
    noise = noisy.astype(np.float64) - clean
    return 10 * np.log10(np.sum(clean.astype(np.float64) ** 2) / np.sum(noise ** 2))


def torchaudio_add_noise(waveform, noise, snr):
    """torchaudio.functional.add_noise for one signal, written out in torch."""
    energy_signal = torch.linalg.vector_norm(waveform, ord=2, dim=-1) ** 2
    energy_noise = torch.linalg.vector_norm(noise, ord=2, dim=-1) ** 2
    original_snr_db = 10 * (torch.log10(energy_signal) - torch.log10(energy_noise))
    scale = 10 ** ((original_snr_db - snr) / 20.0)
    return waveform + scale * noise


@pytest.mark.parametrize("dtype", DTYPES, **DTYPE_IDS)
@pytest.mark.parametrize("snr", (-5.0, 0.0, 10.0, 40.0))
def test_noise_reaches_the_requested_snr(dtype, snr):
    x = random_inputs((400,), dtype, seed=9, scale=0.3)
    noise = random_inputs((400,), dtype, seed=10)
    out = reg.add_noise(x, noise, snr)
    assert_matches(out, torchaudio_add_noise(torch_tensor(x), torch_tensor(noise), snr),
                   what="add_noise", rtol=1e-5, atol=1e-6)
    assert abs(measured_snr(x, out) - snr) < (1e-3 if dtype == np.float32 else 1e-9)
    drawn = reg.add_noise_at_snr(x, snr, rng=np.random.default_rng(0))
    assert drawn.dtype == x.dtype and abs(measured_snr(x, drawn) - snr) < 1e-3
    # Mistake: a power ratio used as an amplitude ratio (10^(-snr/10)) misses the target.
    scale = np.sqrt(np.sum(x ** 2) / np.sum(noise ** 2)) * 10 ** (-snr / 10)
    if snr != 0:
        assert abs(measured_snr(x, x + scale * noise) - snr) > 1.0


# --------------------------------------------------------------------------- label smoothing

def logits_cases(dtype):
    yield "random (6, 5)", random_inputs((6, 5), dtype, seed=12, scale=3.0), np.arange(6) % 5
    yield "batch of one", random_inputs((1, 10), dtype, seed=13), np.array([7])
    yield "zeros", np.zeros((3, 4), dtype=dtype), np.array([0, 1, 3])
    big = np.array([[1e4, 0.0, -1e4], [-50.0, 30.0, 20.0]], dtype=dtype)
    yield "large magnitudes", big, np.array([2, 1])


def check_label_smoothing(loss_fn, grad_fn, dtype):
    for eps in (0.0, 0.1, 0.5, 1.0):
        for label, z, y in logits_cases(dtype):
            before = z.copy()
            t = torch_tensor(z, requires_grad=True)
            expected = F.cross_entropy(t, torch.tensor(y), label_smoothing=eps)
            expected.backward()
            tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)
            what = f"eps={eps}, {label}"
            assert_matches(np.asarray(loss_fn(z, y, eps), dtype=dtype), expected, what=what, **tol)
            assert_matches(grad_fn(z, y, eps), t.grad, what=f"gradient {what}", **tol)
            np.testing.assert_array_equal(z, before)


@pytest.mark.parametrize("dtype", DTYPES, **DTYPE_IDS)
def test_label_smoothing_matches_torch_cross_entropy(dtype):
    check_label_smoothing(reg.cross_entropy_label_smoothing,
                          reg.cross_entropy_label_smoothing_grad, dtype)


def test_smoothing_over_k_minus_one_classes_is_caught():
    def wrong_targets(z, y, eps):
        k = z.shape[1]
        q = np.full(z.shape, eps / (k - 1))
        q[np.arange(len(y)), y] = 1 - eps
        return q

    def wrong_loss(z, y, eps):
        return -np.sum(wrong_targets(z, y, eps) * reg.log_softmax(z)) / len(z)

    def wrong_grad(z, y, eps):
        return (np.exp(reg.log_softmax(z)) - wrong_targets(z, y, eps)) / len(z)
    assert fails(check_label_smoothing, wrong_loss, wrong_grad, np.float64)
    with pytest.raises(ValueError):
        reg.cross_entropy_label_smoothing(np.zeros((1, 3)), [0], 1.5)


# --------------------------------------------------------------------------- mixup

@pytest.mark.parametrize("dtype", DTYPES, **DTYPE_IDS)
def test_mixup_is_a_convex_blend_and_its_loss_mixes_the_two_losses(dtype):
    x = image_batch(dtype, (8, 1, 4, 4))
    y = np.arange(8) % 3
    onehot = np.eye(3, dtype=dtype)[y]
    before = x.copy()
    xm, ym, lam, perm = reg.mixup(x, onehot, alpha=0.4, rng=np.random.default_rng(2))
    np.testing.assert_array_equal(x, before)
    assert 0 <= lam <= 1 and sorted(perm) == list(range(8))
    assert xm.dtype == dtype and ym.dtype == dtype
    assert_matches(xm, lam * torch_tensor(x) + (1 - lam) * torch_tensor(x[perm]), what="mixed x",
                   rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ym.sum(axis=1), 1.0, rtol=1e-6)
    z = random_inputs((8, 3), dtype, seed=14, scale=2.0)
    tz = torch_tensor(z)
    expected = lam * F.cross_entropy(tz, torch.tensor(y)) + (1 - lam) * F.cross_entropy(tz, torch.tensor(y[perm]))
    assert_matches(np.asarray(reg.soft_target_cross_entropy(z, ym), dtype=dtype), expected,
                   what="soft-target loss of mixed labels", rtol=1e-5, atol=1e-6)
    assert_matches(np.asarray(reg.soft_target_cross_entropy(z, ym), dtype=dtype),
                   F.cross_entropy(tz, torch_tensor(ym)), what="probability targets", rtol=1e-5, atol=1e-6)
    x0, y0, lam0, _ = reg.mixup(x, onehot, alpha=0.0, rng=np.random.default_rng(2))
    assert lam0 == 1.0 and np.array_equal(x0, x) and np.array_equal(y0, onehot)


# --------------------------------------------------------------------------- EMA

def run_ema(update_fn, dtype, decay, steps=6):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2)).to(
        torch.float32 if dtype == np.float32 else torch.float64)
    averaged = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay))
    ours = None
    for step in range(steps):
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p) * (step + 1))
        averaged.update_parameters(model)
        ours = update_fn(ours, {k: v.detach().numpy().copy() for k, v in model.named_parameters()},
                         decay)
    theirs = dict(averaged.module.named_parameters())
    for k, v in ours.items():
        assert_matches(v, theirs[k], what=f"EMA {k} decay={decay}")


@pytest.mark.parametrize("dtype", DTYPES, **DTYPE_IDS)
@pytest.mark.parametrize("decay", (0.0, 0.3, 0.9, 0.999))
def test_ema_matches_averaged_model(dtype, decay):
    run_ema(reg.ema_update, dtype, decay)


def test_ema_with_swapped_weights_is_caught():
    def swapped(avg, params, decay):
        if avg is None:
            return {k: v.copy() for k, v in params.items()}
        return {k: decay * params[k] + (1 - decay) * avg[k] for k in avg}
    with pytest.raises(AssertionError):
        run_ema(swapped, np.float64, 0.9)


# --------------------------------------------------------------------------- shipped data

def test_the_text_and_audio_extracts_load():
    from coursekit.text_audio import speech_clips, wordnet_extract

    text = wordnet_extract()
    assert len(text.sentences) == 300 and len(text.synonyms) > 300
    assert "Princeton" in text.license
    assert all(word not in options for word, options in text.synonyms.items())
    rate, clips = speech_clips()
    assert rate == 8000 and set(clips) == {f"digit_{d}" for d in range(10)} | {"hello_world"}
    for wave in clips.values():
        assert wave.dtype == np.float32 and wave.ndim == 1 and np.abs(wave).max() <= 1.0
        assert 0.3 * rate < len(wave) < 3 * rate


def test_audio_functions_leave_their_input_alone_and_keep_the_dtype():
    for dtype in DTYPES:
        x = random_inputs((300,), dtype, seed=15)
        before = x.copy()
        for out in (reg.time_shift(x, 5), reg.time_shift(x, -5, roll=True),
                    reg.random_time_shift(x, 20, rng=np.random.default_rng(0)),
                    reg.add_noise_at_snr(x, 10.0, rng=np.random.default_rng(0))):
            assert out.dtype == x.dtype and out.shape == x.shape
        np.testing.assert_array_equal(x, before)
    shifts = {int(np.argmax(reg.random_time_shift(np.eye(1, 41, 20)[0], 20, rng=np.random.default_rng(s))))
              for s in range(300)}
    assert shifts == set(range(41)), "every shift in -max_shift..max_shift is drawn, none beyond"


def test_penalties_in_the_experiments_skip_the_biases():
    from coursekit.regularized_training import weight_matrices

    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    chosen = weight_matrices(model)
    assert [tuple(p.shape) for p in chosen] == [(3, 4), (2, 3)]
    assert all(p is not model[0].bias and p is not model[2].bias for p in chosen)


def test_the_experiment_loop_is_seeded_and_its_proximal_l1_gives_zeros():
    from coursekit.datasets import Split
    from coursekit.regularized_training import fit

    rng = np.random.default_rng(0)
    x = rng.random((40, 1, 6, 6)).astype(np.float32)
    y = np.arange(40) % 3
    data = Split(x[:30], y[:30], x[30:], y[30:])

    def run(seed, **kwargs):
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(36, 3))
        history = fit(model, data, epochs=3, lr=0.5, optimizer="plain sgd", seed=seed,
                      batch_size=10, **kwargs)
        return model[1].weight.detach().numpy(), history

    flip = lambda xb, r: reg.random_horizontal_flip(xb, rng=r)
    a, history = run(0, augment=flip)
    assert len(history.val_accuracy) == 3 and len(history.val_loss) == 3
    np.testing.assert_array_equal(a, run(0, augment=flip)[0])
    assert not np.array_equal(a, run(1, augment=flip)[0])
    sparse, _ = run(0, l1=0.05, l1_proximal=True)
    penalized, _ = run(0, l1=0.05)
    assert (sparse == 0).mean() > 0.2 and (penalized == 0).sum() == 0


@pytest.mark.parametrize("dtype", DTYPES, **DTYPE_IDS)
def test_log_softmax_is_stable_at_large_logits_like_torch(dtype):
    for label, z, _ in logits_cases(dtype):
        assert_matches(reg.log_softmax(z), F.log_softmax(torch_tensor(z), dim=-1),
                       what=f"log_softmax, {label}", rtol=1e-5 if dtype == np.float32 else 1e-12)
    naive = lambda z: np.log(np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True))
    with np.errstate(all="ignore"):
        assert not np.isfinite(naive(np.array([[1e4, 0.0]], dtype=dtype))).all(), \
            "the naive formula overflows where the shifted one does not"


def test_ema_update_returns_new_arrays_and_leaves_its_inputs():
    params = {"w": np.array([1.0, 2.0])}
    avg = reg.ema_update(None, params, decay=0.5)
    assert avg["w"] is not params["w"]
    params["w"] += 1.0
    np.testing.assert_array_equal(avg["w"], [1.0, 2.0])
    new = reg.ema_update(avg, params, decay=0.5)
    np.testing.assert_array_equal(avg["w"], [1.0, 2.0])
    np.testing.assert_array_equal(new["w"], [1.5, 2.5])
    with pytest.raises(ValueError):
        reg.ema_update(avg, params, decay=1.5)
