"""Wrong and alternative submissions of the activations assignment."""

from submission_cases import Alternative, Wrong

_SIGMOID_HELPER = '''
def _sigmoid(z):
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))
'''

# Part 3 with one activation's derivative replaced; everything else is the model solution.
_GRAD_NORMS = '''
def layer_gradient_norms(x, weights, activation):
    if activation not in ACTS:
        raise ValueError(activation)
    f, df = ACTS[activation]
    hs, zs = [np.asarray(x, dtype=float)], []
    for w in weights:
        zs.append(hs[-1] @ w)
        hs.append(f(zs[-1]))
    grad_h = np.ones_like(hs[-1])
    norms = []
    for l in reversed(range(len(weights))):
        delta = grad_h * DERIVATIVE_AT
        norms.append(np.linalg.norm(hs[l].T @ delta))
        grad_h = delta @ weights[l].T
    return np.array(norms[::-1])
''' + _SIGMOID_HELPER + '''
C = GELU_C
def gelu(z):
    return 0.5 * z * (1 + np.tanh(C * (z + 0.044715 * z**3)))
def dgelu(z):
    t = np.tanh(C * (z + 0.044715 * z**3))
    return 0.5 * (1 + t) + 0.5 * z * (1 - t * t) * C * (1 + 3 * 0.044715 * z * z)
ACTS = {
    "sigmoid": (_sigmoid, lambda z: _sigmoid(z) * (1 - _sigmoid(z))),
    "tanh": (np.tanh, lambda z: 1 - np.tanh(z) ** 2),
    "relu": (lambda z: np.maximum(z, 0), lambda z: (z > 0) * 1.0),
    "leaky_relu": (lambda z: np.where(z > 0, z, 0.01 * z), LEAKY_GRAD),
    "gelu_tanh": (gelu, dgelu),
}
'''


def grad_norms(derivative_at="df(zs[l])", gelu_c="np.sqrt(2 / np.pi)",
               leaky_grad="lambda z: np.where(z > 0, 1.0, 0.01)"):
    return (_GRAD_NORMS.replace("DERIVATIVE_AT", derivative_at)
            .replace("GELU_C", gelu_c).replace("LEAKY_GRAD", leaky_grad))


