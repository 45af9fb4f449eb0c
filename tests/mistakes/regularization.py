"""Wrong and alternative submissions of the regularization assignment."""

from submission_cases import Alternative, Wrong

# ---------------------------------------------------------------- Part 1: L2 over named parameters
_L2 = '''
def l2_penalty_and_grad(params, lam, exclude_biases=True):
    penalty = 0.0
    grads = {}
    for name, value in params.items():
        w = np.asarray(value)
        if exclude_biases and IS_BIAS:
            grads[name] = np.zeros_like(w)
            continue
        penalty += PENALTY
        grads[name] = GRAD
    return penalty, grads
'''


def l2(is_bias='name.endswith("bias")', penalty="lam * float(np.sum(w.astype(np.float64) ** 2))",
       grad="w.dtype.type(2 * lam) * w"):
    return _L2.replace("IS_BIAS", is_bias).replace("PENALTY", penalty).replace("GRAD", grad)


# ---------------------------------------------------------------- Part 2: elastic net
_PROX = '''
def elastic_net_step(weight, grad, lr, l1, l2):
    w = np.asarray(weight)
    dt = w.dtype.type
    v = w - dt(lr) * np.asarray(grad, dtype=w.dtype)
    BODY
'''


def prox(body):
    return _PROX.replace("BODY", body)


# ---------------------------------------------------------------- Part 3: early stopping
_UPDATE = '''
def early_stopping_update(state, value, weights, patience, min_delta=0.0):
    if state is None:
        state = {"best_value": np.inf, "best_epoch": -1, "best_weights": None,
                 "bad_epochs": 0, "epoch": 0, "stop": False}
    epoch = state["epoch"]
    if IMPROVED:
        return {"best_value": float(value), "best_epoch": BEST_EPOCH, "best_weights": SNAPSHOT,
                "bad_epochs": 0, "epoch": epoch + 1, "stop": False}
    bad = BAD
    return {**state, "bad_epochs": bad, "epoch": epoch + 1, "stop": STOP}
'''

_LOOP = '''
def train_with_early_stopping(weights, updates, val_losses, patience, min_delta=0.0):
    state = None
    for t, value in enumerate(val_losses):
        for name in weights:
            weights[name] += updates[t][name]
        state = early_stopping_update(state, value, weights, patience, min_delta)
        if state["stop"]:
            break
    RESTORE
    return state
'''

_RESTORE = '''for name, best in state["best_weights"].items():
        weights[name][...] = best'''


def early(improved='value < state["best_value"] - min_delta', best_epoch="epoch",
          snapshot="{name: np.array(w, copy=True) for name, w in weights.items()}",
          bad='state["bad_epochs"] + 1', stop="bad >= patience", restore=_RESTORE):
    update = (_UPDATE.replace("IMPROVED", improved).replace("BEST_EPOCH", best_epoch)
              .replace("SNAPSHOT", snapshot).replace("BAD", bad).replace("STOP", stop))
    return update + _LOOP.replace("RESTORE", restore)


# ---------------------------------------------------------------- Part 4: crop and flip
_CROP = '''
def random_crop_flip(x, padding, flip_prob, rng):
    x = np.asarray(x)
    n, _, h, w = x.shape
    top = TOP
    left = LEFT
    flipped = FLIPPED
    padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    y = np.empty_like(x)
    for k in range(n):
        window = padded[k, :, top[k]:top[k] + h, left[k]:left[k] + w]
        y[k] = window[FLIP_AXES] if flipped[k] else window
    return y, top, left, flipped
'''


def crop(top="rng.integers(0, 2 * padding + 1, size=n)", left="rng.integers(0, 2 * padding + 1, size=n)",
         flipped="rng.random(n) < flip_prob", flip_axes=":, :, ::-1"):
    return (_CROP.replace("TOP", top).replace("LEFT", left).replace("FLIPPED", flipped)
            .replace("FLIP_AXES", flip_axes))


# ---------------------------------------------------------------- Part 5: label smoothing
_LS = '''
def label_smoothing_cross_entropy(logits, target, label_smoothing=0.0, ignore_index=-100):
    z = np.asarray(logits)
    y = np.asarray(target)
    n, k = z.shape
    eps = label_smoothing
    kept = np.flatnonzero(y != ignore_index)
    m = len(kept)
    shifted = z - z.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows = np.arange(m)
    TARGETS
    loss = -np.sum(q * log_probs[kept]) / LOSS_DIV
    grad = np.zeros_like(z)
    grad[kept] = (np.exp(log_probs[kept]) - GRAD_Q) / GRAD_DIV
    return float(loss), grad
'''
_Q_PYTORCH = '''q = np.full((m, k), eps / k)
    q[rows, y[kept]] += 1 - eps'''


