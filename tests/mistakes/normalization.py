"""Wrong and alternative submissions of the normalization assignment."""

from submission_cases import Alternative, Wrong

# --------------------------------------------------------------------------- Part 1

_RUNNING = '''
def update_running_stats(running_mean, running_var, x, momentum=0.1):
    x = np.asarray(x)
    axes = AXES
    batch_mean = x.mean(axis=axes)
    batch_var = VAR
    new_mean = NEW_MEAN
    new_var = (1 - momentum) * running_var + momentum * batch_var
    return new_mean.astype(running_mean.dtype), new_var.astype(running_var.dtype)
'''


def running(axes="(0,) + tuple(range(2, x.ndim))", var="x.var(axis=axes, ddof=1)",
            new_mean="(1 - momentum) * running_mean + momentum * batch_mean"):
    return (_RUNNING.replace("AXES", axes).replace("VAR", var).replace("NEW_MEAN", new_mean))


# --------------------------------------------------------------------------- Part 2

_FORWARD = '''
def batch_norm_forward(x, running_mean, running_var, weight, bias, training, eps=1e-5):
    x = np.asarray(x)
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    if TRAINING:
        axes = AXES
        mean = x.mean(axis=axes, keepdims=True)
        var = x.var(axis=axes, keepdims=True, ddof=DDOF)
    else:
        mean = np.reshape(running_mean, shape)
        var = np.reshape(running_var, shape)
    x_hat = NORMALIZE
    return (np.reshape(weight, shape) * x_hat + np.reshape(bias, shape)).astype(x.dtype)
'''


def forward(training="training", axes="(0,) + tuple(range(2, x.ndim))", ddof="0",
            normalize="(x - mean) / np.sqrt(var + eps)"):
    return (_FORWARD.replace("TRAINING", training).replace("AXES", axes).replace("DDOF", ddof)
            .replace("NORMALIZE", normalize))


# --------------------------------------------------------------------------- Part 3

_BACKWARD = '''
def batch_norm_backward(grad_output, x, weight, eps=1e-5):
    x = np.asarray(x)
    g = np.asarray(grad_output)
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    mean = x.mean(axis=axes, keepdims=True)
    inv_std = 1.0 / np.sqrt(x.var(axis=axes, keepdims=True) + eps)
    x_hat = (x - mean) * inv_std
    grad_bias = g.SUM(axis=axes)
    grad_weight = (g * x_hat).SUM(axis=axes)
    dxh = g * np.reshape(weight, shape)
    grad_x = GRAD_X
    return grad_x.astype(x.dtype), grad_weight.astype(x.dtype), grad_bias.astype(x.dtype)
'''

_COMPACT = ("inv_std * (dxh - dxh.mean(axis=axes, keepdims=True)"
            " - x_hat * (dxh * x_hat).mean(axis=axes, keepdims=True))")


def backward(grad_x=_COMPACT, reduction="sum"):
    return _BACKWARD.replace("GRAD_X", grad_x).replace("SUM", reduction)


# --------------------------------------------------------------------------- Part 4

_GROUP = '''
def group_norm(x, num_groups, weight, bias, eps=1e-5):
    x = np.asarray(x)
    n, c, h, w = x.shape
    groups = GROUPS
    mean = groups.mean(axis=STAT_AXES, keepdims=True)
    var = groups.var(axis=STAT_AXES, keepdims=True, ddof=DDOF)
    x_hat = _ungroup(x.shape, (groups - mean) / np.sqrt(var + eps))
    return (np.reshape(weight, (1, c, 1, 1)) * x_hat + np.reshape(bias, (1, c, 1, 1))).astype(x.dtype)


def _ungroup(x_shape, a):
    return UNGROUP
'''


def group(groups="x.reshape(n, num_groups, -1)", stat_axes="2", ddof="0", ungroup="a.reshape(x_shape)"):
    return (_GROUP.replace("GROUPS", groups).replace("STAT_AXES", stat_axes).replace("DDOF", ddof)
            .replace("UNGROUP", ungroup))


# Interleaved groups: channel c belongs to group c % G.
_INTERLEAVED_GROUPS = "x.reshape(n, c // num_groups, num_groups, h * w).transpose(0, 2, 1, 3).reshape(n, num_groups, -1)"
_INTERLEAVED_UNGROUP = ("a.reshape(x_shape[0], a.shape[1], x_shape[1] // a.shape[1], -1).transpose(0, 2, 1, 3)"
                        ".reshape(x_shape)")

