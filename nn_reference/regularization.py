"""Regularization in NumPy: penalties, early stopping, data augmentation, label smoothing,
mixup and weight averaging.

Conventions:

* randomness never comes from a global state: every random function takes an explicit
  ``numpy.random.Generator`` (``rng``), so the same seed gives the same result;
* inputs are never modified; floating inputs keep their dtype;
* names and defaults follow PyTorch where PyTorch has the same thing
  (``label_smoothing`` of ``F.cross_entropy``, ``lambd`` of ``F.softshrink``, ``decay`` of
  ``torch.optim.swa_utils.get_ema_multi_avg_fn``); the image augmentations follow
  torchvision's ``RandomHorizontalFlip``, ``RandomCrop``, ``RandomRotation`` and
  ``ColorJitter``, but act on a whole ``(N, C, H, W)`` batch with one draw per image.

Weight decay inside SGD and AdamW lives in :mod:`nn_reference.optimizers`
(``sgd_step(..., weight_decay=)``, ``adamw_step``); this module does not repeat it.
"""

from __future__ import annotations

import copy
from typing import Any, NamedTuple

import numpy as np

from nn_reference._arrays import as_float

__all__ = [
    "l1_penalty", "l1_penalty_grad", "l2_penalty", "l2_penalty_grad",
    "soft_threshold", "l1_proximal_step",
    "EarlyStoppingState", "early_stopping_step",
    "random_horizontal_flip", "random_crop", "rotate", "random_rotation",
    "gaussian_noise", "color_jitter",
    "synonym_replacement", "random_deletion",
    "time_shift", "random_time_shift", "add_noise", "add_noise_at_snr",
    "log_softmax", "cross_entropy_label_smoothing", "cross_entropy_label_smoothing_grad",
    "soft_target_cross_entropy", "mixup",
    "ema_update",
]


# --------------------------------------------------------------------------- penalties

def l2_penalty(weight, lam: float) -> float:
    r"""The L2 penalty :math:`\Omega(w) = \lambda \sum_i w_i^2` (a squared norm, no 1/2)."""
    weight = as_float(weight)
    return weight.dtype.type(lam) * np.sum(weight * weight)


def l2_penalty_grad(weight, lam: float) -> np.ndarray:
    r"""Gradient of :func:`l2_penalty`: :math:`\partial\Omega/\partial w_i = 2\lambda w_i`.

    The factor 2 is why ``weight_decay=wd`` of ``torch.optim.SGD`` (which adds
    :math:`\text{wd}\cdot w` to the gradient) equals a penalty with :math:`\lambda = \text{wd}/2`.
    """
    weight = as_float(weight)
    return weight.dtype.type(2 * lam) * weight


def l1_penalty(weight, lam: float) -> float:
    r"""The L1 penalty :math:`\Omega(w) = \lambda \sum_i |w_i|`."""
    weight = as_float(weight)
    return weight.dtype.type(lam) * np.sum(np.abs(weight))


def l1_penalty_grad(weight, lam: float) -> np.ndarray:
    r"""A subgradient of :func:`l1_penalty`: :math:`\lambda\,\operatorname{sign}(w_i)`.

    :math:`|w|` has no derivative at 0; any value in :math:`[-\lambda, \lambda]` is a
    subgradient there. We take 0, as PyTorch's autograd does for ``torch.abs``.
    """
    weight = as_float(weight)
    return weight.dtype.type(lam) * np.sign(weight)


def soft_threshold(x, lambd: float = 0.5) -> np.ndarray:
    r"""Soft-thresholding, as ``torch.nn.functional.softshrink(x, lambd=0.5)``:

    .. math::
        S_\tau(x) = \operatorname{sign}(x)\,\max(|x| - \tau, 0) =
        \begin{cases} x - \tau & x > \tau \\ 0 & |x| \le \tau \\ x + \tau & x < -\tau \end{cases}

    It is the proximal operator of :math:`\tau |x|`: the minimizer of
    :math:`\tfrac12 (z - x)^2 + \tau |z|`. Every entry with :math:`|x| \le \tau` becomes an
    **exact** zero.
    """
    x = as_float(x)
    t = x.dtype.type(lambd)
    return np.where(x > t, x - t, np.where(x < -t, x + t, x.dtype.type(0)))


