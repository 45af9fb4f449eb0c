"""The deployment reference implementations against PyTorch (and ONNX Runtime).

Each group ends with a deliberately wrong variant (round half up, no saturation, a fold that
forgets the running mean, a distillation loss without the T^2 factor...) that the same
comparison must reject: a check that cannot fail proves nothing.

PyTorch's quantized tensors (``torch.quantize_per_tensor``, ``torch.quantize_per_channel``)
and ``torch.ao.quantization`` still work in torch 2.13 but warn that they are deprecated;
they remain the most direct oracle for the integers, so those tests silence exactly these
warnings. ``torch.fake_quantize_per_*_affine`` is not deprecated and checks the same
arithmetic in floating point, with gradients.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nn_reference import deployment as dp
from nn_reference.normalization import fuse_batch_norm
from oracle import DTYPES, assert_matches, random_inputs, torch_tensor

DTYPE_IDS = dict(ids=lambda d: np.dtype(d).name)
SUM_TOL = {np.float32: dict(rtol=2e-5, atol=2e-5), np.float64: dict(rtol=1e-10, atol=1e-11)}
TORCH_QDTYPE = {np.int8: torch.qint8, np.uint8: torch.quint8}


def quiet_deprecated():
    """Silence the deprecation warnings of torch's quantized-tensor API (see module docstring)."""
    context = warnings.catch_warnings()
    context.__enter__()
    warnings.filterwarnings("ignore", message=".*deprecated.*", category=UserWarning)
    warnings.filterwarnings("ignore", message=".*deprecated.*", category=DeprecationWarning)
    return context


@pytest.fixture
def deprecated_quantization_api():
    context = quiet_deprecated()
    yield
    context.__exit__(None, None, None)


# --------------------------------------------------------------------------- batch-norm folding

def conv_bn(dtype, bias: bool, seed: int = 0):
    """A Conv2d -> BatchNorm2d pair with trained-looking running statistics, in eval mode."""
    torch.manual_seed(seed)
    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    model = nn.Sequential(nn.Conv2d(3, 5, 3, padding=1, bias=bias), nn.BatchNorm2d(5)).to(tdtype)
    with torch.no_grad():
        for i in range(3):
            model.train()(torch_tensor(random_inputs((4, 3, 6, 6), dtype, seed=seed + i, scale=2.0)))
        model[1].weight.uniform_(0.5, 2.0)
        model[1].bias.uniform_(-1, 1)
        model[1].running_var[0] = 1e-4          # a near-dead channel: eps matters here
    return model.eval()


def fold(conv, bn, fn=fuse_batch_norm):
    return fn(conv.weight.detach().numpy(), None if conv.bias is None else conv.bias.detach().numpy(),
              bn.running_mean.numpy(), bn.running_var.numpy(), bn.weight.detach().numpy(),
              bn.bias.detach().numpy(), bn.eps)


@pytest.mark.parametrize("dtype", DTYPES, **DTYPE_IDS)
@pytest.mark.parametrize("bias", (True, False))
def test_folded_conv2d_equals_conv_then_eval_batch_norm(dtype, bias):
    model = conv_bn(dtype, bias)
    for shape in ((1, 3, 6, 6), (7, 3, 5, 4)):
        x = random_inputs(shape, dtype, seed=50)
        with torch.no_grad():
            expected = model(torch_tensor(x))
        w, b = fold(*model)
        assert w.dtype == dtype and b.dtype == dtype
        out = F.conv2d(torch_tensor(x), torch_tensor(w), torch_tensor(b), padding=1)
        assert_matches(out.numpy(), expected, what=f"folded conv {shape}", **SUM_TOL[dtype])


def fold_forgetting_the_mean(w, b, mean, var, gamma, beta, eps):
    s = gamma / np.sqrt(var + eps)
    return w * s.reshape(-1, 1, 1, 1), s * (0 if b is None else b) + beta


def fold_without_eps(w, b, mean, var, gamma, beta, eps):
    return fuse_batch_norm(w, b, mean, var, gamma, beta, eps=0.0)


@pytest.mark.parametrize("wrong", (fold_forgetting_the_mean, fold_without_eps))
def test_wrong_folds_are_rejected(wrong):
    model = conv_bn(np.float32, bias=True)
    x = random_inputs((2, 3, 6, 6), np.float32, seed=51)
    with torch.no_grad():
        expected = model(torch_tensor(x))
    w, b = fold(*model, fn=wrong)
    out = F.conv2d(torch_tensor(x), torch_tensor(w.astype(np.float32)),
                   torch_tensor(np.asarray(b, dtype=np.float32)), padding=1)
    with pytest.raises(AssertionError):
        assert_matches(out.numpy(), expected, **SUM_TOL[np.float32])


