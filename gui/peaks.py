"""Waveform peaks, computed off the GUI thread and cached in the project (``cache/peaks/<take>-<file>.npy``).

Peaks are (min, max) of the mono mix per 1/200 s; the timeline reduces them further per pixel when it paints."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal

from engine.audio.io import check_plain_file
from engine.errors import SongBridgeError
from engine.safe_fs import open_write

PEAKS_PER_S = 200
_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="songbridge-peaks")


def compute_peaks(wav: Path, cache: Path) -> np.ndarray:
    """[n, 2] float32 (min, max) per 1/200 s; read from the cache when it is newer than the file."""
    check_plain_file(wav)
    if cache.is_file() and cache.stat().st_mtime >= wav.stat().st_mtime:
        return np.load(cache, allow_pickle=False)
    import soundfile as sf

    hop = 44100 // PEAKS_PER_S
    chunks = []
    with sf.SoundFile(str(wav)) as f:
        while True:
            block = f.read(hop * 2000, dtype="float32", always_2d=True)
            if not len(block):
                break
            mono = block.mean(axis=1)
            n = len(mono) // hop * hop
            if n:
                m = mono[:n].reshape(-1, hop)
                chunks.append(np.stack([m.min(axis=1), m.max(axis=1)], axis=1))
    peaks = np.concatenate(chunks) if chunks else np.zeros((0, 2), np.float32)
    try:  # a cache, never written through a link a project may carry
        with open_write(cache) as fh:
            np.save(fh, peaks.astype(np.float32))
    except (OSError, SongBridgeError):
        pass
    return peaks


class PeakCache(QObject):
    """Asks for peaks; ``ready`` fires on the GUI thread (queued connection) when they arrive."""

    ready = Signal(str)

    def __init__(self, project_folder: Path):
        super().__init__()
        self.folder = project_folder
        self.peaks: dict[str, np.ndarray] = {}
        self._pending: dict[str, Future] = {}

    def loading(self, take_id: str, name: str, locked: bool = False) -> bool:
        """Whether the peaks of this lane are still being read (the lane says so instead of staying blank)."""
        return self.key(take_id, name, locked) in self._pending

    def key(self, take_id: str, name: str, locked: bool = False) -> str:
        return f"{take_id}{'@locked' if locked else ''}/{name}"

    def forget(self, take_id: str) -> None:
        """Drop a take's peaks (its files changed: split into stems, locked to the grid again)."""
        for key in [k for k in self.peaks if k.split("/", 1)[0].split("@", 1)[0] == take_id]:
            del self.peaks[key]

    def get(self, take_id: str, name: str, locked: bool = False) -> np.ndarray | None:
        """Peaks of a take's mix or stem; ``locked``: of its grid-locked copy (``locked/``)."""
        key = self.key(take_id, name, locked)
        if key in self.peaks:
            return self.peaks[key]
        if key not in self._pending:
            base = self.folder / "takes" / take_id / ("locked" if locked else "")
            wav = base / (f"stems/{name}.wav" if name != "mix" else "mix.wav")
            if not wav.exists():
                return None
            cache = self.folder / "cache" / "peaks" / f"{take_id}{'-locked' if locked else ''}-{name}.npy"
            fut = _pool.submit(compute_peaks, wav, cache)
            self._pending[key] = fut
            fut.add_done_callback(lambda f, k=key: self._done(k, f))
        return None

    def _done(self, key: str, fut: Future) -> None:  # runs on the pool thread
        try:
            self.peaks[key] = fut.result()
        except Exception:  # noqa: BLE001 - a broken file draws as empty
            self.peaks[key] = np.zeros((0, 2), np.float32)
        self._pending.pop(key, None)
        self.ready.emit(key)  # cross-thread signal: delivered on the GUI thread
