"""The dropout reference implementations against PyTorch.

Random masks cannot match PyTorch's generator bit for bit, so we test in two ways:

* **same mask**: we run PyTorch's own layer with a fixed seed, read its mask off (the same
  seed applied to a tensor of ones), give that mask to our layer and compare values and
  autograd gradients;
* **statistics**: with our own generator, the dropped fraction lies inside a binomial
  confidence interval, the expectation of the output equals the input, and inference mode
  is the identity.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nn_reference import dropout as dr
from oracle import DTYPES, assert_matches, random_inputs, torch_tensor

P_VALUES = (0.0, 0.1, 0.5, 0.9, 1.0)
SHAPES = ((7,), (4, 5, 3), (1, 6))
DTYPE_IDS = dict(ids=lambda d: np.dtype(d).name)


def torch_run(layer, x: np.ndarray, grad_output: np.ndarray, p: float, seed: int, **kwargs):
    """PyTorch's output, input gradient and keep mask for ``layer(x, p)`` under ``seed``."""
    t = torch_tensor(x, requires_grad=True)
    torch.manual_seed(seed)
    y = layer(t, p, **kwargs)
    y.backward(torch_tensor(grad_output))
    torch.manual_seed(seed)  # the same seed draws the same mask for a tensor of ones
    mask = (layer(torch.ones_like(t), p, **kwargs) != 0).numpy()
    return y, t.grad, mask


def within_binomial_interval(dropped: int, n: int, p: float, z: float = 5.0) -> bool:
    """``dropped`` out of ``n`` is within ``z`` standard deviations of ``n p``."""
    return abs(dropped - n * p) <= z * np.sqrt(n * p * (1 - p)) + 1e-9


# --------------------------------------------------------------------------- same mask

@pytest.mark.parametrize("dtype", DTYPES, **DTYPE_IDS)
@pytest.mark.parametrize("p", P_VALUES)
def test_dropout_matches_torch_given_the_same_mask(dtype, p):
    for i, shape in enumerate(SHAPES):
        x = random_inputs(shape, dtype, seed=i, scale=3.0)
        g = random_inputs(shape, dtype, seed=10 + i)
        x_before = x.copy()
        y_t, dx_t, mask = torch_run(F.dropout, x, g, p, seed=100 + i)
        y, cache = dr.dropout_forward(x, p, mask=mask)
        assert_matches(y, y_t, what=f"dropout p={p} forward {shape}")
        assert_matches(dr.dropout_backward(g, cache), dx_t, what=f"dropout p={p} backward {shape}")
        np.testing.assert_array_equal(x, x_before, err_msg="dropout modified its input")


@pytest.mark.parametrize("dtype", DTYPES, **DTYPE_IDS)
def test_inference_mode_is_the_identity_like_torch_eval(dtype):
    x = random_inputs((5, 4), dtype, seed=3)
    g = random_inputs((5, 4), dtype, seed=4)
    layer = torch.nn.Dropout(p=0.5).eval()
    t = torch_tensor(x, requires_grad=True)
    y_t = layer(t)
    y_t.backward(torch_tensor(g))
    y, cache = dr.dropout_forward(x, 0.5, training=False)
    assert_matches(y, y_t, what="eval forward")
    assert_matches(dr.dropout_backward(g, cache), t.grad, what="eval backward")
    assert y is not x, "inference mode should return a new array, not the input itself"


@pytest.mark.parametrize("dtype", DTYPES, **DTYPE_IDS)
@pytest.mark.parametrize("p", (0.2, 0.5, 1.0))
def test_channel_dropout_matches_torch_dropout2d(dtype, p):
    for i, shape in enumerate(((2, 3, 4, 5), (1, 8, 2, 2))):
        x = random_inputs(shape, dtype, seed=20 + i)
        g = random_inputs(shape, dtype, seed=30 + i)
        y_t, dx_t, full_mask = torch_run(F.dropout2d, x, g, p, seed=200 + i)
        mask = full_mask[:, :, :1, :1]
        assert (full_mask == mask).all(), "PyTorch's dropout2d mask is constant per channel"
        y, cache = dr.dropout2d_forward(x, p, mask=mask)
        assert_matches(y, y_t, what=f"dropout2d p={p} forward {shape}")
        assert_matches(dr.dropout_backward(g, cache), dx_t, what=f"dropout2d p={p} backward")