WRONG = [
    Wrong("unstable log-sigmoid: log(1 / (1 + exp(-x))) gives -inf at x = -1e4",
          {"log_sigmoid": "def log_sigmoid(x):\n    return np.log(1 / (1 + np.exp(-x)))"},
          loses="test_log_sigmoid"),
    Wrong("log-sigmoid without the min(x, 0) split overflows for very negative x",
          {"log_sigmoid": "def log_sigmoid(x):\n    return -np.log1p(np.exp(-x))"},
          loses="test_log_sigmoid"),
    Wrong("log-sigmoid computed in float64 for a float32 input",
          {"log_sigmoid": "def log_sigmoid(x):\n    x = np.asarray(x, dtype=np.float64)\n"
                          "    return np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x)))"},
          loses="test_log_sigmoid"),
    Wrong("log-sigmoid that modifies its input in place",
          {"log_sigmoid": "def log_sigmoid(x):\n    m = np.minimum(x, 0)\n    x *= -np.sign(x)\n"
                          "    return m - np.log1p(np.exp(x))"},
          loses="test_log_sigmoid"),
    Wrong("log-sigmoid derivative written as sigma(x) instead of 1 - sigma(x)",
          {"log_sigmoid_grad": "def log_sigmoid_grad(x):\n    x = np.asarray(x)\n"
                               "    return _sigmoid(x).astype(x.dtype)\n" + _SIGMOID_HELPER},
          loses="test_log_sigmoid_grad"),
    Wrong("log-sigmoid derivative evaluated at the output instead of the input",
          {"log_sigmoid_grad": "def log_sigmoid_grad(x):\n    y = log_sigmoid(x)\n"
                               "    return (1 - _sigmoid(y)).astype(y.dtype)\n" + _SIGMOID_HELPER},
          loses="test_log_sigmoid_grad"),
    Wrong("log-sigmoid derivative from an overflowing sigmoid (nan at x = -1e4)",
          {"log_sigmoid_grad": "def log_sigmoid_grad(x):\n    e = np.exp(-x)\n    return e / (1 + e)"},
          loses="test_log_sigmoid_grad"),
    Wrong("log-sigmoid that calls torch",
          {"log_sigmoid": "import torch\ndef log_sigmoid(x):\n"
                          "    return torch.nn.functional.logsigmoid(torch.from_numpy(np.asarray(x))).numpy()"},
          loses="test_log_sigmoid"),
    Wrong("log-sigmoid that calls the course's reference package",
          {"log_sigmoid": "from nn_reference.activations import softplus\n"
                          "def log_sigmoid(x):\n    return -softplus(-np.asarray(x))"},
          loses="test_log_sigmoid"),
    Wrong("swish with sigma(x) instead of sigma(beta x)",
          {"swish": "def swish(x, beta):\n    return x * _stable_sigmoid(x)\n"
                   + _SIGMOID_HELPER.replace("_sigmoid", "_stable_sigmoid")},
          loses={"test_swish"}),
    Wrong("swish backward without the inner factor beta",
          {"swish_backward": "def swish_backward(g, x, beta):\n    s = _sigmoid(beta * x)\n"
                             "    grad_x = g * (s + x * s * (1 - s))\n"
                             "    return grad_x, float(np.sum(g * x * x * s * (1 - s)))\n" + _SIGMOID_HELPER},
          loses="test_swish_backward"),
    Wrong("swish backward with grad_beta per element instead of summed",
          {"swish_backward": "def swish_backward(g, x, beta):\n    s = _sigmoid(beta * x)\n"
                             "    grad_x = g * (s + beta * x * s * (1 - s))\n"
                             "    return grad_x, g * x * x * s * (1 - s)\n" + _SIGMOID_HELPER},
          loses="test_swish_backward"),
    Wrong("swish backward that ignores grad_output",
          {"swish_backward": "def swish_backward(g, x, beta):\n    s = _sigmoid(beta * x)\n"
                             "    grad_x = s + beta * x * s * (1 - s)\n"
                             "    return grad_x, float(np.sum(x * x * s * (1 - s)))\n" + _SIGMOID_HELPER},
          loses="test_swish_backward"),
    Wrong("gradient norms with the derivative evaluated at h = f(z) instead of z",
          {"layer_gradient_norms": grad_norms(derivative_at="df(hs[l + 1])")},
          loses="test_layer_gradient_norms"),
    Wrong("gradient norms with a Leaky ReLU derivative that scales the positive side",
          {"layer_gradient_norms": grad_norms(leaky_grad="lambda z: np.where(z > 0, 0.01, 0.01)")},
          loses="test_layer_gradient_norms"),
    Wrong("gradient norms with GELU's constant sqrt(pi / 2) instead of sqrt(2 / pi)",
          {"layer_gradient_norms": grad_norms(gelu_c="np.sqrt(np.pi / 2)")},
          loses="test_layer_gradient_norms"),
    Wrong("gradient norms with a ReLU derivative of 1 at z = 0",
          {"layer_gradient_norms": grad_norms().replace("(z > 0) * 1.0", "np.heaviside(z, 1.0)")},
          loses="test_layer_gradient_norms"),
    Wrong("gradient norms with a Leaky ReLU derivative of 1 at z = 0",
          {"layer_gradient_norms": grad_norms(leaky_grad="lambda z: np.where(z >= 0, 1.0, 0.01)")},
          loses="test_layer_gradient_norms"),
    Wrong("swish backward that scales grad_output in place",
          {"swish_backward": "def swish_backward(g, x, beta):\n    s = _sigmoid(beta * x)\n"
                             "    gb = float(np.sum(g * x * x * s * (1 - s)))\n"
                             "    g *= s + beta * x * s * (1 - s)\n"
                             "    return g, gb\n" + _SIGMOID_HELPER},
          loses="test_swish_backward"),
    Wrong("swish computed in float64 for a float32 input",
          {"swish": "def swish(x, beta):\n    x = np.asarray(x, dtype=np.float64)\n"
                    "    return x * _stable_sigmoid(beta * x)\n"
                   + _SIGMOID_HELPER.replace("_sigmoid", "_stable_sigmoid")},
          loses={"test_swish"}),
    Wrong("log-sigmoid derivative returned in float64 for a float32 input",
          {"log_sigmoid_grad": "def log_sigmoid_grad(x):\n    x = x.astype(np.float64)\n"
                               "    return _sigmoid(-x)\n" + _SIGMOID_HELPER},
          loses="test_log_sigmoid_grad"),
    Wrong("dead units counted as the fraction of zero activations",
          {"dead_unit_fraction": "def dead_unit_fraction(x, weights, biases):\n    h, out = x, []\n"
                                 "    for w, b in zip(weights, biases):\n        h = np.maximum(h @ w + b, 0)\n"
                                 "        out.append(np.mean(h == 0))\n    return np.array(out)"},
          loses="test_dead_unit_fraction"),
    Wrong("dead units tested with a pre-activation < 0, missing units sitting at exactly 0",
          {"dead_unit_fraction": "def dead_unit_fraction(x, weights, biases):\n    h, out = x, []\n"
                                 "    for w, b in zip(weights, biases):\n        z = h @ w + b\n"
                                 "        out.append(np.mean(np.all(z < 0, axis=0)))\n        h = np.maximum(z, 0)\n"
                                 "    return np.array(out)"},
          loses="test_dead_unit_fraction"),
    Wrong("dead units with the bias left out",
          {"dead_unit_fraction": "def dead_unit_fraction(x, weights, biases):\n    h, out = x, []\n"
                                 "    for w in weights:\n        h = np.maximum(h @ w, 0)\n"
                                 "        out.append(np.mean(np.all(h == 0, axis=0)))\n    return np.array(out)"},
          loses="test_dead_unit_fraction"),
]

