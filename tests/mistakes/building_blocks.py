"""Wrong and alternative submissions of the building-blocks assignment."""

from submission_cases import Alternative, Wrong

# ---------------------------------------------------------------- Part 1: conv2d
# The model solution with one piece replaced.
_CONV = '''
def conv2d(x, weight, bias=None, stride=1, padding=0):
    sh, sw = (stride, stride) if np.isscalar(stride) else STRIDE
    ph, pw = (padding, padding) if np.isscalar(padding) else padding
    n, c_in, h, w = x.shape
    c_out, _, kh, kw = weight.shape
    h_out = H_OUT
    w_out = W_OUT
    xp = PAD
    out = np.zeros((n, c_out, h_out, w_out), dtype=DTYPE)
    wk = KERNEL
    for u in range(kh):
        for v in range(kw):
            patch = xp[:, :, u:u + sh * (h_out - 1) + 1:sh, v:v + sw * (w_out - 1) + 1:sw]
            out += np.einsum("nchw,oc->nohw", patch, wk[:, :, u, v])
    if bias is not None:
        out += BIAS
    return RESULT
'''
_CONV_DEFAULTS = dict(
    STRIDE="stride", H_OUT="(h + 2 * ph - kh) // sh + 1", W_OUT="(w + 2 * pw - kw) // sw + 1",
    PAD="np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))", DTYPE="np.result_type(x, weight)",
    KERNEL="weight", BIAS="np.asarray(bias).reshape(1, -1, 1, 1)", RESULT="out.astype(x.dtype)")


def conv(**changes):
    src = _CONV
    for key, value in {**_CONV_DEFAULTS, **changes}.items():
        src = src.replace(key, value)
    return {"conv2d": src}


# ---------------------------------------------------------------- Part 2: conv2d_backward
_BACK = '''
def conv2d_backward(x, weight, grad_output, stride=1, padding=0):
    sh, sw = (stride, stride) if np.isscalar(stride) else stride
    ph, pw = (padding, padding) if np.isscalar(padding) else padding
    kh, kw = weight.shape[2:]
    g = grad_output
    h_out, w_out = g.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    grad_xp = np.zeros(xp.shape, dtype=np.result_type(x, weight, g))
    grad_weight = np.zeros(weight.shape, dtype=grad_xp.dtype)
    wk = KERNEL
    for u in range(kh):
        for v in range(kw):
            rows = ROWS
            cols = COLS
            grad_weight[:, :, u, v] = np.einsum("nohw,nchw->oc", g, xp[:, :, rows, cols])
            grad_xp[:, :, rows, cols] += np.einsum("nohw,oc->nchw", g, wk[:, :, u, v])
    grad_weight = GRAD_W
    grad_x = CROP
    grad_bias = GRAD_B
    return grad_x.astype(x.dtype), grad_weight.astype(x.dtype), grad_bias.astype(x.dtype)
'''
_BACK_DEFAULTS = dict(
    KERNEL="weight", ROWS="slice(u, u + sh * (h_out - 1) + 1, sh)",
    COLS="slice(v, v + sw * (w_out - 1) + 1, sw)", GRAD_W="grad_weight",
    CROP="grad_xp[:, :, ph:ph + x.shape[2], pw:pw + x.shape[3]]", GRAD_B="g.sum(axis=(0, 2, 3))")


def back(**changes):
    src = _BACK
    for key, value in {**_BACK_DEFAULTS, **changes}.items():
        src = src.replace(key, value)
    return {"conv2d_backward": src}


# ---------------------------------------------------------------- Part 3: causal_attention
_ATT = '''
def causal_attention(q, k, v):
    d = q.shape[-1]
    length = q.shape[-2]
    scores = q @ np.swapaxes(k, -1, -2) SCALE
    allowed = ALLOWED
    scores = np.where(allowed, scores, -np.inf)
    scores = scores - scores.max(axis=AXIS, keepdims=True)
    e = np.exp(scores)
    weights = e / e.sum(axis=AXIS, keepdims=True)
    return (weights @ v).astype(q.dtype), weights.astype(q.dtype)
'''
_ATT_DEFAULTS = dict(SCALE="/ np.sqrt(d)", ALLOWED="np.tril(np.ones((length, length), dtype=bool))",
                     AXIS="-1")