@pytest.mark.parametrize("dtype", DTYPES, **DTYPE_IDS)
@pytest.mark.parametrize("p", (0.3, 0.7))
@pytest.mark.parametrize("bias", (True, False))
def test_dropconnect_matches_torch_linear_with_dropped_weights(dtype, p, bias):
    x = random_inputs((6, 5), dtype, seed=40)
    w = random_inputs((4, 5), dtype, seed=41)
    b = random_inputs((4,), dtype, seed=42) if bias else None
    g = random_inputs((6, 4), dtype, seed=43)
    tx, tw = torch_tensor(x, requires_grad=True), torch_tensor(w, requires_grad=True)
    tb = torch_tensor(b, requires_grad=True) if bias else None
    torch.manual_seed(7)
    y_t = F.linear(tx, F.dropout(tw, p), tb)
    y_t.backward(torch_tensor(g))
    torch.manual_seed(7)
    mask = (F.dropout(torch.ones_like(tw), p) != 0).numpy()

    y, cache = dr.dropconnect_linear_forward(x, w, b, p, mask=mask)
    dx, dw, db = dr.dropconnect_linear_backward(g, cache)
    sums = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else {}  # matmul summation order
    assert_matches(y, y_t, what="dropconnect forward", **sums)
    assert_matches(dx, tx.grad, what="dropconnect dx", **sums)
    assert_matches(dw, tw.grad, what="dropconnect dW", **sums)
    if bias:
        assert_matches(db, tb.grad, what="dropconnect db", **sums)
    else:
        assert db is None
    # Inference: the plain linear layer.
    y_eval, _ = dr.dropconnect_linear_forward(x, w, b, p, training=False)
    assert_matches(y_eval, F.linear(tx, tw, tb), what="dropconnect eval", **sums)


@pytest.mark.parametrize("dtype", DTYPES, **DTYPE_IDS)
def test_drop_path_matches_the_torch_formula_and_skips_whole_samples(dtype):
    # torchvision.ops.stochastic_depth(mode="row") is x * bernoulli(1-p, shape (N,1,..)) / (1-p);
    # torchvision is not installed, so we write that formula in torch and use its autograd.
    p = 0.25
    x = random_inputs((6, 3, 2, 2), dtype, seed=50)
    branch = random_inputs((6, 3, 2, 2), dtype, seed=51)
    g = random_inputs((6, 3, 2, 2), dtype, seed=52)
    mask = np.array([True, False, True, True, False, True]).reshape(6, 1, 1, 1)
    tb = torch_tensor(branch, requires_grad=True)
    y_t = torch_tensor(x) + tb * torch_tensor(mask.astype(dtype)) / (1 - p)
    y_t.backward(torch_tensor(g))
    dropped, cache = dr.drop_path_forward(branch, p, mask=mask)
    assert_matches(x + dropped, y_t, what="residual block with drop path")
    assert_matches(dr.dropout_backward(g, cache), tb.grad, what="drop path backward")
    np.testing.assert_array_equal((x + dropped)[[1, 4]], x[[1, 4]])  # dropped: the identity


# --------------------------------------------------------------------------- edge cases