ALTERNATIVE = [
    Alternative("float64 intermediates cast back, masked assignments, einsum weight gradients, unit loops", {
        "log_sigmoid": "def log_sigmoid(x):\n    x64 = x.astype(np.float64)\n"
                       "    return (np.minimum(x64, 0) - np.log1p(np.exp(-np.abs(x64)))).astype(x.dtype)",
        "log_sigmoid_grad": "def log_sigmoid_grad(x):\n    out = np.empty_like(x)\n    pos = x >= 0\n"
                            "    e = np.exp(-x[pos])\n    out[pos] = e / (1 + e)\n"
                            "    out[~pos] = 1 / (1 + np.exp(x[~pos]))\n    return out",
        "swish": "def swish(x, beta):\n    u = beta * x.astype(np.float64)\n"
                 "    s = np.exp(-np.logaddexp(0.0, -u))\n"
                 "    return (x.astype(np.float64) * s).astype(x.dtype)",
        "swish_backward": "def swish_backward(grad_output, x, beta):\n"
                          "    x64, g64 = x.astype(np.float64), grad_output.astype(np.float64)\n"
                          "    s = np.exp(-np.logaddexp(0.0, -beta * x64))\n"
                          "    grad_x = g64 * (s + beta * x64 * s * (1 - s))\n"
                          "    return grad_x.astype(x.dtype), np.einsum('i,i->', g64.ravel(), (x64 * x64 * s * (1 - s)).ravel())",
        "layer_gradient_norms": grad_norms().replace("np.linalg.norm(hs[l].T @ delta)",
                                                     "np.sqrt(np.sum(np.einsum('ni,nj->ij', hs[l], delta) ** 2))")
                                            .replace("(z > 0) * 1.0", "np.heaviside(z, 0.0)"),
        "dead_unit_fraction": "def dead_unit_fraction(x, weights, biases):\n    out = np.zeros(len(weights))\n"
                              "    h = x\n    for l, (w, b) in enumerate(zip(weights, biases)):\n"
                              "        h = np.maximum(h @ w + b, 0)\n"
                              "        dead = 0\n        for j in range(h.shape[1]):\n"
                              "            if not np.any(h[:, j] > 0):\n                dead += 1\n"
                              "        out[l] = dead / h.shape[1]\n    return out",
    }),
    Alternative("log-sigmoid as -logaddexp(0, -x), derivative via exp(log-sigmoid(-x))", {
        "log_sigmoid": "def log_sigmoid(x):\n    x = np.asarray(x)\n"
                       "    if x.dtype.kind != 'f':\n        x = x.astype(float)\n"
                       "    return -np.logaddexp(x.dtype.type(0), -x)",
        "log_sigmoid_grad": "def log_sigmoid_grad(x):\n    x = np.asarray(x)\n"
                            "    return np.exp(log_sigmoid(-x))",
    }),
    Alternative("branches with np.where over both formulas (warns, but the values are right)", {
        "log_sigmoid_grad": "def log_sigmoid_grad(x):\n    x = np.asarray(x)\n"
                            "    pos = np.exp(-x) / (1 + np.exp(-x))\n    neg = 1 / (1 + np.exp(x))\n"
                            "    return np.where(x >= 0, pos, neg).astype(x.dtype)",
        "dead_unit_fraction": "def dead_unit_fraction(x, weights, biases):\n    fractions = []\n"
                              "    h = x\n    for w, b in zip(weights, biases):\n"
                              "        h = (h @ w + b).clip(min=0)\n"
                              "        fractions.append(float((h.max(axis=0) == 0).sum()) / h.shape[1])\n"
                              "    return fractions",
    }),
    Alternative("gradient norms as a list, computed with an explicit loop over layers", {
        "layer_gradient_norms": grad_norms().replace("return np.array(norms[::-1])",
                                                     "return [float(n) for n in norms[::-1]]"),
        "swish": "def swish(x, beta):\n    x = np.asarray(x)\n    u = beta * x\n"
                 "    return x * (0.5 * (1 + np.tanh(0.5 * u)))",
        "swish_backward": "def swish_backward(grad_output, x, beta):\n    u = beta * x\n"
                          "    s = 0.5 * (1 + np.tanh(0.5 * u))\n    dy_dx = s + u * s * (1 - s)\n"
                          "    dy_dbeta = x * x * s * (1 - s)\n"
                          "    return grad_output * dy_dx, (grad_output * dy_dbeta).sum()",
    }),
]