def att(**changes):
    src = _ATT
    for key, value in {**_ATT_DEFAULTS, **changes}.items():
        src = src.replace(key, value)
    return {"causal_attention": src}


# ---------------------------------------------------------------- Part 4: pre_ln_block
_BLOCK = '''
def pre_ln_block(x, params, num_heads):
    p = params
    n, length, e = x.shape
    dh = e // num_heads

    def layer_norm(z, i):
        mu = z.mean(axis=-1, keepdims=True)
        var = VAR
        return NORMALIZED * p[f"norm{i}.weight"] + p[f"norm{i}.bias"]

    def split(z):
        return SPLIT

    def merge(z):
        return MERGE

    def attention(z):
        qkv = z @ p["self_attn.in_proj_weight"].T + p["self_attn.in_proj_bias"]
        q, k, v = (split(a) for a in np.split(qkv, 3, axis=-1))
        scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(SCALE_DIM)
        scores = MASKED
        e_ = np.exp(scores - scores.max(axis=-1, keepdims=True))
        heads = (e_ / e_.sum(axis=-1, keepdims=True)) @ v
        return merge(heads) @ p["self_attn.out_proj.weight"].T + p["self_attn.out_proj.bias"]

    def ffn(z):
        return np.maximum(z @ p["linear1.weight"].T + p["linear1.bias"], 0) @ p["linear2.weight"].T + p["linear2.bias"]

BODY
    return y.astype(x.dtype)
'''
_PRE_LN = '''    h = x + attention(layer_norm(x, 1))
    y = h + ffn(layer_norm(h, 2))'''
_BLOCK_DEFAULTS = dict(
    VAR="z.var(axis=-1, keepdims=True)", NORMALIZED="(z - mu) / np.sqrt(var + 1e-5)",
    SPLIT="z.reshape(n, length, num_heads, dh).transpose(0, 2, 1, 3)",
    MERGE="z.transpose(0, 2, 1, 3).reshape(n, length, e)", SCALE_DIM="dh",
    MASKED="np.where(np.tril(np.ones((length, length), dtype=bool)), scores, -np.inf)", BODY=_PRE_LN)


def block(**changes):
    src = _BLOCK
    for key, value in {**_BLOCK_DEFAULTS, **changes}.items():
        src = src.replace(key, value)
    return {"pre_ln_block": src}