def ls(targets=_Q_PYTORCH, loss_div="m", grad_q="q", grad_div="m"):
    return (_LS.replace("TARGETS", targets).replace("LOSS_DIV", loss_div).replace("GRAD_Q", grad_q)
            .replace("GRAD_DIV", grad_div))


WRONG = [
    # ---- Part 1
    Wrong("the biases penalized when told not to (exclude_biases ignored)",
          {"l2_penalty_and_grad": l2(is_bias="False")},
          loses="test_l2_penalty_and_grad"),
    Wrong("the biases left out even with exclude_biases=False",
          {"l2_penalty_and_grad": l2().replace("if exclude_biases and ", "if ")},
          loses="test_l2_penalty_and_grad"),
    Wrong("biases recognized as the 1-D parameters (norm.weight left out too)",
          {"l2_penalty_and_grad": l2(is_bias="w.ndim == 1")},
          loses="test_l2_penalty_and_grad"),
    Wrong("biases recognized by the last dotted part only (attn.in_proj_bias penalized)",
          {"l2_penalty_and_grad": l2(is_bias='name.split(".")[-1] == "bias"')},
          loses="test_l2_penalty_and_grad"),
    Wrong("biases recognized by 'bias' anywhere in the name (bias_proj.weight left out)",
          {"l2_penalty_and_grad": l2(is_bias='"bias" in name')},
          loses="test_l2_penalty_and_grad"),
    Wrong("the factor 2 of the L2 gradient dropped",
          {"l2_penalty_and_grad": l2(grad="w.dtype.type(lam) * w")},
          loses="test_l2_penalty_and_grad"),
    Wrong("the factor 2 of the L2 gradient doubled",
          {"l2_penalty_and_grad": l2(grad="w.dtype.type(4 * lam) * w")},
          loses="test_l2_penalty_and_grad"),
    Wrong("a factor 1/2 in the penalty (lam/2 sum w^2, gradient lam w)",
          {"l2_penalty_and_grad": l2(penalty="0.5 * lam * float(np.sum(w.astype(np.float64) ** 2))",
                                     grad="w.dtype.type(lam) * w")},
          loses="test_l2_penalty_and_grad"),
    Wrong("the zero gradients of the excluded biases missing from grads",
          {"l2_penalty_and_grad": l2().replace("grads[name] = np.zeros_like(w)\n", "pass\n")},
          loses="test_l2_penalty_and_grad"),
    Wrong("float32 gradients returned as float64",
          {"l2_penalty_and_grad": l2(grad="2 * lam * w.astype(np.float64)")},
          loses="test_l2_penalty_and_grad"),
    Wrong("the parameters modified in place (the gradient computed in their arrays)",
          {"l2_penalty_and_grad": l2(penalty="lam * float(np.sum(w.astype(np.float64) ** 2))\n"
                                             "        w *= w.dtype.type(2 * lam)",
                                     grad="w")},
          loses="test_l2_penalty_and_grad"),
    # ---- Part 2
    Wrong("elastic net: the threshold l1 instead of lr * l1",
          {"elastic_net_step": prox("return np.sign(v) * np.maximum(np.abs(v) - dt(l1), dt(0)) / dt(1 + 2 * lr * l2)")},
          loses="test_elastic_net_step"),
    Wrong("elastic net: the factor 2 of the L2 part dropped (division by 1 + lr l2)",
          {"elastic_net_step": prox("return np.sign(v) * np.maximum(np.abs(v) - dt(lr * l1), dt(0)) / dt(1 + lr * l2)")},
          loses="test_elastic_net_step"),
    Wrong("elastic net: the factor 2 of the L2 part doubled (division by 1 + 4 lr l2)",
          {"elastic_net_step": prox("return np.sign(v) * np.maximum(np.abs(v) - dt(lr * l1), dt(0)) / dt(1 + 4 * lr * l2)")},
          loses="test_elastic_net_step"),
    Wrong("elastic net: an explicit decay step (1 - 2 lr l2) instead of the exact division",
          {"elastic_net_step": prox("return np.sign(v) * np.maximum(np.abs(v) - dt(lr * l1), dt(0)) * dt(1 - 2 * lr * l2)")},
          loses="test_elastic_net_step"),
    Wrong("elastic net: the L2 division before the thresholding",
          {"elastic_net_step": prox("v = v / dt(1 + 2 * lr * l2)\n"
                                    "    return np.sign(v) * np.maximum(np.abs(v) - dt(lr * l1), dt(0))")},
          loses="test_elastic_net_step"),
    Wrong("elastic net: the proximal step applied before the gradient step",
          {"elastic_net_step": prox("s = np.sign(w) * np.maximum(np.abs(w) - dt(lr * l1), dt(0)) / dt(1 + 2 * lr * l2)\n"
                                    "    return s - dt(lr) * np.asarray(grad, dtype=w.dtype)")},
          loses="test_elastic_net_step"),
    Wrong("elastic net: a subgradient step (no exact zeros)",
          {"elastic_net_step": prox("return w - dt(lr) * (np.asarray(grad, dtype=w.dtype) + dt(l1) * np.sign(w) + dt(2 * l2) * w)")},
          loses="test_elastic_net_step"),
    Wrong("elastic net: hard thresholding (small entries zeroed, the others not shrunk)",
          {"elastic_net_step": prox("return np.where(np.abs(v) > dt(lr * l1), v, dt(0)) / dt(1 + 2 * lr * l2)")},
          loses="test_elastic_net_step"),
    Wrong("elastic net: the weight updated in place",
          {"elastic_net_step": "def elastic_net_step(weight, grad, lr, l1, l2):\n"
                               "    w = weight\n"
                               "    dt = w.dtype.type\n"
                               "    w -= dt(lr) * grad\n"
                               "    return np.sign(w) * np.maximum(np.abs(w) - dt(lr * l1), dt(0)) / dt(1 + 2 * lr * l2)"},
          loses="test_elastic_net_step"),
    Wrong("elastic net: float32 returned as float64",
          {"elastic_net_step": prox("v = v.astype(np.float64)\n"
                                    "    return np.sign(v) * np.maximum(np.abs(v) - lr * l1, 0) / (1 + 2 * lr * l2)")},
          loses="test_elastic_net_step"),
    # ---- Part 3
    Wrong("patience counted from the start (bad epochs not reset at an improvement)",
          {"early_stopping": early().replace('"bad_epochs": 0, "epoch": epoch + 1, "stop": False}',
                                             '"bad_epochs": state["bad_epochs"], "epoch": epoch + 1, '
                                             '"stop": state["bad_epochs"] >= patience}')},
          loses="test_early_stopping"),
    Wrong("patience counted from the wrong epoch: stop one epoch late (bad > patience)",
          {"early_stopping": early(stop="bad > patience")},
          loses="test_early_stopping"),
    Wrong("patience counted from the wrong epoch: the best epoch counted as bad (stop one epoch early)",
          {"early_stopping": early(bad='state["bad_epochs"] + 1 + (state["bad_epochs"] == 0)')},
          loses="test_early_stopping"),
    Wrong("improvement judged against the previous epoch instead of the best",
          {"early_stopping": early(improved='value < state.get("last", np.inf) - min_delta')
           .replace('return {**state, "bad_epochs"', 'return {**state, "last": value, "bad_epochs"')
           .replace('"bad_epochs": 0, "epoch": epoch + 1, "stop": False}',
                    '"bad_epochs": 0, "epoch": epoch + 1, "stop": False, "last": value}')},
          loses="test_early_stopping"),
    Wrong("ties counted as improvements (<=)",
          {"early_stopping": early(improved='value <= state["best_value"] - min_delta')},
          loses="test_early_stopping"),
    Wrong("min_delta ignored",
          {"early_stopping": early(improved='value < state["best_value"]')},
          loses="test_early_stopping"),
    Wrong("min_delta taken as relative",
          {"early_stopping": early(improved='value < state["best_value"] * (1 - min_delta)')},
          loses="test_early_stopping"),
    Wrong("best_epoch counted from 1",
          {"early_stopping": early(best_epoch="epoch + 1")},
          loses="test_early_stopping"),
    Wrong("the best weights not restored after the loop",
          {"early_stopping": early(restore="pass")},
          loses="test_early_stopping"),
    Wrong("the best weights restored only when training stopped early",
          {"early_stopping": early(restore='if state["stop"]:\n'
                                           '        for name, best in state["best_weights"].items():\n'
                                           '            weights[name][...] = best')},
          loses="test_early_stopping"),
    Wrong("the best weights aliased to the live ones (a reference to the dict)",
          {"early_stopping": early(snapshot="weights")},
          loses="test_early_stopping"),
    Wrong("the best weights aliased to the live ones (a shallow copy of the dict)",
          {"early_stopping": early(snapshot="dict(weights)")},
          loses="test_early_stopping"),
    Wrong("the tracker modifies the state it is given",
          {"early_stopping": early().replace(
              '    bad = state["bad_epochs"] + 1\n    return {**state, "bad_epochs": bad, "epoch": epoch + 1, "stop": bad >= patience}',
              '    state["bad_epochs"] += 1\n    state["epoch"] = epoch + 1\n'
              '    state["stop"] = state["bad_epochs"] >= patience\n    return state')},
          loses="test_early_stopping"),
    # ---- Part 4
    Wrong("a crop that can leave the padded image (offsets up to 2P + 1)",
          {"random_crop_flip": crop(top="rng.integers(0, 2 * padding + 2, size=n)",
                                    left="rng.integers(0, 2 * padding + 2, size=n)")},
          loses="test_random_crop_flip"),
    Wrong("a crop that never reaches the last window (offsets up to 2P - 1)",
          {"random_crop_flip": crop(top="rng.integers(0, max(2 * padding, 1), size=n)",
                                    left="rng.integers(0, max(2 * padding, 1), size=n)")},
          loses="test_random_crop_flip"),
    Wrong("a wrap-around shift (np.roll) instead of zero padding",
          {"random_crop_flip": "def random_crop_flip(x, padding, flip_prob, rng):\n"
                               "    n = len(x)\n"
                               "    top = rng.integers(0, 2 * padding + 1, size=n)\n"
                               "    left = rng.integers(0, 2 * padding + 1, size=n)\n"
                               "    flipped = rng.random(n) < flip_prob\n"
                               "    y = np.stack([np.roll(x[k], (padding - top[k], padding - left[k]), axis=(1, 2))\n"
                               "                  for k in range(n)])\n"
                               "    y[flipped] = y[flipped][..., ::-1]\n"
                               "    return y, top, left, flipped"},
          loses="test_random_crop_flip"),
    Wrong("flips that ignore the generator (np.random)",
          {"random_crop_flip": crop(flipped="np.random.rand(n) < flip_prob")},
          loses="test_random_crop_flip"),
    Wrong("flips that ignore the generator (a fixed alternating pattern)",
          {"random_crop_flip": crop(flipped="(np.arange(n) % 2 == 1) if 0 < flip_prob < 1 else np.full(n, flip_prob >= 1)")},
          loses="test_random_crop_flip"),
    Wrong("one flip decision for the whole batch",
          {"random_crop_flip": crop(flipped="np.full(n, rng.random() < flip_prob)")},
          loses="test_random_crop_flip"),
    Wrong("one offset for both axes",
          {"random_crop_flip": crop(left="top")},
          loses="test_random_crop_flip"),
    Wrong("one offset pair for the whole batch",
          {"random_crop_flip": crop(top="np.full(n, rng.integers(0, 2 * padding + 1))",
                                    left="np.full(n, rng.integers(0, 2 * padding + 1))")},
          loses="test_random_crop_flip"),
    Wrong("a vertical flip instead of a horizontal one",
          {"random_crop_flip": crop(flip_axes=":, ::-1, :")},
          loses="test_random_crop_flip"),
    Wrong("flipping with probability 1 - flip_prob",
          {"random_crop_flip": crop(flipped="rng.random(n) >= flip_prob")},
          loses="test_random_crop_flip"),
    Wrong("the input flipped in place before cropping",
          {"random_crop_flip": "def random_crop_flip(x, padding, flip_prob, rng):\n"
                               "    n, _, h, w = x.shape\n"
                               "    top = rng.integers(0, 2 * padding + 1, size=n)\n"
                               "    left = rng.integers(0, 2 * padding + 1, size=n)\n"
                               "    flipped = rng.random(n) < flip_prob\n"
                               "    x[flipped] = x[flipped][..., ::-1]\n"
                               "    padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))\n"
                               "    y = np.stack([padded[k, :, top[k]:top[k] + h, left[k]:left[k] + w] for k in range(n)])\n"
                               "    return y, top, left, flipped"},
          loses="test_random_crop_flip"),
    Wrong("float32 images returned as float64",
          {"random_crop_flip": crop().replace("y = np.empty_like(x)", "y = np.empty(x.shape)")},
          loses="test_random_crop_flip"),
    # ---- Part 5
    Wrong("label smoothing spread over the K - 1 wrong classes (eps/(K-1)) instead of all K",
          {"label_smoothing_cross_entropy": ls(targets="q = np.full((m, k), eps / (k - 1))\n"
                                                       "    q[rows, y[kept]] = 1 - eps")},
          loses="test_label_smoothing_cross_entropy"),
    Wrong("label smoothing: eps/K to the wrong classes only (the target keeps 1 - eps)",
          {"label_smoothing_cross_entropy": ls(targets="q = np.full((m, k), eps / k)\n"
                                                       "    q[rows, y[kept]] = 1 - eps")},
          loses="test_label_smoothing_cross_entropy"),
    Wrong("label smoothing: the gradient of the unsmoothed loss",
          {"label_smoothing_cross_entropy": ls(grad_q="onehot").replace(
              "    loss = ", "    onehot = np.zeros((m, k))\n    onehot[rows, y[kept]] = 1\n    loss = ")},
          loses="test_label_smoothing_cross_entropy"),
    Wrong("label smoothing: the sum over the rows instead of the mean",
          {"label_smoothing_cross_entropy": ls(loss_div="1", grad_div="1")},
          loses="test_label_smoothing_cross_entropy"),
    Wrong("label smoothing: the mean over all N rows, ignored ones included",
          {"label_smoothing_cross_entropy": ls(loss_div="n", grad_div="n")},
          loses="test_label_smoothing_cross_entropy"),
    Wrong("label smoothing: the gradient without the 1/|M| factor",
          {"label_smoothing_cross_entropy": ls(grad_div="1")},
          loses="test_label_smoothing_cross_entropy"),
    Wrong("label smoothing: ignore_index not handled (-100 read as a class index from the end)",
          {"label_smoothing_cross_entropy": ls().replace("kept = np.flatnonzero(y != ignore_index)",
                                                         "kept = np.arange(n)")},
          loses="test_label_smoothing_cross_entropy"),
    Wrong("label smoothing: only the default ignore_index -100 handled",
          {"label_smoothing_cross_entropy": ls().replace("y != ignore_index", "y != -100")},
          loses="test_label_smoothing_cross_entropy"),
    Wrong("label smoothing: a naive softmax that overflows for large logits",
          {"label_smoothing_cross_entropy": ls().replace("shifted = z - z.max(axis=1, keepdims=True)",
                                                         "shifted = z")},
          loses="test_label_smoothing_cross_entropy"),
    Wrong("label smoothing: the logits modified in place (the max subtracted in place)",
          {"label_smoothing_cross_entropy": ls().replace("shifted = z - z.max(axis=1, keepdims=True)",
                                                         "z -= z.max(axis=1, keepdims=True)\n    shifted = z")},
          loses="test_label_smoothing_cross_entropy"),
    Wrong("label smoothing: float32 gradient returned as float64",
          {"label_smoothing_cross_entropy": ls().replace("grad = np.zeros_like(z)", "grad = np.zeros(z.shape)")},
          loses="test_label_smoothing_cross_entropy"),
    Wrong("label smoothing that calls torch",
          {"label_smoothing_cross_entropy": "import torch\n"
                                            "import torch.nn.functional as F\n"
                                            "def label_smoothing_cross_entropy(logits, target, label_smoothing=0.0, ignore_index=-100):\n"
                                            "    t = torch.tensor(logits, requires_grad=True)\n"
                                            "    loss = F.cross_entropy(t, torch.as_tensor(target), label_smoothing=label_smoothing,\n"
                                            "                           ignore_index=ignore_index)\n"
                                            "    loss.backward()\n"
                                            "    return loss.item(), t.grad.numpy()"},
          loses="test_label_smoothing_cross_entropy"),
]

