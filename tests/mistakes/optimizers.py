"""Wrong and alternative submissions of the optimizers assignment."""

from submission_cases import Alternative, Wrong

_ADAM = '''
def adam_step(param, grad, m, v, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    b1, b2 = betas
    BEFORE
    m = b1 * m + (1 - b1) * grad
    v = b2 * v + (1 - b2) * SQUARE
    m_hat = CORRECT_M
    v_hat = CORRECT_V
    AFTER
    return PARAM - lr * m_hat / DENOM, m, v, t
'''


def adam(before="t = t + 1", after="", square="grad * grad", correct_m="m / (1 - b1**t)",
         correct_v="v / (1 - b2**t)", denom="(np.sqrt(v_hat) + eps)", param="param"):
    return (_ADAM.replace("BEFORE", before).replace("AFTER", after).replace("SQUARE", square)
            .replace("CORRECT_M", correct_m).replace("CORRECT_V", correct_v)
            .replace("DENOM", denom).replace("PARAM", param))


_SGD = '''
def sgd_momentum_step(param, grad, buf, lr, momentum=0.9, nesterov=False, weight_decay=0.0):
    g = GRAD
    buf = FIRST if buf is None else UPDATE
    step = NESTEROV if nesterov else PLAIN
    return param - STEP, buf
'''


def sgd(grad="grad + weight_decay * param", first="g.copy()", update="momentum * buf + g",
        nesterov="g + momentum * buf", plain="buf", step="lr * step"):
    return (_SGD.replace("GRAD", grad).replace("FIRST", first).replace("UPDATE", update)
            .replace("NESTEROV", nesterov).replace("PLAIN", plain).replace("STEP", step))


_CLIP = '''
def clip_grad_norm(grads, max_norm):
    total = float(np.sqrt(sum(np.sum(g.astype(float) ** 2) for g in grads)))
    coef = COEF
    clipped = [(g * coef).astype(g.dtype) for g in grads]
    return clipped, RETURNED
'''


def clip(coef="min(1.0, max_norm / (total + 1e-6))", returned="total"):
    return _CLIP.replace("COEF", coef).replace("RETURNED", returned)


_WARMUP = '''
import math
def warmup_cosine_lr(step, base_lr, warmup_steps, total_steps, start_factor=0.0, eta_min=0.0):
    if WARMUP_TEST:
        return base_lr * (start_factor + (1 - start_factor) * RAMP)
    if step > total_steps:
        return eta_min
    progress = PROGRESS
    return eta_min + 0.5 * (base_lr - eta_min) * (1 + math.cos(math.pi * progress))
'''


def warmup(test="step < warmup_steps", ramp="step / warmup_steps",
           progress="(step - warmup_steps) / (total_steps - warmup_steps)"):
    return _WARMUP.replace("WARMUP_TEST", test).replace("RAMP", ramp).replace("PROGRESS", progress)


_BATCHES = '''
def minibatches(x, y, batch_size, epochs, rng):
    n = len(x)
    OUTSIDE
    for _ in range(epochs):
        INSIDE
        for start in range(0, STOP, batch_size):
            YIELD
'''


def batches(outside="pass", inside="order = rng.permutation(n)", stop="n",
            yld="yield x[order[start:start + batch_size]], y[order[start:start + batch_size]]"):
    return (_BATCHES.replace("OUTSIDE", outside).replace("INSIDE", inside)
            .replace("STOP", stop).replace("YIELD", yld))


