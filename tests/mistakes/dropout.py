"""Wrong and alternative submissions of the dropout assignment."""

from submission_cases import Alternative, Wrong

# Part 2 with the line that computes the output replaced; everything else is the model solution.
_FORWARD = '''
def dropout_forward(x, p, mask, training=True):
    x = np.asarray(x)
    cache = (mask, p, training)
    if not training:
        return x.copy(), cache
    OUTPUT
    return out, cache
'''


def forward(output_line):
    return _FORWARD.replace("OUTPUT", output_line)


# Part 5 with one piece replaced.
_MC = '''
def mc_dropout_predict(x, W1, b1, W2, b2, p, masks):
    h = np.maximum(x @ W1 + b1, 0)
    probs = []
    for m in masks:
        logits = (h * m SCALE) @ W2 + b2
        z = logits - logits.max(axis=1, keepdims=True)
        e = np.exp(z)
        probs.append(e / e.sum(axis=1, keepdims=True))
    probs = np.stack(probs)
    return probs.mean(axis=0), VARIANCE
'''


def mc(scale="/ (1 - p)", variance="probs.var(axis=0)"):
    return _MC.replace("SCALE", scale).replace("VARIANCE", variance)


WRONG = [
    # ---- Part 1: the mask
    Wrong("p read as the keep probability: each unit kept with probability p",
          {"dropout_mask": "def dropout_mask(shape, p, rng):\n    return rng.random(shape) < p"},
          loses="test_dropout_mask"),
    Wrong("the global np.random state used instead of the generator rng",
          {"dropout_mask": "def dropout_mask(shape, p, rng):\n    return np.random.rand(*shape) >= p"},
          loses="test_dropout_mask"),
    Wrong("a 0/1 integer mask where a boolean one is asked",
          {"dropout_mask": "def dropout_mask(shape, p, rng):\n    return (rng.random(shape) >= p).astype(np.uint8)"},
          loses="test_dropout_mask"),
    Wrong("channel dropout with the global np.random state instead of rng",
          {"channel_dropout": "def channel_dropout(x, p, rng, training=True):\n"
                              "    if not training:\n        return x.copy()\n"
                              "    keep = np.random.random(x.shape[:2] + (1, 1)) >= p\n"
                              "    return np.where(keep, x * (0.0 if p == 1 else 1 / (1 - p)), 0).astype(x.dtype)"},
          loses="test_channel_dropout"),
    Wrong("channel dropout with a generator seeded inside the function",
          {"channel_dropout": "def channel_dropout(x, p, rng, training=True):\n"
                              "    if not training:\n        return x.copy()\n"
                              "    keep = np.random.default_rng(0).random(x.shape[:2] + (1, 1)) >= p\n"
                              "    return np.where(keep, x * (0.0 if p == 1 else 1 / (1 - p)), 0).astype(x.dtype)"},
          loses="test_channel_dropout"),
    Wrong("one random number for the whole mask",
          {"dropout_mask": "def dropout_mask(shape, p, rng):\n"
                           "    return np.full(shape, rng.random() >= p)"},
          loses="test_dropout_mask"),
    # ---- Part 2: forward
    Wrong("survivors scaled by p instead of 1 / (1 - p)",
          {"dropout_forward": forward("out = x * mask * p")},
          loses="test_dropout_forward"),
    Wrong("p read as the keep probability: survivors divided by p",
          {"dropout_forward": forward("out = x * mask / p")},
          loses="test_dropout_forward"),
    Wrong("no scaling in training (the original, non-inverted dropout)",
          {"dropout_forward": forward("out = x * mask")},
          loses="test_dropout_forward"),
    Wrong("dropout still active in inference mode (training ignored)",
          {"dropout_forward": "def dropout_forward(x, p, mask, training=True):\n"
                              "    x = np.asarray(x)\n"
                              "    scale = 0.0 if p == 1 else 1.0 / (1.0 - p)\n"
                              "    return x * mask * x.dtype.type(scale), (mask, p, training)"},
          loses="test_dropout_forward"),
    Wrong("the input modified in place",
          {"dropout_forward": "def dropout_forward(x, p, mask, training=True):\n"
                              "    if training:\n"
                              "        x[~mask] = 0\n"
                              "        if p < 1:\n"
                              "            x /= 1 - p\n"
                              "    return x, (mask, p, training)"},
          loses="test_dropout_forward"),
    Wrong("division by 1 - p = 0 at p = 1 (nan instead of zeros)",
          {"dropout_forward": forward("out = x * mask / (1 - p)")},
          loses="test_dropout_forward"),
    Wrong("float32 input returned as float64",
          {"dropout_forward": forward("out = x.astype(np.float64) * mask * (0.0 if p == 1 else 1 / (1 - p))")},
          loses="test_dropout_forward"),
    Wrong("dropout forward that calls torch",
          {"dropout_forward": "import torch\n" + forward(
              "out = (torch.from_numpy(x) * torch.from_numpy(np.asarray(mask)) "
              "* (0.0 if p == 1 else 1 / (1 - p))).numpy()")},
          loses="test_dropout_forward"),
    # ---- Part 3: backward
    Wrong("a backward pass that draws a new mask",
          {"dropout_backward": "def dropout_backward(grad_output, cache):\n"
                               "    _, p, training = cache\n"
                               "    if not training:\n        return grad_output.copy()\n"
                               "    mask = np.random.rand(*grad_output.shape) >= p\n"
                               "    return grad_output * mask * (0.0 if p == 1 else 1 / (1 - p))"},
          loses="test_dropout_backward"),
    Wrong("backward without the factor 1 / (1 - p)",
          {"dropout_backward": "def dropout_backward(grad_output, cache):\n"
                               "    mask, p, training = cache\n"
                               "    if not training:\n        return grad_output.copy()\n"
                               "    return grad_output * mask"},
          loses="test_dropout_backward"),
    Wrong("backward that applies the mask in inference mode too",
          {"dropout_backward": "def dropout_backward(grad_output, cache):\n"
                               "    mask, p, training = cache\n"
                               "    return np.where(mask, grad_output * (0.0 if p == 1 else 1 / (1 - p)), 0.0)"
                               ".astype(grad_output.dtype)"},
          loses="test_dropout_backward"),
    # ---- Part 4: channel dropout
    Wrong("an element mask where a channel mask is required",
          {"channel_dropout": "def channel_dropout(x, p, rng, training=True):\n"
                              "    if not training:\n        return x.copy()\n"
                              "    keep = rng.random(x.shape) >= p\n"
                              "    return np.where(keep, x / (1 - p), 0).astype(x.dtype)"},
          loses="test_channel_dropout"),
    Wrong("one channel mask shared by every sample of the batch",
          {"channel_dropout": "def channel_dropout(x, p, rng, training=True):\n"
                              "    if not training:\n        return x.copy()\n"
                              "    keep = rng.random((1, x.shape[1], 1, 1)) >= p\n"
                              "    return np.where(keep, x / (1 - p), 0).astype(x.dtype)"},
          loses="test_channel_dropout"),
    Wrong("channel dropout still active in inference mode",
          {"channel_dropout": "def channel_dropout(x, p, rng, training=True):\n"
                              "    keep = rng.random(x.shape[:2] + (1, 1)) >= p\n"
                              "    return np.where(keep, x / (1 - p), 0).astype(x.dtype)"},
          loses="test_channel_dropout"),
    Wrong("channel dropout that modifies its input in place",
          {"channel_dropout": "def channel_dropout(x, p, rng, training=True):\n"
                              "    if training:\n"
                              "        keep = rng.random(x.shape[:2]) >= p\n"
                              "        x[~keep] = 0\n        x /= 1 - p\n"
                              "    return x"},
          loses="test_channel_dropout"),
    Wrong("channel dropout with p read as the keep probability",
          {"channel_dropout": "def channel_dropout(x, p, rng, training=True):\n"
                              "    if not training:\n        return x.copy()\n"
                              "    keep = rng.random(x.shape[:2] + (1, 1)) < p\n"
                              "    return np.where(keep, x / p, 0).astype(x.dtype)"},
          loses="test_channel_dropout"),
    # ---- Part 5: Monte Carlo dropout
    Wrong("Monte Carlo dropout averaging the logits, then one softmax",
          {"mc_dropout_predict": "def mc_dropout_predict(x, W1, b1, W2, b2, p, masks):\n"
                                 "    h = np.maximum(x @ W1 + b1, 0)\n"
                                 "    logits = np.stack([(h * m / (1 - p)) @ W2 + b2 for m in masks])\n"
                                 "    mean_logits = logits.mean(axis=0)\n"
                                 "    z = np.exp(mean_logits - mean_logits.max(axis=1, keepdims=True))\n"
                                 "    z /= z.sum(axis=1, keepdims=True)\n"
                                 "    e = np.exp(logits - logits.max(axis=2, keepdims=True))\n"
                                 "    probs = e / e.sum(axis=2, keepdims=True)\n"
                                 "    return z, probs.var(axis=0)"},
          loses="test_mc_dropout_predict"),
    Wrong("Monte Carlo dropout without the 1 / (1 - p) scale",
          {"mc_dropout_predict": mc(scale="")},
          loses="test_mc_dropout_predict"),
    Wrong("Monte Carlo variance divided by T - 1",
          {"mc_dropout_predict": mc(variance="probs.var(axis=0, ddof=1) if len(probs) > 1 else probs.var(axis=0)")},
          loses="test_mc_dropout_predict"),
    Wrong("Monte Carlo dropout with a naive softmax that overflows for large logits",
          {"mc_dropout_predict": mc().replace("z = logits - logits.max(axis=1, keepdims=True)",
                                              "z = logits")},
          loses="test_mc_dropout_predict"),
    Wrong("Monte Carlo dropout that ignores the masks (dropout off)",
          {"mc_dropout_predict": mc(scale="").replace("h * m", "h")},
          loses="test_mc_dropout_predict"),
]

