"""Wrong and alternative submissions of the weight-initialization assignment."""

from submission_cases import Alternative, Wrong

# ----------------------------------------------------------------------------- Part 1
_FANS = '''
def compute_fans(shape):
    shape = tuple(shape)
    if len(shape) < 2:
        raise ValueError("need 2 dimensions")
    k = 1
    for s in shape[2:]:
        k *= s
    return FANS
'''


def fans(expression):
    return _FANS.replace("FANS", expression)


# ----------------------------------------------------------------------------- Part 2
_GAIN = '''
def calculate_gain(nonlinearity, param=None):
    if nonlinearity in ("linear", "conv1d", "conv2d", "conv3d", "sigmoid"):
        return 1.0
    if nonlinearity == "tanh":
        return TANH
    if nonlinearity == "relu":
        return np.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        a = DEFAULT if param is None else param
        return LEAKY
    if nonlinearity == "selu":
        return 0.75
    raise ValueError(nonlinearity)
'''


def gain(tanh="5 / 3", default="0.01", leaky="np.sqrt(2 / (1 + a ** 2))"):
    return _GAIN.replace("TANH", tanh).replace("DEFAULT", default).replace("LEAKY", leaky)


# ----------------------------------------------------------------------------- Part 3
_KAIMING = '''
def kaiming_normal(shape, a=0.0, mode="fan_in", nonlinearity="leaky_relu", rng=None):
    rng = np.random.default_rng() if rng is None else rng
    shape = tuple(shape)
    k = int(np.prod(shape[2:]))
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(mode)
    fan_in, fan_out = FAN_IN, FAN_OUT
    fan = fan_in if mode == "fan_in" else fan_out
    gains = {"linear": 1.0, "conv1d": 1.0, "conv2d": 1.0, "conv3d": 1.0, "sigmoid": 1.0,
             "tanh": 5 / 3, "relu": np.sqrt(2), "selu": 0.75}
    if nonlinearity == "leaky_relu":
        g = LEAKY
    elif nonlinearity in gains:
        g = gains[nonlinearity]
    else:
        raise ValueError(nonlinearity)
    std = STD
    return (SAMPLE).astype(np.float32)
'''


def kaiming(fan_in="shape[1] * k", fan_out="shape[0] * k", leaky="np.sqrt(2 / (1 + a ** 2))",
            std="g / np.sqrt(fan)", sample="rng.standard_normal(shape) * std"):
    return (_KAIMING.replace("FAN_IN", fan_in).replace("FAN_OUT", fan_out)
            .replace("LEAKY", leaky).replace("STD", std).replace("SAMPLE", sample))


# ----------------------------------------------------------------------------- Part 4
_XAVIER = '''
def xavier_uniform(shape, gain=1.0, rng=None):
    rng = np.random.default_rng() if rng is None else rng
    shape = tuple(shape)
    k = int(np.prod(shape[2:]))
    fan_in, fan_out = shape[1] * K, shape[0] * K
    bound = BOUND
    return rng.uniform(-bound, bound, size=shape).astype(DTYPE)
'''


def xavier(bound="gain * np.sqrt(6 / (fan_in + fan_out))", k="k", dtype="np.float32"):
    return _XAVIER.replace("BOUND", bound).replace("K", k).replace("DTYPE", dtype)


# ----------------------------------------------------------------------------- Part 5
_STATS = '''
def activation_stats(x, weights, nonlinearity):
    f = {"linear": lambda z: z, "tanh": np.tanh,
         "sigmoid": lambda z: 0.5 * (1 + np.tanh(0.5 * z)),
         "relu": lambda z: np.maximum(z, 0), "leaky_relu": lambda z: np.where(z > 0, z, 0.01 * z)}[nonlinearity]
    h = np.asarray(x, dtype=float)
    means, stds = [], []
    for w in weights:
        z = h @ w.T
        h = f(z)
        means.append(STAT.mean())
        stds.append(STAT.std(DDOF))
    return np.array(means), np.array(stds)
'''


def stats(stat="h", ddof="", product="h @ w.T"):
    return _STATS.replace("STAT", stat).replace("DDOF", ddof).replace("h @ w.T", product)