WRONG = [
    # ---- Part 1: Adam
    Wrong("Adam: bias correction computed before incrementing t (1 - beta^0 = 0 on the first step)",
          {"adam_step": adam(before="pass", after="t = t + 1")}, loses="test_adam_step"),
    Wrong("Adam: eps inside the square root",
          {"adam_step": adam(denom="np.sqrt(v_hat + eps)")}, loses="test_adam_step"),
    Wrong("Adam: no bias correction",
          {"adam_step": adam(correct_m="m", correct_v="v")}, loses="test_adam_step"),
    Wrong("Adam: only the first moment bias-corrected",
          {"adam_step": adam(correct_v="v")}, loses="test_adam_step"),
    Wrong("Adam: the second moment from |g| instead of g^2",
          {"adam_step": adam(square="np.abs(grad)")}, loses="test_adam_step"),
    Wrong("Adam: the parameter updated in place (and returned)",
          {"adam_step": "def adam_step(param, grad, m, v, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):\n"
                        "    t += 1\n    m = betas[0] * m + (1 - betas[0]) * grad\n"
                        "    v = betas[1] * v + (1 - betas[1]) * grad * grad\n"
                        "    param -= lr * (m / (1 - betas[0] ** t)) / (np.sqrt(v / (1 - betas[1] ** t)) + eps)\n"
                        "    return param, m, v, t\n"}, loses="test_adam_step"),
    Wrong("Adam that calls torch.optim.Adam",
          {"adam_step": "import torch\n"
                        "def adam_step(param, grad, m, v, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):\n"
                        "    p = torch.tensor(param, requires_grad=True)\n"
                        "    o = torch.optim.Adam([p], lr=lr, betas=betas, eps=eps)\n"
                        "    if t:\n"
                        "        o.state[p] = {'step': torch.tensor(float(t)), 'exp_avg': torch.tensor(m),\n"
                        "                      'exp_avg_sq': torch.tensor(v)}\n"
                        "    p.grad = torch.tensor(grad)\n"
                        "    o.step()\n"
                        "    s = o.state[p]\n"
                        "    return p.detach().numpy(), s['exp_avg'].numpy(), s['exp_avg_sq'].numpy(), t + 1\n"},
          loses="test_adam_step"),
    # ---- Part 2: momentum
    Wrong("momentum: the learning rate folded into the buffer (v = mu v + lr g, theta -= v)",
          {"sgd_momentum_step": sgd(first="lr * g", update="momentum * buf + lr * g",
                                    nesterov="lr * g + momentum * buf", step="step")},
          loses="test_sgd_momentum_step"),
    Wrong("momentum: Nesterov without the look-ahead (theta -= lr * buf)",
          {"sgd_momentum_step": sgd(nesterov="buf")}, loses="test_sgd_momentum_step"),
    Wrong("momentum: weight decay added after the momentum buffer",
          {"sgd_momentum_step": sgd(grad="grad", step="lr * (step + weight_decay * param)")},
          loses="test_sgd_momentum_step"),
    Wrong("momentum: a dampened buffer mu b + (1 - mu) g started at zero (an average, not PyTorch's sum)",
          {"sgd_momentum_step": sgd(first="(1 - momentum) * g", update="momentum * buf + (1 - momentum) * g")},
          loses="test_sgd_momentum_step"),
    Wrong("momentum: weight decay subtracted from the gradient (g - lambda theta)",
          {"sgd_momentum_step": sgd(grad="grad - weight_decay * param")}, loses="test_sgd_momentum_step"),
    Wrong("momentum: the parameter updated in place (and returned)",
          {"sgd_momentum_step": "def sgd_momentum_step(param, grad, buf, lr, momentum=0.9, nesterov=False, weight_decay=0.0):\n"
                                "    g = grad + weight_decay * param\n"
                                "    buf = g.copy() if buf is None else momentum * buf + g\n"
                                "    param -= lr * (g + momentum * buf if nesterov else buf)\n"
                                "    return param, buf\n"}, loses="test_sgd_momentum_step"),
    # ---- Part 3: clipping
    Wrong("clipping each tensor separately by its own norm",
          {"clip_grad_norm": "def clip_grad_norm(grads, max_norm):\n"
                             "    out = [g * min(1.0, max_norm / (np.linalg.norm(g) + 1e-6)) for g in grads]\n"
                             "    return out, float(np.sqrt(sum(np.sum(g ** 2) for g in grads)))\n"},
          loses="test_clip_grad_norm"),
    Wrong("clipping that also scales up gradients below max_norm",
          {"clip_grad_norm": clip(coef="max_norm / (total + 1e-6)")}, loses="test_clip_grad_norm"),
    Wrong("clipping that returns the norm after clipping",
          {"clip_grad_norm": clip(returned="float(np.sqrt(sum(np.sum(c.astype(float) ** 2) for c in clipped)))")},
          loses="test_clip_grad_norm"),
    Wrong("clipping by max_norm / norm without PyTorch's 1e-6",
          {"clip_grad_norm": clip(coef="min(1.0, max_norm / total) if total > 0 else 1.0")},
          loses="test_clip_grad_norm"),
    # ---- Part 4: schedule
    Wrong("schedule off by one: the cosine part evaluated one step ahead",
          {"warmup_cosine_lr": warmup(progress="min(1.0, (step - warmup_steps + 1) / (total_steps - warmup_steps))")},
          loses="test_warmup_cosine_lr"),
    Wrong("schedule with the cosine period taken as T instead of T - W",
          {"warmup_cosine_lr": warmup(progress="(step - warmup_steps) / total_steps")},
          loses="test_warmup_cosine_lr"),
    Wrong("warm-up that reaches its peak one step early ((t + 1) / W)",
          {"warmup_cosine_lr": warmup(ramp="(step + 1) / warmup_steps")}, loses="test_warmup_cosine_lr"),
    Wrong("warm-up that reaches its peak one step late (t / (W + 1), cosine from W + 1)",
          {"warmup_cosine_lr": warmup(test="step <= warmup_steps", ramp="step / (warmup_steps + 1)",
                                      progress="(step - warmup_steps - 1) / (total_steps - warmup_steps - 1)")},
          loses="test_warmup_cosine_lr"),
    Wrong("warm-up that ignores the start factor",
          {"warmup_cosine_lr": warmup(ramp="step / warmup_steps - start_factor")}, loses="test_warmup_cosine_lr"),
    # ---- Part 5: iterator
    Wrong("iterator that drops the last partial batch (samples lost)",
          {"minibatches": batches(stop="n - batch_size + 1")}, loses="test_minibatches"),
    Wrong("iterator that draws one order and never reshuffles",
          {"minibatches": batches(outside="order = rng.permutation(n)", inside="pass")}, loses="test_minibatches"),
    Wrong("iterator that re-creates a seeded generator every epoch (the same order each time)",
          {"minibatches": batches(inside="order = np.random.default_rng(0).permutation(n)")},
          loses="test_minibatches"),
    Wrong("iterator that never shuffles",
          {"minibatches": batches(inside="order = np.arange(n)")}, loses="test_minibatches"),
    Wrong("iterator that shuffles with the global np.random state instead of rng",
          {"minibatches": batches(inside="order = np.random.permutation(n)")}, loses="test_minibatches"),
    Wrong("iterator that shuffles x and y with different orders",
          {"minibatches": batches(inside="order, other = rng.permutation(n), rng.permutation(n)",
                                  yld="yield x[order[start:start + batch_size]], y[other[start:start + batch_size]]")},
          loses="test_minibatches"),
]

