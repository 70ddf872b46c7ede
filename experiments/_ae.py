"""Shared pieces of the autoencoder experiment (experiments/autoencoder.py): data, input transform,
encoder, losses and metrics. Dev code: it uses Equinox and optax, which the library does not need.

Everything here follows the spectral-OT paper's experiment (Torres, Peeters & Richard, ICASSP 2024;
code: github.com/bernardo-torres/1d-spectral-optimal-transport), with the differences stated where
they are made."""
from __future__ import annotations
import math
import numpy as np
import jax
import jax.numpy as jnp
import equinox as eqx
from spectral_losses.synth import harmonic
from spectral_losses.multires import multi_resolution_stft_loss
from spectral_losses.stft_ot import stft_wasserstein, multi_resolution_stft_wasserstein
from spectral_losses.circular import chroma_wasserstein

SR, N, K = 16000, 4096, 8                    # sample rate, samples per example, harmonics
PEAK = 0.9                                   # the paper's dataset scales every example to peak 0.9

# ---------------------------------------------------------------------------------------------------
# Data: the paper's `SimpleSinusoidDataset` recipe (file name 40_1950_4096_04_1_4000_8_1_harmonic)

def make_data(n: int = 4000, seed: int = 0, split=(0.7, 0.2, 0.1)) -> dict:
    """Harmonic signals: f0 ~ U[40, 1950] Hz, 8 amplitudes ~ U[0.4, 1], the first m in 1..8 active
    (m uniform), partials at or above Nyquist silent (the synth's mask), each scaled to peak 0.9
    (the amplitudes with it), then a seeded 70/20/10 split. Returns numpy arrays per split."""
    rng = np.random.default_rng(seed)
    f0 = rng.uniform(40.0, 1950.0, n).astype(np.float32)
    amps = rng.uniform(0.4, 1.0, (n, K)).astype(np.float32)
    m = rng.integers(0, K, n)                                   # paper: randint(0, 8) extra partials
    amps *= (np.arange(K) <= m[:, None])                        # first partial always on: 1..8 active
    amps *= (np.arange(1, K + 1) * f0[:, None] < SR / 2)        # silent above Nyquist (as in the synth)
    x = np.asarray(jax.jit(lambda f, a: harmonic(f, a, N, SR))(f0, amps))
    g = PEAK / np.abs(x).max(1)
    x, amps = (x * g[:, None]).astype(np.float32), (amps * g[:, None]).astype(np.float32)
    idx = rng.permutation(n)
    n_tr, n_va = int(split[0] * n), int(split[1] * n)
    parts = dict(train=idx[:n_tr], val=idx[n_tr:n_tr + n_va], test=idx[n_tr + n_va:])
    return {k: dict(x=x[i], f0=f0[i], amps=amps[i], n_active=(m[i] + 1)) for k, i in parts.items()}

# ---------------------------------------------------------------------------------------------------
# Input transform: a log-frequency power spectrum from one zero-padded FFT, by a fixed matrix

F_MIN, BPO = 32.7, 36                        # lowest bin (C1) and bins per octave (3 per semitone)
N_IN = int(np.floor(BPO * np.log2(SR / 2 / F_MIN)))      # 285 input bins, C1 .. 7.9 kHz (as the paper)
N_OUT = 6 * BPO                              # 216 f0 bins, C1 .. C7 (2093 Hz): the f0 range and margins
NFFT_IN = 8192                               # zero padding x2: 1.95 Hz bins


def log_freq_matrix() -> np.ndarray:
    """(N_IN, NFFT_IN/2+1) triangular filters centred on the log-spaced frequencies
    f_j = 32.7 * 2^(j/36), half-width max(spacing to the next bin, 2 FFT bins), unit peak: below
    ~200 Hz they interpolate the (oversampled) power spectrum, above they sum a band's power."""
    fj = F_MIN * 2.0 ** (np.arange(N_IN) / BPO)
    fk = np.fft.rfftfreq(NFFT_IN, 1 / SR)
    hw = np.maximum(fj * (2 ** (1 / BPO) - 1), 2 * SR / NFFT_IN)
    return np.maximum(0.0, 1 - np.abs(fk[None, :] - fj[:, None]) / hw[:, None]).astype(np.float32)


_W_IN = log_freq_matrix()