# --------------------------------------------------------------------------- quantization parameters

RANGES = [(-1.3, 2.7), (0.0, 6.0), (-4.0, -0.5), (0.0, 0.0), (-1e-3, 1e4), (-3.0, 3.0)]


@pytest.mark.parametrize("symmetric", (False, True))
@pytest.mark.parametrize("dtype", (np.int8, np.uint8), **DTYPE_IDS)
def test_choose_qparams_matches_minmax_observers(deprecated_quantization_api, symmetric, dtype):
    from torch.ao.quantization import MinMaxObserver, PerChannelMinMaxObserver

    qscheme = torch.per_tensor_symmetric if symmetric else torch.per_tensor_affine
    for lo, hi in RANGES:
        observer = MinMaxObserver(dtype=TORCH_QDTYPE[dtype], qscheme=qscheme)
        observer(torch.tensor([lo, hi], dtype=torch.float32))
        scale_t, zero_t = observer.calculate_qparams()
        scale, zero = dp.choose_qparams(np.float32(lo), np.float32(hi), *dp.qrange(dtype), symmetric)
        assert_matches(np.atleast_1d(scale), scale_t, what=f"scale {lo, hi}")
        np.testing.assert_array_equal(np.atleast_1d(zero), zero_t.numpy(), err_msg=f"zero point {lo, hi}")
    # per channel: the same rule applied to each row's own range
    x = random_inputs((6, 10), np.float32, seed=3) * np.float32([[0.01], [1], [5], [50], [1], [0.2]])
    x[4] = np.abs(x[4])
    qscheme = torch.per_channel_symmetric if symmetric else torch.per_channel_affine
    observer = PerChannelMinMaxObserver(ch_axis=0, dtype=TORCH_QDTYPE[dtype], qscheme=qscheme)
    observer(torch_tensor(x))
    scale_t, zero_t = observer.calculate_qparams()
    scale, zero = dp.choose_qparams(x.min(axis=1), x.max(axis=1), *dp.qrange(dtype), symmetric)
    assert_matches(scale, scale_t, what="per-channel scales")
    np.testing.assert_array_equal(zero, zero_t.numpy())
    lo, hi = dp.choose_qparams(-1.0, 1.0)[1], dp.choose_qparams(-1e-3, 1e4)[1]
    assert -128 <= lo <= 127 and -128 <= hi <= 127, "zero point inside the integer range"


# --------------------------------------------------------------------------- quantize / dequantize

def tie_cases(scale):
    """Exact halves k + 1/2 (scale a power of two), beyond-range values, zeros."""
    halves = (np.arange(-6, 6) + 0.5) * scale
    return np.concatenate([halves, [0.0, -0.0, 1e6, -1e6, 127.6 * scale, -128.6 * scale]])


@pytest.mark.parametrize("qdtype", (np.int8, np.uint8), **DTYPE_IDS)
def test_quantize_per_tensor_matches_torch(deprecated_quantization_api, qdtype):
    scale = 0.125
    for zero_point in ((0, 5, -8, 127) if qdtype == np.int8 else (0, 128, 3, 255)):
        cases = [random_inputs((5, 7), np.float32, seed=1, scale=20.0)]
        if zero_point % 2 == 0:                 # exact ties: see the next test for odd zero points
            cases.append(tie_cases(scale).astype(np.float32))
        for x in cases:
            before = x.copy()
            expected = torch.quantize_per_tensor(torch_tensor(x), scale, zero_point,
                                                 TORCH_QDTYPE[qdtype]).int_repr().numpy()
            q = dp.quantize_per_tensor(x, scale, zero_point, dtype=qdtype)
            assert q.dtype == qdtype
            np.testing.assert_array_equal(q, expected, err_msg=f"zero point {zero_point}")
            np.testing.assert_array_equal(x, before, err_msg="quantize modified its input")
            back = torch.quantize_per_tensor(torch_tensor(x), scale, zero_point, TORCH_QDTYPE[qdtype]).dequantize()
            assert_matches(dp.dequantize(q, scale, zero_point), back, what="dequantize")