ALTERNATIVE = [
    Alternative("float64 intermediates cast back, the first buffer returned as g itself, float32 norms, "
                "rng.choice orders", {
        "adam_step": "def adam_step(param, grad, m, v, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):\n"
                     "    p64, g64 = param.astype(np.float64), grad.astype(np.float64)\n"
                     "    t = t + 1\n"
                     "    m = (betas[0] * m + (1 - betas[0]) * g64).astype(param.dtype)\n"
                     "    v = (betas[1] * v + (1 - betas[1]) * g64 ** 2).astype(param.dtype)\n"
                     "    m_hat = m.astype(np.float64) / (1 - betas[0] ** t)\n"
                     "    v_hat = v.astype(np.float64) / (1 - betas[1] ** t)\n"
                     "    return (p64 - lr * m_hat / (np.sqrt(v_hat) + eps)).astype(param.dtype), m, v, t\n",
        "sgd_momentum_step": "def sgd_momentum_step(param, grad, buf, lr, momentum=0.9, nesterov=False, weight_decay=0.0):\n"
                             "    g = grad + weight_decay * param if weight_decay != 0 else grad\n"
                             "    buf = g if buf is None else momentum * buf + g\n"
                             "    if nesterov:\n        return param - lr * (g + momentum * buf), buf\n"
                             "    return param - lr * buf, buf\n",
        "clip_grad_norm": "def clip_grad_norm(grads, max_norm):\n"
                          "    total = np.sqrt(sum(float(np.einsum('i,i->', g.ravel(), g.ravel())) for g in grads))\n"
                          "    coef = max_norm / (total + 1e-6)\n"
                          "    if coef >= 1:\n        return [np.array(g) for g in grads], total\n"
                          "    return [g * g.dtype.type(coef) for g in grads], total\n",
        "warmup_cosine_lr": "import math\n"
                            "def warmup_cosine_lr(step, base_lr, warmup_steps, total_steps, start_factor=0.0, eta_min=0.0):\n"
                            "    if step >= total_steps:\n        return eta_min\n"
                            "    if step <= warmup_steps and warmup_steps > 0:\n"
                            "        return base_lr * (start_factor + (1 - start_factor) * step / warmup_steps)\n"
                            "    return eta_min + (base_lr - eta_min) * (1 + math.cos(math.pi * (step - warmup_steps)\n"
                            "                                                     / (total_steps - warmup_steps))) / 2\n",
        "minibatches": "def minibatches(x, y, batch_size, epochs, rng):\n"
                       "    n = len(y)\n"
                       "    for _ in range(epochs):\n"
                       "        order = rng.choice(n, size=n, replace=False)\n"
                       "        for k in range(-(-n // batch_size)):\n"
                       "            idx = order[k * batch_size:(k + 1) * batch_size]\n"
                       "            yield np.take(x, idx, axis=0), np.take(y, idx, axis=0)\n",
    }),
    Alternative("PyTorch's own arithmetic (step size and denominator), in-place state, zero-started buffer", {
        "adam_step": "def adam_step(param, grad, m, v, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):\n"
                     "    beta1, beta2 = betas\n    t += 1\n"
                     "    m *= beta1\n    m += (1 - beta1) * grad\n"
                     "    v *= beta2\n    v += (1 - beta2) * grad ** 2\n"
                     "    step_size = lr / (1 - beta1 ** t)\n"
                     "    denom = np.sqrt(v) / np.sqrt(1 - beta2 ** t) + eps\n"
                     "    return param - step_size * m / denom, m, v, t\n",
        "sgd_momentum_step": "def sgd_momentum_step(param, grad, buf, lr, momentum=0.9, nesterov=False, weight_decay=0.0):\n"
                             "    d_p = grad + weight_decay * param\n"
                             "    if buf is None:\n        buf = np.zeros_like(param)\n"
                             "    buf = momentum * buf + d_p\n"
                             "    if nesterov:\n        d_p = d_p + momentum * buf\n"
                             "    else:\n        d_p = buf\n"
                             "    return param - lr * d_p, buf\n",
        "clip_grad_norm": "def clip_grad_norm(grads, max_norm):\n"
                          "    flat = np.concatenate([np.ravel(g) for g in grads])\n"
                          "    total_norm = np.linalg.norm(flat)\n"
                          "    factor = max_norm / (total_norm + 1e-6)\n"
                          "    if factor < 1:\n        grads = [g * g.dtype.type(factor) for g in grads]\n"
                          "    else:\n        grads = [g.copy() for g in grads]\n"
                          "    return tuple(grads), total_norm\n",
        "warmup_cosine_lr": "import numpy as np\n"
                            "def warmup_cosine_lr(step, base_lr, warmup_steps, total_steps, start_factor=0.0, eta_min=0.0):\n"
                            "    if step < warmup_steps:\n"
                            "        return np.interp(step, [0, warmup_steps], [start_factor * base_lr, base_lr])\n"
                            "    t = min(step, total_steps) - warmup_steps\n"
                            "    return eta_min + (base_lr - eta_min) * (1 + np.cos(np.pi * t / (total_steps - warmup_steps))) / 2\n",
        "minibatches": "def minibatches(x, y, batch_size, epochs, rng):\n"
                       "    idx = np.arange(len(x))\n"
                       "    for epoch in range(epochs):\n"
                       "        rng.shuffle(idx)\n"
                       "        batches = [idx[i:i + batch_size] for i in range(0, len(idx), batch_size)]\n"
                       "        for b in batches:\n"
                       "            yield x[b], y[b]\n",
    }),
    Alternative("explicit loops and a moving-average first moment written with lerp", {
        "adam_step": "def adam_step(param, grad, m, v, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):\n"
                     "    t_new = t + 1\n"
                     "    m_new = m + (1 - betas[0]) * (grad - m)\n"
                     "    v_new = betas[1] * v + (1 - betas[1]) * np.square(grad)\n"
                     "    update = (m_new / (1 - betas[0] ** t_new)) / (np.sqrt(v_new / (1 - betas[1] ** t_new)) + eps)\n"
                     "    return param - lr * update, m_new, v_new, t_new\n",
        "sgd_momentum_step": "def sgd_momentum_step(param, grad, buf, lr, momentum=0.9, nesterov=False, weight_decay=0.0):\n"
                             "    g = grad.copy()\n"
                             "    if weight_decay != 0:\n        g += weight_decay * param\n"
                             "    new_buf = g.copy() if buf is None else buf * momentum + g\n"
                             "    direction = (g + momentum * new_buf) if nesterov else new_buf\n"
                             "    new_param = param.copy()\n    new_param -= lr * direction\n"
                             "    return new_param, new_buf\n",
        "clip_grad_norm": "import math\n"
                          "def clip_grad_norm(grads, max_norm):\n"
                          "    norms = [float(np.linalg.norm(g.ravel())) for g in grads]\n"
                          "    total = math.sqrt(sum(n * n for n in norms))\n"
                          "    c = min(max_norm / (total + 1e-6), 1.0)\n"
                          "    return [np.multiply(g, c, dtype=g.dtype) for g in grads], total\n",
        "warmup_cosine_lr": "import math\n"
                            "def warmup_cosine_lr(step, base_lr, warmup_steps, total_steps, start_factor=0.0, eta_min=0.0):\n"
                            "    if warmup_steps > 0 and step < warmup_steps:\n"
                            "        frac = step / warmup_steps\n"
                            "        return base_lr * start_factor * (1 - frac) + base_lr * frac\n"
                            "    if step >= total_steps:\n        return float(eta_min)\n"
                            "    angle = math.pi * (step - warmup_steps) / (total_steps - warmup_steps)\n"
                            "    return eta_min + (base_lr - eta_min) * 0.5 * (1.0 + math.cos(angle))\n",
        "minibatches": "def minibatches(x, y, batch_size, epochs, rng):\n"
                       "    n = x.shape[0]\n"
                       "    for _ in range(epochs):\n"
                       "        perm = rng.permutation(n)\n"
                       "        xs, ys = x[perm], y[perm]\n"
                       "        i = 0\n"
                       "        while i < n:\n"
                       "            yield xs[i:i + batch_size], ys[i:i + batch_size]\n"
                       "            i += batch_size\n",
    }),
]
