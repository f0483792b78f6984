"""A project folder ``NAME.songbridge/``: ``song.json`` and the audio it refers to."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from engine.errors import DocumentError

from .document import SONG_FILE, load_song, save_song
from .model import Song

SUFFIX = ".songbridge"


def project_path(path: str | os.PathLike[str]) -> Path:
    """``x`` -> ``x.songbridge``; a path already ending in ``.songbridge`` or holding song.json is kept."""
    p = Path(path).expanduser()
    if p.name == SONG_FILE:
        return p.parent.resolve()
    if p.suffix != SUFFIX and not (p / SONG_FILE).exists():
        p = p.with_name(p.name + SUFFIX)
    return p.resolve()


@dataclass
class Project:
    folder: Path
    song: Song

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> Project:
        folder = project_path(path)
        if not (folder / SONG_FILE).exists():
            raise DocumentError(f"{folder}: not a SongBridge project (no {SONG_FILE})")
        return cls(folder, load_song(folder / SONG_FILE))

    @classmethod
    def create(cls, path: str | os.PathLike[str], song: Song) -> Project:
        """Write a new project's first ``song.json`` (a project nobody has open yet). From then on only the session
        that opens it writes it (``engine.session.Session``: one owner, changes saved on its saver thread)."""
        project = cls(project_path(path), song)
        project.folder.mkdir(parents=True, exist_ok=True)
        save_song(project.song, project.folder / SONG_FILE)
        return project

    @property
    def name(self) -> str:
        return self.folder.name.removesuffix(SUFFIX)

    def take_dir(self, take_id: str) -> Path:
        return self.folder / "takes" / take_id

    def audio_dir(self, take_id: str) -> Path:
        """Where a take's ``mix.wav`` and ``stems/`` are heard and rendered from: its grid-locked copy
        (``takes/<id>/locked/``) while the song has it locked, else the take folder."""
        locked = self.take_dir(take_id) / "locked"
        if take_id in self.song.locked and (locked / "mix.wav").is_file():
            return locked
        return self.take_dir(take_id)

    def render_dir(self, take_id: str) -> Path:
        return self.folder / "renders" / take_id

    @property
    def cache_dir(self) -> Path:
        return self.folder / "cache"

    def inside(self, path: str | os.PathLike[str]) -> Path:
        """Resolve ``path`` (relative to the project or absolute) and refuse anything outside the project."""
        p = Path(path)
        full = (p if p.is_absolute() else self.folder / p).resolve()
        if full != self.folder and self.folder not in full.parents:
            raise DocumentError(f"{path}: outside the project folder {self.folder}")
        return full