WRONG = [
    # ---- Part 1: running statistics
    Wrong("biased instead of unbiased batch variance in the running variance",
          {"update_running_stats": running(var="x.var(axis=axes)")},
          loses="test_update_running_stats"),
    Wrong("momentum applied to the wrong term: (1 - m) * batch + m * running",
          {"update_running_stats": running(
              new_mean="momentum * running_mean + (1 - momentum) * batch_mean").replace(
              "new_var = (1 - momentum) * running_var + momentum * batch_var",
              "new_var = momentum * running_var + (1 - momentum) * batch_var")},
          loses="test_update_running_stats"),
    Wrong("running statistics over axis 0 only for 4-D input (one value per channel and pixel)",
          {"update_running_stats": running(axes="0")},
          loses="test_update_running_stats"),
    Wrong("running statistics per sample over (C, H, W) instead of per channel",
          {"update_running_stats": running(axes="tuple(range(1, x.ndim))")},
          loses="test_update_running_stats"),
    Wrong("running statistics that call torch",
          {"update_running_stats": "import torch\ndef update_running_stats(running_mean, running_var, x, momentum=0.1):\n"
                                   "    rm, rv = torch.tensor(running_mean), torch.tensor(running_var)\n"
                                   "    torch.nn.functional.batch_norm(torch.tensor(x), rm, rv, training=True, momentum=momentum)\n"
                                   "    return rm.numpy(), rv.numpy()"},
          loses="test_update_running_stats"),
    # ---- Part 2: forward
    Wrong("eps outside the square root: (x - mean) / (sqrt(var) + eps)",
          {"batch_norm_forward": forward(normalize="(x - mean) / (np.sqrt(var) + eps)")},
          loses="test_batch_norm_forward"),
    Wrong("batch statistics used in inference mode (training flag ignored)",
          {"batch_norm_forward": forward(training="True")},
          loses="test_batch_norm_forward"),
    Wrong("statistics over the wrong axes for 4-D input: axis 0 only",
          {"batch_norm_forward": forward(axes="0")},
          loses="test_batch_norm_forward"),
    Wrong("statistics over the wrong axes for 4-D input: per sample over (H, W)",
          {"batch_norm_forward": forward(axes="tuple(range(2, x.ndim)) or 0")},
          loses="test_batch_norm_forward"),
    Wrong("the unbiased variance used to normalize in training mode",
          {"batch_norm_forward": forward(ddof="1")},
          loses="test_batch_norm_forward"),
    Wrong("the forward pass computed in float64 and returned as float64",
          {"batch_norm_forward": forward().replace("x = np.asarray(x)", "x = np.asarray(x, dtype=np.float64)")},
          loses="test_batch_norm_forward"),
    # ---- Part 3: backward
    Wrong("backward that drops the terms through the mean and the variance: g * gamma / sigma",
          {"batch_norm_backward": backward(grad_x="dxh * inv_std")},
          loses="test_batch_norm_backward"),
    Wrong("backward that drops the term through the variance only",
          {"batch_norm_backward": backward(grad_x="inv_std * (dxh - dxh.mean(axis=axes, keepdims=True))")},
          loses="test_batch_norm_backward"),
    Wrong("backward that drops the term through the mean only",
          {"batch_norm_backward": backward(
              grad_x="inv_std * (dxh - x_hat * (dxh * x_hat).mean(axis=axes, keepdims=True))")},
          loses="test_batch_norm_backward"),
    Wrong("backward with gamma left out of grad_x",
          {"batch_norm_backward": backward(grad_x=_COMPACT.replace("dxh", "g"))},
          loses="test_batch_norm_backward"),
    Wrong("backward with grad_weight and grad_bias averaged instead of summed",
          {"batch_norm_backward": backward(reduction="mean")},
          loses="test_batch_norm_backward"),
    # ---- Part 4: group norm
    Wrong("group norm with statistics per channel (that is instance norm)",
          {"group_norm": group(groups="x.reshape(n, c, -1)")},
          loses="test_group_norm"),
    Wrong("group norm with statistics over the batch as well (axes 0 and 2)",
          {"group_norm": group(stat_axes="(0, 2)")},
          loses="test_group_norm"),
    Wrong("group norm with interleaved groups (channel c in group c % G)",
          {"group_norm": group(groups=_INTERLEAVED_GROUPS, ungroup=_INTERLEAVED_UNGROUP)},
          loses="test_group_norm"),
    Wrong("group norm with the unbiased variance",
          {"group_norm": group(ddof="1")},
          loses="test_group_norm"),
    Wrong("group norm with eps outside the square root",
          {"group_norm": group().replace("np.sqrt(var + eps)", "(np.sqrt(var) + eps)")},
          loses="test_group_norm"),
]