WRONG = [
    # ---- Part 1: forward
    Wrong("output size without the + 1 (one window too few)",
          conv(H_OUT="(h + 2 * ph - kh) // sh", W_OUT="(w + 2 * pw - kw) // sw"), loses="test_conv2d"),
    Wrong("output size rounded up: a partial last window when the stride does not divide",
          conv(H_OUT="-(-(h + 2 * ph - kh) // sh) + 1", W_OUT="-(-(w + 2 * pw - kw) // sw) + 1",
               PAD="np.pad(x, ((0, 0), (0, 0), (ph, ph + sh), (pw, pw + sw)))"),
          loses="test_conv2d"),
    Wrong("output size (H + 2p - k + 1) // s: off by one for strides above 1",
          conv(H_OUT="(h + 2 * ph - kh + 1) // sh", W_OUT="(w + 2 * pw - kw + 1) // sw"), loses="test_conv2d"),
    Wrong("padding pair read as (columns, rows)",
          conv(PAD="np.pad(x, ((0, 0), (0, 0), (pw, pw), (ph, ph)))",
               H_OUT="(h + 2 * pw - kh) // sh + 1", W_OUT="(w + 2 * ph - kw) // sw + 1"),
          loses="test_conv2d"),
    Wrong("padding applied to the batch and channel axes instead of rows and columns",
          conv(PAD="np.pad(x, ((ph, ph), (pw, pw), (0, 0), (0, 0)))"),
          loses="test_conv2d"),
    Wrong("padding only after the last row and column (one side)",
          conv(PAD="np.pad(x, ((0, 0), (0, 0), (0, 2 * ph), (0, 2 * pw)))"), loses="test_conv2d"),
    Wrong("stride pair read as (columns, rows)",
          conv(STRIDE="stride[::-1]"), loses="test_conv2d"),
    Wrong("the kernel flipped: the convolution of signal processing, not cross-correlation",
          conv(KERNEL="weight[:, :, ::-1, ::-1]"), loses="test_conv2d"),
    Wrong("the bias left out", conv(BIAS="0"), loses="test_conv2d"),
    Wrong("float32 input returned as float64", conv(RESULT="out.astype(np.float64)"), loses="test_conv2d"),
    # ---- Part 2: backward
    Wrong("grad_x scattered with the flipped kernel (convolution and cross-correlation confused)",
          back(KERNEL="weight[:, :, ::-1, ::-1]"), loses="test_conv2d_backward"),
    Wrong("grad_weight flipped (the correlation of the forward pass written as a convolution)",
          back(GRAD_W="grad_weight[:, :, ::-1, ::-1]"), loses="test_conv2d_backward"),
    Wrong("the padding not cropped off grad_x",
          back(CROP="grad_xp"), loses="test_conv2d_backward"),
    Wrong("grad_x cropped with the row and column paddings swapped",
          back(CROP="grad_xp[:, :, pw:pw + x.shape[2], ph:ph + x.shape[3]]"),
          loses="test_conv2d_backward"),
    Wrong("the stride ignored when scattering the gradient back",
          back(ROWS="slice(u, u + h_out)", COLS="slice(v, v + w_out)"), loses="test_conv2d_backward"),
    Wrong("overlapping windows overwrite grad_x instead of adding up (= where += is needed)",
          {"conv2d_backward": back()["conv2d_backward"].replace(
              "grad_xp[:, :, rows, cols] += ", "grad_xp[:, :, rows, cols] = ")},
          loses="test_conv2d_backward"),
    Wrong("grad_bias averaged instead of summed",
          back(GRAD_B="g.mean(axis=(0, 2, 3))"), loses="test_conv2d_backward"),
    Wrong("grad_bias taken from the first sample only (the batch axis not summed)",
          back(GRAD_B="g.sum(axis=(2, 3))[0]"),
          loses="test_conv2d_backward"),
    Wrong("gradients returned as float64 for float32 inputs",
          {"conv2d_backward": back()["conv2d_backward"].replace(
              "return grad_x.astype(x.dtype), grad_weight.astype(x.dtype), grad_bias.astype(x.dtype)",
              "return grad_x.astype(np.float64), grad_weight.astype(np.float64), grad_bias.astype(np.float64)")},
          loses="test_conv2d_backward"),
    # ---- Part 3: attention
    Wrong("no 1/sqrt(d) scaling", att(SCALE=""), loses="test_causal_attention"),
    Wrong("scores divided by d instead of sqrt(d)", att(SCALE="/ d"), loses="test_causal_attention"),
    Wrong("scores multiplied by sqrt(d)", att(SCALE="* np.sqrt(d)"), loses="test_causal_attention"),
    Wrong("the mask applied after the softmax (future weights zeroed, rows not renormalized)",
          {"causal_attention": '''
def causal_attention(q, k, v):
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    e = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights = e / e.sum(axis=-1, keepdims=True)
    weights = weights * np.tril(np.ones(weights.shape[-2:]))
    return (weights @ v).astype(q.dtype), weights.astype(q.dtype)
'''}, loses="test_causal_attention"),
    Wrong("the softmax over the queries (axis -2) instead of the keys",
          att(AXIS="-2"), loses="test_causal_attention"),
    Wrong("the diagonal masked too (a query cannot see itself)",
          {"causal_attention": att(ALLOWED="np.tril(np.ones((length, length), dtype=bool), -1)")["causal_attention"]
           .replace("scores = scores - scores.max(axis=-1, keepdims=True)",
                    "scores = scores - np.where(np.isinf(scores), -1e300, scores).max(axis=-1, keepdims=True)")
           .replace("weights = e / e.sum(axis=-1, keepdims=True)",
                    "weights = np.nan_to_num(e / np.maximum(e.sum(axis=-1, keepdims=True), 1e-300))")},
          loses="test_causal_attention"),
    Wrong("the mask transposed: each query attends to itself and the future",
          att(ALLOWED="np.triu(np.ones((length, length), dtype=bool))"), loses="test_causal_attention"),
    Wrong("a naive softmax that overflows for large scores",
          {"causal_attention": '''
def causal_attention(q, k, v):
    length = q.shape[-2]
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    e = np.exp(scores) * np.tril(np.ones((length, length)))
    weights = e / e.sum(axis=-1, keepdims=True)
    return (weights @ v).astype(q.dtype), weights.astype(q.dtype)
'''}, loses="test_causal_attention"),
    Wrong("q scaled in place (q /= sqrt(d)) modifies the caller's array",
          {"causal_attention": '''
def causal_attention(q, k, v):
    length = q.shape[-2]
    q /= np.sqrt(q.shape[-1])
    scores = q @ np.swapaxes(k, -1, -2)
    scores = np.where(np.tril(np.ones((length, length), dtype=bool)), scores, -np.inf)
    e = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights = e / e.sum(axis=-1, keepdims=True)
    return (weights @ v).astype(q.dtype), weights.astype(q.dtype)
'''}, loses="test_causal_attention"),
    Wrong("attention returned as float64 for float32 inputs",
          {"causal_attention": att()["causal_attention"].replace(
              "return (weights @ v).astype(q.dtype), weights.astype(q.dtype)",
              "return (weights @ v).astype(np.float64), weights.astype(np.float64)")},
          loses="test_causal_attention"),
    # ---- Part 4: the pre-LN block
    Wrong("post-LN where pre-LN is asked",
          block(BODY="    h = layer_norm(x + attention(x), 1)\n    y = layer_norm(h + ffn(h), 2)"),
          loses="test_pre_ln_block"),
    Wrong("heads split along the wrong dimension: (N, L, E) reshaped straight to (N, h, L, d_h)",
          block(SPLIT="z.reshape(n, num_heads, length, dh)", MERGE="z.reshape(n, length, e)"),
          loses="test_pre_ln_block"),
    Wrong("heads interleaved: head j takes every h-th feature",
          block(SPLIT="z.reshape(n, length, dh, num_heads).transpose(0, 3, 1, 2)",
                MERGE="z.transpose(0, 2, 3, 1).reshape(n, length, e)"),
          loses="test_pre_ln_block"),
    Wrong("scores scaled by 1/sqrt(E) instead of 1/sqrt(d_h)", block(SCALE_DIM="e"), loses="test_pre_ln_block"),
    Wrong("the causal mask left out", block(MASKED="scores"), loses="test_pre_ln_block"),
    Wrong("layer norm with the unbiased variance", block(VAR="z.var(axis=-1, ddof=1, keepdims=True)"),
          loses="test_pre_ln_block"),
    Wrong("layer norm with eps outside the square root", block(NORMALIZED="(z - mu) / (np.sqrt(var) + 1e-5)"),
          loses="test_pre_ln_block"),
    Wrong("the residual connection of the feed-forward half left out",
          block(BODY="    h = x + attention(layer_norm(x, 1))\n    y = ffn(layer_norm(h, 2))"),
          loses="test_pre_ln_block"),
    Wrong("an extra final layer norm (GPT-2's ln_f) inside the block",
          block(BODY="    h = x + attention(layer_norm(x, 1))\n    y = layer_norm(h + ffn(layer_norm(h, 2)), 2)"),
          loses="test_pre_ln_block"),
    Wrong("the output projection applied without its transpose (z @ W instead of z @ W.T)",
          {"pre_ln_block": block()["pre_ln_block"].replace(
              'p["self_attn.out_proj.weight"].T', 'p["self_attn.out_proj.weight"]')},
          loses="test_pre_ln_block"),
    Wrong("a softmax without the max subtracted inside the block (overflows for large scores)",
          {"pre_ln_block": block()["pre_ln_block"].replace(
              "np.exp(scores - scores.max(axis=-1, keepdims=True))", "np.exp(scores)")},
          loses="test_pre_ln_block"),
    Wrong("the residual stream updated in place (x += ...), modifying the caller's x",
          block(BODY="    x += attention(layer_norm(x, 1))\n    x += ffn(layer_norm(x, 2))\n    y = x"),
          loses="test_pre_ln_block"),
    Wrong("the block returned as float64 for float32 inputs",
          {"pre_ln_block": block()["pre_ln_block"].replace("return y.astype(x.dtype)", "return y.astype(np.float64)")},
          loses="test_pre_ln_block"),
]