def l1_proximal_step(weight, grad, *, lr: float, lam: float) -> np.ndarray:
    r"""One proximal gradient (ISTA) step for :math:`f(w) + \lambda \lVert w\rVert_1`:

    .. math::
        w_{t+1} = S_{\eta\lambda}\big(w_t - \eta \nabla f(w_t)\big).

    The smooth part takes an ordinary gradient step, then the L1 part is applied exactly by
    soft-thresholding with threshold :math:`\eta\lambda`. Unlike a subgradient step, which
    jumps across zero and back, this sets small weights exactly to zero and keeps them there
    while :math:`|w - \eta\nabla f| \le \eta\lambda`.
    """
    weight = as_float(weight)
    grad = np.asarray(grad, dtype=weight.dtype)
    return soft_threshold(weight - weight.dtype.type(lr) * grad, lr * lam)


# --------------------------------------------------------------------------- early stopping

class EarlyStoppingState(NamedTuple):
    """What an early-stopping tracker remembers between epochs."""

    best_value: float        #: the best monitored value so far (inf before the first epoch)
    best_epoch: int          #: the epoch (0-based) where it was reached, -1 before any
    best_state: Any          #: a deep copy of the weights at ``best_epoch``
    num_bad_epochs: int      #: epochs since the last improvement
    epoch: int               #: epochs seen so far
    stopped: bool            #: True once ``num_bad_epochs`` reached ``patience``


def early_stopping_step(state: EarlyStoppingState | None, value: float, weights, *,
                        patience: int = 3, min_delta: float = 0.0,
                        mode: str = "min") -> EarlyStoppingState:
    r"""Record one epoch's validation value; say whether to stop; keep the best weights.

    With ``mode="min"`` (a loss) epoch :math:`t` improves on the best value :math:`b` when

    .. math::
        v_t < b - \text{min\_delta}

    (``mode="max"``, an accuracy: :math:`v_t > b + \text{min\_delta}`). An improvement stores
    a **deep copy** of ``weights`` (a dict of arrays, or a ``state_dict``; a reference to the
    live weights would change as training goes on) and resets the counter of bad epochs;
    otherwise the counter grows, and training should stop once it reaches ``patience``.
    ``patience`` and ``min_delta`` mean what they mean in Keras' and Lightning's
    ``EarlyStopping``; ``torch.optim.lr_scheduler.ReduceLROnPlateau(threshold_mode="abs")``
    uses the same test but acts one epoch later (when the count *exceeds* its patience).
    After stopping, load ``state.best_state`` back into the model.
    """
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
    if patience < 1:
        raise ValueError("patience must be at least 1")
    if state is None:
        state = EarlyStoppingState(np.inf if mode == "min" else -np.inf, -1, None, 0, 0, False)
    value = float(value)
    if mode == "min":
        improved = value < state.best_value - min_delta
    else:
        improved = value > state.best_value + min_delta
    epoch = state.epoch
    if improved:
        return EarlyStoppingState(value, epoch, copy.deepcopy(weights), 0, epoch + 1, False)
    bad = state.num_bad_epochs + 1
    return state._replace(num_bad_epochs=bad, epoch=epoch + 1,
                          stopped=state.stopped or bad >= patience)


# --------------------------------------------------------------------------- images

def _check_images(x) -> np.ndarray:
    x = as_float(x)
    if x.ndim != 4:
        raise ValueError(f"expected a batch of images of shape (N, C, H, W), got {x.shape}")
    return x


def random_horizontal_flip(x, p: float = 0.5, *, rng: np.random.Generator) -> np.ndarray:
    r"""Mirror each image left-right with probability ``p`` (torchvision's default 0.5).

    One draw :math:`u_n \sim \mathcal U[0,1)` per image; image :math:`n` is flipped when
    :math:`u_n < p`, i.e. :math:`y_{n,c,h,w} = x_{n,c,h,W-1-w}`. ``p = 0`` is the identity.
    """
    x = _check_images(x)
    flip = rng.random(len(x)) < p
    out = x.copy()
    out[flip] = x[flip][..., ::-1]
    return out