ALTERNATIVE = [
    Alternative("loops and explicit branches, float64 intermediates cast back, a helper", {
        "l2_penalty_and_grad": "def _is_bias(name):\n"
                               "    return name[-4:] == 'bias'\n"
                               "def l2_penalty_and_grad(params, lam, exclude_biases=True):\n"
                               "    grads, total = {}, 0.0\n"
                               "    for name in params:\n"
                               "        w = params[name]\n"
                               "        g = np.zeros(w.shape, dtype=w.dtype)\n"
                               "        if not (exclude_biases and _is_bias(name)):\n"
                               "            flat = w.astype(np.float64).ravel()\n"
                               "            total += lam * float(flat @ flat)\n"
                               "            g = (2.0 * lam * w.astype(np.float64)).astype(w.dtype)\n"
                               "        grads[name] = g\n"
                               "    return total, grads",
        "elastic_net_step": "def elastic_net_step(weight, grad, lr, l1, l2):\n"
                            "    v = weight.astype(np.float64) - lr * grad.astype(np.float64)\n"
                            "    tau = lr * l1\n"
                            "    z = np.where(v > tau, v - tau, np.where(v < -tau, v + tau, 0.0))\n"
                            "    return (z / (1.0 + 2.0 * lr * l2)).astype(weight.dtype)",
        "early_stopping": "import copy\n"
                          "def early_stopping_update(state, value, weights, patience, min_delta=0.0):\n"
                          "    new = dict(state) if state is not None else dict(best_value=float('inf'), best_epoch=None,\n"
                          "              best_weights={}, bad_epochs=0, epoch=0, stop=False, patience=patience)\n"
                          "    if new['best_value'] - value > min_delta:\n"
                          "        new.update(best_value=value, best_epoch=new['epoch'], best_weights=copy.deepcopy(weights),\n"
                          "                   bad_epochs=0)\n"
                          "    else:\n"
                          "        new['bad_epochs'] = new['bad_epochs'] + 1\n"
                          "    new['epoch'] = new['epoch'] + 1\n"
                          "    new['stop'] = new['bad_epochs'] >= patience\n"
                          "    return new\n"
                          "def train_with_early_stopping(weights, updates, val_losses, patience, min_delta=0.0):\n"
                          "    t, state = 0, None\n"
                          "    while t < len(val_losses):\n"
                          "        for name, u in updates[t].items():\n"
                          "            np.add(weights[name], u, out=weights[name])\n"
                          "        state = early_stopping_update(state, val_losses[t], weights, patience, min_delta)\n"
                          "        t += 1\n"
                          "        if state['stop']:\n"
                          "            break\n"
                          "    for name in weights:\n"
                          "        np.copyto(weights[name], state['best_weights'][name])\n"
                          "    return state",
        "random_crop_flip": "def random_crop_flip(x, padding, flip_prob, rng):\n"
                            "    n, c, h, w = x.shape\n"
                            "    offsets = rng.integers(0, 2 * padding + 1, size=(2, n))\n"
                            "    flipped = rng.uniform(size=n) < flip_prob\n"
                            "    big = np.zeros((n, c, h + 2 * padding, w + 2 * padding), dtype=x.dtype)\n"
                            "    big[:, :, padding:padding + h, padding:padding + w] = x\n"
                            "    y = np.zeros_like(x)\n"
                            "    for k in range(n):\n"
                            "        i, j = offsets[0, k], offsets[1, k]\n"
                            "        for col in range(w):\n"
                            "            src = j + (w - 1 - col if flipped[k] else col)\n"
                            "            y[k, :, :, col] = big[k, :, i:i + h, src]\n"
                            "    return y, offsets[0], offsets[1], flipped",
        "label_smoothing_cross_entropy": "def label_smoothing_cross_entropy(logits, target, label_smoothing=0.0, ignore_index=-100):\n"
                                         "    z = logits.astype(np.float64)\n"
                                         "    n, k = z.shape\n"
                                         "    total, count = 0.0, 0\n"
                                         "    grad = np.zeros((n, k))\n"
                                         "    for i in range(n):\n"
                                         "        if target[i] == ignore_index:\n"
                                         "            continue\n"
                                         "        count += 1\n"
                                         "        top = z[i].max()\n"
                                         "        lse = top + np.log(np.sum(np.exp(z[i] - top)))\n"
                                         "        q = np.full(k, label_smoothing / k)\n"
                                         "        q[target[i]] += 1 - label_smoothing\n"
                                         "        total -= np.sum(q * (z[i] - lse))\n"
                                         "        grad[i] = np.exp(z[i] - lse) - q\n"
                                         "    return total / count, (grad / count).astype(logits.dtype)",
    }),
    Alternative("vectorized: einsum, a class-free functional tracker, sliding windows, one-hot matrices", {
        "l2_penalty_and_grad": "def l2_penalty_and_grad(params, lam, exclude_biases=True):\n"
                               "    keep = {n: not (exclude_biases and n.endswith('bias')) for n in params}\n"
                               "    penalty = sum(lam * np.einsum('i,i->', w.ravel(), w.ravel()) for n, w in params.items() if keep[n])\n"
                               "    grads = {n: (w * (2 * lam if keep[n] else 0)).astype(w.dtype) for n, w in params.items()}\n"
                               "    return penalty, grads",
        "elastic_net_step": "def elastic_net_step(weight, grad, lr, l1, l2):\n"
                            "    v = weight - lr * grad\n"
                            "    out = np.clip(np.abs(v) - lr * l1, 0, None) * np.sign(v) / (1 + 2 * lr * l2)\n"
                            "    return out.astype(weight.dtype, copy=False)",
        "early_stopping": "from types import MappingProxyType\n"
                          "def early_stopping_update(state, value, weights, patience, min_delta=0.0):\n"
                          "    best = np.inf if state is None else state['best_value']\n"
                          "    epoch = 0 if state is None else state['epoch']\n"
                          "    if value + min_delta < best:\n"
                          "        return dict(best_value=value, best_epoch=epoch, epoch=epoch + 1, bad_epochs=0, stop=False,\n"
                          "                    best_weights={n: w.copy() for n, w in weights.items()})\n"
                          "    bad = state['bad_epochs'] + 1\n"
                          "    return dict(state, epoch=epoch + 1, bad_epochs=bad, stop=bool(bad >= patience))\n"
                          "def train_with_early_stopping(weights, updates, val_losses, patience, min_delta=0.0):\n"
                          "    state = None\n"
                          "    for update, loss in zip(updates, val_losses):\n"
                          "        for name in weights:\n"
                          "            weights[name] += update[name]\n"
                          "        state = early_stopping_update(state, loss, weights, patience, min_delta)\n"
                          "        if state['stop']:\n"
                          "            break\n"
                          "    for name in weights:\n"
                          "        weights[name][:] = state['best_weights'][name]\n"
                          "    return state",
        "random_crop_flip": "from numpy.lib.stride_tricks import sliding_window_view\n"
                            "def random_crop_flip(x, padding, flip_prob, rng):\n"
                            "    n, c, h, w = x.shape\n"
                            "    top = rng.integers(2 * padding + 1, size=n)\n"
                            "    left = rng.integers(2 * padding + 1, size=n)\n"
                            "    flipped = rng.binomial(1, flip_prob, size=n).astype(bool)\n"
                            "    p = np.pad(x, [(0, 0), (0, 0), (padding, padding), (padding, padding)], mode='constant')\n"
                            "    windows = sliding_window_view(p, (h, w), axis=(2, 3))  # (n, c, 2P+1, 2P+1, h, w)\n"
                            "    y = windows[np.arange(n), :, top, left]                  # (n, c, h, w)\n"
                            "    y = np.where(flipped[:, None, None, None], np.flip(y, axis=3), y)\n"
                            "    return np.ascontiguousarray(y), top, left, flipped",
        "label_smoothing_cross_entropy": "def label_smoothing_cross_entropy(logits, target, label_smoothing=0.0, ignore_index=-100):\n"
                                         "    n, k = logits.shape\n"
                                         "    mask = (target != ignore_index).astype(logits.dtype)\n"
                                         "    safe = np.where(target == ignore_index, 0, target)\n"
                                         "    onehot = np.eye(k, dtype=logits.dtype)[safe]\n"
                                         "    q = (1 - label_smoothing) * onehot + label_smoothing / k\n"
                                         "    m = logits.max(axis=1, keepdims=True)\n"
                                         "    logp = logits - m - np.log(np.exp(logits - m).sum(axis=1, keepdims=True))\n"
                                         "    per_row = -np.einsum('nk,nk->n', q, logp)\n"
                                         "    loss = np.sum(per_row * mask) / mask.sum()\n"
                                         "    grad = (np.exp(logp) - q) * mask[:, None] / mask.sum()\n"
                                         "    return loss, grad.astype(logits.dtype)",
    }),
]
