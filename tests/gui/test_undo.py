"""One undo history: the app's Undo shows and runs the session's, whatever the order edits came in and however many."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

from engine.session import Session
from engine.session.history import MAX_ENTRIES
from gui.document import DocumentModel
from tests.engine.session.test_session import make_project


def titled(song, title: str):
    return song.replace(info=replace(song.info, title=title))


def test_undo_label_is_what_undo_does_when_a_daw_edit_lands_after_an_app_edit(qtbot, tmp_path: Path) -> None:
    project = make_project(tmp_path, take=False)
    session = Session.open(project.folder, None, "test")
    doc = DocumentModel(session)
    try:
        doc.edit(titled(doc.song, "From the app"), "Set title")
        # the DAW's edit arrives on the bridge's thread; the app has not processed its event yet
        t = threading.Thread(target=lambda: session.edit(titled(session.song, "From the DAW"),
                                                         "Set title (from DAW)", "daw"))
        t.start()
        t.join()
        assert doc.undo.undoText() == "Set title (from DAW)"  # read from the session: right even before delivery
        qtbot.waitUntil(lambda: doc.undo.count() == 2)
        action = doc.undo.createUndoAction(None)
        assert action.text() == "&Undo Set title (from DAW)"
        action.trigger()
        assert doc.song.info.title == "From the app"
        assert doc.undo.undoText() == "Set title" and doc.undo.redoText() == "Set title (from DAW)"
        assert action.text() == "&Undo Set title"
    finally:
        doc.close()
        session.close()


def test_past_the_sessions_limit_the_app_undoes_exactly_what_the_session_keeps(qtbot, tmp_path: Path) -> None:
    project = make_project(tmp_path, take=False)
    session = Session.open(project.folder, None, "test")
    doc = DocumentModel(session)
    try:
        for n in range(MAX_ENTRIES + 20):
            doc.edit(titled(doc.song, f"title {n}"), f"title {n}")
        assert doc.undo.count() == MAX_ENTRIES
        undone = 0
        while doc.undo.canUndo():
            label = doc.undo.undoText()
            doc.undo.undo()
            assert doc.undo.redoText() == label
            undone += 1
        assert undone == MAX_ENTRIES
        assert doc.song.info.title == "title 19"  # the oldest 20 edits were forgotten by the session, and by the app
        assert doc.undo.undoText() == "" and not doc.undo.canUndo()
    finally:
        doc.close()
        session.close()


def test_save_marks_the_history_clean_and_an_edit_or_an_undo_past_it_does_not(qtbot, tmp_path: Path) -> None:
    project = make_project(tmp_path, take=False)
    session = Session.open(project.folder, None, "test")
    doc = DocumentModel(session)
    seen: list[bool] = []
    doc.undo.cleanChanged.connect(seen.append)
    try:
        doc.edit(titled(doc.song, "Saved"), "Set title")
        assert not doc.undo.isClean()
        doc.save()
        assert doc.undo.isClean()
        doc.undo.undo()
        assert not doc.undo.isClean()
        doc.undo.redo()
        assert doc.undo.isClean()
        assert seen == [False, True, False, True]
    finally:
        doc.close()
        session.close()