def test_odd_zero_point_at_exact_ties_follows_fake_quantize_and_onnx():
    """We round x/s, then add z (the textbook formula, ONNX's QuantizeLinear and torch's
    fake_quantize). torch.quantize_per_tensor rounds x/s + z instead: the two differ by one
    step exactly at ties when z is odd. We follow the first on purpose."""
    context = quiet_deprecated()
    x = tie_cases(0.125).astype(np.float32)
    ours = dp.quantize_per_tensor(x, 0.125, 5)
    fake = torch.fake_quantize_per_tensor_affine(torch_tensor(x), 0.125, 5, -128, 127).numpy()
    np.testing.assert_array_equal(ours, np.rint(fake / 0.125) + 5)
    quantized = torch.quantize_per_tensor(torch_tensor(x), 0.125, 5, torch.qint8).int_repr().numpy()
    context.__exit__(None, None, None)
    differ = ours != quantized
    assert differ.sum() == 12 and np.all(np.abs(ours.astype(int) - quantized)[differ] == 1)


def test_round_half_to_even_and_saturation():
    q = dp.quantize_per_tensor(np.array([0.5, 1.5, 2.5, -0.5, -1.5, 300.0, -300.0]), 1.0, 0)
    np.testing.assert_array_equal(q, [0, 2, 2, 0, -2, 127, -128])


def round_half_up(x, scale, zero_point, dtype=np.int8):
    lo, hi = dp.qrange(dtype)
    return np.clip(np.floor(np.asarray(x) / scale + 0.5) + zero_point, lo, hi).astype(dtype)


def no_saturation(x, scale, zero_point, dtype=np.int8):
    return (np.rint(np.asarray(x) / scale) + zero_point).astype(np.int64).astype(dtype)  # wraps


@pytest.mark.parametrize("wrong", (round_half_up, no_saturation))
def test_wrong_quantizers_are_rejected(deprecated_quantization_api, wrong):
    x = tie_cases(0.125).astype(np.float32)
    expected = torch.quantize_per_tensor(torch_tensor(x), 0.125, 0, torch.qint8).int_repr().numpy()
    assert not np.array_equal(wrong(x, 0.125, 0), expected)


@pytest.mark.parametrize("axis", (0, 1))
def test_quantize_per_channel_matches_torch(deprecated_quantization_api, axis):
    x = random_inputs((4, 3, 2, 2), np.float32, seed=7, scale=2.0)
    n = x.shape[axis]
    scales = np.linspace(0.01, 0.1, n)
    zeros = np.arange(n) * 9 - 10
    before = x.copy()
    qt = torch.quantize_per_channel(torch_tensor(x), torch.tensor(scales), torch.tensor(zeros), axis, torch.qint8)
    q = dp.quantize_per_channel(x, scales, zeros, axis)
    np.testing.assert_array_equal(q, qt.int_repr().numpy())
    np.testing.assert_array_equal(x, before)
    assert_matches(dp.dequantize(q, scales.astype(np.float32), zeros, axis=axis), qt.dequantize())


# --------------------------------------------------------------------------- fake quantization (values and gradients)

@pytest.mark.parametrize("dtype", DTYPES, **DTYPE_IDS)
def test_fake_quantize_per_tensor_values_and_gradient(dtype):
    for x in (tie_cases(0.25).astype(dtype), random_inputs((3, 8), dtype, seed=2, scale=30.0),
              np.zeros((1, 4), dtype)):
        g = random_inputs(x.shape, dtype, seed=9)
        t = torch_tensor(x, requires_grad=True)
        out_t = torch.fake_quantize_per_tensor_affine(t, 0.25, 3, -128, 127)
        out_t.backward(torch_tensor(g))
        out, mask = dp.fake_quantize(x, 0.25, 3)
        assert_matches(out, out_t, what="fake quantize")
        assert_matches(dp.fake_quantize_backward(g, mask), t.grad, what="straight-through gradient")


def test_fake_quantize_per_channel_values_and_gradient():
    x = random_inputs((5, 4, 3), np.float32, seed=4, scale=10.0)
    g = random_inputs(x.shape, np.float32, seed=5)
    scales, zeros = np.float32([0.05, 0.1, 0.02, 0.3]), np.int32([0, -3, 10, 100])
    t = torch_tensor(x, requires_grad=True)
    out_t = torch.fake_quantize_per_channel_affine(t, torch.tensor(scales), torch.tensor(zeros), 1, -128, 127)
    out_t.backward(torch_tensor(g))
    out, mask = dp.fake_quantize(x, scales, zeros, axis=1)
    assert_matches(out, out_t)
    assert_matches(dp.fake_quantize_backward(g, mask), t.grad)
    assert 0 < mask.mean() < 1, "some entries saturate, some do not"


