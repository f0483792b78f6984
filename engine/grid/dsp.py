"""A beat tracker without a model: an onset envelope and dynamic programming (Ellis, "Beat tracking by dynamic
programming", JNMR 2007), with the project's tempo and bar grid as priors when a take is analysed. numpy only.

1. Onset strength: log-compressed STFT magnitude at 22.05 kHz (hop 128 samples, 5.8 ms), half-wave rectified
   spectral flux summed over bins, its local mean removed; a second envelope from the band under 200 Hz (kicks)
   for the downbeats.
2. Tempo: the autocorrelation peak of the envelope near the prior's beat period (the song's tempo, or 120 bpm
   weighted by a log-Gaussian for any file).
3. Beats: the DP's best path through onset peaks spaced about one period apart (a squared log-ratio penalty lets
   the tempo wander and jump a few per cent); each beat then moves to the sub-frame peak of the envelope nearby.
4. Polish (``polish.py``): the beats smoothed against the tempo curve and moved onto their attacks, to the sample.
5. Downbeats: every ``meter``-th beat; the phase is the one whose beats sit nearest the song's own bar lines at the
   start (``bars`` prior), else the one with the most low-band onset energy (the first beat when the audio starts on
   a beat and its bar's low band is within 75 % of the strongest).
"""

from __future__ import annotations

import numpy as np

RATE = 22050
HOP = 128
N_FFT = 512
FRAME_S = HOP / RATE
# The flux of an attack peaks this much before the attack's first sample (the window takes it in early): measured
# on guide drums at 92, 120 and 143 bpm (median -3.0 to -3.4 ms).
LATENCY_S = 0.0032


