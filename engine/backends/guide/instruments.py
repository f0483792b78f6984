"""Guide instruments: drum one-shots, bass and keys notes, synthesised once with numpy and cached.

Everything is float32 mono at 44.1 kHz; a note is rendered once at its longest length and shorter uses are a
slice with a release ramp, so a whole song costs a few dozen note renders. Levels are modest and envelopes smooth
(no clicks): this is a draft to hear phrasing against the groove, not a production.
"""

from __future__ import annotations

import threading
from functools import lru_cache

import numpy as np

SR = 44100


def midi_hz(note: float) -> float:
    return 440.0 * 2.0 ** ((note - 69.0) / 12.0)


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _shaped_noise(n: int, lo: float, hi: float, seed: int) -> np.ndarray:
    """White noise band-limited to [lo, hi] Hz by FFT masking (smooth edges)."""
    spec = np.fft.rfft(_rng(seed).standard_normal(n).astype(np.float32))
    f = np.fft.rfftfreq(n, 1 / SR)
    mask = 1.0 / (1.0 + (lo / np.maximum(f, 1.0)) ** 4) / (1.0 + (f / hi) ** 4)
    out = np.fft.irfft(spec * mask, n).astype(np.float32)
    return out / (np.abs(out).max() + 1e-9)


def _env(n: int, attack: float, decay: float) -> np.ndarray:
    t = np.arange(n, dtype=np.float32) / SR
    a = np.minimum(1.0, t / max(attack, 1e-4))
    return (a * np.exp(-t / decay)).astype(np.float32)


def _fade_out(x: np.ndarray, ms: float = 8.0) -> np.ndarray:
    k = min(len(x), int(SR * ms / 1000))
    if k > 0:
        x = x.copy()
        x[-k:] *= np.linspace(1.0, 0.0, k, dtype=np.float32)
    return x


@lru_cache(maxsize=64)
def drum(name: str) -> np.ndarray:
    """A drum one-shot by name: kick, snare, clap, hat, open_hat, ride, crash, tom_hi, tom_lo, shaker, brush,
    rim. Peak about 1.0."""
    if name == "kick":
        n = int(0.35 * SR)
        t = np.arange(n) / SR
        f = 45 + 90 * np.exp(-t / 0.035)
        ph = 2 * np.pi * np.cumsum(f) / SR
        x = np.sin(ph) * np.exp(-t / 0.16) + 0.3 * _shaped_noise(n, 1000, 5000, 1) * np.exp(-t / 0.004)
    elif name in ("snare", "rim"):
        n = int(0.25 * SR)
        t = np.arange(n) / SR
        body = np.sin(2 * np.pi * 185 * t) * np.exp(-t / 0.05)
        noise = _shaped_noise(n, 1500, 9000, 2) * np.exp(-t / (0.07 if name == "snare" else 0.02))
        x = 0.6 * body + noise if name == "snare" else 0.8 * np.sin(2 * np.pi * 420 * t) * np.exp(-t / 0.015) + 0.4 * noise
    elif name == "clap":
        n = int(0.3 * SR)
        t = np.arange(n) / SR
        bursts = sum(np.exp(-np.maximum(t - d, 0) / 0.006) * (t >= d) for d in (0.0, 0.011, 0.022))
        x = _shaped_noise(n, 900, 6000, 3) * (0.6 * bursts + np.exp(-t / 0.09) * (t > 0.022))
    elif name in ("hat", "open_hat", "shaker"):
        n = int((0.45 if name == "open_hat" else 0.08) * SR)
        t = np.arange(n) / SR
        decay = {"hat": 0.018, "open_hat": 0.16, "shaker": 0.03}[name]
        x = _shaped_noise(n, 6500 if name != "shaker" else 4000, 15000, 4) * _env(n, 0.002 if name == "shaker" else 0.0005, decay)
    elif name == "ride":
        n = int(0.9 * SR)
        t = np.arange(n) / SR
        ping = sum(np.sin(2 * np.pi * f * t) for f in (3100, 4750, 5900)) / 3
        x = (0.5 * _shaped_noise(n, 5000, 14000, 5) + 0.4 * ping) * _env(n, 0.001, 0.35)
    elif name == "crash":
        n = int(1.8 * SR)
        x = _shaped_noise(n, 3000, 14000, 6) * _env(n, 0.002, 0.7)
    elif name in ("tom_hi", "tom_lo"):
        n = int(0.4 * SR)
        t = np.arange(n) / SR
        base = 190 if name == "tom_hi" else 120
        f = base * (1 + 0.4 * np.exp(-t / 0.03))
        x = np.sin(2 * np.pi * np.cumsum(f) / SR) * np.exp(-t / 0.16)
    elif name == "brush":
        n = int(0.22 * SR)
        x = _shaped_noise(n, 1800, 8000, 7) * _env(n, 0.02, 0.06)
    else:
        raise ValueError(f"unknown drum {name!r}")
    x = _fade_out(shape("drum", np.asarray(x, dtype=np.float32)))
    return x / (np.abs(x).max() + 1e-9)