def features(x: jax.Array) -> jax.Array:
    """Encoder input of signals (..., N): log-frequency power in dB relative to the example's
    maximum, floored at -80 dB, (..., N_IN). A Hann window over the whole 4096 samples."""
    win = jnp.asarray(np.hanning(N + 1)[:-1], jnp.float32)
    P = jnp.abs(jnp.fft.rfft(x * win, NFFT_IN)) ** 2
    C = P @ jnp.asarray(_W_IN).T
    db = 10 * jnp.log10(C / jnp.max(C, -1, keepdims=True) + 1e-8)
    return jnp.maximum(db, -80.0) / 80.0 + 1.0                # in [0, 1]

# ---------------------------------------------------------------------------------------------------
# Encoder: PESTO-like (Riou et al. 2023) - convolutions over log frequency, a Toeplitz (shift-
# equivariant) f0 head with a soft-argmax, and harmonic amplitudes read at the predicted f0's
# harmonic positions.

T_SOFT = 0.1                                 # softmax temperature of the soft-argmax (the paper's)
RATIO_MAX = 2.5                              # a_k / a_1 < 2.5: amplitudes in [0.4, 1] in the data
HARM_OFFSETS = np.round(BPO * np.log2(np.arange(1, K + 1))).astype(int)   # harmonic k: +36 log2 k bins
HCQT_SHIFTS = np.round(BPO * np.log2([0.5, 1, 2, 3, 4, 5])).astype(int)   # input channels: bin i holds
                                                                         # the level at h x its frequency


def bins_to_hz(u: jax.Array) -> jax.Array:
    "Fractional f0 bin (0 .. N_OUT-1) to Hz."
    return F_MIN * 2.0 ** (u / BPO)


def hz_to_bins(f):
    return BPO * np.log2(np.asarray(f) / F_MIN)


def exp_sigmoid(x, exponent=10.0, max_value=2.0, threshold=1e-7):
    "DDSP's amplitude nonlinearity (as the paper's encoder): max * sigmoid(x)^ln(exponent) + threshold."
    return max_value * jax.nn.sigmoid(x) ** math.log(exponent) + threshold


