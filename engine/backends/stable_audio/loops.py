"""Loops a DAW can repeat: N bars at T bpm, exactly that many samples, with a seamless wrap.

- The prompt carries the tempo the way the models' training captions did ("128 BPM tech house drum loop"): the
  tempo first unless the prompt already names one, then the bar count.
- Length: bars x beats per bar x 60 / bpm, rounded to whole samples.
- The model renders its whole window; the loop is its first ``frames`` samples, and the material just after the
  loop's end is crossfaded (equal power, ``FADE_S``) into its head, so playing the end into the start continues
  the sound instead of jumping. A loop that fills the whole window has nothing after it: it dips through silence
  for 5 ms at the wrap instead of clicking.
"""

from __future__ import annotations

import re

import numpy as np

FADE_S = 0.02
_BPM = re.compile(r"\b\d{2,3}(\.\d+)?\s*bpm\b", re.IGNORECASE)


def loop_seconds(bars: float, bpm: float, beats_per_bar: int = 4) -> float:
    return bars * beats_per_bar * 60.0 / bpm


def loop_frames(bars: float, bpm: float, sample_rate: int, beats_per_bar: int = 4) -> int:
    return int(round(loop_seconds(bars, bpm, beats_per_bar) * sample_rate))


def loop_prompt(prompt: str, bpm: float, bars: float) -> str:
    """``prompt`` with the tempo and bar count the way the training captions put them."""
    text = " ".join(prompt.split())
    if not _BPM.search(text):
        text = f"{bpm:g} BPM {text}"
    if not re.search(r"\bbars?\b", text, re.IGNORECASE):
        text = f"{text}, {bars:g} bars"
    return text


def extend_by_bars(audio: np.ndarray, frames: int, bar_frames: int) -> np.ndarray:
    """``audio`` [n, ch] made at least ``frames`` long by playing its last bar again (the material one bar
    earlier, so the grid goes on), as often as needed; unchanged when long enough already."""
    x = np.asarray(audio, dtype=np.float32)
    if len(x) >= frames:
        return x
    if not len(x):
        return np.zeros((frames, *x.shape[1:]), np.float32)
    period = max(1, min(int(bar_frames), len(x)))
    parts, n = [x], len(x)
    while n < frames:
        take = min(period, frames - n)
        parts.append(x[len(x) - period:len(x) - period + take])
        n += take
    return np.concatenate(parts)


def make_loop(audio: np.ndarray, frames: int, sample_rate: int, fade_s: float = FADE_S,
              bar_frames: int | None = None) -> np.ndarray:
    """audio [n, ch] (n > frames for the best wrap) -> [frames, ch] whose end flows into its start. Audio shorter
    than the loop (a model that started late, trimmed to its first downbeat) is first extended by repeating its
    last bar (``bar_frames``; default a quarter of the loop)."""
    x = np.asarray(audio, dtype=np.float32)
    if len(x) < frames:
        x = extend_by_bars(x, frames + int(fade_s * sample_rate), bar_frames or max(1, frames // 4))
    loop = x[:frames].copy()
    fade = min(int(fade_s * sample_rate), frames // 4)
    if fade < 2:
        return loop
    t = np.linspace(0.0, np.pi / 2, fade, dtype=np.float32)[:, None]
    fade_in, fade_out = np.sin(t), np.cos(t)
    if len(x) >= frames + fade:  # what the model played next fades into the head
        tail = x[frames:frames + fade]
        loop[:fade] = loop[:fade] * fade_in + tail * fade_out
    else:  # no material past the end (the loop fills the model's window): a short dip through silence at the wrap
        dip = max(2, min(fade, int(0.005 * sample_rate)))
        ramp = np.sin(np.linspace(0.0, np.pi / 2, dip, dtype=np.float32))[:, None]
        loop[:dip] *= ramp
        loop[frames - dip:] *= ramp[::-1]
    return loop


def seam_jump(loop: np.ndarray) -> float:
    """How far the wrap (last sample -> first) jumps, over the loop's typical sample-to-sample step: about 1 for
    a seamless loop, large for a click."""
    x = np.asarray(loop, dtype=np.float64)
    steps = np.abs(np.diff(x, axis=0))
    typical = float(np.median(steps)) + 1e-12
    return float(np.abs(x[0] - x[-1]).max() / typical)