def random_crop(x, size: int | tuple[int, int], padding: int = 0, *,
                rng: np.random.Generator, fill: float = 0.0) -> np.ndarray:
    r"""Pad each image by ``padding`` pixels of value ``fill``, then cut a ``size`` window.

    As torchvision's ``RandomCrop(size, padding, fill=0)``: after padding the image is
    :math:`(H + 2p) \times (W + 2p)`; the window's top-left corner is drawn uniformly,
    :math:`i \in \{0, \dots, H + 2p - h\}`, :math:`j \in \{0, \dots, W + 2p - w\}`, one
    pair per image, so the window never leaves the padded image. With ``padding = 0`` and
    ``size = (H, W)`` it is the identity. A crop of the original size with padding ``p``
    is a random translation by up to ``p`` pixels.
    """
    x = _check_images(x)
    h, w = (size, size) if isinstance(size, int) else size
    padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)),
                    constant_values=fill)
    ph, pw = padded.shape[2:]
    if h > ph or w > pw:
        raise ValueError(f"crop {(h, w)} larger than the padded image {(ph, pw)}")
    tops = rng.integers(0, ph - h + 1, size=len(x))
    lefts = rng.integers(0, pw - w + 1, size=len(x))
    return np.stack([padded[n, :, i:i + h, j:j + w] for n, (i, j) in enumerate(zip(tops, lefts))]) \
        if len(x) else np.empty((0, x.shape[1], h, w), dtype=x.dtype)


def rotate(x, angles_degrees) -> np.ndarray:
    r"""Rotate each image about its center by its angle (counter-clockwise on screen),
    with bilinear interpolation and zeros outside, as
    ``F.grid_sample(x, F.affine_grid(theta, x.shape, align_corners=False), align_corners=False)``.

    In normalized coordinates :math:`u, v \in [-1, 1]` (pixel centers at
    :math:`(2j + 1)/W - 1`), output pixel :math:`(u, v)` reads the input at

    .. math::
        \begin{pmatrix} u' \\ v' \end{pmatrix} =
        \begin{pmatrix} \cos\alpha & -\sin\alpha \\ \sin\alpha & \cos\alpha \end{pmatrix}
        \begin{pmatrix} u \\ v \end{pmatrix},

    a rigid rotation for square images (the case of torchvision's ``RandomRotation``).
    The input point :math:`(u', v')` is turned back into pixel coordinates
    :math:`((u'+1)W - 1)/2` and interpolated between its four neighbors; neighbors
    outside the image count as 0. An angle of 0 returns the image unchanged.
    """
    x = _check_images(x)
    n, c, h, w = x.shape
    angles = np.deg2rad(np.broadcast_to(np.asarray(angles_degrees, dtype=np.float64), (n,)))
    dt = x.dtype.type
    u = ((2 * np.arange(w) + 1) / w - 1).astype(x.dtype)     # normalized column centers
    v = ((2 * np.arange(h) + 1) / h - 1).astype(x.dtype)     # normalized row centers
    uu, vv = u[None, None, :], v[None, :, None]
    cos = np.cos(angles).astype(x.dtype)[:, None, None]
    sin = np.sin(angles).astype(x.dtype)[:, None, None]
    su = uu * cos + vv * (-sin)                  # (n, h, w): where each output pixel reads
    sv = uu * sin + vv * cos
    ix = ((su + dt(1)) * dt(w) - dt(1)) / dt(2)  # back to pixel coordinates
    iy = ((sv + dt(1)) * dt(h) - dt(1)) / dt(2)
    x0, y0 = np.floor(ix), np.floor(iy)
    wx1, wy1 = ix - x0, iy - y0
    wx0, wy0 = dt(1) - wx1, dt(1) - wy1
    batch = np.arange(n)[:, None, None]
    out = np.zeros((n, h, w, c), dtype=x.dtype)
    channels_last = np.moveaxis(x, 1, -1)
    for yy, wy in ((y0, wy0), (y0 + 1, wy1)):
        for xx, wx in ((x0, wx0), (x0 + 1, wx1)):
            inside = (xx >= 0) & (xx <= w - 1) & (yy >= 0) & (yy <= h - 1)
            xi = np.clip(xx, 0, w - 1).astype(np.int64)
            yi = np.clip(yy, 0, h - 1).astype(np.int64)
            out += channels_last[batch, yi, xi] * np.where(inside, wx * wy, dt(0))[..., None]
    out = np.moveaxis(out, -1, 1).copy()
    out[angles == 0] = x[angles == 0]            # exactly the input, not up to round-off
    return out


