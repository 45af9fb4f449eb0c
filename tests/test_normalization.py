"""The normalization reference implementations against PyTorch: values, autograd gradients
and running statistics (several steps of nn.BatchNorm1d/2d/3d)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nn_reference import normalization as nz
from oracle import DTYPES, assert_matches, random_inputs, torch_tensor

DTYPE_IDS = lambda d: np.dtype(d).name  # noqa: E731

#: Gradients and statistics are sums over many elements: allow for summation order.
SUM_TOL = {np.float32: dict(rtol=2e-5, atol=2e-5), np.float64: dict(rtol=1e-10, atol=1e-11)}

BN_SHAPES = [(8, 3), (1, 4, 5), (5, 3, 7), (4, 3, 5, 6), (2, 2, 3, 4, 5)]


def _params(c, dtype, seed):
    rng = np.random.default_rng(seed)
    return (rng.uniform(0.5, 1.5, c).astype(dtype), rng.normal(0, 0.5, c).astype(dtype))


def _torch_grads(fn, x, weight, bias, grad_output):
    tx = torch_tensor(x, requires_grad=True)
    tw = None if weight is None else torch_tensor(weight, requires_grad=True)
    tb = None if bias is None else torch_tensor(bias, requires_grad=True)
    y = fn(tx, tw, tb)
    y.backward(torch_tensor(grad_output))
    return y, tx.grad, None if tw is None else tw.grad, None if tb is None else tb.grad


# --------------------------------------------------------------------------- batch norm

@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("shape", BN_SHAPES, ids=str)
def test_batch_norm_training_forward_backward_and_running_stats(shape, dtype):
    c = shape[1]
    x = random_inputs(shape, dtype, seed=1, scale=3.0) + dtype(2.0)
    weight, bias = _params(c, dtype, seed=2)
    rm = np.linspace(-0.5, 0.5, c).astype(dtype)
    rv = np.linspace(0.5, 2.0, c).astype(dtype)
    g = random_inputs(shape, dtype, seed=3)
    before = [a.copy() for a in (x, weight, bias, rm, rv)]

    t_rm, t_rv = torch_tensor(rm), torch_tensor(rv)
    y, gx, gw, gb = _torch_grads(
        lambda t, w, b: F.batch_norm(t, t_rm, t_rv, w, b, training=True, momentum=0.1, eps=1e-5),
        x, weight, bias, g)

    out, new_rm, new_rv, cache = nz.batch_norm_forward(x, rm, rv, weight, bias, training=True)
    grad_x, grad_w, grad_b = nz.batch_norm_backward(g, cache)
    assert_matches(out, y, what=f"batch norm forward {shape}")
    assert_matches(new_rm, t_rm, what="running mean")
    assert_matches(new_rv, t_rv, what="running var (unbiased)")
    assert_matches(grad_x, gx, what="batch norm grad_input", **SUM_TOL[dtype])
    assert_matches(grad_w, gw, what="batch norm grad_weight", **SUM_TOL[dtype])
    assert_matches(grad_b, gb, what="batch norm grad_bias", **SUM_TOL[dtype])
    for a, b in zip((x, weight, bias, rm, rv), before):
        np.testing.assert_array_equal(a, b, err_msg="batch norm modified an input")


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("shape", BN_SHAPES, ids=str)
def test_batch_norm_inference_uses_running_stats_and_constant_stat_gradient(shape, dtype):
    c = shape[1]
    x = random_inputs(shape, dtype, seed=4, scale=2.0)
    weight, bias = _params(c, dtype, seed=5)
    rm = np.linspace(-1, 1, c).astype(dtype)
    rv = np.linspace(0.25, 3.0, c).astype(dtype)
    g = random_inputs(shape, dtype, seed=6)
    y, gx, gw, gb = _torch_grads(
        lambda t, w, b: F.batch_norm(t, torch_tensor(rm), torch_tensor(rv), w, b, training=False),
        x, weight, bias, g)
    out, new_rm, new_rv, cache = nz.batch_norm_forward(x, rm, rv, weight, bias, training=False)
    grads = nz.batch_norm_backward(g, cache)
    assert_matches(out, y, what="eval forward")
    np.testing.assert_array_equal(new_rm, rm)  # inference never updates
    np.testing.assert_array_equal(new_rv, rv)
    for ours, theirs, what in zip(grads, (gx, gw, gb), ("grad_input", "grad_weight", "grad_bias")):
        assert_matches(ours, theirs, what=f"eval {what}", **SUM_TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("module,shape", [
    (torch.nn.BatchNorm1d, (16, 4)), (torch.nn.BatchNorm1d, (6, 4, 9)),
    (torch.nn.BatchNorm2d, (5, 3, 4, 4)), (torch.nn.BatchNorm3d, (2, 3, 2, 3, 4)),
], ids=lambda v: getattr(v, "__name__", str(v)))
def test_running_stats_match_nn_modules_after_several_steps(module, shape, dtype):
    """Five training steps of the nn.Module, then eval(): the buffers and the eval output agree."""
    c = shape[1]
    layer = module(c, momentum=0.1).to(torch.float64 if dtype == np.float64 else torch.float32)
    rm, rv = np.zeros(c, dtype), np.ones(c, dtype)
    with torch.no_grad():
        for step in range(5):
            x = random_inputs(shape, dtype, seed=10 + step, scale=1.0 + step) + dtype(step)
            expected = layer.train()(torch_tensor(x))
            out, rm, rv, _ = nz.batch_norm_forward(x, rm, rv, training=True)
            assert_matches(out, expected, what=f"train output, step {step}")
        assert_matches(rm, layer.running_mean, what="running_mean after 5 steps")
        assert_matches(rv, layer.running_var, what="running_var after 5 steps")
        x = random_inputs(shape, dtype, seed=99)
        w = layer.weight.detach().numpy()
        b = layer.bias.detach().numpy()
        out, *_ = nz.batch_norm_forward(x, rm, rv, w, b, training=False)
        assert_matches(out, layer.eval()(torch_tensor(x)), what="eval output")


def test_update_running_stats_alone_matches_torch():
    x = random_inputs((7, 3, 2, 2), np.float64, seed=20)
    rm, rv = np.array([0.3, -0.2, 1.0]), np.array([1.5, 0.7, 2.0])
    t_rm, t_rv = torch_tensor(rm), torch_tensor(rv)
    F.batch_norm(torch_tensor(x), t_rm, t_rv, training=True, momentum=0.25)
    mean, var = nz.update_running_stats(rm, rv, x, momentum=0.25)
    assert_matches(mean, t_rm, what="running mean, momentum 0.25")
    assert_matches(var, t_rv, what="running var, momentum 0.25")


def test_plausible_running_stat_mistakes_would_fail():
    """The negative side: biased variance, momentum on the wrong term, wrong axes."""
    x = random_inputs((4, 3, 5, 5), np.float64, seed=21, scale=2.0)
    rm, rv = np.zeros(3), np.ones(3)
    t_rm, t_rv = torch_tensor(rm), torch_tensor(rv)
    F.batch_norm(torch_tensor(x), t_rm, t_rv, training=True)
    want_mean, want_var = t_rm.numpy(), t_rv.numpy()
    biased = 0.9 * rv + 0.1 * x.var(axis=(0, 2, 3))
    swapped = 0.1 * rm + 0.9 * x.mean(axis=(0, 2, 3))
    assert not np.allclose(biased, want_var, rtol=1e-6)
    assert not np.allclose(swapped, want_mean, rtol=1e-6)
    # statistics over the batch axis only differ for the variance (the mean is the same)
    var_batch_axis_only = 0.9 * rv + 0.1 * x.var(axis=0, ddof=1).mean(axis=(1, 2))
    assert not np.allclose(var_batch_axis_only, want_var, rtol=1e-6)
    # statistics per sample (over C, H, W) instead of per channel: wrong shape altogether
    assert x.mean(axis=(1, 2, 3)).shape != want_mean.shape


def test_plausible_forward_and_backward_mistakes_would_fail():
    x = random_inputs((6, 3, 2, 2), np.float64, seed=22, scale=0.01)  # tiny variance: eps matters
    y = F.batch_norm(torch_tensor(x), None, None, training=True, eps=1e-3).numpy()
    mu, var = x.mean(axis=(0, 2, 3), keepdims=True), x.var(axis=(0, 2, 3), keepdims=True)
    eps_outside = (x - mu) / (np.sqrt(var) + 1e-3)
    assert np.abs(eps_outside - y).max() > 1e-2
    # backward without the mean and variance paths: only g / sigma
    g = random_inputs(x.shape, np.float64, seed=23)
    tx = torch_tensor(x, requires_grad=True)
    F.batch_norm(tx, None, None, training=True).backward(torch_tensor(g))
    naive = g / np.sqrt(var + 1e-5)
    assert np.abs(naive - tx.grad.numpy()).max() > 1e-1 * np.abs(naive).max()
    _, cache = nz.batch_norm_forward(x, training=True)[::3]
    assert_matches(nz.batch_norm_backward(g, cache)[0], tx.grad, **SUM_TOL[np.float64])


def test_batch_norm_without_affine_and_without_running_stats():
    x = random_inputs((5, 4), np.float32, seed=24)
    out, rm, rv, cache = nz.batch_norm_forward(x, training=True)
    assert rm is None and rv is None
    assert_matches(out, F.batch_norm(torch_tensor(x), None, None, training=True))
    grad_x, grad_w, grad_b = nz.batch_norm_backward(np.ones_like(x), cache)
    assert grad_w is None and grad_b.shape == (4,)
    assert_matches(grad_x, np.zeros_like(x), atol=1e-6)  # a sum of normalized values is constant


def test_batch_norm_rejects_one_value_per_channel_in_training():
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nz.batch_norm_forward(np.ones((1, 3)), np.zeros(3), np.ones(3), training=True)
    with pytest.raises(ValueError):
        F.batch_norm(torch.ones(1, 3), torch.zeros(3), torch.ones(3), training=True)
    # in inference mode a single example is fine
    out, *_ = nz.batch_norm_forward(np.ones((1, 3)), np.zeros(3), np.ones(3), training=False)
    assert out.shape == (1, 3)


def test_constant_channel_and_large_magnitudes():
    x = np.full((4, 2, 3), 7.0)
    x[:, 1] = random_inputs((4, 3), np.float64, seed=25, scale=1e4)
    out, *_ = nz.batch_norm_forward(x, training=True)
    assert_matches(out, F.batch_norm(torch_tensor(x), None, None, training=True))
    np.testing.assert_array_equal(out[:, 0], 0.0)  # a constant channel maps to beta = 0


def test_int_input_is_promoted_and_running_stats_keep_their_dtype():
    out, rm, rv, _ = nz.batch_norm_forward(np.arange(12).reshape(4, 3), np.zeros(3, np.float32),
                                           np.ones(3, np.float32), training=True)
    assert out.dtype == np.float64 and rm.dtype == np.float32 and rv.dtype == np.float32


# --------------------------------------------------------------------------- layer norm

@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("shape,normalized_shape", [
    ((4, 10), (10,)), ((1, 6), (6,)), ((3, 5, 8), (8,)), ((2, 3, 4, 5), (4, 5)), ((2, 3, 4, 5), (3, 4, 5)),
], ids=str)
@pytest.mark.parametrize("affine", [True, False], ids=["affine", "plain"])
def test_layer_norm_matches_torch(shape, normalized_shape, affine, dtype):
    rng = np.random.default_rng(30)
    x = random_inputs(shape, dtype, seed=31, scale=4.0)
    weight = rng.uniform(0.5, 1.5, normalized_shape).astype(dtype) if affine else None
    bias = rng.normal(0, 1, normalized_shape).astype(dtype) if affine else None
    g = random_inputs(shape, dtype, seed=32)
    y, gx, gw, gb = _torch_grads(lambda t, w, b: F.layer_norm(t, normalized_shape, w, b), x, weight, bias, g)
    out, cache = nz.layer_norm_forward(x, normalized_shape, weight, bias)
    grad_x, grad_w, grad_b = nz.layer_norm_backward(g, cache)
    assert_matches(out, y, what="layer norm forward")
    assert_matches(grad_x, gx, what="layer norm grad_input", **SUM_TOL[dtype])
    if affine:
        assert_matches(grad_w, gw, what="layer norm grad_weight", **SUM_TOL[dtype])
        assert_matches(grad_b, gb, what="layer norm grad_bias", **SUM_TOL[dtype])


def test_layer_norm_accepts_an_int_and_rejects_a_mismatch():
    x = random_inputs((3, 7), np.float64, seed=33)
    out, _ = nz.layer_norm_forward(x, 7)
    assert_matches(out, F.layer_norm(torch_tensor(x), (7,)))
    with pytest.raises(ValueError, match="normalized_shape"):
        nz.layer_norm_forward(x, (5,))


def test_layer_norm_uses_the_biased_variance():
    x = random_inputs((2, 5), np.float64, seed=34)
    unbiased = (x - x.mean(1, keepdims=True)) / np.sqrt(x.var(1, ddof=1, keepdims=True) + 1e-5)
    expected = F.layer_norm(torch_tensor(x), (5,)).numpy()
    assert not np.allclose(unbiased, expected, rtol=1e-3)
    assert_matches(nz.layer_norm_forward(x, 5)[0], expected)


# --------------------------------------------------------------------------- group and instance norm

@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("shape,groups", [
    ((4, 6, 5, 5), 3), ((1, 6, 4, 4), 2), ((2, 4, 3, 3), 1), ((2, 4, 3, 3), 4), ((3, 8, 7), 4), ((5, 12), 3),
    ((2, 4, 2, 3, 2), 2),
], ids=str)
def test_group_norm_matches_torch(shape, groups, dtype):
    c = shape[1]
    x = random_inputs(shape, dtype, seed=40, scale=3.0) + dtype(1.0)
    weight, bias = _params(c, dtype, seed=41)
    g = random_inputs(shape, dtype, seed=42)
    y, gx, gw, gb = _torch_grads(lambda t, w, b: F.group_norm(t, groups, w, b), x, weight, bias, g)
    out, cache = nz.group_norm_forward(x, groups, weight, bias)
    grad_x, grad_w, grad_b = nz.group_norm_backward(g, cache)
    assert_matches(out, y, what=f"group norm forward {shape}, G={groups}")
    assert_matches(grad_x, gx, what="group norm grad_input", **SUM_TOL[dtype])
    assert_matches(grad_w, gw, what="group norm grad_weight", **SUM_TOL[dtype])
    assert_matches(grad_b, gb, what="group norm grad_bias", **SUM_TOL[dtype])


def test_group_norm_rejects_indivisible_channels():
    with pytest.raises(ValueError, match="groups"):
        nz.group_norm_forward(np.ones((2, 6, 3)), 4)


def test_group_norm_with_wrong_group_layout_would_fail():
    """Groups are *consecutive* channels; interleaving them (c % G) is a plausible mistake."""
    x = random_inputs((2, 6, 3, 3), np.float64, seed=43) * np.arange(1, 7).reshape(1, 6, 1, 1)
    expected = F.group_norm(torch_tensor(x), 2).numpy()
    interleaved = x.reshape(2, 3, 2, 3, 3).transpose(0, 2, 1, 3, 4).reshape(2, 2, -1)
    xh = (interleaved - interleaved.mean(-1, keepdims=True)) / np.sqrt(interleaved.var(-1, keepdims=True) + 1e-5)
    wrong = xh.reshape(2, 2, 3, 3, 3).transpose(0, 2, 1, 3, 4).reshape(x.shape)
    assert np.abs(wrong - expected).max() > 1e-2
    assert_matches(nz.group_norm_forward(x, 2)[0], expected)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("shape", [(3, 4, 6), (2, 3, 5, 5), (1, 2, 4, 4), (2, 2, 2, 3, 3)], ids=str)
@pytest.mark.parametrize("affine", [True, False], ids=["affine", "plain"])
def test_instance_norm_matches_torch(shape, affine, dtype):
    c = shape[1]
    x = random_inputs(shape, dtype, seed=50, scale=2.0)
    weight, bias = _params(c, dtype, seed=51) if affine else (None, None)
    g = random_inputs(shape, dtype, seed=52)
    y, gx, gw, gb = _torch_grads(lambda t, w, b: F.instance_norm(t, weight=w, bias=b), x, weight, bias, g)
    out, cache = nz.instance_norm_forward(x, weight, bias)
    grad_x, grad_w, grad_b = nz.instance_norm_backward(g, cache)
    assert_matches(out, y, what="instance norm forward")
    assert_matches(grad_x, gx, what="instance norm grad_input", **SUM_TOL[dtype])
    if affine:
        assert_matches(grad_w, gw, what="instance norm grad_weight", **SUM_TOL[dtype])
        assert_matches(grad_b, gb, what="instance norm grad_bias", **SUM_TOL[dtype])


def test_instance_norm_module_defaults_agree():
    x = random_inputs((2, 3, 4, 4), np.float32, seed=53)
    module = torch.nn.InstanceNorm2d(3)  # affine=False, track_running_stats=False
    assert_matches(nz.instance_norm_forward(x)[0], module(torch_tensor(x)))
    with pytest.raises(ValueError):
        nz.instance_norm_forward(np.ones((2, 3)))


# --------------------------------------------------------------------------- deployment

@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_fused_batch_norm_equals_linear_then_eval_batch_norm(dtype):
    torch.manual_seed(0)
    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    model = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.BatchNorm1d(4)).to(tdtype)
    with torch.no_grad():
        for seed in range(3):
            model.train()(torch_tensor(random_inputs((16, 5), dtype, seed=seed, scale=2.0)))
        model[1].weight.uniform_(0.5, 2.0)
        model[1].bias.uniform_(-1, 1)
        x = random_inputs((6, 5), dtype, seed=60)
        expected = model.eval()(torch_tensor(x)).numpy()
    lin, bn = model
    w, b = nz.fuse_batch_norm(lin.weight.detach().numpy(), lin.bias.detach().numpy(),
                              bn.running_mean.numpy(), bn.running_var.numpy(),
                              bn.weight.detach().numpy(), bn.bias.detach().numpy(), bn.eps)
    assert w.dtype == dtype and b.dtype == dtype
    assert_matches(x @ w.T + b, expected, what="fused layer", **SUM_TOL[dtype])



# --------------------------------------------------------------------------- edge behavior

def test_fuse_batch_norm_without_affine_parameters_is_finite_and_exact():
    """Batch norm with affine=False has weight = bias = None; fusing must use gamma = 1, beta = 0
    (it used to turn each None into NaN)."""
    torch.manual_seed(1)
    model = torch.nn.Sequential(torch.nn.Linear(5, 4, bias=False),
                                torch.nn.BatchNorm1d(4, affine=False)).double()
    with torch.no_grad():
        for seed in range(3):
            model.train()(torch_tensor(random_inputs((16, 5), np.float64, seed=seed, scale=2.0)))
        x = random_inputs((6, 5), np.float64, seed=61)
        expected = model.eval()(torch_tensor(x)).numpy()
    lin, bn = model
    assert bn.weight is None and bn.bias is None
    w, b = nz.fuse_batch_norm(lin.weight.detach().numpy(), None, bn.running_mean.numpy(),
                              bn.running_var.numpy(), None, None, bn.eps)
    assert np.isfinite(w).all() and np.isfinite(b).all()
    assert_matches(x @ w.T + b, expected, what="fused affine=False layer", **SUM_TOL[np.float64])


def test_inference_without_running_stats_raises_like_torch():
    x = random_inputs((4, 3), np.float64, seed=70)
    with pytest.raises(RuntimeError, match="running_mean"):
        F.batch_norm(torch_tensor(x), None, None, training=False)
    with pytest.raises(RuntimeError, match="running_mean"):
        nz.batch_norm_forward(x, training=False)
    with pytest.raises(RuntimeError, match="running_mean"):
        nz.batch_norm_forward(x, np.zeros(3), None, training=False)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_momentum_none_is_the_cumulative_average_of_nn_batchnorm(dtype):
    module = torch.nn.BatchNorm2d(3, momentum=None).to(torch.float64 if dtype == np.float64 else torch.float32)
    rm, rv = np.zeros(3, dtype), np.ones(3, dtype)
    batches = [random_inputs((4, 3, 2, 5), dtype, seed=80 + k, scale=1.0 + k) for k in range(4)]
    for k, x in enumerate(batches):
        module.train()(torch_tensor(x))
        out, rm, rv, _ = nz.batch_norm_forward(x, rm, rv, training=True, momentum=None,
                                               num_batches_tracked=k)
        assert_matches(rm, module.running_mean, what=f"running mean after batch {k + 1}", **SUM_TOL[dtype])
        assert_matches(rv, module.running_var, what=f"running var after batch {k + 1}", **SUM_TOL[dtype])
    # the cumulative average forgets the initial (0, 1) entirely: the plain mean of the batches
    x64 = [b.astype(np.float64) for b in batches]
    np.testing.assert_allclose(rm, np.mean([b.mean(axis=(0, 2, 3)) for b in x64], axis=0),
                               rtol=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("shape", [(0, 4), (0, 4, 3), (0, 4, 2, 3)], ids=str)
def test_zero_size_batch_matches_torch(shape):
    x = np.zeros(shape)
    weight, bias = _params(4, np.float64, 90)
    g = np.zeros(shape)
    rm, rv = np.full(4, 0.5), np.full(4, 2.0)
    out, new_rm, new_rv, cache = nz.batch_norm_forward(x, rm, rv, weight, bias, training=True)
    assert out.shape == shape
    np.testing.assert_array_equal(new_rm, rm)  # PyTorch leaves the statistics unchanged too
    np.testing.assert_array_equal(new_rv, rv)
    grads = nz.batch_norm_backward(g, cache)
    _, tgx, tgw, tgb = _torch_grads(lambda t, w, b: F.batch_norm(t, torch_tensor(rm), torch_tensor(rv),
                                                                 w, b, training=True), x, weight, bias, g)
    for ours, theirs in zip(grads, (tgx, tgw, tgb)):
        assert_matches(ours, theirs)
    if len(shape) >= 3:
        for forward, backward, fn in [
            (lambda t: nz.group_norm_forward(t, 2, weight, bias), nz.group_norm_backward,
             lambda t, w, b: F.group_norm(t, 2, w, b)),
            (lambda t: nz.instance_norm_forward(t, weight, bias), nz.instance_norm_backward,
             # F.instance_norm itself fails on an empty batch with affine parameters
             # (IndexError in torch 2.13); instance norm is group norm with G = C
             lambda t, w, b: F.group_norm(t, 4, w, b)),
        ]:
            out, cache = forward(x)
            y, tgx, tgw, tgb = _torch_grads(fn, x, weight, bias, g)
            assert_matches(out, y)
            for ours, theirs in zip(backward(g, cache), (tgx, tgw, tgb)):
                assert_matches(ours, theirs)
        assert_matches(nz.instance_norm_forward(x)[0], F.instance_norm(torch_tensor(x)))


# --------------------------------------------------------------------------- PyTorch's samples

from torch_samples import grad_output_like, op_samples, operator, sample_id  # noqa: E402


def _np(t):
    return None if t is None else t.detach().clone().numpy()


def _leaf(t):
    return None if t is None else t.detach().clone().requires_grad_(True)


def _norm_cases(name):
    for dtype in (torch.float32, torch.float64):
        for k, sample in enumerate(op_samples(name, dtype)):
            yield pytest.param(sample, id=f"{str(dtype)[6:]}-{k}-{sample_id(sample)}")


def _compare_with_torch(torch_call, ours_call, x, params, case):
    """Run PyTorch (forward and backward); if it raises, ours must raise too; else compare
    output and the gradients of the input and of each parameter that is not None.

    Our statistics are computed in float64 whatever the input's dtype, so a float32 sample is
    compared with PyTorch run in float64 and rounded to float32: PyTorch's own float32 kernels
    differ from exact results by round-off times 1/sqrt(eps), up to 1e-4 for one-element groups.
    """
    dtype = x.dtype
    x = x.double()
    params = [None if p is None else p.double() for p in params]
    tx = _leaf(x)
    tparams = [_leaf(p) for p in params]
    try:
        y = torch_call(tx, *tparams)
    except (RuntimeError, ValueError, IndexError) as err:
        with pytest.raises((RuntimeError, ValueError, IndexError)):
            ours_call(_np(x.to(dtype)), *[None if p is None else _np(p.to(dtype)) for p in params])
        return None
    g = grad_output_like(y).to(dtype)
    y.backward(g.double())
    as_input = (lambda a: None if a is None else _np(a.to(dtype)))
    out, backward = ours_call(as_input(x), *[as_input(p) for p in params])
    tol = SUM_TOL[np.float32 if dtype == torch.float32 else np.float64]
    assert_matches(out, y.detach().to(dtype), what=f"{case} forward", **tol)
    grads = backward(g.numpy())
    assert_matches(grads[0], tx.grad.to(dtype), what=f"{case} input gradient", **tol)
    for name, ours, theirs in zip(("weight", "bias"), grads[1:], tparams):
        if theirs is not None:
            assert_matches(ours, theirs.grad.to(dtype), what=f"{case} {name} gradient", **tol)
    return out


@pytest.mark.parametrize("sample", list(_norm_cases("nn.functional.batch_norm")))
def test_batch_norm_on_pytorch_opinfo_samples(sample):
    """Zero-size, (N, C) with C = 1, negative momentum, eps = 0.6, inference without
    running statistics... PyTorch's own samples, including its running-statistics update."""
    x, args, kwargs = sample
    running_mean, running_var, weight, bias = (list(args) + [None] * 4)[:4]
    training = kwargs.get("training", False)
    momentum, eps = kwargs.get("momentum", 0.1), kwargs.get("eps", 1e-5)
    if x.ndim < 2:
        # Deliberate difference: PyTorch accepts a 1-D input only when it is empty (reading
        # "no channel axis" as zero channels) and rejects every other 1-D input; we reject
        # all 1-D input with a message that names the expected layout (N, C, *).
        with pytest.raises(ValueError, match=r"\(N, C, \*\)"):
            nz.batch_norm_forward(_np(x), _np(running_mean), _np(running_var), training=training)
        return
    t_rm = None if running_mean is None else running_mean.clone().double()
    t_rv = None if running_var is None else running_var.clone().double()
    result = {}

    def ours(xn, w, b):
        r = nz.batch_norm_forward(xn, _np(running_mean), _np(running_var), w, b, training=training,
                                  momentum=momentum, eps=eps)
        result["stats"] = r.running_mean, r.running_var
        return r.out, lambda g: nz.batch_norm_backward(g, r.cache)

    out = _compare_with_torch(
        lambda tx, w, b: F.batch_norm(tx, t_rm, t_rv, w, b, training=training, momentum=momentum, eps=eps),
        ours, x, [weight, bias], "batch_norm")
    if out is not None and t_rm is not None:
        tol = SUM_TOL[np.float32 if x.dtype == torch.float32 else np.float64]
        assert_matches(result["stats"][0], t_rm.to(x.dtype), what="running mean", **tol)
        assert_matches(result["stats"][1], t_rv.to(x.dtype), what="running var", **tol)


