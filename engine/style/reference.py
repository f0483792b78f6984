"""A reference clip prepared as DiffRhythm's ``get_style_prompt`` prepares it, without librosa.

The duration is frames / sample rate; files under 10 s are refused (DiffRhythm asserts); the excerpt starts at
``duration // 2 - 5`` whole seconds (float floor division: 12.6 s starts at 1.0, not 1.3) and is 10 s long; the
channels are averaged in float32 *before* resampling; resampling is soxr "HQ", and the result is then padded
with zeros or trimmed to ``ceil(n * 24000 / sr)`` computed in float64, which is why a 44.1 kHz file gives
240001 samples (and so two averaged clips). Any format libsndfile reads is accepted (WAV, FLAC, AIFF, OGG, MP3).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.errors import SongBridgeError

TARGET_SR = 24000
CLIP_S = 10
MIN_S = 10.0


class ReferenceAudioError(SongBridgeError):
    """The reference clip cannot be used; the message names the file and why."""


@dataclass(frozen=True)
class Prepared:
    wav: np.ndarray  # float32 [n] at 24 kHz
    duration_s: float
    start_s: float
    sample_rate: int
    channels: int


def prepare(path: str | Path) -> Prepared:
    import soundfile as sf

    p = Path(path)
    if not p.is_file():
        raise ReferenceAudioError(f"{p}: no such reference audio file")
    try:
        with sf.SoundFile(str(p)) as f:
            sr, frames, channels = int(f.samplerate), int(f.frames), int(f.channels)
            duration = frames / sr
            if duration < MIN_S:
                raise ReferenceAudioError(f"{p}: the reference clip is {duration:.1f} s; a style needs at least "
                                          f"{MIN_S:.0f} s of audio")
            start = (duration // 2) - 5
            f.seek(int(start * sr))
            y = f.read(frames=int(CLIP_S * sr), dtype="float32", always_2d=True)
    except ReferenceAudioError:
        raise
    except (RuntimeError, OSError, ValueError) as exc:  # soundfile.LibsndfileError is a RuntimeError
        raise ReferenceAudioError(f"{p}: not an audio file libsndfile can read ({str(exc).splitlines()[0]})") \
            from None
    if not np.isfinite(y).all():
        raise ReferenceAudioError(f"{p}: the audio holds NaN or infinite samples")
    mono = np.mean(y.T, axis=0) if y.shape[1] > 1 else y[:, 0]
    mono = np.ascontiguousarray(mono, dtype=np.float32)
    if sr != TARGET_SR:
        import soxr

        n = int(math.ceil(mono.shape[0] * (float(TARGET_SR) / sr)))
        out = soxr.resample(mono, sr, TARGET_SR, quality="soxr_hq")
        mono = np.zeros(n, dtype=np.float32) if out.shape[0] < n else out[:n].astype(np.float32, copy=False)
        if out.shape[0] < n:
            mono[: out.shape[0]] = out
    return Prepared(mono, duration, float(start), sr, channels)
