"""``songbridge gui``: the application object, the dark theme, the engine worker and the player."""

from __future__ import annotations

import sys
from typing import Any


def run(session: Any, bridge: Any = None, bridge_off: str = "", player: Any = None,
        screenshot: str | None = None, first_take: bool = False, models: str | None = None) -> int:
    """The app over an open session (and the bridge it hosts). SIGTERM and SIGINT close it cleanly. ``models``:
    the models folder for this run (``--models``), over the one remembered in Preferences."""
    import signal

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from . import theme
    from .engine_client import EngineClient
    from .main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    theme.apply(app)
    engine = EngineClient(session)
    win = MainWindow(session, engine, player, bridge, bridge_off)
    if models:
        from pathlib import Path

        from .preferences import set_models_dir

        set_models_dir(win, Path(models).expanduser().resolve(), "--models")
    win.show()
    for note in session.notes:
        win.statusBar().showMessage(note, 8000)
    if first_take:  # an example opened from its settings: render a first guide take in the worker
        win.generate({"backend": "guide", "style": session.song.style.prompt, "seed": 42, "takes": 1, "params": {}},
                     None)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: app.quit())
    wake = QTimer()  # lets Python run its signal handlers while Qt's loop waits
    wake.timeout.connect(lambda: None)
    wake.start(200)
    if screenshot:
        def shoot() -> None:
            win.grab().save(screenshot)
            app.quit()

        QTimer.singleShot(2500, shoot)
    code = app.exec()
    win.doc.save()
    engine.close()
    return code


def documents() -> Any:
    from pathlib import Path

    from platformdirs import user_documents_dir

    return Path(user_documents_dir()) / "SongBridge"


def project_from_settings(path: str) -> tuple[Any, bool]:
    """The project for a song settings file (created in the documents folder the first time)."""
    from pathlib import Path

    from engine.generation import SongChoices, prepare_song
    from engine.lyrics import parse_file
    from engine.song.model import Song
    from engine.song.project import Project
    from engine.song.settings_file import read_settings, settings_lyrics

    settings = read_settings(path)
    folder = documents() / f"{Path(path).stem}.songbridge"
    if (folder / "song.json").exists():
        project = Project.open(folder)
        return project, not project.song.takes
    lyrics = settings_lyrics(path, settings)
    song = prepare_song(Song(), parse_file(lyrics) if lyrics else None, SongChoices.from_settings(settings),
                        first_time=True)
    return Project.create(folder, song), True