# ---------------------------------------------------------------- correct alternatives
ALT_LOOPS = {
    "conv2d": '''
def conv2d(x, weight, bias=None, stride=1, padding=0):
    stride = (stride, stride) if isinstance(stride, int) else tuple(stride)
    padding = (padding, padding) if isinstance(padding, int) else tuple(padding)
    n, c, h, w = x.shape
    o, _, kh, kw = weight.shape
    ho = (h + 2 * padding[0] - kh) // stride[0] + 1
    wo = (w + 2 * padding[1] - kw) // stride[1] + 1
    xp = np.zeros((n, c, h + 2 * padding[0], w + 2 * padding[1]))
    xp[:, :, padding[0]:padding[0] + h, padding[1]:padding[1] + w] = x
    out = np.zeros((n, o, ho, wo))
    for b in range(n):
        for oc in range(o):
            for i in range(ho):
                for j in range(wo):
                    r, s = i * stride[0], j * stride[1]
                    out[b, oc, i, j] = np.sum(xp[b, :, r:r + kh, s:s + kw] * weight[oc])
                    if bias is not None:
                        out[b, oc, i, j] += bias[oc]
    return out.astype(x.dtype)
''',
    "conv2d_backward": '''
def conv2d_backward(x, weight, grad_output, stride=1, padding=0):
    stride = (stride, stride) if isinstance(stride, int) else tuple(stride)
    padding = (padding, padding) if isinstance(padding, int) else tuple(padding)
    n, c, h, w = x.shape
    o, _, kh, kw = weight.shape
    _, _, ho, wo = grad_output.shape
    xp = np.zeros((n, c, h + 2 * padding[0], w + 2 * padding[1]))
    xp[:, :, padding[0]:padding[0] + h, padding[1]:padding[1] + w] = x
    dxp = np.zeros_like(xp)
    dw = np.zeros(weight.shape)
    for b in range(n):
        for oc in range(o):
            for i in range(ho):
                for j in range(wo):
                    r, s = i * stride[0], j * stride[1]
                    gij = float(grad_output[b, oc, i, j])
                    dw[oc] += gij * xp[b, :, r:r + kh, s:s + kw]
                    dxp[b, :, r:r + kh, s:s + kw] += gij * weight[oc]
    db = np.array([grad_output[:, oc].sum() for oc in range(o)])
    dx = dxp[:, :, padding[0]:padding[0] + h, padding[1]:padding[1] + w]
    return dx.astype(x.dtype), dw.astype(x.dtype), db.astype(x.dtype)
''',
    "causal_attention": '''
def causal_attention(q, k, v):
    lead = q.shape[:-2]
    L, d = q.shape[-2:]
    q2 = q.reshape((-1, L, d)).astype(np.float64)
    k2 = k.reshape((-1, L, d)).astype(np.float64)
    v2 = v.reshape((-1, L, v.shape[-1])).astype(np.float64)
    out = np.zeros((q2.shape[0], L, v.shape[-1]))
    weights = np.zeros((q2.shape[0], L, L))
    for b in range(q2.shape[0]):
        for i in range(L):
            s = np.array([q2[b, i] @ k2[b, j] for j in range(i + 1)]) / d ** 0.5
            p = np.exp(s - s.max())
            p /= p.sum()
            weights[b, i, :i + 1] = p
            out[b, i] = p @ v2[b, :i + 1]
    return out.reshape(lead + (L, v.shape[-1])).astype(q.dtype), weights.reshape(lead + (L, L)).astype(q.dtype)
''',
    "pre_ln_block": '''
def _ln(z, gamma, beta):
    mean = z.mean(-1, keepdims=True)
    var = ((z - mean) ** 2).mean(-1, keepdims=True)
    return gamma * (z - mean) / np.sqrt(var + 1e-5) + beta

def pre_ln_block(x, params, num_heads):
    P = {name: np.asarray(a, dtype=np.float64) for name, a in params.items()}
    x64 = x.astype(np.float64)
    N, L, E = x.shape
    dh = E // num_heads
    z = _ln(x64, P["norm1.weight"], P["norm1.bias"])
    W, b = P["self_attn.in_proj_weight"], P["self_attn.in_proj_bias"]
    Q = z @ W[:E].T + b[:E]
    K = z @ W[E:2 * E].T + b[E:2 * E]
    V = z @ W[2 * E:].T + b[2 * E:]
    heads = []
    for j in range(num_heads):
        f = slice(j * dh, (j + 1) * dh)
        out, _ = causal_attention(Q[:, :, f], K[:, :, f], V[:, :, f])
        heads.append(out)
    attn = np.concatenate(heads, axis=-1) @ P["self_attn.out_proj.weight"].T + P["self_attn.out_proj.bias"]
    h = x64 + attn
    z2 = _ln(h, P["norm2.weight"], P["norm2.bias"])
    ff = np.maximum(0, z2 @ P["linear1.weight"].T + P["linear1.bias"]) @ P["linear2.weight"].T + P["linear2.bias"]
    return (h + ff).astype(x.dtype)
''',
}

