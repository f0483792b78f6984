"""Hearing loop clips where they sit: playing a song take plays the song's loops at their bars with it (each loop
one more stem of the player, its audio preceded by silence up to its bar, written once per position into the
project's ``cache/audition/``), "Play from bar N" on a clip starts there, and "Land in DAW" lands the loop on its
own track at its bar through the bridge. Mixed into the main window before :class:`gui.audition.Audition`."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from engine.song.model import SAMPLE_RATE

AUDITION_DIR = "audition"
CHUNK = SAMPLE_RATE * 4


def loop_stem(loop: Any) -> str:
    """The player's name for a loop clip's stem (a file name: lower-case)."""
    return f"loop-{loop.id}".lower()[:32]


def _place(src: Path, dst: Path, offset: int) -> None:
    """``src`` written to ``dst`` after ``offset`` frames of silence (stereo, 24-bit)."""
    import soundfile as sf  # noqa: PLC0415

    tmp = dst.with_name(f".{dst.name}.partial")
    with sf.SoundFile(str(src)) as f_in, sf.SoundFile(str(tmp), "w", SAMPLE_RATE, 2, "PCM_24",
                                                      format="WAV") as out:
        silence = np.zeros((min(CHUNK, max(offset, 1)), 2), dtype=np.float32)
        left = offset
        while left > 0:
            n = min(left, len(silence))
            out.write(silence[:n])
            left -= n
        while True:
            block = f_in.read(CHUNK, dtype="float32", always_2d=True)
            if not len(block):
                break
            out.write(block if block.shape[1] == 2 else np.repeat(block[:, :1], 2, axis=1))
    os.replace(tmp, dst)


def _link(src: Path, dst: Path) -> None:
    dst.unlink(missing_ok=True)
    try:
        os.link(src, dst)
    except OSError:  # another file system, or links not allowed: a copy
        shutil.copyfile(src, dst)


def audition_folder(project: Any, take_id: str | None) -> tuple[Path, list[str]]:
    """A folder the player opens: the take's stems (linked, as heard: locked or not) and each loop clip placed at
    its bar; returns it and the stem names. A loop's placed file is made again only when it moved or changed."""
    song = project.song
    folder = project.cache_dir / AUDITION_DIR / (take_id or "loops-only")
    stems_dir = folder / "stems"
    stems_dir.mkdir(parents=True, exist_ok=True)
    names: list[str] = []
    if take_id is not None:
        take = song.take(take_id)
        src = project.audio_dir(take_id) / "stems"
        for stem in take.stems:
            _link(src / f"{stem}.wav", stems_dir / f"{stem}.wav")
            names.append(stem)
    wanted = set()
    placed_dir = project.cache_dir / AUDITION_DIR / "placed"  # one placed file per loop, linked into each folder
    placed_dir.mkdir(parents=True, exist_ok=True)
    for lp in song.loops:
        src = project.audio_dir(lp.id) / "mix.wav"
        if not src.is_file():
            continue
        offset = int(round(song.tempo.bars_to_seconds(lp.bar) * SAMPLE_RATE))
        stamp = f"{offset}-{src.stat().st_mtime_ns}"
        placed, mark = placed_dir / f"{loop_stem(lp)}.wav", placed_dir / f".{loop_stem(lp)}.placed"
        if not placed.is_file() or not mark.is_file() or mark.read_text() != stamp:
            _place(src, placed, offset)
            mark.write_text(stamp)
        _link(placed, stems_dir / placed.name)
        wanted.add(placed.name)
        names.append(loop_stem(lp))
    for p in placed_dir.glob("loop-*.wav"):
        if p.name not in wanted:
            p.unlink(missing_ok=True)
    for p in stems_dir.glob("loop-*.wav"):  # loops gone from the song
        if p.name not in wanted:
            p.unlink(missing_ok=True)
    return folder, names


class LoopAudition:
    """Mixed into the main window (``doc``, ``player``, ``timeline``, ``bridge``, ``statusBar``, ``chains_for``)."""

    doc: Any
    player: Any
    timeline: Any
    bridge: Any

    def play_take(self, take_id: str) -> None:
        song = self.doc.song
        if not song.loops or self.player is None or take_id not in {t.id for t in song.takes}:
            super().play_take(take_id)  # type: ignore[misc]
            return
        self._play_with_loops(take_id)

    def _play_with_loops(self, take_id: str | None) -> None:
        from engine.errors import SongBridgeError  # noqa: PLC0415

        try:
            folder, stems = audition_folder(self.doc.project, take_id)
        except (OSError, SongBridgeError, RuntimeError) as exc:
            self.statusBar().showMessage(f"cannot place the loops for playback: {exc}", 8000)  # type: ignore[attr-defined]
            if take_id is not None:
                super().play_take(take_id)  # type: ignore[misc]
            return
        chains: dict[str, Any] = {}
        master = None
        if take_id is not None:
            chains, master = self.chains_for(self.doc.song.take(take_id))  # type: ignore[attr-defined]
        self.player.load(folder, stems=stems, chains=chains, master=master)
        self._playing_take = take_id
        if take_id is not None:
            self.timeline.slots = {k: v for k, v in self.timeline.slots.items() if v == "B" and k != take_id}
            self.timeline.slots[take_id] = "A"
        self._play_from = self.timeline.playhead_s
        self.player.seek(self.timeline.playhead_s)
        self.player.play()

    def toggle_play(self) -> None:
        song = self.doc.song
        if self.player is not None and self.player.state == "stopped" and not song.takes and song.loops:
            self._play_with_loops(None)  # a project of loops only: the loops at their bars
            return
        super().toggle_play()  # type: ignore[misc]

    def play_loop(self, loop_id: str) -> None:
        """Play the song (its newest take, with every loop) from this loop's bar."""
        song = self.doc.song
        self.timeline.locate(song.tempo.bars_to_seconds(song.loop(loop_id).bar))
        if self.player is None:
            self.statusBar().showMessage("no audio device", 4000)  # type: ignore[attr-defined]
            return
        base = song.base_take()
        if base is not None:
            self.play_take(base.id)
        else:
            self._play_with_loops(None)

    def land_loop(self, loop_id: str) -> None:
        """Land the loop in the DAW: its own track (``SB loop <prompt>``), at its bar."""
        from daw_bridge import protocol as p  # noqa: PLC0415

        if self.bridge is None:
            self.statusBar().showMessage("the DAW bridge is off: nothing to land in", 8000)  # type: ignore[attr-defined]
            return
        self.doc.session.flush()  # the render reads song.json: the loop's bar must be on disk
        self.bridge.commands.put(p.Envelope(p.Land(loop_id, None), "/songbridge/stems/land", None, "gui"))
        bar = self.doc.song.loop(loop_id).bar
        self.statusBar().showMessage(f"landing {loop_id} at bar {bar:g} …", 8000)  # type: ignore[attr-defined]


def install_loops(win: Any) -> None:
    """The Loops lane's clip menu plays and lands through the window; the Loops panel follows the play head."""
    win.timeline.loop_actions = {"play": win.play_loop, "land": win.land_loop}
    win.timeline.playheadMoved.connect(win.loops.follow_playhead)