# --------------------------------------------------------------------------- int8 linear layer

def quantized_operands(seed=0, n=3, k=300, m=4):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 4, (n, k)).astype(np.float32)             # ReLU-like, all positive
    w = rng.standard_normal((m, k)).astype(np.float32) * np.float32([[0.1], [1.0], [0.02], [3.0]])[:m]
    x_scale, x_zero = dp.choose_qparams(x.min(), x.max())
    w_scale, _ = dp.choose_qparams(w.min(axis=1), w.max(axis=1), symmetric=True)
    x_q = dp.quantize_per_tensor(x, x_scale, x_zero)
    w_q = dp.quantize_per_channel(w, w_scale, np.zeros(m, np.int64), 0)
    bias = rng.standard_normal(m).astype(np.float32)
    return x_q, float(x_scale), int(x_zero), w_q, w_scale, bias


@pytest.mark.parametrize("n", (1, 5))
def test_int8_linear_equals_linear_of_dequantized_operands(n):
    x_q, x_scale, x_zero, w_q, w_scale, bias = quantized_operands(n=n)
    before = x_q.copy(), w_q.copy()
    expected = F.linear(torch_tensor(dp.dequantize(x_q, x_scale, x_zero)),
                        torch_tensor(dp.dequantize(w_q, w_scale, 0, axis=0)), torch_tensor(bias))
    y = dp.int8_linear(x_q, x_scale, x_zero, w_q, w_scale, bias)
    assert y.dtype == np.float32 and y.shape == (n, 4)
    assert_matches(y, expected, **SUM_TOL[np.float32])
    np.testing.assert_array_equal(x_q, before[0])
    np.testing.assert_array_equal(w_q, before[1])


def test_int16_accumulator_overflows_and_is_rejected():
    x_q, x_scale, x_zero, w_q, w_scale, bias = quantized_operands()
    expected = dp.int8_linear(x_q, x_scale, x_zero, w_q, w_scale, bias)
    wrong = dp.int8_linear(x_q, x_scale, x_zero, w_q, w_scale, bias, accumulator=np.int16)
    with pytest.raises(AssertionError):
        assert_matches(wrong, expected, **SUM_TOL[np.float32])


# --------------------------------------------------------------------------- distillation

def torch_distillation(s, t, target, T, alpha):
    soft = F.kl_div(F.log_softmax(s / T, dim=1), F.log_softmax(t / T, dim=1),
                    reduction="batchmean", log_target=True) * T * T
    return soft if target is None else alpha * soft + (1 - alpha) * F.cross_entropy(s, target)


@pytest.mark.parametrize("dtype", DTYPES, **DTYPE_IDS)
@pytest.mark.parametrize("T", (1.0, 4.0, 20.0))
@pytest.mark.parametrize("with_target", (False, True))
def test_distillation_loss_and_gradient_match_torch(dtype, T, with_target):
    cases = [(random_inputs((6, 10), dtype, seed=1, scale=3.0), random_inputs((6, 10), dtype, seed=2, scale=5.0)),
             (random_inputs((1, 3), dtype, seed=3), random_inputs((1, 3), dtype, seed=4)),
             (np.array([[1e4, 0, -1e4], [0, 0, 0]], dtype), np.array([[0, 1e3, 0], [-50, 50, 0]], dtype))]
    for s, t in cases:
        target = np.arange(len(s)) % s.shape[1] if with_target else None
        before = s.copy(), t.copy()
        ts = torch_tensor(s, requires_grad=True)
        loss_t = torch_distillation(ts, torch_tensor(t), None if target is None else torch.tensor(target), T, 0.7)
        loss_t.backward()
        loss = dp.distillation_loss(s, t, target, temperature=T, alpha=0.7)
        grad = dp.distillation_loss_backward(s, t, target, temperature=T, alpha=0.7)
        assert_matches(np.array(loss, dtype=dtype), loss_t, what="distillation loss", **SUM_TOL[dtype])
        assert_matches(grad, ts.grad, what="distillation gradient", **SUM_TOL[dtype])
        np.testing.assert_array_equal(s, before[0])
        np.testing.assert_array_equal(t, before[1])