# -- pitched voices --------------------------------------------------------------------------------------
# Each voice: harmonic amplitudes, per-harmonic decay times (s; inf = sustained), attack (s), tremolo.
VOICES: dict[str, tuple[tuple[float, ...], tuple[float, ...], float, float]] = {
    "piano": ((1.0, 0.45, 0.25, 0.12, 0.07, 0.04), (1.6, 0.9, 0.6, 0.4, 0.3, 0.2), 0.004, 0.0),
    "rhodes": ((1.0, 0.12, 0.06, 0.0, 0.0, 0.03), (2.2, 0.5, 0.3, 1.0, 1.0, 0.08), 0.003, 0.0),
    "guitar": ((1.0, 0.6, 0.45, 0.3, 0.2, 0.12), (1.1, 0.6, 0.4, 0.25, 0.18, 0.12), 0.002, 0.0),
    "organ": ((1.0, 0.5, 0.0, 0.25, 0.0, 0.0), (np.inf,) * 6, 0.02, 0.0),
    "pad": ((1.0, 0.5, 0.33, 0.25, 0.2, 0.16), (np.inf,) * 6, 0.25, 0.0),
    "finger": ((1.0, 0.35, 0.12, 0.05), (1.2, 0.5, 0.25, 0.15), 0.006, 0.0),
    "pick": ((1.0, 0.55, 0.35, 0.2, 0.12), (0.9, 0.4, 0.2, 0.12, 0.08), 0.002, 0.0),
    "sub": ((1.0, 0.08), (np.inf, np.inf), 0.008, 0.0),
    "upright": ((1.0, 0.4, 0.15, 0.06), (0.7, 0.35, 0.18, 0.1), 0.01, 0.0),
}


@lru_cache(maxsize=512)
def note(voice: str, midi: int, max_s: float) -> np.ndarray:
    """One note of ``voice`` at ``midi``, ``max_s`` long (cached; slice it for shorter notes)."""
    amps, decays, attack, _ = VOICES[voice]
    n = int(max_s * SR)
    t = np.arange(n, dtype=np.float32) / SR
    f0 = midi_hz(midi)
    x = np.zeros(n, dtype=np.float32)
    for k, (a, d) in enumerate(zip(amps, decays, strict=True), 1):
        if a == 0.0 or f0 * k > 12000:
            continue
        # A slight detune on sustained voices keeps them from sounding static.
        det = 1.0 + (0.0015 * (k % 3 - 1) if voice == "pad" else 0.0)
        h = np.sin((2 * np.pi * f0 * k * det) * t).astype(np.float32) * a
        if np.isfinite(d):
            h *= np.exp(-t / (d * (1.0 + 60.0 / f0))).astype(np.float32)
        x += h
    x *= np.minimum(1.0, t / attack).astype(np.float32)
    return shape(voice, x / np.float32(sum(amps) or 1.0))


def play(voice: str, midi: int, dur_s: float, max_s: float, release_s: float = 0.03) -> np.ndarray:
    """``voice`` at ``midi`` for ``dur_s`` seconds with a release ramp (slices the cached note)."""
    full = note(voice, midi, max_s)
    n = min(len(full), int((dur_s + release_s) * SR))
    x = full[:n].copy()
    r = min(n, int(release_s * SR))
    if r > 0:
        x[-r:] *= np.linspace(1.0, 0.0, r, dtype=np.float32)
    return x


def add(buf: np.ndarray, start_s: float, x: np.ndarray, gain: float, pan: float = 0.0) -> None:
    """Mix ``x`` into channel-first stereo ``buf`` [2, n] at ``start_s`` with constant-power ``pan``
    (-1 left .. 1 right)."""
    n = buf.shape[1]
    i = int(round(start_s * SR))
    if i >= n or i + len(x) <= 0:
        return
    a, b = max(0, i), min(n, i + len(x))
    seg = x[a - i:b - i]
    th = (pan + 1.0) * np.pi / 4
    # A reused scratch buffer: fresh temporaries this large are mmapped and page-faulted on every call.
    tmp = _scratch(b - a)
    np.multiply(seg, np.float32(gain * np.cos(th)), out=tmp)
    buf[0, a:b] += tmp
    np.multiply(seg, np.float32(gain * np.sin(th)), out=tmp)
    buf[1, a:b] += tmp


_local = threading.local()


def _scratch(n: int) -> np.ndarray:
    arr = getattr(_local, "scratch", None)
    if arr is None or len(arr) < n:
        arr = np.empty(max(n, 1 << 18), dtype=np.float32)
        _local.scratch = arr
    return arr[:n]


#: Tone shaping per voice, applied once to each cached note or one-shot (not to whole stems: that is faster).
_SHAPING: dict[str, tuple[tuple[str, float], ...]] = {
    "piano": (("hp", 90.0), ("lp", 7000.0)), "rhodes": (("hp", 90.0), ("lp", 5000.0)),
    "guitar": (("hp", 110.0), ("lp", 6000.0)), "organ": (("hp", 80.0), ("lp", 5000.0)),
    "pad": (("hp", 120.0), ("lp", 3500.0)), "finger": (("lp", 1800.0),), "pick": (("lp", 2800.0),),
    "sub": (("lp", 900.0),), "upright": (("lp", 1500.0),), "drum": (("hp", 30.0),),
}


def shape(kind: str, x: np.ndarray) -> np.ndarray:
    """Filter a short sound with pedalboard's filters for ``kind`` (a voice name or ``"drum"``)."""
    import pedalboard as pb

    plugins = [pb.HighpassFilter(f) if k == "hp" else pb.LowpassFilter(f) for k, f in _SHAPING.get(kind, ())]
    if not plugins:
        return x
    return pb.Pedalboard(plugins)(x[None, :], SR, reset=True)[0].astype(np.float32)
