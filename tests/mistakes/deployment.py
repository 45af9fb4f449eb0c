"""Wrong and alternative submissions of the deployment assignment."""

from submission_cases import Alternative, Wrong

# Part 1 with pieces replaced; everything else is the model solution.
_FOLD = '''
def fold_bn_into_next_conv(conv_weight, conv_bias, running_mean, running_var, gamma, beta, eps=1e-5):
    w = np.asarray(conv_weight)
    c_in = w.shape[1]
    g = np.ones(c_in) if gamma is None else np.asarray(gamma, dtype=np.float64)
    b = np.zeros(c_in) if beta is None else np.asarray(beta, dtype=np.float64)
    var = np.asarray(running_var, dtype=np.float64)
    s = SCALE
    t = SHIFT
    w64 = w.astype(np.float64)
    weight = w64 * s[None, :, None, None]
    bias = BIAS
    if conv_bias is not None:
        bias = bias + np.asarray(conv_bias, dtype=np.float64)
    return weight.astype(w.dtype), bias.astype(w.dtype)
'''


def fold(scale="g / np.sqrt(var + eps)", shift="b - s * np.asarray(running_mean, dtype=np.float64)",
         bias='np.einsum("oihw,i->o", w64, t)'):
    return _FOLD.replace("SCALE", scale).replace("SHIFT", shift).replace("BIAS", bias)


# Part 2 with pieces replaced.
_QPARAMS = '''
def per_channel_qparams(x, axis):
    x = np.asarray(x)
    rows = ROWS
    lo = LO
    hi = HI
    scale = SCALE
    zero_point = ZERO
    return scale, zero_point
'''


def qparams(rows="np.moveaxis(x, axis, 0).reshape(x.shape[axis], -1)",
            lo="np.minimum(rows.min(axis=1), 0).astype(np.float64)",
            hi="np.maximum(rows.max(axis=1), 0).astype(np.float64)",
            scale="np.maximum((hi - lo) / 255.0, np.finfo(np.float32).eps).astype(np.float32)",
            zero="np.clip(-128 - np.rint(lo / scale), -128, 127).astype(np.int64)"):
    return (_QPARAMS.replace("ROWS", rows).replace("LO", lo).replace("HI", hi)
            .replace("SCALE", scale).replace("ZERO", zero))


# Part 3 with pieces replaced.
_QUANT = '''
def _channel_view(values, ndim, axis):
    shape = [1] * ndim
    shape[axis] = -1
    return np.asarray(values).reshape(shape)


def quantize_per_channel(x, scale, zero_point, axis):
    x = np.asarray(x)
    s = _channel_view(scale, x.ndim, axis).astype(np.float64)
    z = _channel_view(zero_point, x.ndim, axis).astype(np.int64)
    QUANTIZE


def dequantize_per_channel(q, scale, zero_point, axis):
    q = np.asarray(q)
    s = _channel_view(scale, q.ndim, axis)
    z = _channel_view(zero_point, q.ndim, axis)
    DEQUANTIZE
'''


def quant(quantize="return np.clip(np.rint(x / s) + z, -128, 127).astype(np.int8)",
          dequantize="return ((q.astype(np.int64) - z).astype(np.float32) * s.astype(np.float32)).astype(np.float32)"):
    return _QUANT.replace("DEQUANTIZE", dequantize).replace("QUANTIZE", quantize)


# Part 4 with pieces replaced.
_DISTILL = '''
def distillation_loss(student_logits, teacher_logits, labels, temperature, alpha):
    def log_softmax(z, axis=1):
        z = z - z.max(axis=axis, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))

    s, t = np.asarray(student_logits), np.asarray(teacher_logits)
    T, n = temperature, s.shape[0]
    rows, y = np.arange(n), np.asarray(labels)
    log_q, log_p = log_softmax(s / T), log_softmax(t / T)
    p, q = np.exp(log_p), np.exp(log_q)
    soft = SOFT
    log_probs = HARD_LOGP
    hard = -log_probs[rows, y].sum() / n
    loss = alpha * soft + (1 - alpha) * hard
    d_hard = np.exp(log_probs)
    d_hard[rows, y] -= 1
    grad = GRAD
    return float(loss), grad.astype(s.dtype)
'''