WRONG = [
    # Part 1: fans
    Wrong("fan_in and fan_out swapped (the (in, out) layout of x @ W)",
          {"compute_fans": fans("shape[0] * k, shape[1] * k")}, loses="test_compute_fans"),
    Wrong("the kernel area left out of a convolution's fan",
          {"compute_fans": fans("shape[1], shape[0]")}, loses="test_compute_fans"),
    Wrong("the kernel area counted in fan_in only",
          {"compute_fans": fans("shape[1] * k, shape[0]")}, loses="test_compute_fans"),
    Wrong("fans that call torch",
          {"compute_fans": "import torch\ndef compute_fans(shape):\n"
                           "    return torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))"},
          loses="test_compute_fans"),
    # Part 2: gains
    Wrong("Leaky ReLU gain sqrt(2 / (1 + a)) instead of sqrt(2 / (1 + a^2))",
          {"calculate_gain": gain(leaky="np.sqrt(2 / (1 + a))")}, loses="test_calculate_gain"),
    Wrong("Leaky ReLU gain with a default slope of 0 instead of 0.01",
          {"calculate_gain": gain(default="0.0")}, loses="test_calculate_gain"),
    Wrong("tanh treated like the sigmoid (gain 1)",
          {"calculate_gain": gain(tanh="1.0")}, loses="test_calculate_gain"),
    Wrong("gain from the course's reference package",
          {"calculate_gain": "from nn_reference.initialization import calculate_gain as _g\n"
                             "def calculate_gain(nonlinearity, param=None):\n    return _g(nonlinearity, param)"},
          loses="test_calculate_gain"),
    # Part 3: Kaiming normal
    Wrong("Kaiming with fan_in and fan_out swapped (mode='fan_in' uses the fan-out)",
          {"kaiming_normal": kaiming(fan_in="shape[0] * k", fan_out="shape[1] * k")},
          loses="test_kaiming_normal"),
    Wrong("Kaiming with the kernel area left out of the fan",
          {"kaiming_normal": kaiming(fan_in="shape[1]", fan_out="shape[0]")},
          loses="test_kaiming_normal"),
    Wrong("Kaiming with the Leaky ReLU gain sqrt(2 / (1 + a))",
          {"kaiming_normal": kaiming(leaky="np.sqrt(2 / (1 + a))")}, loses="test_kaiming_normal"),
    Wrong("Kaiming with the negative slope ignored (gain sqrt 2 for every a)",
          {"kaiming_normal": kaiming(leaky="np.sqrt(2)")}, loses="test_kaiming_normal"),
    Wrong("Kaiming with the variance gain^2 / fan used as the standard deviation",
          {"kaiming_normal": kaiming(std="g ** 2 / fan")}, loses="test_kaiming_normal"),
    Wrong("Kaiming drawn from a uniform law with the right std",
          {"kaiming_normal": kaiming(sample="rng.uniform(-np.sqrt(3) * std, np.sqrt(3) * std, size=shape)")},
          loses="test_kaiming_normal"),
    Wrong("Kaiming that ignores rng and draws from the global np.random",
          {"kaiming_normal": kaiming(sample="np.random.randn(*shape) * std")}, loses="test_kaiming_normal"),
    Wrong("Kaiming that returns float64",
          {"kaiming_normal": kaiming(sample="(rng.standard_normal(shape) * std).astype(float)")
           .replace(".astype(np.float32)", "")},
          loses="test_kaiming_normal"),
    Wrong("Kaiming through torch.nn.init",
          {"kaiming_normal": "import torch\ndef kaiming_normal(shape, a=0.0, mode='fan_in', "
                             "nonlinearity='leaky_relu', rng=None):\n"
                             "    t = torch.empty(tuple(shape))\n"
                             "    torch.nn.init.kaiming_normal_(t, a=a, mode=mode, nonlinearity=nonlinearity)\n"
                             "    return t.numpy()"},
          loses="test_kaiming_normal"),
    # Part 4: Xavier uniform
    Wrong("Xavier uniform with the bound equal to the std sqrt(2 / (fan_in + fan_out))",
          {"xavier_uniform": xavier(bound="gain * np.sqrt(2 / (fan_in + fan_out))")},
          loses="test_xavier_uniform"),
    Wrong("Xavier uniform bound without the 6: sqrt(1 / (fan_in + fan_out))",
          {"xavier_uniform": xavier(bound="gain * np.sqrt(1 / (fan_in + fan_out))")},
          loses="test_xavier_uniform"),
    Wrong("Xavier uniform with the kernel area left out",
          {"xavier_uniform": xavier(k="1")}, loses="test_xavier_uniform"),
    Wrong("Xavier uniform with the gain under the square root",
          {"xavier_uniform": xavier(bound="np.sqrt(6 * gain / (fan_in + fan_out))")},
          loses="test_xavier_uniform"),
    Wrong("Xavier uniform that returns float64",
          {"xavier_uniform": xavier(dtype="np.float64")}, loses="test_xavier_uniform"),
    # Part 5: activation statistics
    Wrong("statistics of the pre-activation z instead of h = f(z)",
          {"activation_stats": stats(stat="z")}, loses="test_activation_stats"),
    Wrong("unbiased standard deviation (ddof=1)",
          {"activation_stats": stats(ddof="ddof=1")}, loses="test_activation_stats"),
    Wrong("h @ W instead of h @ W.T (the (in, out) layout)",
          {"activation_stats": stats(product="h @ w")}, loses="test_activation_stats"),
    Wrong("standard deviation per unit, averaged over the units",
          {"activation_stats": stats().replace("stds.append(h.std())", "stds.append(h.std(axis=0).mean())")},
          loses="test_activation_stats"),
    Wrong("the input counted as layer 0 and the last layer dropped",
          {"activation_stats": stats().replace("        z = h @ w.T\n        h = f(z)\n        means.append(h.mean())\n"
                                               "        stds.append(h.std())",
                                               "        means.append(h.mean())\n        stds.append(h.std())\n"
                                               "        h = f(h @ w.T)")},
          loses="test_activation_stats"),
]