ALTERNATIVE = [
    Alternative("explicit loops over channels and groups, statistics written out by hand", {
        "update_running_stats": '''
def update_running_stats(running_mean, running_var, x, momentum=0.1):
    x = np.asarray(x)
    new_mean = np.array(running_mean, copy=True)
    new_var = np.array(running_var, copy=True)
    for c in range(x.shape[1]):
        values = x[:, c].ravel()
        mu = values.sum() / values.size
        s2 = ((values - mu) ** 2).sum() / (values.size - 1)
        new_mean[c] = (1 - momentum) * running_mean[c] + momentum * mu
        new_var[c] = (1 - momentum) * running_var[c] + momentum * s2
    return new_mean, new_var
''',
        "batch_norm_forward": '''
def batch_norm_forward(x, running_mean, running_var, weight, bias, training, eps=1e-5):
    x = np.asarray(x)
    out = np.empty_like(x)
    for c in range(x.shape[1]):
        values = x[:, c]
        if training:
            mu = values.mean()
            var = ((values - mu) ** 2).mean()
        else:
            mu, var = running_mean[c], running_var[c]
        out[:, c] = weight[c] * (values - mu) / np.sqrt(var + eps) + bias[c]
    return out
''',
        "group_norm": '''
def group_norm(x, num_groups, weight, bias, eps=1e-5):
    x = np.asarray(x)
    out = np.empty_like(x)
    size = x.shape[1] // num_groups
    for n in range(x.shape[0]):
        for g in range(num_groups):
            block = x[n, g * size:(g + 1) * size]
            out[n, g * size:(g + 1) * size] = (block - block.mean()) / np.sqrt(block.var() + eps)
    return (out * weight[None, :, None, None] + bias[None, :, None, None]).astype(x.dtype)
''',
    }),
    Alternative("channels moved first and flattened; staged (CS231n computational-graph) backward", {
        "update_running_stats": '''
def update_running_stats(running_mean, running_var, x, momentum=0.1):
    flat = np.moveaxis(np.asarray(x), 1, 0).reshape(np.shape(x)[1], -1)
    mu = flat.mean(axis=1)
    var = flat.var(axis=1, ddof=1)
    new_mean = running_mean + momentum * (mu - running_mean)
    new_var = running_var + momentum * (var - running_var)
    return new_mean.astype(running_mean.dtype), new_var.astype(running_var.dtype)
''',
        "batch_norm_forward": '''
def batch_norm_forward(x, running_mean, running_var, weight, bias, training, eps=1e-5):
    x = np.asarray(x)
    flat = np.moveaxis(x, 1, -1)  # channels last: (..., C)
    if training:
        lead = tuple(range(flat.ndim - 1))
        mu = flat.mean(axis=lead)
        var = ((flat - mu) ** 2).mean(axis=lead)
    else:
        mu, var = np.asarray(running_mean), np.asarray(running_var)
    y = (flat - mu) * (weight / np.sqrt(var + eps)) + bias
    return np.moveaxis(y, -1, 1).astype(x.dtype)
''',
        "batch_norm_backward": '''
def batch_norm_backward(grad_output, x, weight, eps=1e-5):
    x = np.asarray(x)
    dy = np.moveaxis(np.asarray(grad_output), 1, -1)
    xc = np.moveaxis(x, 1, -1)
    lead = tuple(range(xc.ndim - 1))
    m = xc.size // xc.shape[-1]
    mu = xc.mean(axis=lead)
    d = xc - mu
    var = (d ** 2).mean(axis=lead)
    std = np.sqrt(var + eps)
    xhat = d / std
    dbeta = dy.sum(axis=lead)
    dgamma = (dy * xhat).sum(axis=lead)
    dxhat = dy * weight
    dvar = (dxhat * d).sum(axis=lead) * -0.5 * (var + eps) ** -1.5
    dmu = -(dxhat / std).sum(axis=lead) + dvar * (-2.0 * d).mean(axis=lead)
    dx = dxhat / std + dvar * 2.0 * d / m + dmu / m
    return np.moveaxis(dx, -1, 1).astype(x.dtype), dgamma.astype(x.dtype), dbeta.astype(x.dtype)
''',
        "group_norm": '''
def group_norm(x, num_groups, weight, bias, eps=1e-5):
    x = np.asarray(x)
    n, c, h, w = x.shape
    g = x.reshape(n, num_groups, c // num_groups, h, w)
    mu = g.mean(axis=(2, 3, 4), keepdims=True)
    var = g.var(axis=(2, 3, 4), keepdims=True)
    y = ((g - mu) / np.sqrt(var + eps)).reshape(n, c, h, w)
    return (y * weight.reshape(-1, 1, 1) + bias.reshape(-1, 1, 1)).astype(x.dtype)
''',
    }),
    Alternative("backward via the textbook formula (m g - sum g - x_hat sum g x_hat) / (m sigma), in float64", {
        "batch_norm_backward": '''
def batch_norm_backward(grad_output, x, weight, eps=1e-5):
    x = np.asarray(x)
    x64 = x.astype(np.float64)
    g = np.asarray(grad_output, dtype=np.float64)
    axes = tuple(i for i in range(x.ndim) if i != 1)
    m = x.size // x.shape[1]
    mu = x64.mean(axis=axes, keepdims=True)
    sigma = np.sqrt(x64.var(axis=axes, keepdims=True) + eps)
    xhat = (x64 - mu) / sigma
    gamma = np.asarray(weight, dtype=np.float64).reshape([-1 if i == 1 else 1 for i in range(x.ndim)])
    dx = gamma * (m * g - g.sum(axis=axes, keepdims=True)
                  - xhat * (g * xhat).sum(axis=axes, keepdims=True)) / (m * sigma)
    return dx.astype(x.dtype), (g * xhat).sum(axis=axes).astype(x.dtype), g.sum(axis=axes).astype(x.dtype)
''',
    }),
    Alternative("helpers, float64 intermediates cast back, in-place updates of copies, scale-and-shift form, einsum", {
        "update_running_stats": '''
def _channel_stats(x):
    x64 = np.asarray(x, dtype=np.float64)
    flat = np.swapaxes(x64, 0, 1).reshape(x64.shape[1], -1)
    return flat.mean(axis=1), np.var(flat, axis=1, ddof=1)


def update_running_stats(running_mean, running_var, x, momentum=0.1):
    mu, s2 = _channel_stats(x)
    new_mean = running_mean.copy()
    new_var = running_var.copy()
    new_mean *= 1 - momentum
    new_mean += momentum * mu
    new_var *= 1 - momentum
    new_var += momentum * s2
    return new_mean, new_var
''',
        "batch_norm_forward": '''
def _per_channel(v, ndim):
    return np.asarray(v, dtype=np.float64).reshape((1, -1) + (1,) * (ndim - 2))


def batch_norm_forward(x, running_mean, running_var, weight, bias, training, eps=1e-5):
    x64 = np.asarray(x, dtype=np.float64)
    if training:
        axes = tuple(i for i in range(x64.ndim) if i != 1)
        mean = x64.mean(axis=axes, keepdims=True)
        var = ((x64 - mean) ** 2).mean(axis=axes, keepdims=True)
    else:
        mean, var = _per_channel(running_mean, x64.ndim), _per_channel(running_var, x64.ndim)
    scale = _per_channel(weight, x64.ndim) / np.sqrt(var + eps)
    shift = _per_channel(bias, x64.ndim) - mean * scale
    return (x64 * scale + shift).astype(np.asarray(x).dtype)
''',
        "batch_norm_backward": '''
def batch_norm_backward(grad_output, x, weight, eps=1e-5):
    dtype = np.asarray(x).dtype
    x64 = np.moveaxis(np.asarray(x, dtype=np.float64), 1, -1).reshape(-1, np.shape(x)[1])  # (m, C)
    g64 = np.moveaxis(np.asarray(grad_output, dtype=np.float64), 1, -1).reshape(x64.shape)
    m = x64.shape[0]
    inv_std = 1.0 / np.sqrt(x64.var(axis=0) + eps)
    x_hat = (x64 - x64.mean(axis=0)) * inv_std
    grad_bias = np.einsum("mc->c", g64)
    grad_weight = np.einsum("mc,mc->c", g64, x_hat)
    dx = (np.asarray(weight, dtype=np.float64) * inv_std / m) * (m * g64 - grad_bias - x_hat * grad_weight)
    moved = np.moveaxis(np.asarray(x), 1, -1).shape
    grad_x = np.moveaxis(dx.reshape(moved), -1, 1)
    return grad_x.astype(dtype), grad_weight.astype(dtype), grad_bias.astype(dtype)
''',
        "group_norm": '''
def group_norm(x, num_groups, weight, bias, eps=1e-5):
    x = np.asarray(x)
    out = np.empty_like(x)
    for n in range(x.shape[0]):
        for channels in np.array_split(np.arange(x.shape[1]), num_groups):
            block = x[n, channels].astype(np.float64)
            x_hat = (block - block.mean()) / np.sqrt(block.var() + eps)
            out[n, channels] = np.asarray(weight, dtype=np.float64)[channels, None, None] * x_hat \
                + np.asarray(bias, dtype=np.float64)[channels, None, None]
    return out
''',
    }),
]
