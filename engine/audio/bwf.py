"""Broadcast WAV (EBU Tech 3285 v2): a RIFF/WAVE file with a ``bext`` chunk whose TimeReference places the file
on a timeline (samples since the timeline's zero), so any DAW can drop it at its original position.

We write the file ourselves (``bext`` before ``fmt `` and ``data`` as the spec recommends) and read ``bext`` back
for tests and for the DAW adapters. Audio is float32 ``[frames, channels]`` in; PCM 16/24-bit or 32-bit float out.
"""

from __future__ import annotations

import datetime as dt
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.safe_fs import open_write

BEXT_FIXED = 602  # bytes before CodingHistory
_FMT = {16: (1, 2), 24: (1, 3), 32: (3, 4)}  # bits -> (format tag, bytes per sample); 32 = IEEE float


@dataclass(frozen=True)
class Bext:
    description: str = ""
    originator: str = "SongBridge"
    originator_reference: str = ""
    origination_date: str = ""  # yyyy-mm-dd
    origination_time: str = ""  # hh:mm:ss
    time_reference: int = 0  # samples
    version: int = 2
    loudness_value: int = 0x7FFF  # LUFS x 100; 0x7FFF = not set
    loudness_range: int = 0x7FFF
    max_true_peak: int = 0x7FFF  # dBTP x 100
    max_momentary: int = 0x7FFF
    max_short_term: int = 0x7FFF
    coding_history: str = ""


def _fixed(text: str, size: int) -> bytes:
    return text.encode("ascii", "replace")[:size].ljust(size, b"\0")


def pack_bext(b: Bext) -> bytes:
    now = dt.datetime.now()
    body = b"".join([
        _fixed(b.description, 256),
        _fixed(b.originator, 32),
        _fixed(b.originator_reference, 32),
        _fixed(b.origination_date or now.strftime("%Y-%m-%d"), 10),
        _fixed(b.origination_time or now.strftime("%H:%M:%S"), 8),
        struct.pack("<IIH", b.time_reference & 0xFFFFFFFF, b.time_reference >> 32, b.version),
        b"\0" * 64,  # UMID
        struct.pack("<hhhhh", b.loudness_value, b.loudness_range, b.max_true_peak, b.max_momentary,
                    b.max_short_term),
        b"\0" * 180,
        b.coding_history.encode("ascii", "replace"),
    ])
    assert len(body) >= BEXT_FIXED
    return body


def unpack_bext(body: bytes) -> Bext:
    if len(body) < BEXT_FIXED:
        raise ValueError(f"bext chunk is {len(body)} bytes, shorter than the {BEXT_FIXED} the spec requires")

    def s(a: int, n: int) -> str:
        return body[a:a + n].split(b"\0", 1)[0].decode("ascii", "replace")

    lo, hi, version = struct.unpack_from("<IIH", body, 338)
    lv, lr, tp, mm, ms = struct.unpack_from("<hhhhh", body, 412)
    return Bext(s(0, 256), s(256, 32), s(288, 32), s(320, 10), s(330, 8), lo | (hi << 32), version, lv, lr, tp,
                mm, ms, body[BEXT_FIXED:].split(b"\0", 1)[0].decode("ascii", "replace"))


def _chunk(tag: bytes, body: bytes) -> bytes:
    return tag + struct.pack("<I", len(body)) + body + (b"\0" if len(body) % 2 else b"")


def encode_pcm(audio: np.ndarray, bits: int) -> bytes:
    x = np.ascontiguousarray(audio, dtype=np.float32)
    if bits == 32:
        return x.astype("<f4").tobytes()
    if bits == 16:
        return (np.clip(np.round(x * 32767.0), -32768, 32767).astype("<i2")).tobytes()
    if bits == 24:
        v = np.clip(np.round(x.astype(np.float64) * 8388607.0), -8388608, 8388607).astype("<i4")
        return v.view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
    raise ValueError(f"bits must be 16, 24 or 32 (float), got {bits}")


def write_bwf(path: str | os.PathLike[str], audio: np.ndarray, sample_rate: int, bits: int, bext: Bext, *,
              root: str | os.PathLike[str] | None = None) -> Path:
    """A Broadcast WAV file at ``path``, never written through a symbolic link (nor, with ``root``, through a
    linked folder below it)."""
    if bits not in _FMT:
        raise ValueError(f"bits must be 16, 24 or 32 (float), got {bits}")
    a = np.asarray(audio, dtype=np.float32)
    if a.ndim == 1:
        a = a[:, None]
    channels = a.shape[1]
    tag, width = _FMT[bits]
    fmt = struct.pack("<HHIIHH", tag, channels, sample_rate, sample_rate * channels * width, channels * width, bits)
    chunks = [_chunk(b"bext", pack_bext(bext))]
    if tag == 3:
        chunks.append(_chunk(b"fmt ", fmt + struct.pack("<H", 0)))
        chunks.append(_chunk(b"fact", struct.pack("<I", a.shape[0])))
    else:
        chunks.append(_chunk(b"fmt ", fmt))
    data = encode_pcm(a, bits)
    header = b"".join(chunks)
    riff_size = 4 + len(header) + 8 + len(data) + (len(data) % 2)
    if riff_size > 0xFFFFFFFF:
        raise ValueError("file over 4 GiB: RF64 is not supported")
    p = Path(path)
    with open_write(p, root) as fh:
        fh.write(b"RIFF" + struct.pack("<I", riff_size) + b"WAVE" + header)
        fh.write(b"data" + struct.pack("<I", len(data)))
        fh.write(data)
        if len(data) % 2:
            fh.write(b"\0")
    return p


def read_bext(path: str | os.PathLike[str]) -> Bext | None:
    """The ``bext`` chunk of a WAV file, or None when it has none."""
    with open(path, "rb") as fh:
        head = fh.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            raise ValueError(f"{path}: not a RIFF/WAVE file")
        while True:
            h = fh.read(8)
            if len(h) < 8:
                return None
            tag, size = h[:4], struct.unpack("<I", h[4:])[0]
            if tag == b"bext":
                return unpack_bext(fh.read(size))
            fh.seek(size + (size % 2), 1)