@pytest.mark.parametrize("sample", list(_norm_cases("nn.functional.layer_norm")))
def test_layer_norm_on_pytorch_opinfo_samples(sample):
    x, args, kwargs = sample
    normalized_shape, weight, bias = (list(args) + [None] * 3)[:3]

    def ours(xn, w, b):
        out, cache = nz.layer_norm_forward(xn, normalized_shape, w, b, **kwargs)
        return out, lambda g: nz.layer_norm_backward(g, cache)

    _compare_with_torch(lambda tx, w, b: F.layer_norm(tx, normalized_shape, w, b, **kwargs),
                        ours, x, [weight, bias], "layer_norm")


@pytest.mark.parametrize("sample", list(_norm_cases("nn.functional.group_norm")))
def test_group_norm_on_pytorch_opinfo_samples(sample):
    x, args, kwargs = sample
    (num_groups,) = args
    weight, bias, eps = kwargs.get("weight"), kwargs.get("bias"), kwargs.get("eps", 1e-5)

    def ours(xn, w, b):
        out, cache = nz.group_norm_forward(xn, num_groups, w, b, eps)
        return out, lambda g: nz.group_norm_backward(g, cache)

    _compare_with_torch(lambda tx, w, b: F.group_norm(tx, num_groups, w, b, eps),
                        ours, x, [weight, bias], "group_norm")


