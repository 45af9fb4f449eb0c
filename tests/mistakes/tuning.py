"""Wrong and alternative submissions of the tuning assignment (diagnosing and tuning a run).

The cells of Parts 1 and 3 start with given functions (the ones the tests differentiate);
every submission below keeps them, read from the source notebook, and replaces only the
student's function after them. Part 3 calls the student's Parts 1 and 2, so a mistake there
also costs Part 3 wherever Part 3's tests reach it.
"""

from submission_cases import Alternative, Wrong

from grader import notebooks
from grader.course import SOLUTIONS_DIR

_SOURCE = notebooks.read(SOLUTIONS_DIR / "tuning" / "tuning.ipynb")


def _with_given(grade_id: str, code: str) -> str:
    """The cell ``grade_id`` as released (its given functions), with the student's ``code``."""
    stub = notebooks.solution_stub(notebooks.find_cell(_SOURCE, grade_id).source)
    given = stub[:stub.index(f"def {grade_id}(")]
    return given + code.strip("\n") + "\n"


NG, RE, GC, LR, DG = ("test_numerical_gradient", "test_relative_error", "test_gradient_check",
                      "test_suggest_lr", "test_diagnose")

# ---------------------------------------------------------------- Part 1: numerical gradient
_CENTRAL = '''
def numerical_gradient(f, x):
    point = np.array(x, dtype=np.float64)
    step = STEP
    grad = np.empty_like(point)
    for index in np.ndindex(*point.shape):
        shifted = point.copy()
        shifted[index] += step
        above = f(shifted)
        shifted = point.copy()
        shifted[index] -= step
        below = f(shifted)
        grad[index] = (above - below) / (2 * step)
    return grad
'''


def central(step):
    return {"numerical_gradient": _with_given("numerical_gradient", _CENTRAL.replace("STEP", step))}


def numgrad(code):
    return {"numerical_gradient": _with_given("numerical_gradient", code)}


# ---------------------------------------------------------------- Part 2: relative error
_RELATIVE = '''
def relative_error(analytic, numeric):
    a = np.asarray(analytic, dtype=np.float64)
    n = np.asarray(numeric, dtype=np.float64)
    if a.shape != n.shape:
        raise ValueError("shapes differ")
    return float(RESULT)
'''


def relative(result):
    return {"relative_error": _RELATIVE.replace("RESULT", result)}


# ---------------------------------------------------------------- Part 3: gradient check
def checker(code):
    return {"gradient_check": _with_given("gradient_check", code)}


# ---------------------------------------------------------------- Part 4: suggested rate
_SUGGEST = '''
def suggest_lr(lrs, losses, rule="steepest", beta=0.98, skip_start=10, skip_end=5):
    if rule not in ("steepest", "min/10"):
        raise ValueError(rule)
    rates = np.asarray(lrs, dtype=np.float64)
    raw = np.asarray(losses, dtype=np.float64)
    smooth = np.empty(len(raw))
    m = 0.0
    for t in range(len(raw)):
        m = beta * m + (1 - beta) * raw[t]
        smooth[t] = SMOOTHED
    keep = np.isfinite(smooth)
    rates, smooth = rates[keep], smooth[keep]
    stop = len(smooth) - skip_end
    if stop - skip_start < 3:
        stop = len(smooth)
    rates, smooth = rates[skip_start:stop], smooth[skip_start:stop]
    if len(smooth) < 3:
        raise ValueError("too few points")
    lowest = int(np.argmin(smooth))
    if rule == "min/10":
        return float(MIN_RULE)
    if lowest == 0:
        return float(rates[0])
    slope = SLOPE
    return float(STEEPEST)
'''


def suggest(smoothed="m / (1 - beta ** (t + 1))", min_rule="rates[lowest] / 10",
            slope="np.gradient(smooth, np.log(rates))", steepest="rates[int(np.argmin(slope[:lowest]))]"):
    code = (_SUGGEST.replace("SMOOTHED", smoothed).replace("MIN_RULE", min_rule)
            .replace("SLOPE", slope).replace("STEEPEST", steepest))
    return {"suggest_lr": code}


# ---------------------------------------------------------------- Part 5: diagnose
_DIAGNOSE = '''
def diagnose(train_loss, val_loss=None):
    train = np.asarray(train_loss, dtype=np.float64)
    if train.ndim != 1 or train.size < 5:
        raise ValueError("need a 1-D history of at least 5 losses")
    if not np.all(np.isfinite(train)):
        return "nan"

    def running_median(values):
        return np.array([np.median(values[max(0, i - 2):i + 3]) for i in range(len(values))])

    r = FILTERED
    f = max(1, len(train) // 5)
    start, end = START, END
    scale = max(abs(start), 1e-12)
    jitter = JITTER
    level = max(np.median(np.abs(train)), 1e-12)
    RULES
    return "healthy"
'''