def test_distillation_without_t_squared_or_on_the_wrong_axis_is_rejected():
    s, t = random_inputs((5, 4), np.float64, seed=1, scale=3.0), random_inputs((5, 4), np.float64, seed=2)
    expected = torch_distillation(torch_tensor(s), torch_tensor(t), None, 4.0, 1.0).item()
    assert dp.distillation_loss(s, t, temperature=4.0) == pytest.approx(expected, rel=1e-12)
    without_t2 = dp.distillation_loss(s, t, temperature=4.0) / 16
    wrong_axis = dp.distillation_loss(s.T, t.T, temperature=4.0)
    for wrong in (without_t2, wrong_axis):
        assert wrong != pytest.approx(expected, rel=1e-6)


# --------------------------------------------------------------------------- float16 and bfloat16

HALF_EDGES = [65504.0, 65519.0, 65520.0, 1e5, -1e5, 6.1e-5, 2.0 ** -24, 2.0 ** -25, 3 * 2.0 ** -26,
              1e-8, -1e-8, 0.0, 1.0, 1.0 + 2.0 ** -11, 1.0 + 3 * 2.0 ** -11, np.inf, -np.inf, np.nan]


@pytest.mark.parametrize("dtype", DTYPES, **DTYPE_IDS)
def test_to_float16_matches_torch_and_counts_what_was_lost(dtype):
    for x in (np.array(HALF_EDGES, dtype), random_inputs((4, 50), dtype, seed=0, scale=1e-6),
              random_inputs((3, 4), dtype, seed=1, scale=1e5)):
        before = x.copy()
        expected = torch_tensor(x).half()
        y, report = dp.to_float16(x)
        assert_matches(y, expected)
        finite = torch.isfinite(torch_tensor(x))
        assert report.overflow == int((torch.isinf(expected) & finite).sum())
        assert report.underflow == int(((expected == 0) & (torch_tensor(x) != 0)).sum())
        np.testing.assert_array_equal(x, before)
    y, report = dp.to_float16(np.array(HALF_EDGES))
    assert report == dp.Float16Report(overflow=3, underflow=3, subnormal=3)


def test_naive_overflow_count_is_rejected():
    x = np.array([65504.0, 65510.0, 65519.0, 65520.0])
    naive = int((np.abs(x) > dp.FLOAT16_MAX).sum())                # 65510 and 65519 round down
    assert naive != dp.to_float16(x)[1].overflow == int(torch.isinf(torch_tensor(x).half()).sum())


@pytest.mark.parametrize("dtype", DTYPES, **DTYPE_IDS)
def test_to_bfloat16_matches_torch(dtype):
    ties = np.float32(1.0) + np.float32(2.0 ** -8) * np.arange(8, dtype=np.float32)   # halfway cases
    for x in (np.array(HALF_EDGES + [3.39e38, 3.4e38, -3.4e38, 1e-40], dtype),
              ties.astype(dtype), random_inputs((5, 9), dtype, seed=2, scale=1e3)):
        expected = torch_tensor(x).bfloat16().float()
        assert_matches(dp.to_bfloat16(x), expected, what="bfloat16", rtol=0, atol=0)


def test_truncating_bfloat16_is_rejected():
    x = np.float32(1.0) + np.float32(2.0 ** -8) * np.arange(8, dtype=np.float32)
    truncated = (x.view(np.uint32) & np.uint32(0xFFFF0000)).view(np.float32)
    assert not np.array_equal(truncated, torch_tensor(x).bfloat16().float().numpy())


# --------------------------------------------------------------------------- dynamic loss scaling

def test_update_scale_follows_torch_amp_update_scale():
    found = [0, 0, 0, 1, 0, 0, 0, 0, 1, 1, 0, 0, 0]
    scale_t, tracker_t = torch.tensor([1024.0]), torch.tensor([0], dtype=torch.int32)
    scale, tracker = 1024.0, 0
    for flag in found:
        torch._amp_update_scale_(scale_t, tracker_t, torch.tensor([float(flag)]), 2.0, 0.5, 3)
        scale, tracker = dp.update_scale(scale, tracker, bool(flag), growth_interval=3)
        assert (scale, tracker) == (scale_t.item(), tracker_t.item())
    # a wrong rule that never resets the count of good steps after an overflow drifts away
    scale_t, tracker_t = torch.tensor([1024.0]), torch.tensor([0], dtype=torch.int32)
    wrong, good, history = 1024.0, 0, []
    for flag in found:
        torch._amp_update_scale_(scale_t, tracker_t, torch.tensor([float(flag)]), 2.0, 0.5, 3)
        wrong *= 0.5 if flag else 1.0
        good += 0 if flag else 1
        if not flag and good % 3 == 0:
            wrong *= 2.0
        history.append(wrong == scale_t.item())
    assert not all(history)


