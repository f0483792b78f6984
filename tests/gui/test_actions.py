"""The app's actions declared once (``gui.actions``): every row of the table is a QAction in its menu with its id,
title and keys; the F1 sheet lists exactly those; an action is enabled when its predicate holds and follows the
document; no key belongs to two actions, and Qt never finds a key ambiguous."""

from __future__ import annotations

import dataclasses
import html
import re
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QMainWindow, QMenu

from engine.song.project import Project
from gui.actions import ACTIONS, MENUS, ActionSpec, WindowActions, check, key_sequences
from tests.engine.session.test_session import make_project


@pytest.fixture
def window(open_window, qtbot, tmp_path: Path):
    """A project with lyrics and sections and no take yet."""
    win = open_window(make_project(tmp_path, take=False).folder)
    qtbot.waitUntil(lambda: getattr(win.timeline, "_fitted", False))
    return win


def a_take(tmp_path: Path):
    """A real take record (made by the guide backend in another project), to add to the window's song."""
    return Project.open(make_project(tmp_path / "other").folder).song.takes[0]


def test_every_row_is_an_action_in_its_menu_with_its_id_title_and_keys(window) -> None:
    titles = {name: title for name, title in MENUS}
    bar = [a.menu() for a in window.menuBar().actions() if a.menu() is not None]
    assert [m.title() for m in bar] == [title for _, title in MENUS]  # the menus, in order
    for spec in ACTIONS:
        menu = next(m for m in bar if m.title() == titles[spec.menu])
        if spec.submenu:
            sub = window.findChild(QMenu, spec.id)
            assert sub is not None and sub.menuAction() in menu.actions() and sub.title() == spec.title
            continue
        a = window.findChild(QAction, spec.id)
        assert a is not None, spec.id
        assert a in menu.actions(), spec.id
        assert a.text() == spec.title or (spec.detail is not None and a.text().startswith(spec.title)), a.text()
        assert a.shortcuts() == key_sequences(spec), spec.id
        assert a.isCheckable() == (spec.checked is not None), spec.id
        assert (a in window.transport.actions()) == spec.toolbar, spec.id
    # the keys as a producer knows them
    keys = {a.objectName(): [k.toString() for k in a.shortcuts()] for a in window.findChildren(QAction)}
    assert keys["section.rename"] == ["F2"] and keys["transport.play"] == ["Space"]
    assert keys["file.save"] == [QKeySequence(QKeySequence.StandardKey.Save).toString()] and keys["file.quit"]
    assert "Ctrl+Shift+Z" in keys["edit.redo"] and "Ctrl+Y" in keys["edit.redo"]
    assert [a.objectName() for a in window.transport.actions() if a.objectName()] == [
        "transport.start", "transport.play", "transport.stop", "transport.loop", "transport.ab", "transport.follow"]


def sheet_rows(sheet: str) -> list[tuple[str, str, str]]:
    """(menu, action, keys) as the F1 sheet shows them."""
    rows, menu = [], ""
    for m in re.finditer(r"<b>([^<]+)</b>|<td>&nbsp;&nbsp;([^<]*)</td><td>&nbsp;&nbsp;<tt>([^<]*)</tt>", sheet):
        if m.group(1):
            menu = m.group(1)
        else:
            rows.append((menu, html.unescape(m.group(2)), html.unescape(m.group(3))))
    return rows


def test_f1_shows_exactly_the_tables_actions_with_the_keys_they_have(qtbot, window) -> None:
    window.findChild(QAction, "help.shortcuts").trigger()
    dialog = window.shortcuts_dialog
    qtbot.waitUntil(dialog.isVisible)
    shown = sheet_rows(window.shortcut_sheet())
    expected = []
    for spec in ACTIONS:
        a = window.findChild(QAction, spec.id)
        keys = ", ".join(k.toString(QKeySequence.NativeText) for k in a.shortcuts()) if a is not None else ""
        expected.append((spec.menu, spec.text, keys))  # what the keys really are, not what the table hoped
    order = [name for name, _ in MENUS]
    assert shown == sorted(expected, key=lambda r: order.index(r[0]))
    text = dialog.text.toPlainText()
    for words in ("Save As…", "Ctrl+Shift+Z", "Split section at play head", "Ctrl+Shift+E", "A/B edit with its "
                  "parent", "Lyric sheet", "Ctrl+Shift+L", "Timeline", "click in the ruler"):
        assert words in text, words