def random_rotation(x, degrees: float, *, rng: np.random.Generator) -> np.ndarray:
    r"""Rotate each image by its own angle :math:`\alpha_n \sim \mathcal U[-d, d]` degrees
    (torchvision's ``RandomRotation(degrees)``, bilinear). ``degrees = 0`` is the identity."""
    x = _check_images(x)
    angles = rng.uniform(-degrees, degrees, size=len(x))
    return rotate(x, angles)


def gaussian_noise(x, std: float, *, rng: np.random.Generator,
                   clip: tuple[float, float] | None = (0.0, 1.0)) -> np.ndarray:
    r"""Add independent noise :math:`\epsilon \sim \mathcal N(0, \sigma^2)` to every pixel,
    then clip to the valid range (``clip=None`` keeps the raw sum). ``std = 0`` with inputs
    already in range is the identity."""
    x = as_float(x)
    noisy = x + (std * rng.standard_normal(x.shape)).astype(x.dtype)
    return noisy if clip is None else np.clip(noisy, x.dtype.type(clip[0]), x.dtype.type(clip[1]))


def color_jitter(x, brightness: float = 0.0, contrast: float = 0.0, *,
                 rng: np.random.Generator) -> np.ndarray:
    r"""Random brightness, then contrast, per image, for images in [0, 1].

    Factors are drawn as torchvision's ``ColorJitter``:
    :math:`b_n \sim \mathcal U[\max(0, 1-\beta), 1+\beta]`, :math:`c_n \sim \mathcal U[\max(0,1-\gamma), 1+\gamma]`;

    .. math::
        x' = \operatorname{clip}(b_n x), \qquad
        y = \operatorname{clip}\big(c_n x' + (1 - c_n)\,\bar x'\big),

    with :math:`\bar x'` the mean gray level of the image (torchvision takes the mean of
    the gray-scale version; for one channel it is the plain mean). torchvision also
    shuffles the order of the adjustments; we keep it fixed. Zero strength is the identity.
    """
    x = _check_images(x)
    n = len(x)
    dt = x.dtype.type
    b = rng.uniform(max(0.0, 1 - brightness), 1 + brightness, size=n).astype(x.dtype)
    c = rng.uniform(max(0.0, 1 - contrast), 1 + contrast, size=n).astype(x.dtype)
    out = x
    if brightness:
        out = np.clip(out * b[:, None, None, None], dt(0), dt(1))
    if contrast:
        mean = out.mean(axis=(1, 2, 3), keepdims=True)
        cc = c[:, None, None, None]
        out = np.clip(cc * out + (dt(1) - cc) * mean, dt(0), dt(1))
    return out.copy() if out is x else out


# --------------------------------------------------------------------------- text

def synonym_replacement(tokens: list[str], synonyms: dict[str, list[str]], n: int, *,
                        rng: np.random.Generator) -> list[str]:
    r"""Replace up to ``n`` distinct tokens that have synonyms by a random synonym each
    (Wei and Zou, 2019, "EDA"). Positions are drawn without replacement among the tokens
    found in ``synonyms``; each replacement is drawn uniformly from that token's list.
    Returns a new list; ``n = 0`` returns an unchanged copy."""
    candidates = [i for i, t in enumerate(tokens) if synonyms.get(t)]
    out = list(tokens)
    if n <= 0 or not candidates:
        return out
    chosen = rng.choice(len(candidates), size=min(n, len(candidates)), replace=False)
    for k in sorted(chosen):
        i = candidates[k]
        options = synonyms[tokens[i]]
        out[i] = options[int(rng.integers(len(options)))]
    return out


def random_deletion(tokens: list[str], p: float, *, rng: np.random.Generator) -> list[str]:
    r"""Delete each token independently with probability ``p`` (EDA). One draw per token;
    if every token would be deleted, one token chosen at random is kept, so a sentence never
    becomes empty. ``p = 0`` returns an unchanged copy."""
    if not tokens:
        return []
    keep = rng.random(len(tokens)) >= p
    if not keep.any():
        return [tokens[int(rng.integers(len(tokens)))]]
    return [t for t, k in zip(tokens, keep) if k]