_RULES = {
    "diverging": '''if end > start + 0.1 * scale:
        return "diverging"''',
    "oscillating": '''if jitter > 0.1 * level and jitter > 0.1 * max(start - end, 0.0):
        return "oscillating"''',
    "flat": '''if start - end < 0.02 * scale:
        return "flat"''',
    "overfitting": '''if val_loss is not None:
        w = running_median(np.asarray(val_loss, dtype=np.float64))
        b = int(np.argmin(w))
        if w[-1] > 1.1 * w[b] and b != len(w) - 1:
            return "overfitting"''',
}


def diag(filtered="running_median(train)", start="np.median(r[:f])", end="np.median(r[-f:])",
         jitter="np.median(np.abs(np.diff(train)))", order=("diverging", "oscillating", "flat", "overfitting"),
         replace=()):
    rules = "\n    ".join(_RULES[name] for name in order)
    code = (_DIAGNOSE.replace("FILTERED", filtered).replace("START", start).replace("END", end)
            .replace("JITTER", jitter).replace("RULES", rules))
    for old, new in replace:
        assert old in code, old
        code = code.replace(old, new)
    return {"diagnose": code}


WRONG = [
    # ---- Part 1 (Part 3 calls it, so it loses too where its tests reach the mistake)
    Wrong("one-sided differences (f(x + h) - f(x)) / h",
          numgrad('''
def numerical_gradient(f, x):
    point = np.array(x, dtype=np.float64)
    h = 1e-6
    base = f(point)
    grad = np.zeros_like(point)
    for i in range(point.size):
        shifted = point.copy()
        shifted.flat[i] += h
        grad.flat[i] = (f(shifted) - base) / h
    return grad
'''), loses={NG, GC}),
    Wrong("a step too small for float64 (1e-10): round-off dominates", central("1e-10"), loses={NG, GC}),
    Wrong("a step of 1e-8, still too small: round-off on a function of size 1000", central("1e-8"),
          loses={NG, GC}),
    Wrong("a step too large (1e-3): truncation error", central("1e-3"), loses={NG, GC}),
    Wrong("a step of 1e-4, too large for a function that curves fast", central("1e-4"), loses={NG}),
    Wrong("float32 arithmetic: x perturbed in its own dtype",
          numgrad(_CENTRAL.replace("np.array(x, dtype=np.float64)", "np.array(x)").replace("STEP", "1e-6")),
          loses={NG, GC}),
    Wrong("the input modified in place: perturbed and restored by subtraction",
          numgrad('''
def numerical_gradient(f, x):
    h = 1e-6
    grad = np.zeros(x.shape)
    for index in np.ndindex(*x.shape):
        x[index] += h
        above = f(x)
        x[index] -= 2 * h
        below = f(x)
        x[index] += h
        grad[index] = (above - below) / (2 * h)
    return grad
'''), loses={NG, GC}),
    Wrong("f called on a flattened copy of x",
          numgrad('''
def numerical_gradient(f, x):
    flat = np.array(x, dtype=np.float64).ravel()
    h = 1e-6
    grad = np.zeros_like(flat)
    for i in range(flat.size):
        e = np.zeros_like(flat)
        e[i] = h
        grad[i] = (f(flat + e) - f(flat - e)) / (2 * h)
    return grad.reshape(np.shape(x))
'''), loses={NG, GC}),
    Wrong("the result returned in x's dtype (float32 for a float32 x)",
          numgrad(_CENTRAL.replace("STEP", "1e-6").replace("return grad", "return grad.astype(np.asarray(x).dtype)")),
          loses={NG, GC}),
    # ---- Part 2
    Wrong("no floor in the denominator: 0/0 = nan for two zero gradients",
          relative("np.linalg.norm(a - n) / (np.linalg.norm(a) + np.linalg.norm(n))"), loses={RE, GC}),
    Wrong("the floor added to the denominator instead of taken as a maximum",
          relative("np.linalg.norm(a - n) / (np.linalg.norm(a) + np.linalg.norm(n) + 1e-12)"), loses={RE}),
    Wrong("the denominator ||a|| (the analytic norm only)",
          relative("np.linalg.norm(a - n) / max(np.linalg.norm(a), 1e-12)"), loses={RE, GC}),
    Wrong("the denominator max(||a||, ||n||)",
          relative("np.linalg.norm(a - n) / max(np.linalg.norm(a), np.linalg.norm(n), 1e-12)"), loses={RE, GC}),
    Wrong("the largest entry instead of the 2-norm",
          relative("np.abs(a - n).max(initial=0) / max(np.abs(a).max(initial=0) + np.abs(n).max(initial=0), 1e-12)"),
          loses={RE, GC}),
    Wrong("an entrywise relative error, the worst entry",
          relative("np.max(np.abs(a - n) / np.maximum(np.abs(a) + np.abs(n), 1e-12), initial=0)"), loses={RE, GC}),
    Wrong("float32 arithmetic: norms of float32 inputs overflow at 1e30",
          {"relative_error": '''
def relative_error(analytic, numeric):
    a, n = np.asarray(analytic), np.asarray(numeric)
    if a.shape != n.shape:
        raise ValueError("shapes differ")
    return float(np.linalg.norm(a - n) / max(np.linalg.norm(a) + np.linalg.norm(n), 1e-12))
'''}, loses={RE}),
    Wrong("no shape check: broadcasting compares (3, 1) with (3,)",
          {"relative_error": '''
def relative_error(analytic, numeric):
    a = np.asarray(analytic, dtype=np.float64)
    n = np.asarray(numeric, dtype=np.float64)
    return float(np.linalg.norm(a - n) / max(np.linalg.norm(a) + np.linalg.norm(n), 1e-12))
'''}, loses={RE}),
    Wrong("the analytic gradient modified in place (a -= n)",
          {"relative_error": '''
def relative_error(analytic, numeric):
    a = np.asarray(analytic)
    n = np.asarray(numeric)
    if a.shape != n.shape:
        raise ValueError("shapes differ")
    size = np.linalg.norm(a.astype(np.float64)) + np.linalg.norm(n.astype(np.float64))
    a -= n
    return float(np.linalg.norm(a.astype(np.float64)) / max(size, 1e-12))
'''}, loses={RE, GC}),
    # ---- Part 3
    Wrong("the caller's params dict used for the perturbation (left holding the last perturbed copy)",
          checker('''
def gradient_check(loss, params, grads):
    report = {}
    for name in grads:
        def f(value):
            params[name] = value
            return loss(**params)
        report[name] = relative_error(grads[name], numerical_gradient(f, params[name]))
    return report
'''), loses={GC}),
    Wrong("the names of params checked instead of the names of grads",
          checker('''
def gradient_check(loss, params, grads):
    report = {}
    for name in params:
        def f(value, name=name):
            return loss(**{**params, name: value})
        analytic = grads.get(name, np.zeros(np.shape(params[name])))
        report[name] = relative_error(analytic, numerical_gradient(f, np.asarray(params[name], dtype=float)))
    return report
'''), loses={GC}),
    Wrong("late binding: every closure perturbs the last name of grads",
          checker('''
def gradient_check(loss, params, grads):
    losses = {name: (lambda value: loss(**{**params, name: value})) for name in grads}
    return {name: relative_error(grads[name], numerical_gradient(losses[name], params[name])) for name in grads}
'''), loses={GC}),
    Wrong("one relative error over all the parameters together",
          checker('''
def gradient_check(loss, params, grads):
    analytic, numeric = [], []
    for name in grads:
        def f(value, name=name):
            return loss(**{**params, name: value})
        analytic.append(np.ravel(grads[name]))
        numeric.append(np.ravel(numerical_gradient(f, params[name])))
    error = relative_error(np.concatenate(analytic), np.concatenate(numeric))
    return {name: error for name in grads}
'''), loses={GC}),
    Wrong("the relative error computed inline without the floor (nan for a dead layer)",
          checker('''
def gradient_check(loss, params, grads):
    report = {}
    for name in grads:
        def f(value, name=name):
            return loss(**{**params, name: value})
        a = np.asarray(grads[name], dtype=np.float64)
        n = numerical_gradient(f, params[name])
        report[name] = float(np.linalg.norm(a - n) / (np.linalg.norm(a) + np.linalg.norm(n)))
    return report
'''), loses={GC}),
    # ---- Part 4
    Wrong("the rate at the minimum of the smoothed loss instead of one before it",
          suggest(steepest="rates[lowest]"), loses={LR}),
    Wrong("min/10 rule without the division by 10", suggest(min_rule="rates[lowest]"), loses={LR}),
    Wrong("the steepest slope over the whole curve, also after the minimum",
          suggest(steepest="rates[int(np.argmin(slope))]"), loses={LR}),
    Wrong("slopes per unit of rate instead of per unit of log-rate",
          suggest(slope="np.gradient(smooth, rates)"), loses={LR}),
    Wrong("the moving average without its bias correction", suggest(smoothed="m"), loses={LR}),
    Wrong("the raw losses, not smoothed", suggest(smoothed="raw[t]"), loses={LR}),
    Wrong("the slope searched up to and including the minimum",
          suggest(steepest="rates[int(np.argmin(slope[:lowest + 1]))]"), loses={LR}),
    Wrong("the end always trimmed (no fallback for short tests)",
          {"suggest_lr": suggest()["suggest_lr"].replace("if stop - skip_start < 3:", "if False:")}, loses={LR}),
    Wrong("beta ignored (0.98 always)",
          {"suggest_lr": suggest()["suggest_lr"].replace("    m = 0.0\n", "    m = 0.0\n    beta = 0.98\n")},
          loses={LR}),
    Wrong("non-finite losses overwritten in the caller's array",
          {"suggest_lr": suggest()["suggest_lr"].replace(
              "raw = np.asarray(losses, dtype=np.float64)",
              "raw = np.asarray(losses, dtype=np.float64)\n    raw[~np.isfinite(raw)] = np.inf")}, loses={LR}),
    # ---- Part 5
    Wrong("no running median: start and end from the raw losses (one spike fools it)",
          diag(filtered="train"), loses={DG}),
    Wrong("means instead of medians for the start and the end",
          diag(start="np.mean(r[:f])", end="np.mean(r[-f:])", filtered="train"), loses={DG}),
    Wrong("the jitter as the mean step change (one spike makes a run oscillate)",
          diag(jitter="np.mean(np.abs(np.diff(train)))"), loses={DG}),
    Wrong("flat checked before oscillating", diag(order=("diverging", "flat", "oscillating", "overfitting")),
          loses={DG}),
    Wrong("the rise measured against the end instead of the start",
          diag(replace=(("if end > start + 0.1 * scale", "if end > start + 0.1 * abs(end)"),)), loses={DG}),
    Wrong("the validation loss not filtered (one bad epoch reads as overfitting)",
          diag(replace=(("w = running_median(np.asarray(val_loss, dtype=np.float64))",
                         "w = np.asarray(val_loss, dtype=np.float64)"),)), loses={DG}),
    Wrong("only NaN counts as not finite (an infinite loss is missed)",
          diag(replace=(("if not np.all(np.isfinite(train)):", "if np.isnan(train).any():"),)), loses={DG}),
    Wrong("a running median of width 3",
          diag(replace=(("values[max(0, i - 2):i + 3]", "values[max(0, i - 1):i + 2]"),)), loses={DG}),
    Wrong("a 2-D history accepted (flattened)",
          diag(replace=(("train = np.asarray(train_loss, dtype=np.float64)",
                         "train = np.ravel(np.asarray(train_loss, dtype=np.float64))"),)), loses={DG}),
]