def test_an_action_is_enabled_when_its_state_holds_and_follows_the_document(qtbot, window, tmp_path: Path) -> None:
    act = {a.objectName(): a for a in window.findChildren(QAction) if a.objectName()}
    no_take = ("file.render_newest", "file.render_song", "transport.ab", "edit.undo", "edit.redo", "edit.merge_lines",
               "transport.loop")
    assert [n for n in no_take if act[n].isEnabled()] == []
    assert act["file.render_newest"].toolTip().endswith("needs a take (generate one first)")
    assert act["file.save"].isEnabled() and act["section.rename"].isEnabled()
    # a take arrives (as a job's would: one edit through the session): the render actions wake, Undo names it
    window.doc.session.edit(window.doc.song.with_take(a_take(tmp_path)), "Add take-001", "test")
    qtbot.waitUntil(lambda: act["file.render_newest"].isEnabled(), timeout=3000)
    assert act["file.render_song"].isEnabled() and not act["transport.ab"].isEnabled()  # A/B needs two takes
    assert act["edit.undo"].isEnabled() and act["edit.undo"].text() == "&Undo Add take-001"
    assert "needs" not in act["file.render_newest"].toolTip()
    # the Takes menu acts on the take selected in the takes list: none yet, then take-001
    assert not act["takes.play"].isEnabled() and not act["takes.lock"].isEnabled()
    window.takes.choose("take-001")
    assert act["takes.play"].isEnabled() and act["takes.split"].isEnabled() and act["takes.lock"].isEnabled()
    act["takes.play"].trigger()
    assert window.statusBar().currentMessage() == "no audio device"  # it reached the window's play_take
    # the timeline's selection: two lines make Merge possible, one makes Split line possible
    tl = window.timeline
    ids = [ln.id for ln in window.doc.song.lyrics]
    tl.selected = set(ids[:2])
    tl.selectionChanged.emit()
    assert act["edit.merge_lines"].isEnabled() and not act["edit.split_line"].isEnabled()
    tl.selected = {ids[0]}
    tl.selectionChanged.emit()
    assert act["edit.split_line"].isEnabled() and not act["edit.merge_lines"].isEnabled()
    tl.selected = set()
    tl.selectionChanged.emit()
    assert not act["edit.split_line"].isEnabled() and not act["edit.merge_lines"].isEnabled()
    # Undo through its action (an undo keeps takes): nothing left to undo, Redo offered with its label
    act["edit.undo"].trigger()
    assert not act["edit.undo"].isEnabled() and act["edit.redo"].isEnabled()
    assert act["edit.redo"].text() == "&Redo Add take-001" and act["file.render_newest"].isEnabled()
    window.doc.session.edit(window.doc.song.replace(takes=()), "Delete take-001", "test")
    qtbot.waitUntil(lambda: not act["file.render_newest"].isEnabled(), timeout=3000)
    # a disabled action does nothing, even triggered
    act["file.render_newest"].trigger()
    assert window.engine.service.jobs() == []


def test_checkable_actions_show_and_switch_the_windows_state(qtbot, window) -> None:
    follow = window.findChild(QAction, "transport.follow")
    assert follow is window.transport.follow and follow.isChecked() and window.timeline.follow
    follow.trigger()
    assert not window.timeline.follow and not follow.isChecked()
    lines = window.findChild(QAction, "section.follow")
    window.timeline.set_lines_follow(False)  # switched from the section lane's menu: the action shows it
    assert not lines.isChecked()
    lines.trigger()
    assert window.timeline.lines_follow
    sheet = window.findChild(QAction, "lyrics.sheet")
    assert sheet.isChecked()
    sheet.trigger()
    assert window.docks["Lyrics"].isHidden() and not sheet.isChecked()
    window._edit_in_sheet(window.doc.song.lyrics[0].id)  # a double-click on a line shows the sheet again
    assert not window.docks["Lyrics"].isHidden() and sheet.isChecked()