def test_p_one_gives_zeros_not_nan_like_torch():
    x = np.array([1.0, -2.0, 3.0])
    y, cache = dr.dropout_forward(x, 1.0, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(y, torch.nn.functional.dropout(torch_tensor(x), 1.0).numpy())
    np.testing.assert_array_equal(dr.dropout_backward(np.ones(3), cache), np.zeros(3))


@pytest.mark.parametrize("p", (-0.1, 1.5))
def test_probability_outside_0_1_is_rejected_like_torch(p):
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.dropout(torch.ones(3), p)
    with pytest.raises(ValueError, match="between 0 and 1"):
        dr.dropout_forward(np.ones(3), p, rng=np.random.default_rng(0))


def test_training_needs_a_generator_or_a_mask():
    with pytest.raises(ValueError, match="rng"):
        dr.dropout_forward(np.ones(3), 0.5)


def test_integer_input_is_promoted_and_float32_is_kept():
    y, _ = dr.dropout_forward(np.array([1, 2]), 0.5, mask=np.array([True, False]))
    assert y.dtype == np.float64
    np.testing.assert_array_equal(y, [2.0, 0.0])
    y32, _ = dr.dropout_forward(np.ones(4, np.float32), 0.3, rng=np.random.default_rng(0))
    assert y32.dtype == np.float32


def test_the_generator_makes_the_mask_reproducible():
    a, _ = dr.dropout_forward(np.ones(100), 0.5, rng=np.random.default_rng(3))
    b, _ = dr.dropout_forward(np.ones(100), 0.5, rng=np.random.default_rng(3))
    c, _ = dr.dropout_forward(np.ones(100), 0.5, rng=np.random.default_rng(4))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


# --------------------------------------------------------------------------- statistics

@pytest.mark.parametrize("p", (0.1, 0.3, 0.5, 0.8))
def test_dropped_fraction_is_within_a_binomial_interval_like_torch(p):
    n = 200_000
    ours = dr.keep_mask(n, p, np.random.default_rng(int(p * 100)))
    torch.manual_seed(int(p * 100))
    theirs = F.dropout(torch.ones(n, dtype=torch.float64), p) != 0
    assert within_binomial_interval(int((~ours).sum()), n, p), "our dropped fraction"
    assert within_binomial_interval(int((~theirs).sum()), n, p), "PyTorch's p is the drop probability"


def test_channel_and_sample_masks_drop_whole_units_at_rate_p():
    p, rng = 0.3, np.random.default_rng(5)
    x = np.ones((500, 40, 3, 3))
    y, _ = dr.dropout2d_forward(x, p, rng=rng)
    per_channel = y.reshape(500, 40, 9)
    assert (per_channel.min(axis=2) == per_channel.max(axis=2)).all(), "one draw per channel"
    assert within_binomial_interval(int((per_channel[..., 0] == 0).sum()), 500 * 40, p)
    z, _ = dr.drop_path_forward(x, p, rng=rng)
    per_sample = z.reshape(500, -1)
    assert (per_sample.min(axis=1) == per_sample.max(axis=1)).all(), "one draw per sample"
    assert within_binomial_interval(int((per_sample[:, 0] == 0).sum()), 500, p)


@pytest.mark.parametrize("p", (0.2, 0.5, 0.8))
def test_expectation_is_preserved_in_training_mode(p):
    """E[y] = x: the mean over T draws is within 5 standard errors of x."""
    x = random_inputs((50,), np.float64, seed=60, scale=2.0)
    rng, draws = np.random.default_rng(61), 4000
    mean = np.mean([dr.dropout_forward(x, p, rng=rng)[0] for _ in range(draws)], axis=0)
    standard_error = np.abs(x) * np.sqrt(p / (1 - p) / draws)
    assert (np.abs(mean - x) <= 5 * standard_error + 1e-12).all()


def test_mc_dropout_mean_and_variance_match_their_expected_values():
    p, x = 0.5, random_inputs((20,), np.float64, seed=70)

    def forward(inp, rng):
        return dr.dropout_forward(inp, p, rng=rng)[0]

    mean, var = dr.mc_dropout_predict(forward, x, 4000, np.random.default_rng(71))
    # Var[m x / (1-p)] = x^2 p / (1-p); with T = 4000 draws the estimate is within a few %.
    np.testing.assert_allclose(mean, x, atol=5 * np.abs(x).max() * np.sqrt(p / (1 - p) / 4000))
    np.testing.assert_allclose(var, x**2 * p / (1 - p), rtol=0.15, atol=1e-12)
    m0, v0 = dr.mc_dropout_predict(lambda inp, rng: dr.dropout_forward(inp, 0.0, rng=rng)[0],
                                   x, 3, np.random.default_rng(0))
    np.testing.assert_allclose(m0, x, rtol=1e-15)  # the mean of 3 equal numbers, up to round-off
    np.testing.assert_allclose(v0, 0.0, atol=1e-30)


# --------------------------------------------------------------------------- the negative side

def test_plausible_wrong_variants_would_fail_this_suite():
    p = 0.3
    x = random_inputs((4, 5), np.float64, seed=80)
    g = np.ones_like(x)
    y_t, dx_t, mask = torch_run(F.dropout, x, g, p, seed=81)
    expected = y_t.detach().numpy()
    # Scaling survivors by p, or reading p as the keep probability (dividing by p).
    assert not np.allclose(x * mask * p, expected)
    assert not np.allclose(x * mask / p, expected)
    # Keep probability p instead of 1 - p: the dropped fraction leaves the interval.
    n = 200_000
    wrong_mask = np.random.default_rng(0).random(n) < p  # "keep with probability p"
    assert not within_binomial_interval(int((~wrong_mask).sum()), n, p)
    # A backward pass that draws a fresh mask differs from autograd.
    fresh = dr.keep_mask(x.shape, p, np.random.default_rng(1))
    assert not np.allclose(g * fresh / (1 - p), dx_t.numpy())
    # An element mask where a channel mask is required is not constant per channel.
    elem, _ = dr.dropout_forward(np.ones((8, 6, 3, 3)), p, rng=np.random.default_rng(2))
    assert not (elem.min(axis=(2, 3)) == elem.max(axis=(2, 3))).all()


def test_reference_and_assignment_share_argument_names_and_order():
    """The chapter's dropout_forward / dropout_backward take the arguments of the assignment's
    functions, in the same order (the reference adds only the keyword-only `rng`)."""
    import ast
    import inspect
    import json
    import pathlib

    notebook = pathlib.Path(__file__).resolve().parents[1] / "solutions" / "dropout" / "dropout.ipynb"
    source = "\n".join("".join(c["source"]) for c in json.loads(notebook.read_text())["cells"]
                       if c["cell_type"] == "code")
    wanted = {"dropout_forward": None, "dropout_backward": None}
    for cell in source.split("\n\n"):
        try:
            tree = ast.parse(cell)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name in wanted:
                wanted[node.name] = [a.arg for a in node.args.args]
    for name, assignment_args in wanted.items():
        assert assignment_args, f"{name} not found in the assignment"
        params = inspect.signature(getattr(dr, name)).parameters.values()
        positional = [p.name for p in params if p.kind is p.POSITIONAL_OR_KEYWORD]
        assert positional == assignment_args, (name, positional, assignment_args)


def test_mask_and_training_are_positional_in_the_assignment_order():
    x = np.arange(1.0, 5.0)
    mask = np.array([True, False, True, True])
    y, cache = dr.dropout_forward(x, 0.5, mask, True)
    np.testing.assert_array_equal(y, [2.0, 0.0, 6.0, 8.0])
    y, _ = dr.dropout_forward(x, 0.5, mask, False)
    np.testing.assert_array_equal(y, x)
    np.testing.assert_array_equal(dr.dropout_backward(np.ones(4), cache), [2.0, 0.0, 2.0, 2.0])


# --------------------------------------------------------------------------- PyTorch's samples

from torch_samples import grad_output_like, op_samples, sample_id  # noqa: E402


def _dropout_cases(name):
    for dtype in (torch.float32, torch.float64):
        for k, sample in enumerate(op_samples(name, dtype)):
            if name == "nn.functional.dropout2d" and sample[0].ndim != 4:
                continue  # a 3-D input is (C, H, W) to PyTorch, (N, C, L) to us
            yield pytest.param(name, sample, id=f"{name}-{str(dtype)[6:]}-{k}-{sample_id(sample)}")


@pytest.mark.parametrize("name,sample", list(_dropout_cases("nn.functional.dropout"))
                         + list(_dropout_cases("nn.functional.dropout2d")))
def test_pytorch_opinfo_samples_given_torchs_mask(name, sample):
    """PyTorch's sample inputs (0-d, p = 0, 0.5, 1, training on and off): PyTorch draws the
    mask, we read it off its output (a unit survived where the output is non-zero) and must
    then reproduce the output and the input gradient exactly."""
    t, args, kwargs = sample
    assert not args
    p, training = kwargs.get("p", 0.5), kwargs.get("training", True)
    tt = t.clone().requires_grad_(True)
    torch.manual_seed(0)
    fn = F.dropout if name == "nn.functional.dropout" else F.dropout2d
    y = fn(tt, p=p, training=training)
    g = grad_output_like(y)
    y.backward(g)
    x = t.numpy().copy()
    assert (x != 0).all(), "the mask is read off non-zero inputs"
    if name == "nn.functional.dropout":
        mask = y.detach().numpy() != 0
        out, cache = dr.dropout_forward(x, p, mask if training else None, training)
    else:
        mask = (y.detach().numpy() != 0).any(axis=(2, 3), keepdims=True)
        out, cache = dr.dropout2d_forward(x, p, mask if training else None, training)
    assert_matches(np.asarray(out), y.detach(), what=f"{name} forward")
    assert_matches(np.asarray(dr.dropout_backward(g.numpy(), cache)), tt.grad, what=f"{name} gradient")


# --------------------------------------------------------------------------- DropBlock

def torchvision_style_block_mask(seeds: np.ndarray, block_size: int, shape) -> np.ndarray:
    """torchvision.ops.drop_block2d's construction (pad the seed map, max-pool with a b x b
    window), written with torch: the oracle for our block expansion (odd block sizes)."""
    noise = torch.as_tensor(seeds.astype(np.float64))
    noise = F.pad(noise, [block_size // 2] * 4, value=0)
    noise = F.max_pool2d(noise, stride=(1, 1), kernel_size=(block_size, block_size), padding=block_size // 2)
    return (1 - noise).numpy().astype(bool)


@pytest.mark.parametrize("block_size", [1, 3, 5])
def test_dropblock_mask_matches_torchvisions_construction(block_size):
    shape, p = (2, 3, 12, 10), 0.2
    ours = dr.dropblock_keep_mask(shape, p, block_size, np.random.default_rng(5))
    # the same seeds, expanded the torchvision way
    n, c, h, w = shape
    b = block_size
    gamma = p * h * w / (b * b * (h - b + 1) * (w - b + 1))
    seeds = np.random.default_rng(5).random((n, c, h - b + 1, w - b + 1)) < gamma
    np.testing.assert_array_equal(ours, torchvision_style_block_mask(seeds, b, shape))


def test_dropblock_drops_about_p_in_squares_and_rescales_like_torchvision():
    rng = np.random.default_rng(0)
    x = random_inputs((16, 8, 20, 20), np.float64, seed=40)
    g = random_inputs(x.shape, np.float64, seed=41)
    out, cache = dr.dropblock_forward(x, 0.2, 5, rng=rng)
    dropped = ~cache.mask
    assert 0.12 < dropped.mean() < 0.2, dropped.mean()  # overlaps make it a bit less than p
    np.testing.assert_allclose(out, x * cache.mask * (x.size / cache.mask.sum()), rtol=1e-15)
    np.testing.assert_allclose(dr.dropblock_backward(g, cache), g * cache.mask * cache.scale, rtol=1e-15)
    # every dropped pixel lies in an all-dropped 5 x 5 square
    windows = np.lib.stride_tricks.sliding_window_view(dropped, (5, 5), axis=(2, 3)).all(axis=(-1, -2))
    covered = np.zeros_like(dropped)
    for i in range(5):
        for j in range(5):
            covered[:, :, i:i + 16, j:j + 16] |= windows
    np.testing.assert_array_equal(covered, dropped)


def test_dropblock_modes_and_arguments():
    x = np.ones((1, 1, 4, 4), np.float32)
    y, cache = dr.dropblock_forward(x, 0.5, 3, None, False)
    np.testing.assert_array_equal(y, x)
    np.testing.assert_array_equal(dr.dropblock_backward(x, cache), x)
    y, _ = dr.dropblock_forward(x, 0.0, 3, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(y, x)
    mask = np.ones((1, 1, 4, 4), bool)
    mask[0, 0, :2, :2] = False
    y, _ = dr.dropblock_forward(x, 0.5, 2, mask)
    assert y.dtype == np.float32 and y[0, 0, 0, 0] == 0 and y[0, 0, 3, 3] == pytest.approx(16 / 12)
    with pytest.raises(ValueError):
        dr.dropblock_forward(np.ones((2, 3)), 0.1, 3, rng=np.random.default_rng(0))
    with pytest.raises(ValueError):
        dr.dropblock_forward(x, 0.1, 3)
