"""The beat grid of a take or an audio file, the files a DAW reads, and the grid-locked copy.

``measure`` picks the tracker: Beat This! when a checkpoint is in the models folder, else the DSP tracker, which
takes the song's tempo, meter and bar lines as priors. ``write_maps`` writes ``beats.csv`` (one row per beat:
time, bar, beat in bar, local tempo) and ``markers.csv`` (REAPER's marker list: a marker per bar, importable in its
Region/Marker Manager). ``lock_take`` writes ``takes/<id>/locked/`` (mix and stems, the same map for every stem).
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import SongBridgeError
from engine.safe_fs import UnsafePathError, make_dirs, open_write, write_text

GRID_DIR = "grid"
LOCKED_DIR = "locked"


@dataclass(frozen=True)
class Grid:
    beats: np.ndarray  # seconds
    downbeats: np.ndarray  # seconds, each one of the beats
    tracker: str  # "beat-this" | "dsp"
    model: str = ""  # checkpoint file name
    model_sha256: str = ""

    @property
    def bpm(self) -> float:
        """The take's tempo: 60 over the median beat period measured across half the take (beat i to beat i + n/2,
        for every i; 0 with fewer than two beats). Beats on their attacks wander by a few ms, which moves a median of
        single intervals (119.98 for a take at 120); spans of half the take average that out, and the median
        ignores a few beats taken from another instrument's attack."""
        n = self.beats.size
        if n < 2:
            return 0.0
        half = max(1, n // 2)
        period = float(np.median((self.beats[half:] - self.beats[:n - half]) / half))
        return 60.0 / period if period > 0 else 0.0

    def local_bpm(self) -> np.ndarray:
        """Tempo at each beat: 60 over the interval to the next beat (the last repeats the one before)."""
        d = np.diff(self.beats)
        if not d.size:
            return np.zeros(self.beats.size)
        return 60.0 / np.append(d, d[-1])

    def drift_pct(self, project_bpm: float) -> float:
        """The largest departure of a bar's tempo from ``project_bpm``, in per cent (beat-level noise averaged
        over the bar)."""
        bars = np.diff(self.downbeats)
        if not bars.size or project_bpm <= 0:
            return 0.0
        beats_per_bar = np.array([np.count_nonzero((self.beats >= a) & (self.beats < b))
                                  for a, b in zip(self.downbeats[:-1], self.downbeats[1:], strict=True)])
        ok = beats_per_bar > 0
        if not ok.any():
            return 0.0
        bar_bpm = 60.0 * beats_per_bar[ok] / bars[ok]
        return float(np.max(np.abs(bar_bpm / project_bpm - 1.0)) * 100.0)

    def summary(self, project_bpm: float | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"tracker": self.tracker, "bpm": round(self.bpm, 3), "beats": int(self.beats.size),
                               "bars": int(self.downbeats.size),
                               "first_downbeat_s": round(float(self.downbeats[0]), 4) if self.downbeats.size else None}
        if self.model:
            out["model"], out["model_sha256"] = self.model, self.model_sha256
        if project_bpm:
            out["project_bpm"] = project_bpm
            out["drift_pct"] = round(self.drift_pct(project_bpm), 2)
        return out


def measure(audio: np.ndarray, sample_rate: int, *, models: Path | None = None, bpm: float | None = None,
            meter: int = 4, bars_s: np.ndarray | None = None,
            should_stop: Callable[[], bool] | None = None) -> Grid:
    """Beats and downbeats of ``audio`` [n] or [n, ch]; see the module docstring for the tracker chosen."""
    from .beat_this import BeatTracker, find_checkpoint

    if len(audio) < sample_rate:
        raise SongBridgeError(f"{len(audio) / sample_rate:.2f} s of audio is too short for a beat grid (1 s at "
                              "least)")
    ckpt = find_checkpoint(models) if models is not None else None
    if ckpt is not None:
        tracker = BeatTracker.from_models(models)  # type: ignore[arg-type]
        beats, downs = tracker.beats(audio, sample_rate, should_stop)
        if beats.size >= 2:
            from .polish import polish

            fine = polish(audio, sample_rate, beats)  # the model's 20 ms frames, moved onto the attacks
            downs = fine[np.clip(np.searchsorted(beats, downs - 1e-6), 0, beats.size - 1)]
            return Grid(fine, downs, "beat-this", ckpt.name, tracker.loaded.sha256)
    from . import dsp

    beats, downs = dsp.track(audio, sample_rate, bpm=bpm, meter=meter, bars_s=bars_s)
    if beats.size < 2:
        raise SongBridgeError("no beat found: the audio has no steady pulse to lock to")
    return Grid(beats, downs, "dsp")


def bar_numbers(grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    """(bar, beat in bar) for every beat, 1-based; beats before the first downbeat are a pickup (bar 0) counted
    back from it (with four beats to a bar, a one-beat pickup is beat 4)."""
    beats, downs = grid.beats, grid.downbeats
    bars = np.searchsorted(downs, beats + 1e-9, side="right")
    starts = np.searchsorted(beats, downs - 1e-9)  # index of each downbeat among the beats
    per_bar = int(starts[1] - starts[0]) if starts.size >= 2 else 4
    beat_in_bar = np.empty(beats.size, dtype=int)
    for i in range(beats.size):
        if bars[i] == 0:
            first = int(starts[0]) if starts.size else beats.size
            beat_in_bar[i] = per_bar - (first - i) + 1
        else:
            beat_in_bar[i] = i - int(starts[bars[i] - 1]) + 1
    return bars, beat_in_bar


def write_maps(grid: Grid, folder: Path, summary: dict[str, Any], root: Path | None = None) -> list[Path]:
    """``beats.csv``, ``markers.csv`` and ``grid.json`` in ``folder``, each written whole then renamed; with
    ``root`` (a project folder) never through a link planted between it and the files."""
    make_dirs(folder, root)
    for name in ("beats.csv", "markers.csv", "grid.json"):
        if (folder / name).is_symlink():  # a rename over a planted link replaces the link, but say so instead
            raise UnsafePathError(f"{folder / name}: is a symbolic link; SongBridge does not write through links")
    bars, beat_in_bar = bar_numbers(grid)
    local = grid.local_bpm()
    rows = [["time_s", "bar", "beat", "bpm"], *([f"{t:.4f}", int(b), int(k), f"{q:.2f}"]
                                                for t, b, k, q in zip(grid.beats, bars, beat_in_bar, local,
                                                                      strict=True))]
    markers = [["#", "Name", "Start", "End", "Length"],
               *([f"M{i + 1}", f"Bar {i + 1}", f"{t:.4f}", "", ""] for i, t in enumerate(grid.downbeats))]
    out = []
    for name, table in (("beats.csv", rows), ("markers.csv", markers)):
        tmp = folder / f".{name}.tmp"
        with open_write(tmp, root, text=True) as fh:
            csv.writer(fh).writerows(table)
        os.replace(tmp, folder / name)
        out.append(folder / name)
    data = {**summary, "beats_s": [round(float(t), 5) for t in grid.beats],
            "downbeats_s": [round(float(t), 5) for t in grid.downbeats]}
    tmp = folder / ".grid.json.tmp"
    write_text(tmp, json.dumps(data, indent=1) + "\n", root)
    os.replace(tmp, folder / "grid.json")
    out.append(folder / "grid.json")
    return out


def read_grid(folder: Path) -> Grid:
    path = folder / "grid.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Grid(np.asarray(data["beats_s"], float), np.asarray(data["downbeats_s"], float), data["tracker"],
                    data.get("model", ""), data.get("model_sha256", ""))
    except FileNotFoundError:
        raise SongBridgeError(f"{path}: no beat grid yet (run `songbridge grid` on the take first)") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise SongBridgeError(f"{path}: not a readable beat grid ({exc})") from None
