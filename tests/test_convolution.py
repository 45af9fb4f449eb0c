"""Convolution, pooling and the residual block against PyTorch: values and autograd gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nn_reference import convolution as cv
from oracle import DTYPES, assert_matches, random_inputs, torch_tensor

DTYPE_IDS = dict(ids=lambda d: np.dtype(d).name)
#: float32 sums of up to C_in*kH*kW products: PyTorch's and ours round differently.
SUMS32 = dict(rtol=1e-5, atol=1e-5)

# (input shape, weight shape, stride, padding): square and rectangular kernels, strides that
# do not divide the input (the last rows are dropped), asymmetric stride and padding, a batch
# of one, a 1x1 kernel, a kernel as large as the padded input.
CONV_CASES = [
    ((2, 3, 7, 6), (4, 3, 3, 3), 1, 0),
    ((2, 3, 7, 6), (4, 3, 3, 3), 1, 1),
    ((2, 3, 8, 9), (5, 3, 3, 2), 2, 1),
    ((1, 2, 9, 7), (3, 2, 4, 3), (3, 2), (1, 0)),
    ((3, 4, 5, 5), (2, 4, 1, 1), 1, 0),
    ((1, 1, 4, 4), (1, 1, 6, 6), 1, 1),
    ((2, 2, 10, 10), (3, 2, 5, 5), 3, 2),
]


def tolerance(dtype):
    return SUMS32 if dtype == np.float32 else {}


def torch_conv(x, w, b, stride, padding, g):
    tx, tw = torch_tensor(x, requires_grad=True), torch_tensor(w, requires_grad=True)
    tb = None if b is None else torch_tensor(b, requires_grad=True)
    y = F.conv2d(tx, tw, tb, stride=stride, padding=padding)
    y.backward(torch_tensor(g))
    return y, tx.grad, tw.grad, None if b is None else tb.grad


@pytest.mark.parametrize("dtype", DTYPES, **DTYPE_IDS)
@pytest.mark.parametrize("case", range(len(CONV_CASES)))
@pytest.mark.parametrize("bias", (True, False))
def test_conv2d_matches_torch_values_and_gradients(dtype, case, bias):
    x_shape, w_shape, stride, padding = CONV_CASES[case]
    x = random_inputs(x_shape, dtype, seed=case)
    w = random_inputs(w_shape, dtype, seed=100 + case)
    b = random_inputs(w_shape[:1], dtype, seed=200 + case) if bias else None
    x0, w0 = x.copy(), w.copy()
    y, cache = cv.conv2d_forward(x, w, b, stride, padding)
    g = random_inputs(y.shape, dtype, seed=300 + case)
    y_t, dx_t, dw_t, db_t = torch_conv(x, w, b, stride, padding, g)
    tol = tolerance(dtype)
    what = f"conv2d {x_shape} * {w_shape} stride={stride} padding={padding}"
    assert_matches(y, y_t, what=what, **tol)
    dx, dw, db = cv.conv2d_backward(g, cache)
    assert_matches(dx, dx_t, what=f"{what}: grad input", **tol)
    assert_matches(dw, dw_t, what=f"{what}: grad weight", **tol)
    if bias:
        assert_matches(db, db_t, what=f"{what}: grad bias", **tol)
    else:
        assert db is None
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(w, w0)


@pytest.mark.parametrize("case", range(len(CONV_CASES)))
def test_loop_version_agrees_with_the_vectorized_one(case):
    x_shape, w_shape, stride, padding = CONV_CASES[case]
    x = random_inputs(x_shape, np.float64, seed=case)
    w = random_inputs(w_shape, np.float64, seed=100 + case)
    b = random_inputs(w_shape[:1], np.float64, seed=200 + case)
    fast, _ = cv.conv2d_forward(x, w, b, stride, padding)
    assert_matches(cv.conv2d_forward_loop(x, w, b, stride, padding), fast, what="loop conv2d")


@pytest.mark.parametrize("dtype", DTYPES, **DTYPE_IDS)
def test_conv2d_edge_cases_zeros_large_values_and_integers(dtype):
    w = random_inputs((2, 3, 3, 3), dtype, seed=1)
    y, _ = cv.conv2d_forward(np.zeros((1, 3, 5, 5), dtype), w, np.ones(2, dtype), padding=1)
    np.testing.assert_array_equal(y, np.ones((1, 2, 5, 5), dtype))
    x = random_inputs((1, 3, 5, 5), dtype, seed=2, scale=1e4)
    y, cache = cv.conv2d_forward(x, w, None, 2, 1)
    g = np.ones(y.shape, dtype)
    y_t, dx_t, dw_t, _ = torch_conv(x, w, None, 2, 1, g)
    assert_matches(y, y_t, what="large inputs", rtol=1e-5, atol=1e-1 if dtype == np.float32 else 1e-9)
    assert_matches(cv.conv2d_backward(g, cache)[1], dw_t, what="large inputs: grad weight",
                   rtol=1e-5, atol=1e-1 if dtype == np.float32 else 1e-9)
    y_int, _ = cv.conv2d_forward(np.arange(16).reshape(1, 1, 4, 4), np.ones((1, 1, 2, 2)))
    assert y_int.dtype == np.float64 and y_int[0, 0, 0, 0] == 0 + 1 + 4 + 5


@pytest.mark.parametrize("size,kernel,stride,padding", [(7, 3, 2, 0), (8, 3, 2, 1), (5, 5, 1, 0),
                                                         (28, 5, 1, 2), (10, 4, 3, 1)])
def test_output_size_formula_matches_torch(size, kernel, stride, padding):
    y = F.conv2d(torch.zeros(1, 1, size, size), torch.zeros(1, 1, kernel, kernel),
                 stride=stride, padding=padding)
    assert cv.conv_output_size(size, kernel, stride, padding) == y.shape[-1]


def test_bad_shapes_are_rejected():
    with pytest.raises(ValueError):
        cv.conv2d_forward(np.zeros((1, 3, 5, 5)), np.zeros((2, 2, 3, 3)))   # channel mismatch
    with pytest.raises(ValueError):
        cv.conv2d_forward(np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 3, 3)))   # kernel too large
    with pytest.raises(ValueError):
        cv.conv2d_forward(np.zeros((3, 5, 5)), np.zeros((1, 3, 3, 3)))      # no batch axis


# --------------------------------------------------------------------------- pooling

POOL_CASES = [(2, None, 0), (3, 2, 1), (3, 1, 1), ((2, 3), (1, 2), (1, 1)), (2, 1, 0)]


@pytest.mark.parametrize("dtype", DTYPES, **DTYPE_IDS)
@pytest.mark.parametrize("kernel,stride,padding", POOL_CASES)
@pytest.mark.parametrize("shape,scale", (((2, 3, 7, 6), 1.0), ((1, 1, 6, 6), 1e4)), ids=("batch", "one-large"))
def test_max_pool_matches_torch(dtype, kernel, stride, padding, shape, scale):
    x = random_inputs(shape, dtype, seed=5, scale=scale)
    x0 = x.copy()
    tx = torch_tensor(x, requires_grad=True)
    y_t = F.max_pool2d(tx, kernel, stride, padding)
    g = random_inputs(tuple(y_t.shape), dtype, seed=6)
    y_t.backward(torch_tensor(g))
    y, cache = cv.max_pool2d_forward(x, kernel, stride, padding)
    assert_matches(y, y_t, what=f"max_pool2d k={kernel} s={stride} p={padding}")
    assert_matches(cv.max_pool2d_backward(g, cache), tx.grad,
                   what=f"max_pool2d backward k={kernel} s={stride} p={padding}")
    np.testing.assert_array_equal(x, x0)


@pytest.mark.parametrize("dtype", DTYPES, **DTYPE_IDS)
@pytest.mark.parametrize("kernel,stride,padding", POOL_CASES)
@pytest.mark.parametrize("count_include_pad", (True, False))
@pytest.mark.parametrize("shape", ((2, 3, 7, 6), (1, 1, 6, 6)))
def test_avg_pool_matches_torch(dtype, kernel, stride, padding, count_include_pad, shape):
    x = random_inputs(shape, dtype, seed=7)
    x0 = x.copy()
    tx = torch_tensor(x, requires_grad=True)
    y_t = F.avg_pool2d(tx, kernel, stride, padding, count_include_pad=count_include_pad)
    g = random_inputs(tuple(y_t.shape), dtype, seed=8)
    y_t.backward(torch_tensor(g))
    y, cache = cv.avg_pool2d_forward(x, kernel, stride, padding, count_include_pad)
    what = f"avg_pool2d k={kernel} s={stride} p={padding} count_include_pad={count_include_pad}"
    assert_matches(y, y_t, what=what, **tolerance(dtype))
    assert_matches(cv.avg_pool2d_backward(g, cache), tx.grad, what=what + " backward", **tolerance(dtype))
    np.testing.assert_array_equal(x, x0)


@pytest.mark.parametrize("dtype", DTYPES, **DTYPE_IDS)
def test_max_pool_ties_send_the_gradient_to_the_first_maximum_like_torch(dtype):
    x = np.zeros((1, 2, 4, 4), dtype)           # every window is a tie
    x[0, 1, 1, 1] = x[0, 1, 1, 0] = 5.0           # a tie between two maxima
    for stride in (2, 1):
        tx = torch_tensor(x, requires_grad=True)
        y_t = F.max_pool2d(tx, 2, stride)
        y_t.sum().backward()
        y, cache = cv.max_pool2d_forward(x, 2, stride)
        assert_matches(cv.max_pool2d_backward(np.ones(y.shape, dtype), cache), tx.grad,
                       what=f"max-pool ties, stride {stride}")


def test_pool_padding_larger_than_half_the_kernel_is_rejected_like_torch():
    with pytest.raises(RuntimeError):
        F.max_pool2d(torch.zeros(1, 1, 5, 5), 2, padding=2)
    with pytest.raises(ValueError, match="half"):
        cv.max_pool2d_forward(np.zeros((1, 1, 5, 5)), 2, padding=2)


# --------------------------------------------------------------------------- residual block

class TorchBlock(torch.nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = torch.nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x):
        return torch.relu(x + self.conv2(torch.relu(self.conv1(x))))


@pytest.mark.parametrize("dtype", DTYPES, **DTYPE_IDS)
@pytest.mark.parametrize("shape", ((2, 3, 6, 5), (1, 4, 4, 4)))
def test_residual_block_matches_torch(dtype, shape):
    torch.manual_seed(0)
    block = TorchBlock(shape[1]).to(torch.float64 if dtype == np.float64 else torch.float32)
    params = [p.detach().numpy().copy() for p in block.parameters()]   # w1, b1, w2, b2
    x = random_inputs(shape, dtype, seed=9)
    g = random_inputs(shape, dtype, seed=10)
    tx = torch_tensor(x, requires_grad=True)
    y_t = block(tx)
    y_t.backward(torch_tensor(g))
    y, cache = cv.residual_block_forward(x, *params)
    assert_matches(y, y_t, what="residual block", **tolerance(dtype))
    grads = cv.residual_block_backward(g, cache)
    for ours, name, theirs in zip(grads, ("x", "w1", "b1", "w2", "b2"),
                                  (tx.grad,) + tuple(p.grad for p in block.parameters())):
        assert_matches(ours, theirs, what=f"residual block grad {name}", **tolerance(dtype))


def test_zero_branch_makes_the_block_relu_of_the_identity():
    x = random_inputs((1, 2, 4, 4), np.float64, seed=11)
    zeros_w, zeros_b = np.zeros((2, 2, 3, 3)), np.zeros(2)
    y, cache = cv.residual_block_forward(x, zeros_w, zeros_b, zeros_w, zeros_b)
    np.testing.assert_array_equal(y, np.maximum(x, 0))
    dx = cv.residual_block_backward(np.ones_like(x), cache)[0]
    np.testing.assert_array_equal(dx, (x > 0).astype(float))   # the shortcut alone carries it


# --------------------------------------------------------------------------- wrong variants

def test_plausible_wrong_variants_fail_the_same_comparison():
    """Mistakes the checks above must catch, each shown to fail them."""
    x = random_inputs((2, 3, 7, 6), np.float64, seed=0)
    w = random_inputs((4, 3, 3, 3), np.float64, seed=1)
    y, cache = cv.conv2d_forward(x, w, None, 2, 1)
    g = random_inputs(y.shape, np.float64, seed=2)
    y_t, dx_t, dw_t, _ = torch_conv(x, w, None, 2, 1, g)

    # 1. True convolution (flipped kernel) in the forward pass.
    flipped, _ = cv.conv2d_forward(x, w[:, :, ::-1, ::-1], None, 2, 1)
    with pytest.raises(AssertionError):
        assert_matches(flipped, y_t, what="flipped kernel")
    # 2. Input gradient with the kernel flipped the wrong way (cross-correlation/convolution mix-up).
    bad_cache = cache._replace(weight=cache.weight[:, :, ::-1, ::-1])
    with pytest.raises(AssertionError):
        assert_matches(cv.conv2d_backward(g, bad_cache)[0], dx_t, what="unflipped backward")
    # 3. Padding (rows, columns) applied to the wrong axes: the shape already differs.
    y_t31 = F.conv2d(torch_tensor(x), torch_tensor(w), padding=(1, 0))
    swapped, _ = cv.conv2d_forward(x, w, None, 1, (0, 1))
    with pytest.raises(AssertionError, match="shape"):
        assert_matches(swapped, y_t31, what="padding on the wrong axes")
    # 4. Output size off by one (ceil instead of floor when the stride does not divide).
    ceil_size = -(-(6 + 2 * 1 - 3) // 2) + 1
    assert ceil_size != cv.conv_output_size(6, 3, 2, 1) == y_t.shape[3]
    # 5. Weight gradient without the sum over the batch (first sample only).
    _, _, dw_one, _ = torch_conv(x[:1], w, None, 2, 1, g[:1])
    with pytest.raises(AssertionError):
        assert_matches(dw_one, dw_t, what="weight gradient of one sample")
    # 6. Max-pool gradient spread over the window (as if it were average pooling).
    yp, pc = cv.avg_pool2d_forward(x, 2)
    tx = torch_tensor(x, requires_grad=True)
    F.max_pool2d(tx, 2).backward(torch_tensor(np.ones(yp.shape)))
    with pytest.raises(AssertionError):
        assert_matches(cv.avg_pool2d_backward(np.ones(yp.shape), pc), tx.grad, what="max as avg")
    # 7. A residual block whose backward pass forgets the shortcut.
    torch.manual_seed(0)
    block = TorchBlock(3).double()
    params = [p.detach().numpy().copy() for p in block.parameters()]
    gb = random_inputs(x.shape, np.float64, seed=3)
    tx = torch_tensor(x, requires_grad=True)
    block(tx).backward(torch_tensor(gb))
    _, rc = cv.residual_block_forward(x, *params)
    dh = cv.conv2d_backward(gb * rc.relu2_mask, rc.conv2)[0]
    branch_only = cv.conv2d_backward(dh * rc.relu1_mask, rc.conv1)[0]
    assert_matches(cv.residual_block_backward(gb, rc)[0], tx.grad, what="the right one passes")
    with pytest.raises(AssertionError):
        assert_matches(branch_only, tx.grad, what="residual backward without the shortcut")
