"""Attention, multi-head attention and the Transformer encoder block against PyTorch.

The PyTorch modules get random (not default) biases and layer-norm parameters so that every
parameter matters, and our functions receive the modules' own ``state_dict()``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nn_reference import attention as at
from oracle import DTYPES, assert_matches, random_inputs, torch_tensor

DTYPE_IDS = dict(ids=lambda d: np.dtype(d).name)
#: float32: a chain of matrix products and a softmax, rounded differently by PyTorch.
CHAIN32 = dict(rtol=1e-4, atol=2e-5)


def tolerance(dtype):
    return CHAIN32 if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)


def torch_dtype(dtype):
    return torch.float32 if dtype == np.float32 else torch.float64


def state(module) -> dict:
    return {name: value.detach().numpy().copy() for name, value in module.state_dict().items()}


def randomize_(module, seed: int) -> None:
    """Non-trivial biases and layer-norm parameters."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if "bias" in name or "norm" in name:
                p.add_(0.5 * torch.randn_like(p))


# --------------------------------------------------------------------------- scaled dot product

SDPA_SHAPES = [((2, 3, 5, 4), (2, 3, 6, 4), (2, 3, 6, 3)),
               ((1, 4, 8), (1, 4, 8), (1, 4, 8)),          # batch of one, L = S
               ((7, 2), (3, 2), (3, 5))]                   # no batch axes


def sdpa_masks(shape_q, shape_k, rng):
    l, s = shape_q[-2], shape_k[-2]
    allowed = rng.random((l, s)) < 0.6
    allowed[:, 0] = True  # no fully masked row
    return [dict(), dict(is_causal=True) if l <= s else dict(), dict(attn_mask=allowed),
            dict(attn_mask=rng.standard_normal((l, s))), dict(scale=0.37)]


@pytest.mark.parametrize("dtype", DTYPES, **DTYPE_IDS)
@pytest.mark.parametrize("case", range(len(SDPA_SHAPES)))
def test_sdpa_matches_torch_values_and_gradients(dtype, case):
    shapes = SDPA_SHAPES[case]
    rng = np.random.default_rng(case)
    q, k, v = (random_inputs(s, dtype, seed=10 * case + i) for i, s in enumerate(shapes))
    before = [a.copy() for a in (q, k, v)]
    for kwargs in sdpa_masks(shapes[0], shapes[1], rng):
        if "attn_mask" in kwargs:
            kwargs["attn_mask"] = kwargs["attn_mask"].astype(dtype) if kwargs["attn_mask"].dtype != bool \
                else kwargs["attn_mask"]
        tq, tk, tv = (torch_tensor(a, requires_grad=True) for a in (q, k, v))
        tkw = {n: torch_tensor(m) if isinstance(m, np.ndarray) else m for n, m in kwargs.items()}
        y_t = F.scaled_dot_product_attention(tq, tk, tv, **tkw)
        g = random_inputs(tuple(y_t.shape), dtype, seed=99)
        y_t.backward(torch_tensor(g))
        y, cache = at.scaled_dot_product_attention(q, k, v, **kwargs)
        what = f"sdpa {shapes} {sorted(kwargs)}"
        assert_matches(y, y_t, what=what, **tolerance(dtype))
        for ours, name, theirs in zip(at.scaled_dot_product_attention_backward(g, cache), "qkv",
                                      (tq.grad, tk.grad, tv.grad)):
            assert_matches(ours, theirs, what=f"{what} grad {name}", **tolerance(dtype))
        np.testing.assert_allclose(cache.weights.sum(axis=-1), 1.0, rtol=1e-12)
    for a, b in zip((q, k, v), before):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", DTYPES, **DTYPE_IDS)