ALTERNATIVE = [
    Alternative("numerical gradient from a basis of perturbations, a step of 5e-6, a list comprehension", {
        "numerical_gradient": _with_given("numerical_gradient", '''
def numerical_gradient(f, x):
    x64 = np.asarray(x, dtype=np.float64)
    h = 5e-6
    basis = np.eye(x64.size).reshape((x64.size,) + x64.shape) * h
    return np.array([(f(x64 + e) - f(x64 - e)) / (2 * h) for e in basis]).reshape(x64.shape)
'''),
        "relative_error": '''
def relative_error(analytic, numeric):
    a = np.asarray(analytic, dtype=np.float64)
    n = np.asarray(numeric, dtype=np.float64)
    if np.shape(a) != np.shape(n):
        raise ValueError("different shapes")
    den = np.linalg.norm(a) + np.linalg.norm(n)
    if den < 1e-12:
        den = 1e-12
    return float(np.linalg.norm(a - n) / den)
''',
        "gradient_check": _with_given("gradient_check", '''
from functools import partial


def _loss_of(loss, params, name, value):
    return loss(**{**params, name: value})


def gradient_check(loss, params, grads):
    return {name: relative_error(g, numerical_gradient(partial(_loss_of, loss, params, name), params[name]))
            for name, g in grads.items()}
'''),
    }),
    Alternative("a step scaled to each entry, flat indices, einsum norms, a checker class", {
        "numerical_gradient": _with_given("numerical_gradient", '''
def numerical_gradient(f, x):
    base = np.array(x, dtype=np.float64)
    flat_grad = np.zeros(base.size)
    for i in range(base.size):
        h = 2e-6 * max(1.0, abs(base.flat[i]))
        plus, minus = base.copy(), base.copy()
        plus.flat[i] += h
        minus.flat[i] -= h
        flat_grad[i] = (f(plus) - f(minus)) / (plus.flat[i] - minus.flat[i])
    return flat_grad.reshape(base.shape)
'''),
        "relative_error": '''
def _norm(v):
    v = v.ravel()
    return np.sqrt(np.einsum("i,i->", v, v))


def relative_error(analytic, numeric):
    a = np.array(analytic, dtype=np.float64)
    n = np.array(numeric, dtype=np.float64)
    if a.shape != n.shape:
        raise ValueError(f"{a.shape} != {n.shape}")
    return float(_norm(a - n) / np.maximum(_norm(a) + _norm(n), 1e-12))
''',
        "gradient_check": _with_given("gradient_check", '''
class _OneParameter:
    def __init__(self, loss, params, name):
        self.loss, self.params, self.name = loss, params, name

    def __call__(self, value):
        args = dict(self.params)
        args[self.name] = value
        return self.loss(**args)


def gradient_check(loss, params, grads):
    out = {}
    for name in grads.keys():
        out[name] = relative_error(grads[name], numerical_gradient(_OneParameter(loss, params, name), params[name]))
    return out
'''),
    }),
    Alternative("suggest_lr with the slope written out and slicing helpers; diagnose with helpers", {
        "suggest_lr": '''
def _smoothed(losses, beta):
    out, m = [], 0.0
    for t, value in enumerate(losses, start=1):
        m = beta * m + (1 - beta) * float(value)
        out.append(m / (1 - beta**t))
    return np.array(out)


def _slopes(s, log_rates):
    slope = np.empty(len(s))
    slope[0] = (s[1] - s[0]) / (log_rates[1] - log_rates[0])
    slope[-1] = (s[-1] - s[-2]) / (log_rates[-1] - log_rates[-2])
    slope[1:-1] = (s[2:] - s[:-2]) / (log_rates[2:] - log_rates[:-2])
    return slope


def suggest_lr(lrs, losses, rule="steepest", beta=0.98, skip_start=10, skip_end=5):
    s = _smoothed(losses, beta)
    ok = np.isfinite(s)
    rates, s = np.array(lrs, dtype=float)[ok], s[ok]
    end = len(s) - skip_end if len(s) - skip_end - skip_start >= 3 else len(s)
    rates, s = rates[skip_start:end], s[skip_start:end]
    if len(s) < 3:
        raise ValueError("not enough points")
    i_min = int(np.argmin(s))
    if rule == "min/10":
        return float(rates[i_min]) / 10
    if rule != "steepest":
        raise ValueError(f"rule {rule!r}")
    if i_min == 0:
        return float(rates[0])
    return float(rates[np.argmin(_slopes(s, np.log(rates))[:i_min])])
''',
        "diagnose": '''
def _median_filter(v, half=2):
    return np.array([np.percentile(v[max(0, i - half):i + half + 1], 50) for i in range(len(v))])


def _rises(val):
    w = _median_filter(np.asarray(val, dtype=float))
    best = int(np.argmin(w))
    return best < len(w) - 1 and w[-1] > 1.1 * w[best]


def diagnose(train_loss, val_loss=None):
    loss = np.array(train_loss, dtype=float)
    if loss.ndim != 1 or len(loss) < 5:
        raise ValueError("train_loss: a 1-D history of 5 or more values")
    if (~np.isfinite(loss)).any():
        return "nan"
    r = _median_filter(loss)
    fifth = max(1, len(loss) // 5)
    start, end = float(np.median(r[:fifth])), float(np.median(r[len(r) - fifth:]))
    scale = max(abs(start), 1e-12)
    progress = start - end
    jitter = float(np.median(np.abs(loss[1:] - loss[:-1])))
    level = max(float(np.median(np.abs(loss))), 1e-12)
    if -progress > 0.1 * scale:
        return "diverging"
    if jitter > 0.1 * level and jitter > 0.1 * max(progress, 0.0):
        return "oscillating"
    if progress < 0.02 * scale:
        return "flat"
    if val_loss is not None and _rises(val_loss):
        return "overfitting"
    return "healthy"
''',
    }),
]