ALT_VECTORIZED = {
    "conv2d": '''
from numpy.lib.stride_tricks import sliding_window_view

def _pair(a):
    return (a, a) if np.ndim(a) == 0 else (a[0], a[1])

def conv2d(x, weight, bias=None, stride=1, padding=0):
    (sh, sw), (ph, pw) = _pair(stride), _pair(padding)
    xp = np.pad(x.astype(np.float64), [(0, 0), (0, 0), (ph, ph), (pw, pw)], mode="constant")
    win = sliding_window_view(xp, weight.shape[2:], axis=(2, 3))[:, :, ::sh, ::sw]  # N C Ho Wo kh kw
    out = np.einsum("ncijuv,ocuv->noij", win, weight.astype(np.float64))
    if bias is not None:
        out = out + np.asarray(bias, dtype=np.float64)[None, :, None, None]
    return out.astype(x.dtype)
''',
    # grad_x as a full cross-correlation of the stride-dilated gradient with the FLIPPED kernel
    "conv2d_backward": '''
from numpy.lib.stride_tricks import sliding_window_view

def conv2d_backward(x, weight, grad_output, stride=1, padding=0):
    sh, sw = (stride, stride) if np.ndim(stride) == 0 else stride
    ph, pw = (padding, padding) if np.ndim(padding) == 0 else padding
    n, c, h, w = x.shape
    o, _, kh, kw = weight.shape
    _, _, ho, wo = grad_output.shape
    g = grad_output.astype(np.float64)
    wt = weight.astype(np.float64)
    xp = np.pad(x.astype(np.float64), [(0, 0), (0, 0), (ph, ph), (pw, pw)])
    win = sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw][:, :, :ho, :wo]
    dw = np.einsum("noij,ncijuv->ocuv", g, win)
    # dilate the gradient by the stride, pad it by k - 1, correlate with the flipped kernel
    hp, wp = xp.shape[2:]
    gd = np.zeros((n, o, hp + kh - 1, wp + kw - 1))
    gd[:, :, kh - 1:kh - 1 + sh * ho:sh, kw - 1:kw - 1 + sw * wo:sw] = g
    gwin = sliding_window_view(gd, (kh, kw), axis=(2, 3))[:, :, :hp, :wp]   # n o hp wp kh kw
    dxp = np.einsum("norsuv,ocuv->ncrs", gwin, wt[:, :, ::-1, ::-1])
    dx = dxp[:, :, ph:ph + h, pw:pw + w]
    db = np.einsum("noij->o", g)
    return dx.astype(x.dtype), dw.astype(x.dtype), db.astype(x.dtype)
''',
    "causal_attention": '''
def causal_attention(q, k, v):
    L, d = q.shape[-2:]
    scores = np.einsum("...id,...jd->...ij", q.astype(np.float64), k.astype(np.float64)) / np.sqrt(d)
    future = np.triu(np.ones((L, L), dtype=bool), k=1)
    scores = np.where(future, -1e30, scores)
    scores -= scores.max(axis=-1, keepdims=True)
    weights = np.exp(scores)
    weights /= weights.sum(axis=-1, keepdims=True)
    out = np.einsum("...ij,...jd->...id", weights, v.astype(np.float64))
    return out.astype(q.dtype), weights.astype(q.dtype)
''',
    "pre_ln_block": '''
def pre_ln_block(x, params, num_heads):
    N, L, E = x.shape
    H = num_heads
    D = E // H
    p = params

    def norm(z, i):
        z = z - z.mean(axis=-1, keepdims=True)
        return z / np.sqrt((z * z).mean(axis=-1, keepdims=True) + 1e-5) * p["norm%d.weight" % i] + p["norm%d.bias" % i]

    W = p["self_attn.in_proj_weight"].reshape(3, H, D, E)
    B = p["self_attn.in_proj_bias"].reshape(3, H, D)
    z = norm(x, 1)
    q, k, v = (np.einsum("nle,hde->nhld", z, W[t]) + B[t][None, :, None, :] for t in range(3))
    out, _ = causal_attention(q, k, v)                     # (N, H, L, D), Part 3 reused
    Wo = p["self_attn.out_proj.weight"].reshape(E, H, D)
    h = x + np.einsum("nhld,ehd->nle", out, Wo) + p["self_attn.out_proj.bias"]
    hidden = np.maximum(norm(h, 2) @ p["linear1.weight"].T + p["linear1.bias"], 0)
    return (h + hidden @ p["linear2.weight"].T + p["linear2.bias"]).astype(x.dtype)
''',
}

