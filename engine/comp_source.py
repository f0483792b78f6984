"""The song as it will be landed, for the player: the comp (each section's accepted take, crossfaded as
:func:`engine.comp.read_comp` assembles it) plus every loop clip at its bar, mixed block by block at play time.

:class:`SongSource` reads the same interface as :class:`engine.audio.source.TakeSource` (``length``, ``stems``,
``gains``, ``levels``, ``reset``, ``read``, ``close``), so the player's feeder thread plays it like a take; the audio
callback still only copies. Nothing is written to disk: each piece is read from its take's stem file (its
grid-locked copy while locked) and each loop from its own ``mix.wav`` at its offset, so moving a loop or choosing
another take costs opening a few files, not a song-length copy. Build it off the GUI thread (it opens files)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.audio.source import mix_block
from engine.comp import XFADE_S, Piece, check_pieces, comp_pieces, song_take
from engine.errors import SongBridgeError
from engine.song.model import SAMPLE_RATE, Song

if TYPE_CHECKING:
    from engine.song.project import Project


def loop_stem(loop: Any) -> str:
    """The player's name for a loop clip's stem (mute/solo/gain address it by this name)."""
    return f"loop-{loop.id}".lower()[:32]


@dataclass
class _Part:
    """One piece of one stem: frames [lo, hi) of the song read from ``file``; fades in over [a - h, a + h) when
    ``fade_in``, out over [b - h, b + h) when ``fade_out`` (linear, as ``read_comp``)."""

    file: Any
    a: int
    b: int
    lo: int
    hi: int
    fade_in: bool
    fade_out: bool


def _open(path: Path) -> Any:
    import soundfile as sf

    from engine.audio.io import check_plain_file

    try:
        f = sf.SoundFile(str(check_plain_file(path)))
    except (RuntimeError, sf.LibsndfileError) as exc:
        raise SongBridgeError(f"{path}: cannot open for playback: {exc}") from None
    if f.samplerate != SAMPLE_RATE:
        f.close()
        raise SongBridgeError(f"{path}: {f.samplerate} Hz; takes are {SAMPLE_RATE} Hz")
    return f


def _stereo(data: np.ndarray) -> np.ndarray:
    return np.repeat(data[:, :1], 2, axis=1) if data.shape[1] == 1 else data[:, :2]


class SongSource:
    """The comp's stems and the loop clips, mixed at play time (see the module's note)."""

    def __init__(self, project: Project, song: Song | None = None, chains: Mapping[str, Any] | None = None,
                 master: Any = None, xfade_s: float = XFADE_S):
        song = project.song if song is None else song
        self.pieces: tuple[Piece, ...] = comp_pieces(song) if song_take(song) is not None else ()
        self.h = max(1, int(round(xfade_s * SAMPLE_RATE / 2)))
        self._files: list[Any] = []
        self.parts: dict[str, list[_Part]] = {}
        self.clips: dict[str, tuple[Any, int]] = {}  # loop stem -> (its mix.wav, its first frame in the song)
        try:
            self._build(project, song)
        except BaseException:
            self.close()
            raise
        if not self.parts and not self.clips:
            raise SongBridgeError("nothing to play yet: generate the song or make a loop first")
        ends = [p.hi for parts in self.parts.values() for p in parts[-1:]]
        ends += [off + f.frames for f, off in self.clips.values()]
        self.length = max(ends)
        self.chains = {k: v for k, v in (chains or {}).items() if k in self.parts}
        self.master = master
        self.gains = {name: 1.0 for name in self.stems}
        self.levels = {name: 0.0 for name in self.stems}

    def _build(self, project: Project, song: Song) -> None:
        opened: dict[Path, Any] = {}

        def file(path: Path) -> Any:
            if path not in opened:
                opened[path] = _open(path)
                self._files.append(opened[path])
            return opened[path]

        if self.pieces:
            stems = check_pieces(song, self.pieces)
            total = int(round(self.pieces[-1].end_s * SAMPLE_RATE))
            last = len(self.pieces) - 1
            for stem in stems:
                parts = []
                for i, p in enumerate(self.pieces):
                    if stem not in song.take(p.take).stems:  # this piece's take has no such stem: silence in it
                        continue
                    a, b = int(round(p.start_s * SAMPLE_RATE)), int(round(p.end_s * SAMPLE_RATE))
                    lo = max(0, a - self.h) if i > 0 else 0
                    hi = min(total, b + self.h) if i < last else total
                    f = file(project.audio_dir(p.take) / "stems" / f"{stem}.wav")
                    parts.append(_Part(f, a, b, lo, hi, i > 0, i < last))
                self.parts[stem] = parts
        for lp in song.loops:
            path = project.audio_dir(lp.id) / "mix.wav"
            if not path.is_file():
                continue  # a loop still rendering, or one whose audio is gone: the rest plays
            offset = int(round(song.tempo.bars_to_seconds(lp.bar) * SAMPLE_RATE))
            self.clips[loop_stem(lp)] = (file(path), offset)

    @property
    def stems(self) -> list[str]:
        return [*self.parts, *self.clips]

    def reset(self) -> None:
        """Clear effect tails (after a seek)."""
        for board in (*self.chains.values(), self.master):
            if board is not None:
                board.reset()

    def read_stem(self, stem: str, pos: int, n: int) -> np.ndarray:
        """[n, 2] float32 of one stem (a comp stem or a loop clip) from song frame ``pos``, before gains and
        chains; silence outside it."""
        out = np.zeros((n, 2), dtype=np.float32)
        if stem in self.clips:
            f, off = self.clips[stem]
            s, e = max(pos, off), min(pos + n, off + f.frames)
            if e > s:
                f.seek(s - off)
                out[s - pos:e - pos] = _stereo(f.read(e - s, dtype="float32", always_2d=True, fill_value=0.0))
            return out
        h = self.h
        for part in self.parts[stem]:
            s, e = max(pos, part.lo), min(pos + n, part.hi)
            if e <= s or s >= part.file.frames:
                continue  # not here, or past the end of its take: silence
            part.file.seek(s)
            data = _stereo(part.file.read(e - s, dtype="float32", always_2d=True, fill_value=0.0))
            if part.fade_in and s < part.a + h or part.fade_out and e > part.b - h:
                k = np.arange(s, e, dtype=np.float64)
                w = np.ones(e - s, dtype=np.float64)
                if part.fade_in:
                    w = np.minimum(w, np.clip((k - (part.a - h) + 0.5) / (2 * h), 0, 1))
                if part.fade_out:
                    w = np.minimum(w, np.clip(1.0 - (k - (part.b - h) + 0.5) / (2 * h), 0, 1))
                data = data * w.astype(np.float32)[:, None]
            out[s - pos:e - pos] += data
        return out

    def read(self, pos: int, n: int) -> np.ndarray:
        """[n, 2] float32 of the mix from song frame ``pos`` (gains, the comp stems' chains, the master chain)."""
        return mix_block(self, pos, n)

    def describe(self, song: Song) -> str:
        """"the song: take-004, take-003 in Chorus 1; 2 loops" for the transport bar."""
        chosen = [p for p in self.pieces[1:] if p.take != self.pieces[0].take] if self.pieces else []
        text = "the song"
        if self.pieces:
            names = {p.take: [s.name for s in song.sections if p.start_s - 1e-6 <= s.start_s < p.end_s - 1e-6]
                     for p in chosen}
            text += f": {self.pieces[0].take}" + "".join(
                f", {t} in {', '.join(n)}" for t, n in names.items() if n)
        if self.clips:
            text += f"; {len(self.clips)} loop{'s' if len(self.clips) > 1 else ''}"
        return text

    def close(self) -> None:
        for f in self._files:
            f.close()
        self._files = []
