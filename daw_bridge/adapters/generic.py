"""The generic adapter: Broadcast WAV files stamped with their position (bext TimeReference), named
``<song>_<section>_<stem>_bar<N>_<bpm>bpm.wav``, written to a folder the user picks, and beside them the guide's
MIDI of the same span (``<song>_<section>_guide_bar<N>_<bpm>bpm.mid``: a track per part, the tempo map, section
markers; it starts at the section's bar). Landing a newer take of a section replaces the previous files of that
section. Any DAW can import them at their original position."""

from __future__ import annotations

import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from daw_bridge.adapters.base import Capabilities, LandResult, MidiParts
from engine.errors import SongBridgeError
from engine.safe_fs import make_dirs, open_write, remove


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "song"


@dataclass(frozen=True)
class Landed:
    files: tuple[Path, ...]
    replaced: int
    detail: str


def file_name(song: str, section: str, stem: str, bar: float, bpm: float) -> str:
    bar_label = f"{bar:g}".replace(".", "_")
    return f"{slug(song)}_{slug(section)}_{slug(stem)}_bar{bar_label}_{bpm:g}bpm.wav"


def land_files(rendered: dict[str, str], folder: Path, song: str, section: str, bar: float, bpm: float,
               root: Path | None = None) -> Landed:
    """Move rendered BWF files (label -> path) into ``folder`` under the naming convention, replacing the files
    this section had there before; with ``root`` (the project, when ``folder`` is inside it) never through a folder
    link planted in it."""
    make_dirs(folder, root)
    prefix = f"{slug(song)}_{slug(section)}_"
    # only plain files of ours are replaced: a link planted under one of our names is not followed nor removed
    old = [p for p in folder.glob(prefix + "*.wav") if p.is_file() and not p.is_symlink()]
    targets = {label: folder / file_name(song, section, label, bar, bpm) for label in rendered}
    for target in targets.values():  # every name checked before any file is written
        if target.is_symlink():
            raise SongBridgeError(f"{target}: is a symbolic link; SongBridge does not write through links")
    staged: list[tuple[Path, Path]] = []
    for label, path in rendered.items():
        target = targets[label]
        tmp = target.with_name("." + target.name + ".partial")
        remove(tmp)
        try:
            with open(path, "rb") as src, open_write(tmp, root, exclusive=True) as dst:
                shutil.copyfileobj(src, dst)
        except BaseException:
            for t, _ in [*staged, (tmp, target)]:  # a refused landing leaves nothing half-made behind
                remove(t)
            raise
        staged.append((tmp, target))
    new_names = {t.name for _, t in staged}
    for p in old:
        if p.name not in new_names:
            p.unlink()
    for tmp, target in staged:
        tmp.replace(target)
    return Landed(tuple(t for _, t in staged), len(old), f"{len(staged)} files in {folder}")


def midi_name(song: str, section: str, bar: float, bpm: float) -> str:
    return file_name(song, section, "guide", bar, bpm)[: -len(".wav")] + ".mid"


def land_midi(mid: Any, folder: Path, song: str, section: str, bar: float, bpm: float,
              root: Path | None = None) -> Path:
    """Write a ``mido.MidiFile`` beside the section's stems, replacing the MIDI this section had there before."""
    from engine.song.take_midi import save_midi

    make_dirs(folder, root)
    target = folder / midi_name(song, section, bar, bpm)
    if target.is_symlink():
        raise SongBridgeError(f"{target}: is a symbolic link; SongBridge does not write through links")
    save_midi(mid, target, root)
    for p in folder.glob(f"{slug(song)}_{slug(section)}_*.mid"):
        if p.name != target.name and p.is_file() and not p.is_symlink():
            p.unlink()
    return target


def clear_midi(folder: Path, song: str, section: str) -> int:
    """Remove the MIDI a section had in ``folder`` (its new stems came from a take without MIDI, which the old
    notes would no longer match); returns how many files went."""
    gone = 0
    for p in folder.glob(f"{slug(song)}_{slug(section)}_*.mid"):
        if p.is_file() and not p.is_symlink():
            p.unlink()
            gone += 1
    return gone


class FilesAdapter:
    """Stamped files in a folder (``land_files``) and the guide's MIDI beside them: the generic adapter, and the
    DAWs that import such files themselves (``name``: the link's adapter, for the report)."""

    capabilities = Capabilities(live=False, closed=True, tempo=False, midi=True)

    def __init__(self, folder: Path, song_title: str, name: str = "generic", root: Path | None = None) -> None:
        self.name, self.folder, self.song_title, self.root = name, Path(folder), song_title, root

    def land(self, stems: Mapping[str, Path], midi: MidiParts, *, start_s: float, end_s: float, bar: float,
             bpm: float, section: str, take: str, track: str | None) -> LandResult:
        result = land_files({k: str(v) for k, v in stems.items()}, self.folder, self.song_title, section, bar, bpm,
                            self.root)
        if midi.error:  # the stems are in place; the MIDI is an extra that says why it is missing
            return LandResult(self.name, f"{result.detail}; no MIDI: {midi.error}", result.files)
        if midi.midi is None:
            gone = clear_midi(self.folder, self.song_title, section)
            return LandResult(self.name, result.detail + (f"; the section's old MIDI was removed ({gone})" if gone
                                                          else ""), result.files)
        try:
            path = land_midi(midi.midi, self.folder, self.song_title, section, bar, bpm, self.root)
        except SongBridgeError as exc:
            return LandResult(self.name, f"{result.detail}; no MIDI: {exc}", result.files)
        return LandResult(self.name, f"{result.detail}, and the guide's MIDI ({path.name})", (*result.files, path))
