from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


import pytest


@pytest.fixture(autouse=True)
def own_settings(tmp_path_factory: pytest.TempPathFactory):
    """The app's remembered window layout and recent projects go to a folder of the test run, never the user's."""
    from PySide6.QtCore import QSettings

    folder = tmp_path_factory.mktemp("settings")
    for fmt in (QSettings.NativeFormat, QSettings.IniFormat):
        QSettings.setPath(fmt, QSettings.UserScope, str(folder))
    yield folder


@pytest.fixture
def open_window(qtbot):
    """``open_window(project_folder, size)``: the main window over a session on a thread engine, closed after."""
    from contextlib import ExitStack

    from engine.service import EngineService
    from engine.session import Session
    from gui.engine_client import EngineClient
    from gui.main_window import MainWindow

    stack = ExitStack()

    def make(folder, size=(1400, 800)):
        engine = stack.enter_context(EngineService("thread"))
        session = Session.open(folder, engine, "test")
        stack.callback(session.close)
        client = EngineClient(session)
        stack.callback(client.close)
        win = MainWindow(session, client)
        qtbot.addWidget(win)
        win.resize(*size)
        win.show()
        return win

    yield make
    stack.close()