def test_sdpa_large_scores_zeros_and_fully_masked_rows(dtype):
    q = random_inputs((2, 4, 8), dtype, seed=1, scale=300.0)      # softmax saturates
    k = random_inputs((2, 4, 8), dtype, seed=2, scale=300.0)
    v = random_inputs((2, 4, 8), dtype, seed=3)
    mask = np.ones((4, 4), bool)
    mask[1] = False                                                # row 1 sees nothing
    for kwargs in (dict(), dict(attn_mask=mask)):
        tkw = {n: torch_tensor(m) for n, m in kwargs.items()}
        y_t = F.scaled_dot_product_attention(*(torch_tensor(a) for a in (q, k, v)), **tkw)
        y, _ = at.scaled_dot_product_attention(q, k, v, **kwargs)
        assert np.isfinite(y).all()
        assert_matches(y, y_t, what=f"saturated sdpa {list(kwargs)}", rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(y[:, 1], 0.0)                    # PyTorch's "safe" softmax
    z = np.zeros((1, 3, 4), dtype)
    y, cache = at.scaled_dot_product_attention(z, z, v[:1, :3])
    np.testing.assert_allclose(cache.weights, 1 / 3)              # equal scores: a plain average


def test_causal_mask_is_torch_tril_and_cannot_be_combined():
    np.testing.assert_array_equal(at.causal_mask(4, 6), torch.ones(4, 6, dtype=torch.bool).tril().numpy())
    with pytest.raises(ValueError):
        at.scaled_dot_product_attention(np.ones((2, 2)), np.ones((2, 2)), np.ones((2, 2)),
                                        attn_mask=np.ones((2, 2), bool), is_causal=True)


def test_boolean_masks_mean_opposite_things_in_sdpa_and_multihead_attention():
    """PyTorch's own convention clash, which our two functions follow."""
    x = torch.randn(1, 3, 4, dtype=torch.float64)
    keep = torch.tensor([[True, False, False]] * 3)
    sdpa = F.scaled_dot_product_attention(x, x, x, attn_mask=keep)
    torch.testing.assert_close(sdpa, x[:, :1].expand(1, 3, 4))    # True = attend: only key 0
    mha = torch.nn.MultiheadAttention(4, 1, batch_first=True, bias=False).double()
    _, w = mha(x, x, x, attn_mask=keep)
    assert (w[0, :, 0] == 0).all()                                # True = masked: key 0 is out
    _, cache = at.multi_head_attention_forward(x.numpy(), x.numpy(), x.numpy(), 1, *(
        p.detach().numpy() for p in (mha.in_proj_weight, torch.zeros(12, dtype=torch.float64),
                                     mha.out_proj.weight, torch.zeros(4, dtype=torch.float64))),
        attn_mask=keep.numpy())
    np.testing.assert_array_equal(cache.attention.weights[0, 0, :, 0], 0.0)


# --------------------------------------------------------------------------- multi-head attention

MHA_CASES = [  # (N, L, S, E, heads, self-attention?)
    (2, 5, 5, 8, 2, True), (3, 4, 6, 12, 3, False), (1, 3, 3, 6, 1, True), (2, 4, 4, 16, 8, True)]


@pytest.mark.parametrize("dtype", DTYPES, **DTYPE_IDS)
@pytest.mark.parametrize("case", range(len(MHA_CASES)))
@pytest.mark.parametrize("masks", ("none", "causal", "padding", "float", "per-head"))
def test_multihead_attention_matches_torch_module(dtype, case, masks):
    n, l, s, e, h, self_attention = MHA_CASES[case]
    torch.manual_seed(case)
    mha = torch.nn.MultiheadAttention(e, h, batch_first=True).to(torch_dtype(dtype))
    randomize_(mha, case)
    q = random_inputs((n, l, e), dtype, seed=case)
    k, v = (q, q) if self_attention else \
        (random_inputs((n, s, e), dtype, seed=50 + case), random_inputs((n, s, e), dtype, seed=60 + case))
    attn_mask = key_padding_mask = None
    if masks == "causal":
        attn_mask = ~at.causal_mask(l, s)                          # True = masked out here
    elif masks == "padding":
        key_padding_mask = np.zeros((n, s), bool)
        key_padding_mask[0, -1] = True
    elif masks == "float":
        attn_mask = random_inputs((l, s), dtype, seed=7)
    elif masks == "per-head":                                     # (N * heads, L, S), batch-major
        attn_mask = np.random.default_rng(8).random((n * h, l, s)) < 0.3
        attn_mask[..., 0] = False
    tq = torch_tensor(q, requires_grad=True)
    tk, tv = (tq, tq) if self_attention else (torch_tensor(k, requires_grad=True), torch_tensor(v, requires_grad=True))
    y_t, w_t = mha(tq, tk, tv, attn_mask=None if attn_mask is None else torch_tensor(attn_mask),
                   key_padding_mask=None if key_padding_mask is None else torch_tensor(key_padding_mask))
    g = random_inputs((n, l, e), dtype, seed=70 + case)
    y_t.backward(torch_tensor(g))
    p = state(mha)
    y, cache = at.multi_head_attention_forward(
        q, k, v, h, p["in_proj_weight"], p["in_proj_bias"], p["out_proj.weight"], p["out_proj.bias"],
        attn_mask=attn_mask, key_padding_mask=key_padding_mask)
    what = f"MHA N={n} L={l} S={s} E={e} heads={h} masks={masks}"
    tol = tolerance(dtype)
    assert_matches(y, y_t, what=what, **tol)
    assert_matches(cache.attention.weights.mean(axis=1).astype(dtype), w_t, what=what + " weights", **tol)
    grads = at.multi_head_attention_backward(g, cache)
    if self_attention:
        assert_matches(grads.query + grads.key + grads.value, tq.grad, what=what + " grad input", **tol)
    else:
        for ours, theirs, name in ((grads.query, tq.grad, "query"), (grads.key, tk.grad, "key"),
                                   (grads.value, tv.grad, "value")):
            assert_matches(ours, theirs, what=f"{what} grad {name}", **tol)
    for name in ("in_proj_weight", "in_proj_bias"):
        assert_matches(getattr(grads, name), getattr(mha, name).grad, what=f"{what} grad {name}", **tol)
    assert_matches(grads.out_proj_weight, mha.out_proj.weight.grad, what=what + " grad out_proj.weight", **tol)
    assert_matches(grads.out_proj_bias, mha.out_proj.bias.grad, what=what + " grad out_proj.bias", **tol)


# --------------------------------------------------------------------------- encoder block

@pytest.mark.parametrize("dtype", DTYPES, **DTYPE_IDS)
@pytest.mark.parametrize("norm_first", (True, False), ids=("pre-LN", "post-LN"))
@pytest.mark.parametrize("activation", ("relu", "gelu"))
@pytest.mark.parametrize("shape", ((2, 5, 8), (1, 3, 8)))
def test_encoder_layer_matches_torch_transformer_encoder_layer(dtype, norm_first, activation, shape):
    d, heads, ff = shape[-1], 2, 24
    torch.manual_seed(1)
    layer = torch.nn.TransformerEncoderLayer(d, heads, ff, dropout=0.0, activation=activation,
                                             batch_first=True, norm_first=norm_first)
    layer = layer.to(torch_dtype(dtype))
    randomize_(layer, 2)
    x = random_inputs(shape, dtype, seed=3, scale=2.0)
    x0 = x.copy()
    g = random_inputs(shape, dtype, seed=4)
    mask = ~at.causal_mask(shape[1])
    for src_mask in (None, mask):
        layer.zero_grad()
        tx = torch_tensor(x, requires_grad=True)
        y_t = layer(tx, src_mask=None if src_mask is None else torch_tensor(src_mask))
        y_t.backward(torch_tensor(g))
        y, cache = at.transformer_encoder_layer_forward(x, state(layer), heads, norm_first=norm_first,
                                                        activation=activation, src_mask=src_mask)
        what = f"encoder layer norm_first={norm_first} {activation} {shape} mask={src_mask is not None}"
        tol = tolerance(dtype)
        assert_matches(y, y_t, what=what, **tol)
        grad_x, grads = at.transformer_encoder_layer_backward(g, cache)
        assert_matches(grad_x, tx.grad, what=what + " grad input", **tol)
        assert set(grads) == {name for name, _ in layer.named_parameters()}
        for name, p in layer.named_parameters():
            assert_matches(grads[name], p.grad, what=f"{what} grad {name}", **tol)
    np.testing.assert_array_equal(x, x0)


# --------------------------------------------------------------------------- positional encoding

def test_sinusoidal_encoding_formula_and_properties():
    pe = at.sinusoidal_positional_encoding(50, 16)
    t, i = 7, 3
    assert pe.shape == (50, 16)
    assert np.isclose(pe[t, 2 * i], np.sin(t / 10000 ** (2 * i / 16)))
    assert np.isclose(pe[t, 2 * i + 1], np.cos(t / 10000 ** (2 * i / 16)))
    np.testing.assert_allclose(pe[0, 0::2], 0.0)
    np.testing.assert_allclose(pe[0, 1::2], 1.0)
    # every position gets a different code, and the code of t + k is a rotation of that of t
    assert len({tuple(np.round(r, 8)) for r in pe}) == 50
    np.testing.assert_allclose((pe[10:] * pe[:-10]).sum(1), (pe[20:] * pe[10:-10]).sum(1)[0], atol=1e-12)


# --------------------------------------------------------------------------- wrong variants

def test_plausible_wrong_variants_fail_the_same_comparison():
    """Each classic attention mistake, written out, is rejected by the comparison above."""
    q, k, v = (random_inputs((2, 2, 5, 4), np.float64, seed=i) for i in range(3))
    tq, tk, tv = (torch_tensor(a) for a in (q, k, v))
    causal = at.causal_mask(5)
    y_t = F.scaled_dot_product_attention(tq, tk, tv, is_causal=True).numpy()
    scores = q @ np.swapaxes(k, -1, -2)
    masked = np.where(causal, scores, -np.inf)
    wrong = {
        "no scaling": at.softmax(masked) @ v,
        "scaled by 1/d": at.softmax(np.where(causal, scores / 4, -np.inf)) @ v,
        "mask after the softmax": (at.softmax(scores / 2) * causal) @ v,
        "softmax over the queries": at.softmax(np.where(causal, scores / 2, -np.inf), axis=-2) @ v,
        "mask transposed (anti-causal)": at.softmax(np.where(causal.T, scores / 2, -np.inf)) @ v,
    }
    assert_matches(at.softmax(masked / 2) @ v, y_t, what="the right formula passes")
    for name, y in wrong.items():
        with pytest.raises(AssertionError):
            assert_matches(np.nan_to_num(y), y_t, what=name)

    # Heads split along the wrong dimension: reshape (N, L, E) straight to (N, h, L, d).
    torch.manual_seed(0)
    mha = torch.nn.MultiheadAttention(8, 2, batch_first=True).double()
    randomize_(mha, 0)
    x = random_inputs((2, 5, 8), np.float64, seed=5)
    y_t, _ = mha(*(torch_tensor(x),) * 3)
    p = state(mha)
    original = at._split_heads
    try:
        at._split_heads = lambda a, h: a.reshape(a.shape[0], h, a.shape[1], a.shape[2] // h)
        y_bad, _ = at.multi_head_attention_forward(x, x, x, 2, p["in_proj_weight"], p["in_proj_bias"],
                                                   p["out_proj.weight"], p["out_proj.bias"])
    finally:
        at._split_heads = original
    with pytest.raises(AssertionError):
        assert_matches(y_bad, y_t, what="heads split along the wrong dimension")

    # Post-LN computed where pre-LN is asked for.
    layer = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True, norm_first=True).double()
    randomize_(layer, 1)
    y_t = layer(torch_tensor(x))
    y_post, _ = at.transformer_encoder_layer_forward(x, state(layer), 2, norm_first=False)
    y_pre, _ = at.transformer_encoder_layer_forward(x, state(layer), 2, norm_first=True)
    assert_matches(y_pre, y_t, what="pre-LN passes")
    with pytest.raises(AssertionError):
        assert_matches(y_post, y_t, what="post-LN where pre-LN is asked")