def _mono_at_rate(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    x = np.asarray(audio, dtype=np.float64)
    if x.ndim == 2:
        x = x.mean(axis=1)
    if sample_rate != RATE:
        import soxr

        x = soxr.resample(x, sample_rate, RATE)
    return x.astype(np.float32)


def onset_envelopes(audio: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """(broadband onset strength [T], low-band onset strength [T]) at hop ``HOP``; frame t is centred on sample
    ``t * HOP`` of the 22.05 kHz signal."""
    x = _mono_at_rate(audio, sample_rate)
    if x.size < N_FFT:
        x = np.pad(x, (0, N_FFT - x.size))
    padded = np.pad(x, N_FFT // 2)
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP]
    mag = np.abs(np.fft.rfft(frames * np.hanning(N_FFT).astype(np.float32), axis=1))
    logmag = np.log1p(100.0 * mag)
    flux = np.maximum(0.0, np.diff(logmag, axis=0, prepend=np.zeros_like(logmag[:1])))  # silence before
    low_bins = max(2, int(200 * N_FFT / RATE))
    env, low = flux.sum(axis=1), flux[:, :low_bins].sum(axis=1)
    return _normalise(env), _normalise(low)


def _normalise(env: np.ndarray) -> np.ndarray:
    width = max(3, int(0.4 / FRAME_S))
    local = np.convolve(env, np.ones(width) / width, mode="same")
    out = np.maximum(0.0, env - local)
    sd = out.std()
    return out / sd if sd > 0 else out


def tempo_period(env: np.ndarray, prior_bpm: float | None) -> float:
    """The beat period in frames: the autocorrelation peak near the prior (±20 %), or the best one in 60..200 bpm
    weighted towards 120 bpm."""
    n = env.size
    spec = np.fft.rfft(env - env.mean(), 2 * n)
    ac = np.fft.irfft(np.abs(spec) ** 2)[:n]
    lags = np.arange(n, dtype=np.float64)
    bpm = np.where(lags > 0, 60.0 / np.maximum(lags, 1) / FRAME_S, np.inf)
    if prior_bpm:
        lo, hi = prior_bpm / 1.2, prior_bpm * 1.2
        weight = np.exp(-0.5 * (np.log2(np.maximum(bpm, 1e-9) / prior_bpm) / 0.1) ** 2)
    else:
        lo, hi = 60.0, 200.0
        weight = np.exp(-0.5 * (np.log2(np.maximum(bpm, 1e-9) / 120.0) / 0.9) ** 2)
    ok = (bpm >= lo) & (bpm <= hi)
    if not ok.any():
        return 60.0 / (prior_bpm or 120.0) / FRAME_S
    score = np.where(ok, ac * weight, -np.inf)
    k = int(np.argmax(score))
    if 0 < k < n - 1:  # parabolic refinement of the lag
        a, b, c = ac[k - 1], ac[k], ac[k + 1]
        den = a - 2 * b + c
        if den < 0:  # k is the weighted peak, not always ac's own: keep the vertex within half a lag of it
            return float(k + float(np.clip(0.5 * (a - c) / den, -0.5, 0.5)))
    return float(max(k, 1))


def dp_beats(env: np.ndarray, period: float, tightness: float = 300.0) -> np.ndarray:
    """Beat frames: the path that maximises onset strength minus ``tightness`` x (log of the interval over the
    period)^2 at each step."""
    n = env.size
    period = max(float(period), 1.0)
    lo, hi = max(1, int(round(period / 2))), max(2, int(round(period * 2)))
    offsets = np.arange(lo, hi + 1)
    penalty = -tightness * np.log(offsets / period) ** 2
    score = env.astype(np.float64).copy()
    back = np.full(n, -1, dtype=np.int64)
    for t in range(lo, n):
        prev = t - offsets
        valid = prev >= 0
        cand = np.where(valid, score[np.maximum(prev, 0)] + penalty, -np.inf)
        j = int(np.argmax(cand))
        if cand[j] > 0:
            score[t] += cand[j]
            back[t] = prev[j]
    tail = max(1, int(round(period)))
    t = n - tail + int(np.argmax(score[n - tail:])) if n > tail else int(np.argmax(score))
    path = []
    while t >= 0:
        path.append(t)
        t = int(back[t])
    return np.asarray(path[::-1], dtype=np.float64)


def refine(env: np.ndarray, frames: np.ndarray, reach: int = 3) -> np.ndarray:
    """Each beat frame moved to the sub-frame maximum of ``env`` within ``reach`` frames (parabolic peak)."""
    out = frames.astype(np.float64).copy()
    for i, f in enumerate(np.clip(frames.astype(int), 0, env.size - 1)):
        a, b = max(0, f - reach), min(env.size, f + reach + 1)
        k = a + int(np.argmax(env[a:b]))
        if 0 < k < env.size - 1:
            y0, y1, y2 = env[k - 1], env[k], env[k + 1]
            den = y0 - 2 * y1 + y2
            out[i] = k + (0.5 * (y0 - y2) / den if den < 0 else 0.0)
        else:
            out[i] = k
    return out


def mend_outliers(beats: np.ndarray, limit_s: float = 0.015) -> np.ndarray:
    """A beat more than ``limit_s`` away from the midpoint of its two neighbours, while they agree with their own
    neighbours, moves to that midpoint (a syncopated hit the DP took for the beat). A tempo change of a few per cent
    moves a true beat off the midpoint by half the change of period (13 ms for 4 % at 93 bpm), under the limit."""
    b = beats.astype(np.float64).copy()
    for i in range(1, b.size - 1):
        mid = 0.5 * (b[i - 1] + b[i + 1])
        if abs(b[i] - mid) > limit_s:
            b[i] = mid
    return b


def downbeat_phase(beats_s: np.ndarray, low: np.ndarray, meter: int, bars_s: np.ndarray | None) -> int:
    """Which of the first ``meter`` beats starts a bar."""
    if beats_s.size < meter:
        return 0
    if bars_s is not None and bars_s.size:
        # the song's first bar lines, where drift has not yet moved the take far from them
        # (those within the beats found: bar lines past the audio's end would favour a phase that reaches them)
        inside = bars_s[(bars_s >= beats_s[0] - 0.1) & (bars_s <= beats_s[-1] + 0.1)]
        inside = inside if inside.size >= 2 else bars_s
        first = inside[: max(2, min(8, inside.size))]
        costs = []
        for k in range(meter):
            downs = beats_s[k::meter]
            if not downs.size:
                costs.append(np.inf)
                continue
            costs.append(float(np.mean([np.min(np.abs(downs - b)) for b in first])))
        return int(np.argmin(costs))
    idx = np.clip(np.round(beats_s / FRAME_S).astype(int), 0, low.size - 1)
    strength = [float(low[idx[k::meter]].mean()) for k in range(meter)]
    # Audio that starts on a beat starts on a downbeat (a take, a loop, a bounce from bar 1) unless another beat
    # is clearly stronger: in a groove with kicks on 1 and 3 the two are close, and warping can tip them.
    period = float(np.median(np.diff(beats_s))) if beats_s.size > 1 else 0.5
    if beats_s[0] < 0.5 * period and strength[0] >= 0.75 * max(strength):
        return 0
    return int(np.argmax(strength))


def track(audio: np.ndarray, sample_rate: int, *, bpm: float | None = None, meter: int = 4,
          bars_s: np.ndarray | None = None, polished: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(beat times, downbeat times) in seconds. ``bpm``, ``meter`` and ``bars_s`` (the expected bar lines, e.g.
    the song's grid) are priors: a take was rendered near its song's tempo with its lines on bars. ``polished``:
    each beat smoothed against the tempo curve and moved onto its attack (``polish``), as the lock needs."""
    env, low = onset_envelopes(audio, sample_rate)
    if not env.any():
        return np.zeros(0), np.zeros(0)
    period = tempo_period(env, bpm)
    frames = refine(env, dp_beats(env, period))
    beats = mend_outliers(frames * FRAME_S + LATENCY_S)
    beats = beats[(beats >= 0) & (beats <= len(audio) / sample_rate)]
    if polished:
        from .polish import polish

        beats = polish(audio, sample_rate, beats)
        beats = beats[(beats >= 0) & (beats <= len(audio) / sample_rate)]
    k = downbeat_phase(beats, low, meter, bars_s)
    return beats, beats[k::meter]