# --------------------------------------------------------------------------- audio

def time_shift(waveform, shift: int, *, roll: bool = False) -> np.ndarray:
    r"""Delay the signal by ``shift`` samples (advance it if negative) along the last axis.

    With ``roll=True`` the samples that fall off one end come back at the other, as
    ``torch.roll(waveform, shift, dims=-1)``; otherwise the gap is filled with silence:
    :math:`y[t] = x[t - s]` where :math:`0 \le t - s < T`, else 0.
    """
    x = as_float(waveform)
    if roll:
        return np.roll(x, shift, axis=-1)
    out = np.zeros_like(x)
    t = x.shape[-1]
    if shift >= 0:
        out[..., shift:] = x[..., :max(t - shift, 0)]
    else:
        out[..., :max(t + shift, 0)] = x[..., -shift:]
    return out


def random_time_shift(waveform, max_shift: int, *, rng: np.random.Generator,
                      roll: bool = False) -> np.ndarray:
    r""":func:`time_shift` by :math:`s \sim \mathcal U\{-m, \dots, m\}` samples."""
    shift = int(rng.integers(-max_shift, max_shift + 1))
    return time_shift(waveform, shift, roll=roll)


def add_noise(waveform, noise, snr: float) -> np.ndarray:
    r"""Add ``noise`` scaled so that the signal-to-noise ratio is ``snr`` decibels, as
    ``torchaudio.functional.add_noise(waveform, noise, snr)`` (one signal):

    .. math::
        \mathrm{SNR} = 10 \log_{10} \frac{\lVert x \rVert^2}{\lVert \kappa n \rVert^2}
        \quad\Longrightarrow\quad
        \kappa = 10^{-\mathrm{SNR}/20}\, \frac{\lVert x \rVert}{\lVert n \rVert},
        \qquad y = x + \kappa n .

    0 dB means noise as loud as the signal; every 20 dB divides its amplitude by 10.
    """
    x = as_float(waveform)
    noise = np.asarray(noise, dtype=x.dtype)
    energy_signal = np.sum(x * x)
    energy_noise = np.sum(noise * noise)
    original_snr_db = 10 * (np.log10(energy_signal) - np.log10(energy_noise))
    scale = 10 ** ((original_snr_db - snr) / 20.0)
    return x + scale * noise


def add_noise_at_snr(waveform, snr: float, *, rng: np.random.Generator) -> np.ndarray:
    r""":func:`add_noise` with white Gaussian noise drawn from ``rng``."""
    x = as_float(waveform)
    return add_noise(x, rng.standard_normal(x.shape).astype(x.dtype), snr)


# --------------------------------------------------------------------------- label smoothing