def test_no_key_is_given_twice_and_qt_never_finds_one_ambiguous(qtbot, qtlog, window) -> None:
    check(ACTIONS, (name for name, _ in MENUS))
    owners: dict[str, set[str]] = {}
    for a in window.findChildren(QAction):  # every action of the window, the table's and any other
        for k in a.shortcuts():
            owners.setdefault(k.toString(), set()).add(a.objectName() or a.text())
    assert {k: o for k, o in owners.items() if len(o) > 1} == {}
    assert len([k for k in owners if k]) >= 25
    # keys pressed on the window reach one action each (the harmless ones: no dialog opens)
    window.activateWindow()
    QTest.keyClick(window, Qt.Key_F)  # Follow
    assert not window.timeline.follow
    window.doc.session.edit(dataclasses.replace(window.doc.song, info=dataclasses.replace(
        window.doc.song.info, title="Keys")), "Set title", "test")
    QTest.keyClick(window, Qt.Key_Z, Qt.ControlModifier)
    assert window.doc.song.info.title != "Keys"
    QTest.keyClick(window, Qt.Key_Z, Qt.ControlModifier | Qt.ShiftModifier)
    assert window.doc.song.info.title == "Keys"
    QTest.keyClick(window, Qt.Key_P)  # A/B with the parent: no audio device here, and the status bar says so
    assert "no audio device" in window.statusBar().currentMessage()
    for key, mod in ((Qt.Key_Y, Qt.ControlModifier), (Qt.Key_0, Qt.ControlModifier), (Qt.Key_Plus, Qt.NoModifier),
                     (Qt.Key_Minus, Qt.NoModifier), (Qt.Key_Home, Qt.NoModifier), (Qt.Key_Space, Qt.NoModifier),
                     (Qt.Key_Space, Qt.ControlModifier), (Qt.Key_B, Qt.NoModifier), (Qt.Key_F2, Qt.NoModifier)):
        if key == Qt.Key_F2:
            window.timeline.locate(99999.0)  # past every section: F2 says there is none, no dialog
        QTest.keyClick(window, key, mod)
    assert "no section here" in window.statusBar().currentMessage()
    assert [r.message for r in qtlog.records if "mbiguous" in r.message] == []


def test_a_broken_table_is_refused_and_builds_nothing(qtbot) -> None:
    win = QMainWindow()
    qtbot.addWidget(win)
    row = ActionSpec("x.one", "One", "File", lambda w: None, ("Ctrl+E",))
    cases = [
        ("already the key of 'x.one'", (row, dataclasses.replace(row, id="x.two", keys=("Ctrl+K", "Ctrl+E")))),
        ("id already used by row 0", (row, dataclasses.replace(row, keys=()))),
        ("menu 'Flie' is not one of", (row, dataclasses.replace(row, id="x.two", keys=(), menu="Flie"))),
        ("key 'Ctrl+Foo' is not a key sequence", (dataclasses.replace(row, keys=("Ctrl+Foo",)),)),
        # a platform's standard key counts as the keys it stands for
        ("already the key of 'x.std'", (row, dataclasses.replace(row, id="x.std", keys=(QKeySequence.Undo,)),
                                        dataclasses.replace(row, id="x.two", keys=("ctrl+z",)))),
    ]
    for message, specs in cases:
        with pytest.raises(ValueError, match=re.escape(message)) as err:
            WindowActions(win, specs)  # type: ignore[arg-type]
        assert "gui.actions table, row" in str(err.value)
        assert win.menuBar().actions() == [] and win.actions() == []