@pytest.mark.parametrize("sample", list(_norm_cases("nn.functional.instance_norm")))
def test_instance_norm_on_pytorch_opinfo_samples(sample):
    """Instance norm with input statistics (our function keeps no running statistics, so the
    samples' running_mean/var only matter to PyTorch's in-place update, not to the output)."""
    x, args, kwargs = sample
    assert kwargs.get("use_input_stats", True)
    weight, bias, eps = kwargs.get("weight"), kwargs.get("bias"), kwargs.get("eps", 1e-5)
    rest = {k: (v.clone() if torch.is_tensor(v) else v) for k, v in kwargs.items()
            if k in ("running_mean", "running_var", "momentum", "use_input_stats")}

    def ours(xn, w, b):
        out, cache = nz.instance_norm_forward(xn, w, b, eps)
        return out, lambda g: nz.instance_norm_backward(g, cache)

    _compare_with_torch(lambda tx, w, b: F.instance_norm(tx, weight=w, bias=b, eps=eps, **rest),
                        ours, x, [weight, bias], "instance_norm")


# --------------------------------------------------------------------------- RMS norm

@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("shape,normalized_shape", [((4, 7), (7,)), ((2, 5, 8), (8,)), ((3, 4, 5), (4, 5)),
                                                    ((1, 6), (6,))], ids=str)