def test_unscale_grads_matches_torch_and_finds_infinities():
    grads = [random_inputs((3, 4), np.float32, seed=0, scale=1e3), random_inputs((5,), np.float32, seed=1)]
    for bad in (None, np.inf, np.nan):
        gs = [g.copy() for g in grads]
        if bad is not None:
            gs[1][2] = bad
        tensors = [torch_tensor(g) for g in gs]
        found_t = torch.zeros(1)
        torch._amp_foreach_non_finite_check_and_unscale_(tensors, found_t, torch.tensor([1.0 / 512]))
        out, found = dp.unscale_grads(gs, 512.0)
        assert found == bool(found_t.item())
        for ours, theirs in zip(out, tensors):
            assert_matches(ours, theirs, rtol=0, atol=0)


def test_grad_scaler_step_skipping_matches():
    """A GradScaler on CPU: overflowing steps are skipped and the scale halves, as our rule says."""
    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 10, growth_interval=2)
    scale, tracker = 2.0 ** 10, 0
    for step in range(6):
        optimizer.zero_grad()
        loss = model(torch.ones(2, 3)).sum() * (1e36 if step in (1, 4) else 1.0)
        scaler.scale(loss).backward()
        before = model.weight.detach().clone()
        scaler.step(optimizer)
        scaler.update()
        overflow = step in (1, 4)
        scale, tracker = dp.update_scale(scale, tracker, overflow, growth_interval=2)
        assert scaler.get_scale() == scale
        assert torch.equal(before, model.weight) == overflow, "skipped exactly when it overflowed"


# --------------------------------------------------------------------------- pruning

@pytest.mark.parametrize("dtype", DTYPES, **DTYPE_IDS)
@pytest.mark.parametrize("amount", (0.0, 0.25, 0.5, 0.9, 1.0, 3))
def test_magnitude_prune_mask_matches_l1_unstructured(dtype, amount):
    import torch.nn.utils.prune as prune

    for shape in ((10,), (4, 6), (2, 3, 2, 2)):
        w = random_inputs(shape, dtype, seed=sum(shape))
        before = w.copy()
        module = nn.Module()
        module.weight = nn.Parameter(torch_tensor(w))
        prune.l1_unstructured(module, "weight", amount=amount)
        assert_matches(dp.magnitude_prune_mask(w, amount), module.weight_mask, rtol=0, atol=0)
        np.testing.assert_array_equal(w, before)


def test_prune_count_rounds_half_to_even_not_up():
    w = np.arange(1.0, 11.0)                       # 10 entries, amount 0.25 -> round(2.5) = 2
    assert (dp.magnitude_prune_mask(w, 0.25) == 0).sum() == 2
    assert int(np.ceil(0.25 * 10)) != 2            # the wrong rule would prune 3


# --------------------------------------------------------------------------- ONNX export

@pytest.mark.filterwarnings("ignore:.*legacy TorchScript-based ONNX export:DeprecationWarning")
@pytest.mark.filterwarnings("ignore:The feature will be removed:DeprecationWarning")
def test_onnx_runtime_reproduces_a_small_cnn(tmp_path):
    """The TorchScript exporter (dynamo=False) is deprecated but needs no onnxscript and is fast;
    its two deprecation warnings are expected here."""
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Dropout(0.5), nn.Linear(4 * 14 * 14, 10))
    model(torch.randn(16, 1, 28, 28))                 # running statistics away from 0 and 1
    model.eval()
    path = tmp_path / "cnn.onnx"
    torch.onnx.export(model, (torch.zeros(1, 1, 28, 28),), str(path), input_names=["x"],
                      output_names=["logits"], dynamic_axes={"x": {0: "batch"}}, dynamo=False)
    onnx.checker.check_model(onnx.load(str(path)))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for n in (1, 7):
        x = random_inputs((n, 1, 28, 28), np.float32, seed=n)
        with torch.no_grad():
            expected = model(torch_tensor(x))
        (out,) = session.run(None, {"x": x})
        assert_matches(out, expected, rtol=1e-5, atol=1e-5)
    # the file holds the inference computation: the model run in training mode does not match it
    with torch.no_grad():
        train_out = model.train()(torch_tensor(x))
    assert not np.allclose(train_out.numpy(), out, atol=1e-3)