ALTERNATIVE = [
    Alternative("binomial draws, multiplication by the mask, an explicit p == 1 branch", {
        "dropout_mask": "def dropout_mask(shape, p, rng):\n"
                        "    return rng.binomial(1, 1 - p, size=shape).astype(bool)",
        "dropout_forward": "def dropout_forward(x, p, mask, training=True):\n"
                           "    if not training:\n        return x, (mask, p, training)\n"
                           "    if p == 1:\n        return np.zeros_like(x), (mask, p, training)\n"
                           "    return x * mask / (1 - p), (mask, p, training)",
        "dropout_backward": "def dropout_backward(grad_output, cache):\n"
                            "    mask, p, training = cache\n"
                            "    if not training:\n        return grad_output\n"
                            "    if p == 1:\n        return np.zeros_like(grad_output)\n"
                            "    return grad_output * mask / (1 - p)",
        "channel_dropout": "def channel_dropout(x, p, rng, training=True):\n"
                           "    if not training:\n        return x\n"
                           "    n, c, h, w = x.shape\n"
                           "    keep = rng.uniform(size=(n, c)) < 1 - p\n"
                           "    if p == 1:\n        return np.zeros_like(x)\n"
                           "    return x * keep[:, :, None, None] / (1 - p)",
    }),
    Alternative("a NamedTuple cache, a strict comparison, vectorized Monte Carlo with log-sum-exp", {
        "dropout_mask": "def dropout_mask(shape, p, rng):\n"
                        "    return np.asarray(rng.random(size=shape) > p, dtype=bool)",
        "dropout_forward": "from typing import NamedTuple\n"
                           "class Cache(NamedTuple):\n    mask: object\n    p: float\n    training: bool\n"
                           "def dropout_forward(x, p, mask, training=True):\n"
                           "    cache = Cache(mask, p, training)\n"
                           "    if not training:\n        return x.copy(), cache\n"
                           "    keep_prob = 1.0 - p\n"
                           "    factor = np.where(mask, 1.0 / keep_prob if keep_prob > 0 else 0.0, 0.0)\n"
                           "    return (x * factor.astype(x.dtype)), cache",
        "dropout_backward": "def dropout_backward(grad_output, cache):\n"
                            "    mask, p, training = cache\n"
                            "    out, _ = dropout_forward(grad_output, p, mask, training)\n"
                            "    return out",
        "channel_dropout": "def channel_dropout(x, p, rng, training=True):\n"
                           "    out = x.copy()\n"
                           "    if training:\n"
                           "        for n in range(x.shape[0]):\n"
                           "            drop = rng.random(x.shape[1]) < p\n"
                           "            out[n, drop] = 0\n"
                           "            out[n, ~drop] *= x.dtype.type(1 / (1 - p)) if p < 1 else 0\n"
                           "    return out",
        "mc_dropout_predict": "def mc_dropout_predict(x, W1, b1, W2, b2, p, masks):\n"
                              "    h = np.clip(x @ W1 + b1, 0, None)\n"
                              "    logits = np.einsum('tnh,hk->tnk', h[None] * masks / (1 - p), W2) + b2\n"
                              "    top = logits.max(axis=-1, keepdims=True)\n"
                              "    lse = top + np.log(np.exp(logits - top).sum(axis=-1, keepdims=True))\n"
                              "    probs = np.exp(logits - lse)\n"
                              "    mean = probs.mean(axis=0)\n"
                              "    return mean, ((probs - mean) ** 2).mean(axis=0)",
    }),
]