def distill(soft="T * T * np.sum(p * (log_p - log_q)) / n", hard_logp="log_softmax(s)",
            grad="alpha * T / n * (q - p) + (1 - alpha) / n * d_hard"):
    return _DISTILL.replace("SOFT", soft).replace("HARD_LOGP", hard_logp).replace("GRAD", grad)


# Part 5 with the counts replaced.
_F16 = '''
def float16_report(x):
    x = np.asarray(x)
    with np.errstate(over="ignore"):
        y = x.astype(np.float16)
    overflow = int(OVER)
    underflow = int(UNDER)
    return Y, overflow, underflow
'''


def f16(over="(np.isinf(y) & np.isfinite(x)).sum()", under="((y == 0) & (x != 0)).sum()", y="y"):
    return _F16.replace("OVER", over).replace("UNDER", under).replace("Y,", y + ",")


FOLD, QP, QU, DQ = "test_fold_bn_into_next_conv", "test_per_channel_qparams", "test_quantize_per_channel", \
    "test_dequantize_per_channel"
DI, F16 = "test_distillation_loss", "test_float16_report"

WRONG = [
    # ---- Part 1: folding batch norm into the next convolution
    Wrong("the running variance used without eps", {"fold_bn_into_next_conv": fold(scale="g / np.sqrt(var)")},
          loses=FOLD),
    Wrong("eps added outside the square root",
          {"fold_bn_into_next_conv": fold(scale="g / (np.sqrt(var) + eps)")}, loses=FOLD),
    Wrong("the bias fold forgetting the running mean (t = beta)",
          {"fold_bn_into_next_conv": fold(shift="b")}, loses=FOLD),
    Wrong("the mean subtracted without the scale (t = beta - mean)",
          {"fold_bn_into_next_conv": fold(shift="b - np.asarray(running_mean, dtype=np.float64)")}, loses=FOLD),
    Wrong("the bias built from one kernel tap only (the kernel area forgotten)",
          {"fold_bn_into_next_conv": fold(bias="w64[:, :, 0, 0] @ t")}, loses=FOLD),
    Wrong("the fold for a batch norm AFTER the convolution (output channels scaled), copied from the chapter",
          {"fold_bn_into_next_conv":
               "def fold_bn_into_next_conv(conv_weight, conv_bias, running_mean, running_var, gamma, beta, eps=1e-5):\n"
               "    w = np.asarray(conv_weight)\n"
               "    scale = np.asarray(gamma, dtype=np.float64) / np.sqrt(np.asarray(running_var, dtype=np.float64) + eps)\n"
               "    b = np.zeros(w.shape[0]) if conv_bias is None else np.asarray(conv_bias, dtype=np.float64)\n"
               "    fused_w = w.astype(np.float64) * scale.reshape((-1,) + (1,) * (w.ndim - 1))\n"
               "    fused_b = scale * (b - np.asarray(running_mean, dtype=np.float64)) + np.asarray(beta, dtype=np.float64)\n"
               "    return fused_w.astype(w.dtype), fused_b.astype(w.dtype)"},
          loses=FOLD),
    Wrong("gamma and beta None (affine=False) not handled",
          {"fold_bn_into_next_conv": fold().replace(
              "g = np.ones(c_in) if gamma is None else np.asarray(gamma, dtype=np.float64)",
              "g = np.asarray(gamma, dtype=np.float64)").replace(
              "b = np.zeros(c_in) if beta is None else np.asarray(beta, dtype=np.float64)",
              "b = np.asarray(beta, dtype=np.float64)")},
          loses=FOLD),
    Wrong("a missing convolution bias (None) not handled",
          {"fold_bn_into_next_conv": fold().replace("    if conv_bias is not None:\n        bias = bias",
                                                    "    if True:\n        bias = bias")},
          loses=FOLD),
    Wrong("float32 weights returned as float64",
          {"fold_bn_into_next_conv": fold().replace("return weight.astype(w.dtype), bias.astype(w.dtype)",
                                                    "return weight, bias")},
          loses=FOLD),
    Wrong("the convolution weight scaled in place",
          {"fold_bn_into_next_conv":
               "def fold_bn_into_next_conv(conv_weight, conv_bias, running_mean, running_var, gamma, beta, eps=1e-5):\n"
               "    c_in = conv_weight.shape[1]\n"
               "    g = np.ones(c_in) if gamma is None else gamma\n"
               "    b = np.zeros(c_in) if beta is None else beta\n"
               "    s = g / np.sqrt(running_var + eps)\n"
               "    t = b - s * running_mean\n"
               "    bias = np.einsum('oihw,i->o', conv_weight, t).astype(conv_weight.dtype)\n"
               "    if conv_bias is not None:\n"
               "        bias = bias + conv_bias\n"
               "    conv_weight *= s[None, :, None, None].astype(conv_weight.dtype)\n"
               "    return conv_weight, bias"},
          loses=FOLD),
    # ---- Part 2: per-channel scale and zero point
    Wrong("the range not widened to contain 0, zero point not clamped (outside [-128, 127])",
          {"per_channel_qparams": qparams(lo="rows.min(axis=1).astype(np.float64)",
                                          hi="rows.max(axis=1).astype(np.float64)",
                                          zero="(-128 - np.rint(lo / scale)).astype(np.int64)")},
          loses=QP),
    Wrong("the uint8 zero point round(-m/s), outside the int8 range",
          {"per_channel_qparams": qparams(zero="np.rint(-lo / scale).astype(np.int64)")}, loses=QP),
    Wrong("no floor on the scale (an all-zero channel gets scale 0)",
          {"per_channel_qparams": qparams(scale="((hi - lo) / 255.0).astype(np.float32)")}, loses=QP),
    Wrong("the range divided by 256 levels instead of 255 steps",
          {"per_channel_qparams": qparams(scale="np.maximum((hi - lo) / 256.0, np.finfo(np.float32).eps).astype(np.float32)")},
          loses=QP),
    Wrong("round half up in the zero point",
          {"per_channel_qparams": qparams(zero="np.clip(-128 - np.floor(lo / scale + 0.5), -128, 127).astype(np.int64)")},
          loses=QP),
    Wrong("round half away from zero in the zero point",
          {"per_channel_qparams": qparams(
              zero="np.clip(-128 - np.sign(lo / scale) * np.floor(np.abs(lo / scale) + 0.5), -128, 127).astype(np.int64)")},
          loses=QP),
    Wrong("channels read with a reshape that ignores the axis",
          {"per_channel_qparams": qparams(rows="x.reshape(x.shape[axis], -1)")}, loses=QP),
    Wrong("the scale returned as float64",
          {"per_channel_qparams": qparams(scale="np.maximum((hi - lo) / 255.0, np.finfo(np.float32).eps)")},
          loses=QP),
    # ---- Part 3: quantize and dequantize
    Wrong("round half up (floor(x / s + 0.5))",
          {"quantize_per_channel": quant("return np.clip(np.floor(x / s + 0.5) + z, -128, 127).astype(np.int8)")},
          loses=QU),
    Wrong("no saturation: the cast to int8 wraps around",
          {"quantize_per_channel": quant("return (np.rint(x / s) + z).astype(np.int64).astype(np.int8)")},
          loses=QU),
    Wrong("x / s + z rounded together (differs on ties with an odd zero point)",
          {"quantize_per_channel": quant("return np.clip(np.rint(x / s + z), -128, 127).astype(np.int8)")},
          loses=QU),
    Wrong("truncation toward zero instead of rounding",
          {"quantize_per_channel": quant("return np.clip(np.trunc(x / s) + z, -128, 127).astype(np.int8)")},
          loses=QU),
    Wrong("the zero point subtracted instead of added",
          {"quantize_per_channel": quant("return np.clip(np.rint(x / s) - z, -128, 127).astype(np.int8)")},
          loses=QU),
    Wrong("the scale broadcast along the last axis, whatever the axis",
          {"quantize_per_channel": quant("s = np.asarray(scale, dtype=np.float64)\n"
                                         "    z = np.asarray(zero_point)\n"
                                         "    return np.clip(np.rint(x / s) + z, -128, 127).astype(np.int8)")},
          loses=QU),
    Wrong("x divided by the scale in place (the input modified)",
          {"quantize_per_channel": quant("x /= s\n"
                                         "    return np.clip(np.rint(x) + z, -128, 127).astype(np.int8)")},
          loses=QU),
    Wrong("quantized values returned as int64",
          {"quantize_per_channel": quant("return np.clip(np.rint(x / s) + z, -128, 127).astype(np.int64)")},
          loses=QU),
    Wrong("dequantize ignoring the zero point",
          {"quantize_per_channel": quant(dequantize="return (q.astype(np.float32) * s.astype(np.float32)).astype(np.float32)")},
          loses=DQ),
    Wrong("dequantize computing q - z in int8 (wraps around)",
          {"quantize_per_channel": quant(dequantize="return ((q - z.astype(np.int8)).astype(np.float32) * s).astype(np.float32)")},
          loses=DQ),
    Wrong("dequantize returning float64 for float64 scales",
          {"quantize_per_channel": quant(dequantize="return (q.astype(np.int64) - z) * s")}, loses=DQ),
    # ---- Part 4: distillation
    Wrong("the T^2 factor missing", {"distillation_loss": distill(soft="np.sum(p * (log_p - log_q)) / n",
                                                                  grad="alpha / (T * n) * (q - p) + (1 - alpha) / n * d_hard")},
          loses=DI),
    Wrong("T instead of T^2", {"distillation_loss": distill(soft="T * np.sum(p * (log_p - log_q)) / n",
                                                            grad="alpha / n * (q - p) + (1 - alpha) / n * d_hard")},
          loses=DI),
    Wrong("the softmax over the wrong axis (samples instead of classes)",
          {"distillation_loss": distill().replace("def log_softmax(z, axis=1)", "def log_softmax(z, axis=0)")},
          loses=DI),
    Wrong("the KL divergence in the reverse direction, KL(q || p)",
          {"distillation_loss": distill(soft="T * T * np.sum(q * (log_q - log_p)) / n")}, loses=DI),
    Wrong("the KL term averaged over all N * C entries instead of the batch",
          {"distillation_loss": distill(soft="T * T * np.mean(p * (log_p - log_q))")}, loses=DI),
    Wrong("the hard term computed on the softened logits",
          {"distillation_loss": distill(hard_logp="log_q")}, loses=DI),
    Wrong("the gradient of the soft term without the factor T",
          {"distillation_loss": distill(grad="alpha / n * (q - p) + (1 - alpha) / n * d_hard")}, loses=DI),
    Wrong("a naive softmax that overflows for large logits",
          {"distillation_loss": distill().replace("z = z - z.max(axis=axis, keepdims=True)\n", "")}, loses=DI),
    Wrong("the logits divided by T in place (the input modified)",
          {"distillation_loss": distill().replace(
              "log_q, log_p = log_softmax(s / T), log_softmax(t / T)",
              "log_probs0 = log_softmax(s)\n    s /= T\n    t /= T\n"
              "    log_q, log_p = log_softmax(s), log_softmax(t)").replace(
              "log_probs = log_softmax(s)", "log_probs = log_probs0")},
          loses=DI),
    Wrong("a float32 gradient returned as float64",
          {"distillation_loss": distill().replace("grad.astype(s.dtype)", "grad.astype(np.float64)")}, loses=DI),
    # ---- Part 5: float16
    Wrong("overflow counted as |x| > 65504 (65519 rounds down to 65504)",
          {"float16_report": f16(over="(np.isfinite(x) & (np.abs(x) > 65504)).sum()")}, loses=F16),
    Wrong("underflow counted as 0 < |x| < 2**-24 (values above 2**-25 round up)",
          {"float16_report": f16(under="((x != 0) & (np.abs(x) < 2.0 ** -24)).sum()")}, loses=F16),
    Wrong("underflow counted below the smallest normal number (subnormals are not zero)",
          {"float16_report": f16(under="((x != 0) & (np.abs(x) < np.finfo(np.float16).tiny)).sum()")}, loses=F16),
    Wrong("zeros already in x counted as underflow", {"float16_report": f16(under="(y == 0).sum()")}, loses=F16),
    Wrong("infinities already in x counted as overflow", {"float16_report": f16(over="np.isinf(y).sum()")}, loses=F16),
    Wrong("the float16 values returned as float32", {"float16_report": f16(y="y.astype(np.float32)")}, loses=F16),
]