ALTERNATIVE = [
    Alternative("math.prod and lists; gain from a dict; Kaiming reusing Parts 1 and 2 with rng.normal", {
        "compute_fans": "import math\ndef compute_fans(shape):\n    if len(shape) < 2:\n"
                        "        raise ValueError('at least two dimensions')\n"
                        "    area = math.prod(shape[2:])\n    return [shape[1] * area, shape[0] * area]",
        "calculate_gain": "GAINS = {'linear': 1, 'conv1d': 1, 'conv2d': 1, 'conv3d': 1, 'sigmoid': 1,\n"
                          "         'tanh': 5 / 3, 'relu': 2 ** 0.5, 'selu': 3 / 4}\n"
                          "def calculate_gain(nonlinearity, param=None):\n"
                          "    if nonlinearity == 'leaky_relu':\n"
                          "        slope = 0.01 if param is None else param\n"
                          "        return (2 / (1 + slope * slope)) ** 0.5\n"
                          "    try:\n        return GAINS[nonlinearity]\n"
                          "    except KeyError:\n        raise ValueError(nonlinearity) from None",
        "kaiming_normal": "def kaiming_normal(shape, a=0.0, mode='fan_in', nonlinearity='leaky_relu', rng=None):\n"
                          "    if rng is None:\n        rng = np.random.default_rng()\n"
                          "    fan_in, fan_out = compute_fans(shape)\n"
                          "    fan = {'fan_in': fan_in, 'fan_out': fan_out}.get(mode)\n"
                          "    if fan is None:\n        raise ValueError(mode)\n"
                          "    std = calculate_gain(nonlinearity, a) / fan ** 0.5\n"
                          "    return rng.normal(0.0, std, size=tuple(shape)).astype('float32')",
    }),
    Alternative("float32 sampling, bound from rng.random, statistics with explicit formulas", {
        "kaiming_normal": "def kaiming_normal(shape, a=0.0, mode='fan_in', nonlinearity='leaky_relu', rng=None):\n"
                          "    rng = rng or np.random.default_rng()\n"
                          "    n_out, n_in, *kernel = shape\n    area = int(np.prod(kernel))\n"
                          "    if mode not in ('fan_in', 'fan_out'):\n        raise ValueError(mode)\n"
                          "    fan = n_in * area if mode == 'fan_in' else n_out * area\n"
                          "    if nonlinearity == 'relu':\n        g2 = 2.0\n"
                          "    elif nonlinearity == 'leaky_relu':\n        g2 = 2.0 / (1 + a * a)\n"
                          "    elif nonlinearity == 'tanh':\n        g2 = 25 / 9\n"
                          "    elif nonlinearity == 'selu':\n        g2 = 9 / 16\n"
                          "    elif nonlinearity in ('linear', 'sigmoid') or nonlinearity.startswith('conv'):\n"
                          "        g2 = 1.0\n"
                          "    else:\n        raise ValueError(nonlinearity)\n"
                          "    return rng.standard_normal(size=tuple(shape), dtype=np.float32) * np.float32(np.sqrt(g2 / fan))",
        "xavier_uniform": "def xavier_uniform(shape, gain=1.0, rng=None):\n"
                          "    rng = np.random.default_rng() if rng is None else rng\n"
                          "    n_out, n_in, *kernel = shape\n    area = int(np.prod(kernel))\n"
                          "    b = gain * np.sqrt(6.0 / ((n_in + n_out) * area))\n"
                          "    u = rng.random(size=tuple(shape))\n"
                          "    return ((2 * u - 1) * b).astype(np.float32)",
        "activation_stats": "def activation_stats(x, weights, nonlinearity):\n"
                            "    h = np.array(x, dtype=np.float64)\n    out_m, out_s = [], []\n"
                            "    for w in weights:\n        z = np.einsum('ni,oi->no', h, w)\n"
                            "        if nonlinearity == 'tanh':\n            h = np.tanh(z)\n"
                            "        elif nonlinearity == 'sigmoid':\n            h = np.exp(-np.logaddexp(0, -z))\n"
                            "        elif nonlinearity == 'relu':\n            h = z * (z > 0)\n"
                            "        elif nonlinearity == 'leaky_relu':\n            h = np.maximum(z, 0.01 * z)\n"
                            "        else:\n            h = z\n"
                            "        m = h.sum() / h.size\n        out_m.append(float(m))\n"
                            "        out_s.append(float(np.sqrt(((h - m) ** 2).sum() / h.size)))\n"
                            "    return out_m, out_s",
    }),
    Alternative("numpy integers from np.prod, math-module gains, a fan helper, rng.normal with keywords, "
                "np.asarray cast to float32, a layer loop returning lists", {
        "compute_fans": """
def compute_fans(shape):
    dims = list(shape)
    if len(dims) < 2:
        raise ValueError('a weight has at least two dimensions')
    area = np.prod(dims[2:], dtype=np.int64)
    return dims[1] * area, dims[0] * area
""",
        "calculate_gain": """
import math
def calculate_gain(nonlinearity, param=None):
    if nonlinearity == 'leaky_relu':
        a = 0.01 if param is None else param
        return math.sqrt(2.0 / (1.0 + a * a))
    table = dict(linear=1.0, conv1d=1.0, conv2d=1.0, conv3d=1.0, sigmoid=1.0, tanh=5.0 / 3.0,
                 relu=math.sqrt(2.0), selu=0.75)
    if nonlinearity not in table:
        raise ValueError(f'no gain for {nonlinearity}')
    return table[nonlinearity]
""",
        "kaiming_normal": """
def _fan(shape, mode):
    area = 1
    for k in shape[2:]:
        area *= k
    if mode == 'fan_in':
        return shape[1] * area
    if mode == 'fan_out':
        return shape[0] * area
    raise ValueError(f'unknown mode {mode}')


def kaiming_normal(shape, a=0.0, mode='fan_in', nonlinearity='leaky_relu', rng=None):
    if rng is None:
        rng = np.random.default_rng()
    fan = _fan(tuple(shape), mode)
    squared = {'linear': 1.0, 'conv1d': 1.0, 'conv2d': 1.0, 'conv3d': 1.0, 'sigmoid': 1.0,
               'tanh': 25.0 / 9.0, 'relu': 2.0, 'selu': 9.0 / 16.0, 'leaky_relu': 2.0 / (1.0 + a ** 2)}
    if nonlinearity not in squared:
        raise ValueError(nonlinearity)
    w = rng.normal(loc=0.0, scale=np.sqrt(squared[nonlinearity] / fan), size=tuple(shape))
    return np.asarray(w, dtype=np.float32)
""",
        "xavier_uniform": """
def xavier_uniform(shape, gain=1.0, rng=None):
    rng = np.random.default_rng() if rng is None else rng
    shape = tuple(shape)
    area = 1
    for k in shape[2:]:
        area *= k
    b = gain * (6.0 / ((shape[0] + shape[1]) * area)) ** 0.5
    return rng.uniform(low=-b, high=b, size=shape).astype(np.float32)
""",
        "activation_stats": """
def activation_stats(x, weights, nonlinearity):
    h = np.array(x, dtype=np.float64)
    means, stds = [], []
    for w in weights:
        z = h @ np.transpose(np.asarray(w, dtype=np.float64))
        if nonlinearity == 'linear':
            h = z
        elif nonlinearity == 'tanh':
            h = np.tanh(z)
        elif nonlinearity == 'sigmoid':
            h = np.where(z >= 0, 1 / (1 + np.exp(-np.abs(z))), np.exp(-np.abs(z)) / (1 + np.exp(-np.abs(z))))
        elif nonlinearity == 'relu':
            h = np.clip(z, 0, None)
        else:
            h = np.where(z >= 0, z, 0.01 * z)
        means.append(float(np.mean(h)))
        stds.append(float(np.sqrt(np.mean((h - np.mean(h)) ** 2))))
    return means, stds
""",
    }),
]
