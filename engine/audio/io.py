"""Audio files: read and write with soundfile, with errors that name the file.

Audio arrays are float32 ``[frames, channels]`` at 44.1 kHz unless stated otherwise.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np

from engine.errors import SongBridgeError
from engine.safe_fs import open_write

SAMPLE_RATE = 44100


class AudioFileError(SongBridgeError):
    """An audio file cannot be read or written."""


def check_plain_file(path: str | os.PathLike[str]) -> Path:
    """``path`` if it is a regular file (through links); a FIFO, device or folder planted where audio should be
    would block a reader forever or read endlessly, so it is refused with a message naming it."""
    p = Path(path)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise AudioFileError(f"{p}: not found") from None
    except OSError as exc:
        raise AudioFileError(f"{p}: cannot read: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        raise AudioFileError(f"{p}: not a regular file (a folder, pipe or device where audio should be)")
    return p


def read_audio(path: str | os.PathLike[str], *, always_2d: bool = True) -> tuple[np.ndarray, int]:
    """(float32 [frames, channels], sample rate)."""
    import soundfile as sf

    check_plain_file(path)

    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=always_2d)
    except FileNotFoundError:
        raise AudioFileError(f"{path}: not found") from None
    except (RuntimeError, sf.LibsndfileError) as exc:  # type: ignore[attr-defined]
        raise AudioFileError(f"{path}: not a readable audio file ({exc})") from None
    return data, int(sr)


def write_wav(path: str | os.PathLike[str], audio: np.ndarray, sample_rate: int = SAMPLE_RATE,
              subtype: str = "PCM_24", *, root: str | os.PathLike[str] | None = None) -> Path:
    """Write ``audio`` [frames, channels] as WAV (24-bit PCM by default), never through a symbolic link; with
    ``root`` (the project folder), no folder below it may be a link either."""
    import soundfile as sf

    p = Path(path)
    try:
        with open_write(p, root) as fh:
            sf.write(fh, np.asarray(audio, dtype=np.float32), sample_rate, subtype=subtype, format="WAV")
    except (RuntimeError, OSError, sf.LibsndfileError) as exc:  # type: ignore[attr-defined]
        raise AudioFileError(f"{p}: cannot write: {exc}") from None
    return p


def to_stereo(audio: np.ndarray) -> np.ndarray:
    """Mono is duplicated, more than two channels are cut to two."""
    a = np.asarray(audio, dtype=np.float32)
    if a.ndim == 1:
        a = a[:, None]
    if a.shape[1] == 1:
        return np.repeat(a, 2, axis=1)
    return a[:, :2]