ALTERNATIVE = [
    Alternative("loops over channels, Python rounding, thresholds for the float16 counts", {
        "fold_bn_into_next_conv":
            "def fold_bn_into_next_conv(conv_weight, conv_bias, running_mean, running_var, gamma, beta, eps=1e-5):\n"
            "    c_out, c_in = conv_weight.shape[:2]\n"
            "    weight = conv_weight.copy()\n"
            "    bias = np.zeros(c_out) if conv_bias is None else conv_bias.astype(np.float64)\n"
            "    for i in range(c_in):\n"
            "        g = 1.0 if gamma is None else float(gamma[i])\n"
            "        bt = 0.0 if beta is None else float(beta[i])\n"
            "        s = g / np.sqrt(float(running_var[i]) + eps)\n"
            "        t = bt - s * float(running_mean[i])\n"
            "        for o in range(c_out):\n"
            "            bias[o] += t * conv_weight[o, i].astype(np.float64).sum()\n"
            "            weight[o, i] = conv_weight[o, i] * s\n"
            "    return weight, bias.astype(conv_weight.dtype)",
        "per_channel_qparams":
            "def per_channel_qparams(x, axis):\n"
            "    n = x.shape[axis]\n"
            "    scales, zeros = [], []\n"
            "    for c in range(n):\n"
            "        ch = np.take(x, c, axis=axis)\n"
            "        lo, hi = min(float(ch.min()), 0.0), max(float(ch.max()), 0.0)\n"
            "        s = np.float32(max((hi - lo) / 255, 2.0 ** -23))\n"
            "        z = -128 - round(lo / float(s))\n"
            "        scales.append(s)\n"
            "        zeros.append(min(max(z, -128), 127))\n"
            "    return np.array(scales, dtype=np.float32), np.array(zeros)",
        "quantize_per_channel":
            "def quantize_per_channel(x, scale, zero_point, axis):\n"
            "    moved = np.moveaxis(x, axis, 0)\n"
            "    out = np.empty(moved.shape, dtype=np.int8)\n"
            "    for c in range(moved.shape[0]):\n"
            "        flat = moved[c].reshape(-1)\n"
            "        vals = [min(127, max(-128, round(float(v) / float(scale[c])) + int(zero_point[c]))) for v in flat]\n"
            "        out[c] = np.array(vals, dtype=np.int8).reshape(moved[c].shape)\n"
            "    return np.moveaxis(out, 0, axis)\n"
            "\n"
            "def dequantize_per_channel(q, scale, zero_point, axis):\n"
            "    moved = np.moveaxis(q, axis, 0).astype(np.float64)\n"
            "    out = np.empty(moved.shape, dtype=np.float32)\n"
            "    for c in range(moved.shape[0]):\n"
            "        out[c] = (moved[c] - int(zero_point[c])) * np.float32(scale[c])\n"
            "    return np.moveaxis(out, 0, axis)",
        "distillation_loss":
            "def _softmax_rows(z):\n"
            "    e = np.exp(z - np.max(z, axis=-1, keepdims=True))\n"
            "    return e / e.sum(axis=-1, keepdims=True)\n"
            "\n"
            "def _logsumexp_rows(z):\n"
            "    m = np.max(z, axis=-1, keepdims=True)\n"
            "    return m + np.log(np.sum(np.exp(z - m), axis=-1, keepdims=True))\n"
            "\n"
            "def distillation_loss(student_logits, teacher_logits, labels, temperature, alpha):\n"
            "    s = student_logits.astype(np.float64)\n"
            "    t = teacher_logits.astype(np.float64)\n"
            "    T = float(temperature)\n"
            "    n = len(s)\n"
            "    log_q = s / T - _logsumexp_rows(s / T)\n"
            "    log_p = t / T - _logsumexp_rows(t / T)\n"
            "    p = np.exp(log_p)\n"
            "    kl = np.einsum('nc,nc->', p, log_p - log_q) / n\n"
            "    onehot = np.eye(s.shape[1])[labels]\n"
            "    ce = -np.einsum('nc,nc->', onehot, s - _logsumexp_rows(s)) / n\n"
            "    loss = alpha * T ** 2 * kl + (1 - alpha) * ce\n"
            "    grad = alpha * T * (np.exp(log_q) - p) / n + (1 - alpha) * (_softmax_rows(s) - onehot) / n\n"
            "    return np.float64(loss), grad.astype(student_logits.dtype)",
        "float16_report":
            "def float16_report(x):\n"
            "    y = np.array(x, dtype=np.float16)\n"
            "    a = np.abs(x)\n"
            "    overflow = np.count_nonzero(np.isfinite(x) & (a >= 65520))\n"
            "    underflow = np.count_nonzero((a > 0) & (a <= 2.0 ** -25))\n"
            "    return y, overflow, underflow",
    }),
    Alternative("float32 arithmetic as PyTorch does it (x times 1/s), helpers, tensordot", {
        "fold_bn_into_next_conv":
            "def _bn_affine(running_mean, running_var, gamma, beta, eps, dtype):\n"
            "    n = len(running_mean)\n"
            "    g = np.ones(n, dtype) if gamma is None else gamma.astype(dtype)\n"
            "    b = np.zeros(n, dtype) if beta is None else beta.astype(dtype)\n"
            "    s = g / np.sqrt(running_var.astype(dtype) + dtype.type(eps))\n"
            "    return s, b - s * running_mean.astype(dtype)\n"
            "\n"
            "def fold_bn_into_next_conv(conv_weight, conv_bias, running_mean, running_var, gamma, beta, eps=1e-5):\n"
            "    dt = conv_weight.dtype\n"
            "    s, t = _bn_affine(running_mean, running_var, gamma, beta, eps, dt)\n"
            "    weight = conv_weight * s.reshape(1, -1, 1, 1)\n"
            "    bias = np.tensordot(conv_weight, t, axes=([1], [0])).sum(axis=(1, 2))\n"
            "    if conv_bias is not None:\n"
            "        bias = bias + conv_bias.astype(dt)\n"
            "    return weight.astype(dt), bias.astype(dt)",
        "per_channel_qparams":
            "def per_channel_qparams(x, axis):\n"
            "    others = tuple(i for i in range(x.ndim) if i != axis)\n"
            "    lo = np.minimum(x.min(axis=others), 0).astype(np.float32)\n"
            "    hi = np.maximum(x.max(axis=others), 0).astype(np.float32)\n"
            "    scale = np.maximum((hi - lo) / np.float32(255), np.float32(2.0 ** -23)).astype(np.float32)\n"
            "    zero = -128 - np.round(lo / scale).astype(np.int32)\n"
            "    return scale, np.clip(zero, -128, 127).astype(np.int32)",
        "quantize_per_channel":
            "def _shape_for(arr, axis):\n"
            "    return tuple(-1 if i == axis else 1 for i in range(arr.ndim))\n"
            "\n"
            "def quantize_per_channel(x, scale, zero_point, axis):\n"
            "    inv = (1 / np.asarray(scale, dtype=x.dtype)).reshape(_shape_for(x, axis))\n"
            "    r = np.round(x * inv)\n"
            "    r = r + np.asarray(zero_point).reshape(_shape_for(x, axis))\n"
            "    r = np.minimum(np.maximum(r, -128), 127)\n"
            "    return r.astype(np.int8)\n"
            "\n"
            "def dequantize_per_channel(q, scale, zero_point, axis):\n"
            "    shape = _shape_for(q, axis)\n"
            "    diff = q.astype(np.int32) - np.asarray(zero_point, dtype=np.int32).reshape(shape)\n"
            "    return diff.astype(np.float32) * np.asarray(scale, dtype=np.float32).reshape(shape)",
        "distillation_loss":
            "def distillation_loss(student_logits, teacher_logits, labels, temperature, alpha):\n"
            "    T = temperature\n"
            "    def probs_and_logs(z):\n"
            "        z = z - z.max(axis=1, keepdims=True)\n"
            "        lse = np.log(np.exp(z).sum(axis=1, keepdims=True))\n"
            "        return np.exp(z - lse), z - lse\n"
            "    q, log_q = probs_and_logs(student_logits / T)\n"
            "    p, log_p = probs_and_logs(teacher_logits / T)\n"
            "    sm, log_sm = probs_and_logs(student_logits)\n"
            "    n = student_logits.shape[0]\n"
            "    idx = (np.arange(n), labels)\n"
            "    soft = (p * (log_p - log_q)).sum(axis=1).mean() * T * T\n"
            "    hard = -log_sm[idx].mean()\n"
            "    g_hard = sm.copy()\n"
            "    g_hard[idx] -= 1\n"
            "    grad = (alpha * T * (q - p) + (1 - alpha) * g_hard) / n\n"
            "    return alpha * soft + (1 - alpha) * hard, grad.astype(student_logits.dtype)",
        "float16_report":
            "def float16_report(x):\n"
            "    with np.errstate(all='ignore'):\n"
            "        y = np.float16(x)\n"
            "    y = np.asarray(y, dtype=np.float16).reshape(np.shape(x))\n"
            "    was_finite = np.isfinite(x)\n"
            "    lost_big = np.sum(was_finite & ~np.isfinite(y) & ~np.isnan(y))\n"
            "    lost_small = np.sum((y == 0) & ~(x == 0))\n"
            "    return y, lost_big, lost_small",
    }),
    Alternative("everything in the input's dtype: the teacher cast to the student's dtype first, "
                "loops over samples and channels, np.take_along_axis", {
        "fold_bn_into_next_conv":
            "def fold_bn_into_next_conv(conv_weight, conv_bias, running_mean, running_var, gamma, beta, eps=1e-5):\n"
            "    dt = conv_weight.dtype\n"
            "    c_out, c_in = conv_weight.shape[:2]\n"
            "    weight = np.empty_like(conv_weight)\n"
            "    bias = np.zeros(c_out, dtype=dt) if conv_bias is None else np.array(conv_bias, dtype=dt)\n"
            "    for i in range(c_in):\n"
            "        g = dt.type(1) if gamma is None else dt.type(gamma[i])\n"
            "        b = dt.type(0) if beta is None else dt.type(beta[i])\n"
            "        s = g / np.sqrt(dt.type(running_var[i]) + dt.type(eps))\n"
            "        weight[:, i] = conv_weight[:, i] * s\n"
            "        bias = bias + (b - s * dt.type(running_mean[i])) * conv_weight[:, i].sum(axis=(1, 2))\n"
            "    return weight, bias.astype(dt)",
        "per_channel_qparams":
            "def per_channel_qparams(x, axis):\n"
            "    flat = np.moveaxis(x, axis, -1).reshape(-1, x.shape[axis])\n"
            "    lo = np.minimum(flat.min(axis=0), 0.0).astype(np.float64)\n"
            "    hi = np.maximum(flat.max(axis=0), 0.0).astype(np.float64)\n"
            "    scale = np.float32(np.fmax((hi - lo) / (127 - (-128)), 2.0 ** -23)).astype(np.float32)\n"
            "    scale = np.asarray(scale, dtype=np.float32).reshape(-1)\n"
            "    zero_point = (-128 - np.rint(lo / scale.astype(np.float64))).clip(-128, 127).astype(np.int32)\n"
            "    return scale, zero_point",
        "quantize_per_channel":
            "def quantize_per_channel(x, scale, zero_point, axis):\n"
            "    shape = [1] * x.ndim\n"
            "    shape[axis] = x.shape[axis]\n"
            "    r = np.rint(np.divide(x, np.reshape(scale, shape), dtype=np.float64))\n"
            "    r += np.reshape(zero_point, shape)\n"
            "    np.clip(r, -128, 127, out=r)\n"
            "    return r.astype(np.int8)\n"
            "\n"
            "def dequantize_per_channel(q, scale, zero_point, axis):\n"
            "    shape = [1] * q.ndim\n"
            "    shape[axis] = q.shape[axis]\n"
            "    diff = np.subtract(q, np.reshape(zero_point, shape), dtype=np.int32)\n"
            "    return (diff * np.reshape(scale, shape).astype(np.float64)).astype(np.float32)",
        "distillation_loss":
            "def distillation_loss(student_logits, teacher_logits, labels, temperature, alpha):\n"
            "    s = student_logits\n"
            "    t = teacher_logits.astype(s.dtype)\n"
            "    T = s.dtype.type(temperature)\n"
            "    n = s.shape[0]\n"
            "    def log_softmax(z):\n"
            "        m = z.max(axis=1, keepdims=True)\n"
            "        return z - m - np.log(np.sum(np.exp(z - m), axis=1, keepdims=True))\n"
            "    log_q, log_p, log_sm = log_softmax(s / T), log_softmax(t / T), log_softmax(s)\n"
            "    p = np.exp(log_p)\n"
            "    soft = T * T * float(np.sum(p * (log_p - log_q))) / n\n"
            "    picked = np.take_along_axis(log_sm, np.asarray(labels).reshape(-1, 1), axis=1)\n"
            "    hard = -float(picked.sum()) / n\n"
            "    onehot = np.zeros_like(s)\n"
            "    np.put_along_axis(onehot, np.asarray(labels).reshape(-1, 1), 1, axis=1)\n"
            "    grad = alpha * T * (np.exp(log_q) - p) / n + (1 - alpha) * (np.exp(log_sm) - onehot) / n\n"
            "    return float(alpha * soft + (1 - alpha) * hard), grad.astype(s.dtype)",
        "float16_report":
            "def float16_report(x):\n"
            "    with np.errstate(all='ignore'):\n"
            "        y = np.empty(x.shape, dtype=np.float16)\n"
            "        y[...] = x\n"
            "    overflow = sum(1 for a, b in zip(x.ravel(), y.ravel()) if np.isfinite(a) and np.isinf(b))\n"
            "    underflow = sum(1 for a, b in zip(x.ravel(), y.ravel()) if a != 0 and b == 0)\n"
            "    return y, overflow, underflow",
    }),
]
