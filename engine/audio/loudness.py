"""Loudness (ITU-R BS.1770 via pyloudnorm), true peak (4x oversampled), and a look-ahead peak limiter.

``normalize`` brings a mix to a loudness target under a true-peak ceiling and never clips: a plain gain when the
peaks allow it, otherwise gain plus the limiter, iterated until both hold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

OVERSAMPLE = 4


def integrated_lufs(audio: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness in LUFS of ``audio`` [frames, channels]; -inf for silence."""
    import pyloudnorm as pyln

    meter = pyln.Meter(sample_rate)
    x = np.asarray(audio, dtype=np.float64)
    if len(x) < int(0.4 * sample_rate):  # BS.1770 needs one 400 ms block
        x = np.pad(x, ((0, int(0.4 * sample_rate) - len(x)), (0, 0)))
    with np.errstate(divide="ignore"):
        return float(meter.integrated_loudness(x))


_TAPS_PER_PHASE = 12


@lru_cache(maxsize=1)
def _polyphase() -> np.ndarray:
    """The 4-phase, 48-tap interpolation filter of BS.1770-4 Annex 2 (a windowed sinc, designed here),
    as [phase, tap]."""
    from scipy.signal import firwin

    h = firwin(OVERSAMPLE * _TAPS_PER_PHASE, 1.0 / OVERSAMPLE, window=("kaiser", 6.0)) * OVERSAMPLE
    return h.reshape(_TAPS_PER_PHASE, OVERSAMPLE).T.astype(np.float32)


def _peak_env(audio: np.ndarray) -> np.ndarray:
    """Per input sample, the largest |x| of the 4x-oversampled signal at or just after it (all channels)."""
    x = np.asarray(audio, dtype=np.float32)
    if x.ndim == 1:
        x = x[:, None]
    n, taps = len(x), _TAPS_PER_PHASE
    # (Reductions over a short last axis are slow in numpy: combine columns pairwise instead.)
    env = np.abs(x[:, 0])
    for c in range(1, x.shape[1]):
        np.maximum(env, np.abs(x[:, c]), out=env)
    # [block + taps - 1] samples -> [block, taps] windows @ [taps, 4 phases]: one small matmul per block.
    kernel = np.ascontiguousarray(_polyphase()[:, ::-1].T)  # [taps, phase], time-reversed for a convolution
    padded = np.pad(x.T, ((0, 0), (taps - 1 - taps // 2, taps // 2)))  # channel-first, contiguous rows
    block = 1 << 15
    for a in range(0, n, block):
        b = min(n, a + block)
        for c in range(x.shape[1]):
            win = np.lib.stride_tricks.sliding_window_view(padded[c, a:b + taps - 1], taps)
            y = np.abs((win @ kernel).T)  # [phase, block]
            for row in y:
                np.maximum(env[a:b], row, out=env[a:b])
    return env


def true_peak_db(audio: np.ndarray) -> float:
    """True peak in dBTP (BS.1770-4: 4x oversampling with a 48-tap interpolator)."""
    if not len(audio):
        return -math.inf
    peak = float(_peak_env(audio).max())
    return 20 * math.log10(peak) if peak > 0 else -math.inf


def limit(audio: np.ndarray, sample_rate: int, ceiling_db: float, lookahead_ms: float = 1.5,
          release_ms: float = 60.0) -> np.ndarray:
    """Look-ahead peak limiter keeping the oversampled peaks under ``ceiling_db``."""
    from scipy.ndimage import minimum_filter1d, uniform_filter1d
    from scipy.signal import lfilter

    ceiling = 10 ** (ceiling_db / 20)
    need = np.minimum(1.0, ceiling / np.maximum(_peak_env(audio), 1e-12))
    la = max(1, int(lookahead_ms * 1e-3 * sample_rate))
    g = minimum_filter1d(need, 2 * la + 1, mode="nearest")
    # Release: gain may drop at once but recovers with a one-pole filter; min() keeps every peak covered.
    a = math.exp(-1.0 / (release_ms * 1e-3 * sample_rate))
    rec = lfilter([1 - a], [1, -a], g, zi=[g[0] * a])[0]
    g = np.minimum(g, rec)
    g = uniform_filter1d(g, la + 1, mode="nearest")
    g = np.minimum(g, minimum_filter1d(need, 2 * la + 1, mode="nearest"))
    return (np.asarray(audio, dtype=np.float32) * g[:, None].astype(np.float32))


@dataclass(frozen=True)
class LoudnessResult:
    gain_db: float  # the plain gain applied before any limiting
    lufs: float  # integrated loudness after processing
    true_peak_db: float
    limited: bool


def normalize(audio: np.ndarray, sample_rate: int, target_lufs: float, ceiling_db: float = -1.0,
              max_iterations: int = 6) -> tuple[np.ndarray, LoudnessResult]:
    """``audio`` at ``target_lufs`` with true peaks below ``ceiling_db``."""
    x = np.asarray(audio, dtype=np.float32)
    current = integrated_lufs(x, sample_rate)
    if not math.isfinite(current):
        return x.copy(), LoudnessResult(0.0, current, true_peak_db(x), False)
    gain_db = target_lufs - current
    y = x * np.float32(10 ** (gain_db / 20))
    tp = true_peak_db(y)
    if tp <= ceiling_db - 0.05:
        return y, LoudnessResult(gain_db, integrated_lufs(y, sample_rate), tp, False)
    # Limit, re-measure, and nudge the gain until both targets hold.
    margin = 0.3
    out = y
    for _ in range(max_iterations):
        out = limit(y, sample_rate, ceiling_db - margin)
        lufs = integrated_lufs(out, sample_rate)
        if abs(lufs - target_lufs) <= 0.2:
            break
        y = y * np.float32(10 ** ((target_lufs - lufs) / 20))
    tp = true_peak_db(out)
    if tp > ceiling_db - 0.01:
        out = out * np.float32(10 ** ((ceiling_db - 0.05 - tp) / 20))
        tp = true_peak_db(out)
    return out, LoudnessResult(gain_db, integrated_lufs(out, sample_rate), tp, True)
