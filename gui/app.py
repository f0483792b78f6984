"""``songbridge gui``: the application object, the dark theme, the engine worker and the player."""

from __future__ import annotations

import sys
from typing import Any


def run(project_path: str | None, engine_mode: str = "process", audio: str | None = "auto",
        screenshot: str | None = None) -> int:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from engine.service import EngineService
    from engine.song.model import Song
    from engine.song.project import Project

    from . import theme
    from .engine_client import EngineClient
    from .main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    theme.apply(app)
    first_take = False
    if project_path and project_path.endswith(".toml"):
        project, first_take = project_from_settings(project_path)
    elif project_path:
        project = Project.open(project_path)
    else:
        project = Project.create(documents() / "untitled", Song())
    player: Any = None
    if audio != "off":
        try:
            from engine.audio.player import Player

            player = Player(device=None if audio in (None, "auto") else audio).open()
        except Exception:  # noqa: BLE001 - no audio device: the app still edits and generates
            player = None
    engine = EngineClient(EngineService(engine_mode).start())
    win = MainWindow(project, engine, player)
    win.show()
    if first_take:  # an example opened from its settings: render a first guide take in the worker
        win.generate({"backend": "guide", "style": project.song.style.prompt, "seed": 42, "takes": 1, "params": {}},
                     None)
    if screenshot:
        def shoot() -> None:
            win.grab().save(screenshot)
            app.quit()

        QTimer.singleShot(2500, shoot)
    code = app.exec()
    engine.close()
    if player is not None:
        player.close()
    return code


def documents() -> Any:
    from pathlib import Path  # noqa: PLC0415

    from platformdirs import user_documents_dir  # noqa: PLC0415

    return Path(user_documents_dir()) / "SongBridge"


def project_from_settings(path: str) -> tuple[Any, bool]:
    """The project for a song settings file (created in the documents folder the first time)."""
    from pathlib import Path  # noqa: PLC0415

    from engine.generation import SongChoices, prepare_song  # noqa: PLC0415
    from engine.lyrics import parse_file  # noqa: PLC0415
    from engine.song.model import Song  # noqa: PLC0415
    from engine.song.project import Project  # noqa: PLC0415
    from engine.song.settings_file import read_settings, settings_lyrics  # noqa: PLC0415

    settings = read_settings(path)
    folder = documents() / f"{Path(path).stem}.songbridge"
    if (folder / "song.json").exists():
        project = Project.open(folder)
        return project, not project.song.takes
    lyrics = settings_lyrics(path, settings)
    song = prepare_song(Song(), parse_file(lyrics) if lyrics else None, SongChoices.from_settings(settings),
                        first_time=True)
    return Project.create(folder, song), True