@pytest.mark.parametrize("affine", [True, False], ids=["affine", "plain"])
@pytest.mark.parametrize("eps", [None, 1e-6], ids=["eps_default", "eps_1e-6"])
def test_rms_norm_matches_torch_module(shape, normalized_shape, affine, eps, dtype):
    x = random_inputs(shape, dtype, seed=101, scale=3.0)
    g = random_inputs(shape, dtype, seed=102, scale=1.0)
    module = torch.nn.RMSNorm(normalized_shape, eps=eps, elementwise_affine=affine,
                              dtype=torch.float64 if dtype == np.float64 else torch.float32)
    weight = None
    if affine:
        with torch.no_grad():
            module.weight.uniform_(0.5, 1.5, generator=torch.Generator().manual_seed(3))
        weight = module.weight.detach().numpy().copy()
    tx = torch_tensor(x, requires_grad=True)
    y = module(tx)
    y.backward(torch_tensor(g))
    out, cache = nz.rms_norm_forward(x, normalized_shape, weight, eps)
    grad_x, grad_w = nz.rms_norm_backward(g, cache)
    assert_matches(out, y, what="rms norm forward", **SUM_TOL[dtype])
    assert_matches(grad_x, tx.grad, what="rms norm input gradient", **SUM_TOL[dtype])
    if affine:
        assert_matches(grad_w, module.weight.grad, what="rms norm weight gradient", **SUM_TOL[dtype])
    else:
        assert grad_w is None


def test_rms_norm_is_not_layer_norm_unless_the_mean_is_zero():
    x = random_inputs((5, 6), np.float64, seed=103) + 2.0
    rms, _ = nz.rms_norm_forward(x, 6, eps=1e-5)
    ln, _ = nz.layer_norm_forward(x, 6, eps=1e-5)
    assert np.abs(rms - ln).max() > 0.1
    centered = x - x.mean(axis=1, keepdims=True)
    np.testing.assert_allclose(nz.rms_norm_forward(centered, 6, eps=1e-5)[0],
                               nz.layer_norm_forward(centered, 6, eps=1e-5)[0], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("sample", list(_norm_cases("nn.functional.rms_norm")))
def test_rms_norm_on_pytorch_opinfo_samples(sample):
    x, args, kwargs = sample
    normalized_shape, weight = (list(args) + [None] * 2)[:2]
    eps = kwargs.get("eps")

    def ours(xn, w):
        out, cache = nz.rms_norm_forward(xn, normalized_shape, w, eps)
        return out, lambda g: nz.rms_norm_backward(g, cache)

    _compare_with_torch(lambda tx, w: F.rms_norm(tx, normalized_shape, w, eps),
                        ours, x, [weight], "rms_norm")
