"""Save As copies the project on a worker thread: the GUI keeps running while it copies, the copy is whole and
opens in its own window, and a copy that cannot be made says why and leaves nothing behind."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from engine.song import load_song
from tests.engine.session.test_session import make_project


def test_save_as_copies_off_the_gui_thread_and_opens_the_copy(open_window, qtbot, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    from PySide6.QtWidgets import QFileDialog

    project = make_project(tmp_path)
    win = open_window(project.folder)
    target = tmp_path / "copy.songbridge"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    opened: list[str] = []
    monkeypatch.setattr(win, "open_project", opened.append)
    copied_on: list[str] = []
    real_copytree = shutil.copytree

    def watched_copytree(*args, **kwargs):  # records the thread, then copies
        copied_on.append(threading.current_thread().name)
        return real_copytree(*args, **kwargs)

    monkeypatch.setattr(shutil, "copytree", watched_copytree)
    win.save_as()
    qtbot.waitUntil(lambda: opened == [str(target)], timeout=30_000)
    assert copied_on and copied_on[0] != threading.main_thread().name
    assert load_song(target).takes == load_song(project.folder).takes
    take = load_song(target).takes[0]
    assert (target / "takes" / take.id / "mix.wav").stat().st_size == \
        (project.folder / "takes" / take.id / "mix.wav").stat().st_size
    assert not (target / ".songbridge.lock").exists()
    assert not list(tmp_path.glob(".*.partial"))


def test_save_as_onto_an_unwritable_place_says_so_and_leaves_nothing(open_window, qtbot, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from PySide6.QtWidgets import QFileDialog, QMessageBox

    project = make_project(tmp_path)
    win = open_window(project.folder)
    blocked = tmp_path / "blocked"
    blocked.write_text("a file, not a folder")  # the copy's parent cannot be made
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(blocked / "copy.songbridge"), ""))
    warnings: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda _w, _t, text: warnings.append(text))
    opened: list[str] = []
    monkeypatch.setattr(win, "open_project", opened.append)
    win.save_as()
    qtbot.waitUntil(lambda: bool(warnings), timeout=30_000)
    assert "could not copy the project" in warnings[0] and "copy.songbridge" in warnings[0]
    assert opened == [] and blocked.read_text() == "a file, not a folder"