def log_softmax(logits, axis: int = -1) -> np.ndarray:
    """Numerically stable log-softmax (the maximum is subtracted first)."""
    z = as_float(logits)
    shifted = z - z.max(axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def _smoothed_targets(target, n_classes: int, label_smoothing: float, dtype) -> np.ndarray:
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
    target = np.asarray(target)
    q = np.full((len(target), n_classes), label_smoothing / n_classes, dtype=dtype)
    q[np.arange(len(target)), target] += dtype(1 - label_smoothing)
    return q


def cross_entropy_label_smoothing(logits, target, label_smoothing: float = 0.0) -> float:
    r"""Mean cross-entropy against smoothed targets, as
    ``F.cross_entropy(logits, target, label_smoothing=...)`` with ``reduction="mean"``.

    For :math:`K` classes and smoothing :math:`\varepsilon` the target distribution puts
    :math:`\varepsilon / K` on every class and the rest on the true one (so the true class
    gets :math:`1 - \varepsilon + \varepsilon/K`):

    .. math::
        q_k = (1 - \varepsilon)\,[k = y] + \frac{\varepsilon}{K}, \qquad
        L = -\frac1N \sum_{n} \sum_k q_{nk} \log \operatorname{softmax}(z_n)_k .

    ``logits`` has shape ``(N, K)``, ``target`` holds class indices.
    """
    z = as_float(logits)
    q = _smoothed_targets(target, z.shape[1], label_smoothing, z.dtype.type)
    return -np.sum(q * log_softmax(z)) / z.dtype.type(len(z))


def cross_entropy_label_smoothing_grad(logits, target, label_smoothing: float = 0.0) -> np.ndarray:
    r"""Gradient of :func:`cross_entropy_label_smoothing` with respect to the logits:

    .. math::
        \frac{\partial L}{\partial z_{nk}} = \frac{\operatorname{softmax}(z_n)_k - q_{nk}}{N}.

    With :math:`\varepsilon > 0` the gradient vanishes only when the prediction equals the
    smoothed target, so logits stop growing once the true class has probability
    :math:`1 - \varepsilon + \varepsilon/K`.
    """
    z = as_float(logits)
    q = _smoothed_targets(target, z.shape[1], label_smoothing, z.dtype.type)
    return (np.exp(log_softmax(z)) - q) / z.dtype.type(len(z))


def soft_target_cross_entropy(logits, target_probs) -> float:
    r"""Mean cross-entropy against a target *distribution* per sample,
    :math:`-\frac1N\sum_n\sum_k q_{nk}\log\operatorname{softmax}(z_n)_k`, as
    ``F.cross_entropy(logits, target_probs)`` with floating targets."""
    z = as_float(logits)
    q = np.asarray(target_probs, dtype=z.dtype)
    return -np.sum(q * log_softmax(z)) / z.dtype.type(len(z))


# --------------------------------------------------------------------------- mixup

def mixup(x, y_onehot, alpha: float = 0.2, *, rng: np.random.Generator):
    r"""Mixup (Zhang et al., 2018): blend the batch with a shuffled copy of itself.

    .. math::
        \lambda \sim \mathrm{Beta}(\alpha, \alpha), \quad \pi = \text{random permutation},
        \quad \tilde x_n = \lambda x_n + (1-\lambda) x_{\pi(n)}, \quad
        \tilde y_n = \lambda y_n + (1-\lambda) y_{\pi(n)} .

    One :math:`\lambda` per batch, as in the paper's code. Train with
    :func:`soft_target_cross_entropy` on :math:`\tilde y`, which equals
    :math:`\lambda\,\mathrm{CE}(y) + (1-\lambda)\,\mathrm{CE}(y_\pi)`.
    ``alpha = 0`` means no mixing (:math:`\lambda = 1`).
    Returns ``(x_mixed, y_mixed, lam, perm)``.
    """
    x = as_float(x)
    y = np.asarray(y_onehot, dtype=x.dtype)
    lam = float(rng.beta(alpha, alpha)) if alpha > 0 else 1.0
    perm = rng.permutation(len(x))
    lt = x.dtype.type(lam)
    return lt * x + (1 - lt) * x[perm], lt * y + (1 - lt) * y[perm], lam, perm


# --------------------------------------------------------------------------- weight averaging

def ema_update(average: dict | None, params: dict, decay: float = 0.999) -> dict:
    r"""One step of an exponential moving average of the weights, as
    ``AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay))``:

    .. math::
        \bar w_0 = w_0, \qquad \bar w_t = \text{decay}\cdot\bar w_{t-1} + (1-\text{decay})\, w_t .

    The first call (``average=None``) copies the weights. The update is computed as
    ``torch.lerp(avg, w, 1 - decay)``, i.e. :math:`\bar w + (1-\text{decay})(w - \bar w)`
    for ``decay > 0.5``, so float32 results agree with PyTorch bit for bit. The average
    roughly spans the last :math:`1/(1-\text{decay})` steps. Returns a new dict.
    """
    if not 0.0 <= decay <= 1.0:
        raise ValueError(f"decay must be in [0, 1], got {decay}")
    if average is None:
        return {k: np.array(as_float(v), copy=True) for k, v in params.items()}
    out = {}
    weight = 1.0 - decay
    for k, avg in average.items():
        p = np.asarray(params[k], dtype=avg.dtype)
        wt = avg.dtype.type(weight)
        out[k] = avg + wt * (p - avg) if weight < 0.5 else p - (p - avg) * avg.dtype.type(1 - weight)
    return out
