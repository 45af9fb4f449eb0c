"""Attention and the Transformer encoder block, in NumPy.

Three layers, each a forward pass returning ``(out, cache)`` and a backward pass:

* :func:`scaled_dot_product_attention`, as ``torch.nn.functional.scaled_dot_product_attention``;
* :func:`multi_head_attention_forward`, as ``torch.nn.MultiheadAttention(batch_first=True)``
  with its parameters ``in_proj_weight``, ``in_proj_bias``, ``out_proj.weight``, ``out_proj.bias``;
* :func:`transformer_encoder_layer_forward`, as ``torch.nn.TransformerEncoderLayer``
  (``batch_first=True``, ``dropout=0``), pre-LN (``norm_first=True``) or post-LN; its
  parameters are a dict with the names of the PyTorch module's ``state_dict()``.

**Two mask conventions.** PyTorch itself uses opposite meanings for a boolean mask:
in ``scaled_dot_product_attention`` ``True`` means "may attend", in ``nn.MultiheadAttention``
and ``nn.TransformerEncoderLayer`` ``True`` means "masked out". Each function here follows the
PyTorch function it mirrors. A floating mask is added to the scores in both.

Arithmetic is in float64 and results are cast back to the input's dtype; inputs are never
modified. Layer norm and GELU come from :mod:`nn_reference.normalization` and
:mod:`nn_reference.activations`.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from nn_reference import activations
from nn_reference._arrays import as_float
from nn_reference.normalization import layer_norm_backward, layer_norm_forward

__all__ = [
    "softmax", "AttentionCache", "scaled_dot_product_attention", "scaled_dot_product_attention_backward",
    "causal_mask", "MHACache", "MHAGrads", "multi_head_attention_forward",
    "multi_head_attention_backward", "EncoderCache", "transformer_encoder_layer_forward",
    "transformer_encoder_layer_backward", "sinusoidal_positional_encoding",
]


def softmax(scores: np.ndarray, axis: int = -1) -> np.ndarray:
    r""":math:`\mathrm{softmax}(s)_j = e^{s_j - m} / \sum_k e^{s_k - m}` with :math:`m = \max_k s_k`
    (subtracting the maximum changes nothing mathematically and keeps ``exp`` from overflowing).
    A row that is entirely :math:`-\infty` (every key masked) gives zeros, as PyTorch's
    attention does, instead of ``0/0 = NaN``."""
    m = np.max(scores, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    e = np.exp(scores - m)
    total = e.sum(axis=axis, keepdims=True)
    return np.divide(e, total, out=np.zeros_like(e), where=total > 0)


def causal_mask(length: int, source_length: int | None = None) -> np.ndarray:
    """Boolean ``(L, S)`` mask, ``True`` where query ``i`` may attend to key ``j <= i``
    (``torch.ones(L, S, dtype=bool).tril()``, the mask of ``is_causal=True``)."""
    s = length if source_length is None else source_length
    return np.tril(np.ones((length, s), dtype=bool))


def _additive_mask(attn_mask, allowed_is_true: bool) -> np.ndarray | None:
    """A mask turned into something to add to the scores: 0 or -inf for a boolean mask."""
    if attn_mask is None:
        return None
    attn_mask = np.asarray(attn_mask)
    if attn_mask.dtype == bool:
        allowed = attn_mask if allowed_is_true else ~attn_mask
        return np.where(allowed, 0.0, -np.inf)
    return attn_mask.astype(np.float64)


# --------------------------------------------------------------------------- scaled dot product

class AttentionCache(NamedTuple):
    """What the backward pass of attention needs (all float64)."""

    query: np.ndarray
    key: np.ndarray
    value: np.ndarray
    weights: np.ndarray   #: the attention weights P, (..., L, S); each row sums to 1
    scale: float
    dtype: np.dtype


def scaled_dot_product_attention(query, key, value, attn_mask=None, is_causal: bool = False,
                                 scale: float | None = None):
    r"""Scaled dot-product attention, as ``torch.nn.functional.scaled_dot_product_attention``
    (without dropout). Shapes: query ``(..., L, E)``, key ``(..., S, E)``, value ``(..., S, E_v)``.

    .. math::
        P = \mathrm{softmax}\!\left(\frac{Q K^\top}{\sqrt{E}} + M\right), \qquad
        \mathrm{out} = P V,

    the softmax over the keys (last axis). ``scale`` replaces :math:`1/\sqrt{E}` if given.
    ``attn_mask``: boolean, ``True`` = **may attend** (PyTorch's convention here), or a float
    mask :math:`M` added to the scores; ``is_causal=True`` uses :func:`causal_mask` (and needs
    ``attn_mask=None``). Returns ``(out, cache)``; ``cache.weights`` holds :math:`P`.
    """
    q = as_float(query)
    dtype = np.result_type(q, as_float(key), as_float(value))
    q, k, v = (np.asarray(a, dtype=np.float64) for a in (query, key, value))
    if is_causal:
        if attn_mask is not None:
            raise ValueError("give either attn_mask or is_causal=True, not both (as PyTorch)")
        attn_mask = causal_mask(q.shape[-2], k.shape[-2])
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    scores = (q @ np.swapaxes(k, -1, -2)) * scale
    additive = _additive_mask(attn_mask, allowed_is_true=True)
    if additive is not None:
        scores = scores + additive
    weights = softmax(scores, axis=-1)
    out = weights @ v
    return out.astype(dtype), AttentionCache(q, k, v, weights, scale, dtype)


def scaled_dot_product_attention_backward(grad_output, cache: AttentionCache):
    r"""Gradients ``(grad_query, grad_key, grad_value)`` of attention.

    With :math:`G = \partial L/\partial\,\mathrm{out}` and :math:`S` the (scaled, masked) scores,

    .. math::
        \frac{\partial L}{\partial V} = P^\top G, \qquad
        \frac{\partial L}{\partial P} = G V^\top, \qquad
        \frac{\partial L}{\partial S_{ij}} = P_{ij}\Big(\frac{\partial L}{\partial P_{ij}}
        - \sum_k P_{ik} \frac{\partial L}{\partial P_{ik}}\Big),

    .. math::
        \frac{\partial L}{\partial Q} = \mathrm{scale}\cdot \frac{\partial L}{\partial S} K, \qquad
        \frac{\partial L}{\partial K} = \mathrm{scale}\cdot \Big(\frac{\partial L}{\partial S}\Big)^{\!\top} Q.

    (The middle line is the softmax's Jacobian applied row by row.) Masked entries have
    :math:`P_{ij} = 0` and so receive no gradient.
    """
    g = np.asarray(grad_output, dtype=np.float64)
    p = cache.weights
    grad_value = np.swapaxes(p, -1, -2) @ g
    grad_p = g @ np.swapaxes(cache.value, -1, -2)
    grad_scores = p * (grad_p - (grad_p * p).sum(axis=-1, keepdims=True))
    grad_query = cache.scale * grad_scores @ cache.key
    grad_key = cache.scale * np.swapaxes(grad_scores, -1, -2) @ cache.query
    # Broadcast batch axes (a key shared by all heads, say) are summed back to the input's shape.
    grads = [_unbroadcast(a, ref.shape) for a, ref in
             ((grad_query, cache.query), (grad_key, cache.key), (grad_value, cache.value))]
    return tuple(a.astype(cache.dtype) for a in grads)


def _unbroadcast(grad: np.ndarray, shape: tuple) -> np.ndarray:
    while grad.ndim > len(shape):
        grad = grad.sum(axis=0)
    for axis, n in enumerate(shape):
        if n == 1 and grad.shape[axis] != 1:
            grad = grad.sum(axis=axis, keepdims=True)
    return grad


# --------------------------------------------------------------------------- multi-head attention

class MHACache(NamedTuple):
    """Inputs, projections and the per-head attention cache of multi-head attention."""

    query: np.ndarray
    key: np.ndarray
    value: np.ndarray
    in_proj_weight: np.ndarray
    out_proj_weight: np.ndarray
    concat: np.ndarray           #: the heads' outputs side by side, (N, L, E)
    attention: AttentionCache    #: per head: shapes (N, num_heads, L or S, E / num_heads)
    num_heads: int
    dtype: np.dtype


class MHAGrads(NamedTuple):
    """Gradients of multi-head attention, named as the PyTorch module's parameters."""

    query: np.ndarray
    key: np.ndarray
    value: np.ndarray
    in_proj_weight: np.ndarray
    in_proj_bias: np.ndarray
    out_proj_weight: np.ndarray
    out_proj_bias: np.ndarray


def _split_heads(x: np.ndarray, num_heads: int) -> np.ndarray:
    """``(N, L, E) -> (N, heads, L, E/heads)``: head ``h`` owns features ``h*d .. (h+1)*d - 1``."""
    n, length, e = x.shape
    return x.reshape(n, length, num_heads, e // num_heads).transpose(0, 2, 1, 3)


def _merge_heads(x: np.ndarray) -> np.ndarray:
    """The inverse of :func:`_split_heads`: ``(N, heads, L, d) -> (N, L, heads*d)``."""
    n, h, length, d = x.shape
    return x.transpose(0, 2, 1, 3).reshape(n, length, h * d)


def multi_head_attention_forward(query, key, value, num_heads: int, in_proj_weight, in_proj_bias,
                                 out_proj_weight, out_proj_bias, attn_mask=None,
                                 key_padding_mask=None):
    r"""Multi-head attention, as ``torch.nn.MultiheadAttention(E, num_heads, batch_first=True)``.

    Inputs are ``(N, L, E)`` (query) and ``(N, S, E)`` (key, value; for self-attention all
    three are the same array). With :math:`W_Q, W_K, W_V` the three ``(E, E)`` blocks of
    ``in_proj_weight`` (rows ``0:E``, ``E:2E``, ``2E:3E``) and :math:`d = E/h`,

    .. math::
        \mathrm{head}_i = \mathrm{Attention}\big(Q W_Q^{(i)\top}, K W_K^{(i)\top}, V W_V^{(i)\top}\big),
        \qquad \mathrm{out} = [\mathrm{head}_1, \dots, \mathrm{head}_h]\, W_O^\top + b_O,

    where :math:`W^{(i)}` is the :math:`i`-th group of :math:`d` rows: each head attends in its
    own :math:`d`-dimensional subspace, with scale :math:`1/\sqrt d`.
    Masks follow ``nn.MultiheadAttention``: a boolean ``attn_mask`` ``(L, S)`` or
    ``(N*h, L, S)`` and ``key_padding_mask`` ``(N, S)`` are ``True`` where attention is
    **not** allowed (the opposite of :func:`scaled_dot_product_attention`); a float mask is
    added. Returns ``(out, cache)``; the weights averaged over heads, what the module returns
    by default, are ``cache.attention.weights.mean(axis=1)``.
    """
    dtype = np.result_type(as_float(query), as_float(key), as_float(value))
    q_in, k_in, v_in = (np.asarray(a, dtype=np.float64) for a in (query, key, value))
    w_in = np.asarray(in_proj_weight, dtype=np.float64)
    b_in = np.asarray(in_proj_bias, dtype=np.float64)
    w_out = np.asarray(out_proj_weight, dtype=np.float64)
    n, length, e = q_in.shape
    if e % num_heads:
        raise ValueError(f"embed_dim {e} must be divisible by num_heads {num_heads}")
    wq, wk, wv = w_in[:e], w_in[e:2 * e], w_in[2 * e:]
    bq, bk, bv = b_in[:e], b_in[e:2 * e], b_in[2 * e:]
    q = _split_heads(q_in @ wq.T + bq, num_heads)
    k = _split_heads(k_in @ wk.T + bk, num_heads)
    v = _split_heads(v_in @ wv.T + bv, num_heads)

    mask = np.zeros((1, 1, 1, 1))
    if attn_mask is not None:
        m = _additive_mask(attn_mask, allowed_is_true=False)
        mask = mask + (m.reshape(n, num_heads, length, -1) if m.ndim == 3 else m)
    if key_padding_mask is not None:
        m = _additive_mask(key_padding_mask, allowed_is_true=False)
        mask = mask + m[:, None, None, :]
    heads, att = scaled_dot_product_attention(q, k, v, attn_mask=mask)
    concat = _merge_heads(heads)
    out = concat @ w_out.T + np.asarray(out_proj_bias, dtype=np.float64)
    cache = MHACache(q_in, k_in, v_in, w_in, w_out, concat, att, num_heads, dtype)
    return out.astype(dtype), cache


def multi_head_attention_backward(grad_output, cache: MHACache) -> MHAGrads:
    r"""All gradients of :func:`multi_head_attention_forward`, as an :class:`MHAGrads`.

    Back through the output projection (:math:`\partial L/\partial W_O = \sum G^\top C`), the
    head merge (a reshape), attention per head, the head split, and the three input
    projections. For self-attention the gradient of the common input is
    ``grads.query + grads.key + grads.value``.
    """
    g = np.asarray(grad_output, dtype=np.float64)
    e = cache.query.shape[-1]
    flat = (lambda a: a.reshape(-1, a.shape[-1]))
    grad_w_out = flat(g).T @ flat(cache.concat)
    grad_b_out = flat(g).sum(axis=0)
    grad_heads = _split_heads(g @ cache.out_proj_weight, cache.num_heads)
    gq, gk, gv = (_merge_heads(a) for a in scaled_dot_product_attention_backward(grad_heads, cache.attention))
    grad_w_in, grad_b_in, grad_inputs = [], [], []
    for i, (gp, x) in enumerate(((gq, cache.query), (gk, cache.key), (gv, cache.value))):
        w = cache.in_proj_weight[i * e:(i + 1) * e]
        grad_w_in.append(flat(gp).T @ flat(x))
        grad_b_in.append(flat(gp).sum(axis=0))
        grad_inputs.append(gp @ w)
    cast = (lambda a: a.astype(cache.dtype))
    return MHAGrads(*(cast(a) for a in grad_inputs), cast(np.concatenate(grad_w_in)),
                    cast(np.concatenate(grad_b_in)), cast(grad_w_out), cast(grad_b_out))


# --------------------------------------------------------------------------- encoder block

class EncoderCache(NamedTuple):
    """Everything the backward pass of an encoder block needs (one entry per sub-layer)."""

    x: np.ndarray
    norm1: tuple          #: (output, layer-norm cache) of the first LayerNorm
    attention: MHACache
    mid: np.ndarray       #: the input of the feed-forward half
    norm2: tuple
    hidden_pre: np.ndarray  #: linear1's output, before the activation
    hidden: np.ndarray
    params: dict
    norm_first: bool
    activation: str
    dtype: np.dtype


_ACTIVATIONS = {
    "relu": (activations.relu, activations.relu_grad),
    "gelu": (activations.gelu, activations.gelu_grad),
}


def transformer_encoder_layer_forward(src, params: dict, nhead: int, norm_first: bool = False,
                                      activation: str = "relu", layer_norm_eps: float = 1e-5,
                                      src_mask=None, src_key_padding_mask=None):
    r"""One Transformer encoder block, as ``torch.nn.TransformerEncoderLayer(d_model, nhead,
    dim_feedforward, dropout=0.0, activation, layer_norm_eps, batch_first=True, norm_first)``.

    ``params`` maps the module's ``state_dict()`` names (``self_attn.in_proj_weight``,
    ``linear1.weight``, ``norm1.bias``, ...) to arrays. With
    :math:`\mathrm{FFN}(z) = W_2\,\phi(W_1 z + b_1) + b_2`, :math:`\phi` ReLU or GELU:

    .. math::
        \text{pre-LN (norm\_first=True):}\quad h = x + \mathrm{MHA}(\mathrm{LN}_1(x)),\qquad
        y = h + \mathrm{FFN}(\mathrm{LN}_2(h));

    .. math::
        \text{post-LN (default):}\quad h = \mathrm{LN}_1(x + \mathrm{MHA}(x)),\qquad
        y = \mathrm{LN}_2(h + \mathrm{FFN}(h)).

    Pre-LN leaves a clean identity path from the block's input to its output; post-LN (the
    original Transformer's order) normalizes *on* that path. PyTorch's defaults are post-LN
    and ReLU, as here. Masks follow ``nn.MultiheadAttention`` (``True`` = masked out).
    """
    dtype = as_float(src).dtype
    x = np.asarray(src, dtype=np.float64)
    p = {name: np.asarray(v, dtype=np.float64) for name, v in params.items()}
    d = x.shape[-1]
    act = _ACTIVATIONS[activation][0]

    def ln(z, i):
        return layer_norm_forward(z, (d,), p[f"norm{i}.weight"], p[f"norm{i}.bias"], layer_norm_eps)

    def attend(z):
        return multi_head_attention_forward(
            z, z, z, nhead, p["self_attn.in_proj_weight"], p["self_attn.in_proj_bias"],
            p["self_attn.out_proj.weight"], p["self_attn.out_proj.bias"], src_mask, src_key_padding_mask)

    def ffn_hidden(z):
        pre = z @ p["linear1.weight"].T + p["linear1.bias"]
        return pre, act(pre)

    if norm_first:
        n1 = ln(x, 1)
        a, att = attend(n1[0])
        mid = x + a
        n2 = ln(mid, 2)
        pre, hidden = ffn_hidden(n2[0])
        out = mid + hidden @ p["linear2.weight"].T + p["linear2.bias"]
    else:
        a, att = attend(x)
        n1 = ln(x + a, 1)
        mid = n1[0]
        pre, hidden = ffn_hidden(mid)
        n2 = ln(mid + hidden @ p["linear2.weight"].T + p["linear2.bias"], 2)
        out = n2[0]
    cache = EncoderCache(x, n1, att, mid, n2, pre, hidden, p, norm_first, activation, dtype)
    return out.astype(dtype), cache


def transformer_encoder_layer_backward(grad_output, cache: EncoderCache):
    r"""``(grad_src, grads)``, ``grads`` a dict with the same names as ``params``.

    Each residual connection :math:`y = z + f(z)` passes the upstream gradient to :math:`z`
    unchanged *and* through :math:`f`; each layer norm uses the closed-form backward pass of
    :func:`nn_reference.normalization.layer_norm_backward`.
    """
    p = cache.params
    g = np.asarray(grad_output, dtype=np.float64)
    act_grad = _ACTIVATIONS[cache.activation][1]
    grads = {}
    flat = (lambda a: a.reshape(-1, a.shape[-1]))

    def ffn_backward(g_out, z_in):
        """Back through linear2, the activation and linear1; returns the gradient at z_in."""
        grads["linear2.weight"] = flat(g_out).T @ flat(cache.hidden)
        grads["linear2.bias"] = flat(g_out).sum(axis=0)
        g_pre = (g_out @ p["linear2.weight"]) * act_grad(cache.hidden_pre)
        grads["linear1.weight"] = flat(g_pre).T @ flat(z_in)
        grads["linear1.bias"] = flat(g_pre).sum(axis=0)
        return g_pre @ p["linear1.weight"]

    def ln_backward(g_out, i, norm):
        g_in, grads[f"norm{i}.weight"], grads[f"norm{i}.bias"] = layer_norm_backward(g_out, norm[1])
        return g_in

    def attention_backward(g_out):
        a = multi_head_attention_backward(g_out, cache.attention)
        grads["self_attn.in_proj_weight"] = a.in_proj_weight
        grads["self_attn.in_proj_bias"] = a.in_proj_bias
        grads["self_attn.out_proj.weight"] = a.out_proj_weight
        grads["self_attn.out_proj.bias"] = a.out_proj_bias
        return a.query + a.key + a.value

    if cache.norm_first:
        g_mid = g + ln_backward(ffn_backward(g, cache.norm2[0]), 2, cache.norm2)
        g_x = g_mid + ln_backward(attention_backward(g_mid), 1, cache.norm1)
    else:
        g_s2 = ln_backward(g, 2, cache.norm2)
        g_mid = g_s2 + ffn_backward(g_s2, cache.mid)
        g_s1 = ln_backward(g_mid, 1, cache.norm1)
        g_x = g_s1 + attention_backward(g_s1)
    cast = (lambda a: np.asarray(a, dtype=np.float64).astype(cache.dtype))
    return cast(g_x), {name: cast(grads[name]) for name in p if name in grads}


# --------------------------------------------------------------------------- positions

def sinusoidal_positional_encoding(length: int, d_model: int, base: float = 10000.0) -> np.ndarray:
    r"""The fixed positional encoding of Vaswani et al. (2017), ``(length, d_model)``:

    .. math::
        PE_{t, 2i} = \sin\!\big(t / \text{base}^{2i/d}\big), \qquad
        PE_{t, 2i+1} = \cos\!\big(t / \text{base}^{2i/d}\big).

    Attention by itself is blind to order (permuting the inputs permutes the outputs); adding
    this to the token embeddings tells each position where it is. PyTorch has no such
    function; the tests check the formula and its properties.
    """
    t = np.arange(length)[:, None]
    freq = base ** (-np.arange(0, d_model, 2) / d_model)
    pe = np.zeros((length, d_model))
    pe[:, 0::2] = np.sin(t * freq)
    pe[:, 1::2] = np.cos(t * freq[: d_model // 2])
    return pe
