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
    project = Project.open(project_path) if project_path else Project.create("untitled", Song())
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