class Encoder(eqx.Module):
    ln: eqx.nn.LayerNorm
    conv1: eqx.nn.Conv1d
    conv2: eqx.nn.Conv1d
    conv3: eqx.nn.Conv1d
    conv4: eqx.nn.Conv1d
    conv5: eqx.nn.Conv1d
    toeplitz: jax.Array
    amp1: eqx.nn.Linear
    amp2: eqx.nn.Linear
    n_amp: int = eqx.field(static=True)

    def __init__(self, key, channels: int = 40, n_amp: int = 8):
        ks = jax.random.split(key, 8)
        c = channels
        self.n_amp = n_amp
        self.ln = eqx.nn.LayerNorm(N_IN)
        self.conv1 = eqx.nn.Conv1d(len(HCQT_SHIFTS), c, 15, padding=7, key=ks[0])
        self.conv2 = eqx.nn.Conv1d(c, c, 15, padding=7, key=ks[1])
        self.conv3 = eqx.nn.Conv1d(c, c // 2, 1, key=ks[2])
        self.conv4 = eqx.nn.Conv1d(c // 2, c // 4, 1, key=ks[3])
        self.conv5 = eqx.nn.Conv1d(c // 4, 1 + n_amp, 1, key=ks[4])
        self.toeplitz = jax.random.normal(ks[5], (N_IN + N_OUT - 1,)) / np.sqrt(N_IN)
        self.amp1 = eqx.nn.Linear(K * (n_amp + 1), 64, key=ks[6])
        self.amp2 = eqx.nn.Linear(64, K, key=ks[7])      # gain, and the ratios of harmonics 2..K

    def trunk(self, feat: jax.Array) -> tuple:
        "One example's features (N_IN,) -> f0 logits (N_OUT,), per-bin amplitude features (1+n_amp, .)."
        act = lambda v: jax.nn.leaky_relu(v, 0.3)
        z = self.ln(feat)
        zp = jnp.pad(z, (HCQT_SHIFTS.max(), HCQT_SHIFTS.max()), constant_values=jnp.min(z))
        stack = jnp.stack([zp[HCQT_SHIFTS.max() + s:HCQT_SHIFTS.max() + s + N_IN] for s in HCQT_SHIFTS])
        h = act(self.conv1(stack))                              # harmonic stack, as PESTO's HCQT
        h = h + act(self.conv2(h))                              # residual prefilter (PESTO)
        h = self.conv5(act(self.conv4(act(self.conv3(h)))))     # (1 + n_amp, N_IN)
        i, j = np.arange(N_OUT)[:, None], np.arange(N_IN)[None, :]
        logits = self.toeplitz[j - i + N_OUT - 1] @ h[0]         # shift-equivariant f0 logits
        g = jnp.concatenate([feat[None], h[1:]])                # the input level and learned features
        return logits, jnp.pad(g, ((0, 0), (0, N_OUT + HARM_OFFSETS[-1] - N_IN)))

    def amplitudes(self, g: jax.Array, p: jax.Array) -> jax.Array:
        """Harmonic amplitudes (K,) from the features read at the harmonics of each candidate f0 bin,
        averaged with the f0 probabilities `p` (N_OUT,) (no gradient into `p`)."""
        act = lambda v: jax.nn.leaky_relu(v, 0.3)
        p = jax.lax.stop_gradient(p)
        at_h = jnp.stack([g[:, o:o + N_OUT] @ p for o in HARM_OFFSETS])   # (K, 1 + n_amp)
        u = self.amp2(act(self.amp1(at_h.ravel())))
        # a_k = gain * ratio_k, ratio_1 = 1 and ratio_k in (0, 2.5): the fundamental is always present
        # and at least 0.4 x the strongest partial (the data's range), which rules out the exact
        # sub-harmonic explanations (f0 / m with only every m-th partial) that a free parameterisation
        # allows and a spectral loss cannot tell apart.
        ratio = jnp.concatenate([jnp.ones(1), exp_sigmoid(u[1:], max_value=RATIO_MAX)])
        return exp_sigmoid(u[0]) * ratio

    def __call__(self, feat: jax.Array) -> tuple:
        "One example's features (N_IN,) -> (f0 logits (N_OUT,), harmonic amplitudes (K,))."
        logits, g = self.trunk(feat)
        return logits, self.amplitudes(g, jax.nn.softmax(logits / T_SOFT))


def soft_argmax(logits: jax.Array) -> jax.Array:
    "f0 in Hz from logits (..., N_OUT): the expected bin under softmax(logits / T), mapped to Hz."
    p = jax.nn.softmax(logits / T_SOFT, -1)
    return bins_to_hz(p @ jnp.arange(N_OUT, dtype=p.dtype))


def predict(model: Encoder, feats: jax.Array) -> tuple:
    "Batched: features (B, N_IN) -> f0 in Hz (B,), amplitudes (B, K)."
    logits, amps = jax.vmap(model)(feats)
    return soft_argmax(logits), amps


def shift_bins(p: jax.Array, s: int) -> jax.Array:
    "Probabilities over f0 bins moved by s bins (s = 36 m: m octaves), zero-filled."
    if s == 0: return p
    z = jnp.zeros(p.shape[:-1] + (abs(s),), p.dtype)
    return jnp.concatenate([z, p[..., :-s]], -1) if s > 0 else jnp.concatenate([p[..., -s:], z], -1)


def decode(f0: jax.Array, amps: jax.Array) -> jax.Array:
    "The decoder: `spectral_losses.synth.harmonic`, constant controls, not trained."
    return harmonic(f0, amps, N, SR)


def n_params(model) -> int:
    return int(sum(x.size for x in jax.tree_util.tree_leaves(eqx.filter(model, eqx.is_array))))

# ---------------------------------------------------------------------------------------------------
# Losses: one value per example from the library, averaged over the batch by the caller.

def _root(w):
    "sqrt with derivative 0 (not inf) at 0."
    pos = w > 0
    return jnp.where(pos, jnp.sqrt(jnp.where(pos, w, 1.0)), 0.0)


def mss_lin(pred, target):
    "MSS-Lin: DDSP's six resolutions 2048..64, L1 on linear magnitudes, summed over resolutions."
    return multi_resolution_stft_loss(pred, target, 'ddsp', w_log=0.0)


def mss_loglin(pred, target):
    "MSS-LogLin: the 'ddsp' preset as is (L1 on linear and log magnitudes)."
    return multi_resolution_stft_loss(pred, target, 'ddsp')


def mss_lin_paper_scale(pred, target):
    """MSS-Lin on the paper's scale: its PyTorch STFT has normalized=True (magnitudes / sqrt(n_fft)),
    which sets the weight of the 0.05 x MSS-Lin term next to SOT; the sum of the per-resolution
    terms of `mss_lin`, each divided by sqrt(n_fft)."""
    r = multi_resolution_stft_loss(pred, target, 'ddsp', w_log=0.0, full=True)['lin']   # (R, ...)
    scale = jnp.asarray([1 / np.sqrt(n) for n in (2048, 1024, 512, 256, 128, 64)], r.dtype)
    return jnp.tensordot(scale, r, 1)


def sot(pred, target, n_fft: int, hop: int, *, p: float = 2, root: bool = True, **kw):
    """Frame-wise spectral OT with the paper's settings: flattop window, power spectra, the target's
    mass normalises both (`cutoff=True`, the paper's limit_quantile_range), positions linear in
    [0, 1]; frames as the paper's code (not centred: its TorchSTFT passes center=False, pad_end=True
    to compute_mag and ignores the config's `center: true`), so center=False, pad_mode='end'. The
    paper returns W_p (the p-th root) per frame, then averages over frames: `root=True` does that."""
    w = stft_wasserstein(pred, target, n_fft, hop, window='flattop', p=p, cutoff=True, center=False,
                         pad_mode='end', reduction='none', **kw)
    return jnp.mean(_root(w) if (root and p == 2) else w, -1)


def sot_full(pred, target, n_fft: int = 2048, hop: int = 256, p: float = 1, **kw):
    """Frame-wise spectral OT on full frames only (center=False, no padding: 9 frames of 2048 in 4096
    samples), the paper's cutoff and flattop window, W_1 (p=1, the library's O(K) CDF path).
    Truncated frames (pad_end, or centred padding) make the loss ripple with the phase of the
    rendered signal at its ends (period 1/T = 3.9 Hz in f0), which drowns the slope toward the
    target; full frames keep the gradient pointing toward the true f0."""
    w = stft_wasserstein(pred, target, n_fft, hop, window='flattop', p=p, cutoff=True, center=False,
                         pad_mode=None, reduction='none', **kw)
    return jnp.mean(_root(w) if p == 2 else w, -1)


def log_positions(n_fft: int, fmin: float = 20.0) -> np.ndarray:
    "Transport positions of the rfft bins on a log-frequency axis, in [0, 1] (bins below fmin at 0)."
    f = np.log2(np.maximum(np.fft.rfftfreq(n_fft, 1 / SR), fmin))
    return ((f - f[0]) / (f[-1] - f[0])).astype(np.float32)


def sot_log(pred, target, n_fft: int = 2048, hop: int = 256, p: float = 1, **kw):
    """`sot_full` with log-frequency positions: a harmonic pattern then translates rigidly with log f0
    (on a linear axis it stretches), so W_p changes with log f0 like a shift."""
    # a JAX array: the library compares a `positions` argument with strings ('normalized', ...)
    return sot_full(pred, target, n_fft, hop, p, positions=jnp.asarray(log_positions(n_fft)), **kw)


def chroma(pred, target):
    "Octave-invariant circular W_1 between pitch-class distributions (in octaves)."
    return chroma_wasserstein(pred, target, SR, fmin=30.0)


LOSSES = {
    'MSS-Lin': mss_lin,
    'MSS-LogLin': mss_loglin,
    'SOT-2048': lambda p, t: sot(p, t, 2048, 256) + 0.05 * mss_lin_paper_scale(p, t),
    'SOT': lambda p, t: sot(p, t, 2048, 256),
    'SOT-512': lambda p, t: sot(p, t, 512, 256) + 0.05 * mss_lin_paper_scale(p, t),
    'SOT-full-2048': lambda p, t: sot_full(p, t, 2048, 256),
    'SOT-full-1024': lambda p, t: sot_full(p, t, 1024, 128),
    'SOT-log-p1': lambda p, t: sot_log(p, t, 2048, 256, 1),
    'SOT-log-p2': lambda p, t: sot_log(p, t, 2048, 256, 2),
}

# Losses that take the controls: an amplitude-only term renders with f0 held fixed (stop_gradient)
CONTROL_LOSSES = {
    'SOT-log+MSSLin-amp': lambda f0, a, t: sot_log(decode(f0, a), t) + 0.5 * mss_lin_paper_scale(
        decode(jax.lax.stop_gradient(f0), a), t),
    'SOT-log+MSSLog-amp': lambda f0, a, t: sot_log(decode(f0, a), t) + 0.01 * mss_loglin(
        decode(jax.lax.stop_gradient(f0), a), t),
}


CONTROL_LOSSES['SOT-best'] = CONTROL_LOSSES['SOT-log+MSSLog-amp']
CONTROL_LOSSES['SOT-best+oct'] = CONTROL_LOSSES['SOT-log+MSSLog-amp']
OCTAVE_SELECT = {'SOT-best+oct': 0.1}        # loss name -> weight of the octave self-selection term


def octave_selection(model, logits, g, f0, x, weight: float):
    """Unsupervised octave check (hard EM on the octave): render the prediction at f0 / 2, f0 and 2 f0
    (amplitudes read at each), score each with MSS-Lin against the input (no gradient), and pull the
    predicted f0 toward the best octave where it is not
    the predicted one: an L1 pull in octaves on log2 f0 (a cross-entropy on the shifted bin, with the
    soft-argmax's temperature 0.1, overwhelmed the spectral loss and wrecked training). Returns the
    term (B,) and the chosen octave shift (B,)."""
    p = jax.nn.softmax(logits / T_SOFT, -1)
    scores = []
    for m in (-1, 0, 1):
        a = jax.vmap(model.amplitudes)(g, shift_bins(p, BPO * m))
        scores.append(jax.lax.stop_gradient(mss_lin(decode(f0 * 2.0 ** m, a), x)))
    best = jnp.argmin(jnp.stack(scores, -1), -1) - 1
    u = jnp.log2(f0 / F_MIN)                               # log2 f0: the soft-argmax in octaves
    dist = jnp.abs(u - jax.lax.stop_gradient(u + best))   # |distance to the chosen octave|, octaves
    return weight * jnp.where(best != 0, dist, 0.0), best


@eqx.filter_jit
def predict_checked(model, feats, x):
    """`predict` followed by the octave check at inference: of f0 / 2, f0 and 2 f0 (amplitudes read at
    each), keep the rendering closest to the input `x` in MSS-Lin. Returns f0, amplitudes, shift."""
    logits, g = jax.vmap(model.trunk)(feats)
    f0 = soft_argmax(logits)
    p = jax.nn.softmax(logits / T_SOFT, -1)
    cands = [(f0 * 2.0 ** m, jax.vmap(model.amplitudes)(g, shift_bins(p, BPO * m))) for m in (-1, 0, 1)]
    scores = jnp.stack([mss_lin(decode(f, a), x) for f, a in cands], -1)
    best = jnp.argmin(scores, -1)
    pick = lambda i: jnp.take_along_axis(jnp.stack([c[i] for c in cands], 1),
                                        best.reshape(best.shape + (1,) * (cands[0][i].ndim)), 1)[:, 0]
    return pick(0), pick(1), best - 1


def control_loss(name: str):
    "Any loss as a function of the controls (f0, amplitudes) and the target."
    if name in CONTROL_LOSSES: return CONTROL_LOSSES[name]
    lf = LOSSES[name]
    return lambda f0, a, t: lf(decode(f0, a), t)

# ---------------------------------------------------------------------------------------------------
# Metrics (the paper's metrics.py, via mir_eval's conventions)

def cents(pred_hz, true_hz):
    return 1200 * np.log2(np.asarray(pred_hz, np.float64) / np.asarray(true_hz, np.float64))


def pitch_metrics(pred_hz, true_hz) -> dict:
    """Raw pitch accuracy (|error| <= 50 cents), raw chroma accuracy (the same modulo octaves), the
    paper's mean octave difference (signed: d = true - pred in cents, d += 50 sign(d),
    floor(|d| / 1200) sign(d), averaged) and the octave-error rate (chroma right, pitch wrong)."""
    c = cents(pred_hz, true_hz)
    rpa = np.abs(c) <= 50
    rca = np.abs((c + 600) % 1200 - 600) <= 50
    d = -c
    d = d + 50 * np.sign(d)
    mod = np.floor(np.abs(d) / 1200) * np.sign(d)
    return dict(rpa=float(rpa.mean()), rca=float(rca.mean()), mean_octave_diff=float(mod.mean()),
                octave_error_rate=float((rca & ~rpa).mean()))


def _frames_end(x, n_fft, hop):
    "Frames of x (B, T), TF pad_end: slide until the frame is entirely past the end."
    T = x.shape[-1]
    nf = -(-T // hop)
    pad = max(0, n_fft + hop * (nf - 1) - T)
    x = jnp.pad(x, ((0, 0), (0, pad)))
    idx = np.arange(nf)[:, None] * hop + np.arange(n_fft)[None]
    return x[:, idx]


@jax.jit
def log_spectral_distance(pred, target):
    """The paper's log-spectral distance: mean over frames and bins of the squared difference of
    10 log10(max(|X|^2, 1e-5)) dB, |X| from a 1024-point Hann STFT, hop 256, pad_end, normalised by
    sqrt(1024) (torch.stft normalized=True); one value per example (dB^2)."""
    w = jnp.asarray(np.hanning(1025)[:-1], jnp.float32)
    db = lambda x: 10 * jnp.log10(jnp.maximum(
        jnp.abs(jnp.fft.rfft(_frames_end(x, 1024, 256) * w, axis=-1)) ** 2 / 1024, 1e-5))
    return jnp.mean((db(pred) - db(target)) ** 2, (-2, -1))