ALT_X_DTYPE = {
    # Everything computed in x's dtype: the weight, bias and gradient cast to x.dtype first;
    # im2col with an explicit index grid and one matmul; grad_x scattered with np.add.at.
    "conv2d": '''
def _im2col_index(h, w, kh, kw, sh, sw, ho, wo):
    rows = (np.arange(ho) * sh)[:, None, None, None] + np.arange(kh)[None, None, :, None]
    cols = (np.arange(wo) * sw)[None, :, None, None] + np.arange(kw)[None, None, None, :]
    return rows, cols                                  # broadcast to (ho, wo, kh, kw)

def conv2d(x, weight, bias=None, stride=1, padding=0):
    sh, sw = stride if isinstance(stride, (tuple, list)) else (stride, stride)
    ph, pw = padding if isinstance(padding, (tuple, list)) else (padding, padding)
    n, c, h, w = x.shape
    o, _, kh, kw = weight.shape
    ho, wo = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    xp = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=x.dtype)
    xp[:, :, ph:ph + h, pw:pw + w] = x
    rows, cols = _im2col_index(h, w, kh, kw, sh, sw, ho, wo)
    patches = xp[:, :, rows, cols]                      # (n, c, ho, wo, kh, kw)
    patches = patches.transpose(0, 2, 3, 1, 4, 5).reshape(n * ho * wo, c * kh * kw)
    out = patches @ weight.astype(x.dtype).reshape(o, -1).T        # (n*ho*wo, o)
    if bias is not None:
        out = out + np.asarray(bias).astype(x.dtype)
    return np.ascontiguousarray(out.reshape(n, ho, wo, o).transpose(0, 3, 1, 2))
''',
    "conv2d_backward": '''
def conv2d_backward(x, weight, grad_output, stride=1, padding=0):
    sh, sw = stride if isinstance(stride, (tuple, list)) else (stride, stride)
    ph, pw = padding if isinstance(padding, (tuple, list)) else (padding, padding)
    n, c, h, w = x.shape
    o, _, kh, kw = weight.shape
    ho, wo = grad_output.shape[2:]
    wt = weight.astype(x.dtype)
    g = grad_output.astype(x.dtype)
    xp = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=x.dtype)
    xp[:, :, ph:ph + h, pw:pw + w] = x
    rows = (np.arange(ho) * sh)[:, None, None, None] + np.arange(kh)[None, None, :, None]
    cols = (np.arange(wo) * sw)[None, :, None, None] + np.arange(kw)[None, None, None, :]
    rows, cols = np.broadcast_arrays(rows, cols)
    patches = xp[:, :, rows, cols]                      # (n, c, ho, wo, kh, kw)
    grad_weight = np.tensordot(g, patches, axes=([0, 2, 3], [0, 2, 3]))        # (o, c, kh, kw)
    contrib = np.tensordot(g, wt, axes=([1], [0]))       # (n, ho, wo, c, kh, kw)
    grad_xp = np.zeros_like(xp)
    for b in range(n):
        for ch in range(c):
            np.add.at(grad_xp[b, ch], (rows, cols), contrib[b, :, :, ch])
    grad_x = grad_xp[:, :, ph:ph + h, pw:pw + w].copy()
    return grad_x, grad_weight.astype(x.dtype), g.sum(axis=(0, 2, 3))
''',
}

ALTERNATIVE = [
    Alternative("explicit loops, float64 intermediates cast back, a helper function", ALT_LOOPS),
    Alternative("sliding windows and einsum; grad_x as a convolution with the flipped kernel", ALT_VECTORIZED),
    Alternative("everything in x's dtype (weight, bias, gradient cast first), im2col index grids, "
                "tensordot, np.add.at", ALT_X_DTYPE),
]
