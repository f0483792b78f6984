"""Reading a take for playback: its stems from disk, block by block, mixed with per-stem gains (mute/solo) and
run through the stem and master effect chains with ``reset=False`` (the same chains render uses offline).
Runs on the feeder thread, never in the audio callback."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from engine.audio.io import check_plain_file
from engine.errors import SongBridgeError

SAMPLE_RATE = 44100


class TakeSource:
    def __init__(self, take_dir: Path, stems: Sequence[str] | None = None,
                 chains: Mapping[str, Any] | None = None, master: Any = None):
        import soundfile as sf

        self.take_dir = Path(take_dir)
        stem_dir = self.take_dir / "stems"
        names = list(stems) if stems else sorted(p.stem for p in stem_dir.glob("*.wav"))
        if not names:
            raise SongBridgeError(f"{self.take_dir}: no stems to play (expected stems/*.wav)")
        self.files: dict[str, Any] = {}
        for name in names:
            path = check_plain_file(stem_dir / f"{name}.wav")
            try:
                f = sf.SoundFile(str(path))
            except (RuntimeError, sf.LibsndfileError) as exc:  # type: ignore[attr-defined]
                raise SongBridgeError(f"{path}: cannot open for playback: {exc}") from None
            if f.samplerate != SAMPLE_RATE:
                raise SongBridgeError(f"{path}: {f.samplerate} Hz; takes are {SAMPLE_RATE} Hz")
            self.files[name] = f
        self.length = max(f.frames for f in self.files.values())
        self.chains = dict(chains or {})
        self.master = master
        self.gains = {name: 1.0 for name in self.files}
        self.levels = {name: 0.0 for name in self.files}  # peak of each stem in the last block, after its gain

    @property
    def stems(self) -> list[str]:
        return list(self.files)

    def reset(self) -> None:
        """Clear effect tails (after a seek)."""
        for board in (*self.chains.values(), self.master):
            if board is not None:
                board.reset()

    def read(self, pos: int, n: int) -> np.ndarray:
        """[n, 2] float32 of the mix from song sample ``pos``; silence past the end."""
        return mix_block(self, pos, n)

    def read_stem(self, name: str, pos: int, n: int) -> np.ndarray:
        """[n, 2] float32 of one stem's file from ``pos``, silence past its end (mono doubled)."""
        f = self.files[name]
        if pos >= f.frames:
            return np.zeros((n, 2), dtype=np.float32)
        f.seek(pos)
        data = f.read(n, dtype="float32", always_2d=True, fill_value=0.0)
        return np.repeat(data, 2, axis=1) if data.shape[1] == 1 else data

    def close(self) -> None:
        for f in self.files.values():
            f.close()


def mix_block(src: Any, pos: int, n: int) -> np.ndarray:
    """One block of a source's mix: each stem (``src.read_stem``) through its chain and gain, its peak kept in
    ``src.levels``, then the master chain. Shared by a take (:class:`TakeSource`) and the comped song
    (``engine.comp_source``); runs on the player's feeder thread, never in the audio callback."""
    out = np.zeros((n, 2), dtype=np.float32)
    for name in src.stems:
        gain = src.gains.get(name, 1.0)
        board = src.chains.get(name)
        if gain == 0.0 and board is None:
            src.levels[name] = 0.0
            continue
        data = src.read_stem(name, pos, n)
        if board is not None:
            data = board(np.ascontiguousarray(data.T), SAMPLE_RATE, reset=False).T
        src.levels[name] = float(np.abs(data).max()) * gain if len(data) else 0.0
        if gain != 0.0:
            out += data * np.float32(gain)
    if src.master is not None:
        out = src.master(np.ascontiguousarray(out.T), SAMPLE_RATE, reset=False).T
    return np.ascontiguousarray(out, dtype=np.float32)
