"""The lyric sheet beside the timeline, offscreen: typing in it and dragging on the timeline both reach song.json,
Ctrl+Z undoes them in turn and both views follow; a row clicked selects its line and back; the line under the play
head and the lint's lines are marked; LRC in and out; File > New makes the sections the lyrics' headers name; the
guide backend's refused controls are disabled; the F1 sheet lists the new actions."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QTextCursor

from engine.song import LyricLine, Project, Song, TempoMap, load_song
from engine.song.sections import parse_sections


def make_project(tmp: Path) -> Path:
    tempo = TempoMap.constant(120)
    song = Song(tempo=tempo, sections=parse_sections("verse:4,chorus:4", tempo), lyrics=(
        LyricLine("a", "first line here", 1.0, section_id="verse"), LyricLine("b", "second line", 4.0),
        LyricLine("c", "hook line now", 9.0, section_id="chorus")))
    return Project.create(tmp / "sheet", song).folder


@pytest.fixture
def window(open_window, qtbot, tmp_path: Path):
    win = open_window(make_project(tmp_path), (1600, 900))
    qtbot.waitUntil(lambda: getattr(win.timeline, "_fitted", False))
    qtbot.wait(30)
    return win


def on_disk(win) -> Song:
    assert win.doc.session.flush()
    return load_song(win.doc.folder)


def texts(song: Song) -> dict[str, str]:
    return {ln.id: ln.text for ln in song.lyrics}


def test_typing_in_the_sheet_and_on_the_timeline_reach_song_json_and_ctrl_z_restores_both(qtbot, window) -> None:
    sheet, tl = window.sheet, window.timeline
    assert sheet.editor.toPlainText() == "[Verse]\nfirst line here\nsecond line\n\n[Chorus]\nhook line now"
    sheet.editor.setFocus()
    sheet.editor.go_to_row(2)
    sheet.editor.moveCursor(QTextCursor.EndOfBlock)
    qtbot.keyClicks(sheet.editor, " again")
    qtbot.keyClick(sheet.editor, Qt.Key_Return)
    qtbot.keyClicks(sheet.editor, "a brand new line")
    qtbot.waitUntil(lambda: not sheet.pending(), timeout=3000)  # a pause in typing makes it an edit
    song = on_disk(window)
    assert texts(song)["b"] == "second line again" and song.lyrics[1].start_s == 4.0  # same line, same time
    new = next(ln for ln in song.lyrics if ln.text == "a brand new line")
    assert new.start_s is None and new.section_id == "verse"  # untimed until placed
    assert window.doc.undo.undoText() == "Edit lyrics"
    # now the timeline: drag the hook line by a bar
    tl.setFocus()
    c = next(ln for ln in window.doc.song.lyrics if ln.id == "c")
    p = tl.line_rect(c).center()
    to = p + QPointF(tl.px_per_s * 2.0, 0)
    qtbot.mousePress(tl, Qt.LeftButton, pos=p.toPoint())
    qtbot.mouseMove(tl, pos=to.toPoint())
    qtbot.mouseRelease(tl, Qt.LeftButton, pos=to.toPoint())
    assert on_disk(window).lyrics[-1].start_s == pytest.approx(11.0)
    qtbot.keyClick(tl, Qt.Key_Z, Qt.ControlModifier)  # the timeline's drag
    assert on_disk(window).lyrics[-1].start_s == 9.0
    assert "second line again" in sheet.editor.toPlainText()
    qtbot.keyClick(tl, Qt.Key_Z, Qt.ControlModifier)  # the typing
    song = on_disk(window)
    assert texts(song) == {"a": "first line here", "b": "second line", "c": "hook line now"}
    assert sheet.editor.toPlainText() == "[Verse]\nfirst line here\nsecond line\n\n[Chorus]\nhook line now"


def test_ctrl_z_in_the_sheet_applies_what_was_typed_then_undoes_it(qtbot, window) -> None:
    sheet = window.sheet
    sheet.editor.setFocus()
    sheet.editor.go_to_row(1)
    sheet.editor.moveCursor(QTextCursor.EndOfBlock)
    qtbot.keyClicks(sheet.editor, "!")
    assert sheet.pending()
    qtbot.keyClick(sheet.editor, Qt.Key_Z, Qt.ControlModifier)
    assert not sheet.pending() and texts(window.doc.song)["a"] == "first line here"
    assert window.doc.undo.count() == 1 and window.doc.undo.index() == 0  # typed, then undone
    assert sheet.editor.toPlainText().startswith("[Verse]\nfirst line here\n")


def test_a_row_clicked_selects_its_line_and_back_and_the_play_head_line_is_lit(qtbot, window) -> None:
    sheet, tl = window.sheet, window.timeline
    sheet.editor.setFocus()
    sheet.editor.go_to_row(5)  # "hook line now"
    assert tl.selected == {"c"} and window.generation.btn_lines.isEnabled()
    tl.setFocus()
    line = next(ln for ln in window.doc.song.lyrics if ln.id == "b")
    qtbot.mouseClick(tl, Qt.LeftButton, pos=tl.line_rect(line).center().toPoint())
    assert sheet.selected == {"b"} and sheet.editor.row_at_cursor() == 2
    tl.locate(9.5)
    assert sheet.playing_row(9.5) == 5 and sheet._playing == 5
    window._set_lint({"a": "crowded: 30 tokens need 30 frames"})
    assert sheet.editor.marks == {1: "crowded: 30 tokens need 30 frames"}
    sheet.repaint()


def test_lrc_import_and_export_keep_title_artist_and_word_stamps(window, tmp_path: Path) -> None:
    lrc = tmp_path / "in.lrc"
    lrc.write_text("[ti:Neon Rain]\n[ar:The Band]\n[verse]\n[00:01.00]<00:01.00>one <00:01.50>two\n"
                   "[chorus]\n[00:09.00]hook\nnot timed yet\n")
    assert window.sheet.import_lrc(str(lrc))
    song = window.doc.song
    assert song.info.title == "Neon Rain" and song.info.artist == "The Band"
    assert [w.start_s for w in song.lyrics[0].words] == [1.0, 1.5] and song.lyrics[1].section_id == "chorus"
    assert song.lyrics[2].start_s is None and "not placed yet" in window.sheet.status.text()
    out = window.sheet.export_lrc(str(tmp_path / "out.lrc"))
    text = out.read_text()
    assert text.startswith("[ti:Neon Rain]\n[ar:The Band]\n") and "<00:01.50>two" in text and "[Chorus]" in text
    window.doc.undo.undo()
    assert window.doc.song.info.title != "Neon Rain"


def test_file_new_makes_sections_from_the_headers_and_says_so(window, tmp_path: Path) -> None:
    lyrics = tmp_path / "song.txt"
    lyrics.write_text("[verse]\nticket in my pocket and a long way home\ncorner store is humming on its own\n\n"
                      "[chorus]\nwe were neon, we were gold\n\n[bridge]\nhold on, hold on\n")
    notes: list[str] = []
    folder = window.new_project(str(tmp_path / "fresh"), str(lyrics), notes)
    song = Project.open(folder).song
    assert [s.kind for s in song.sections] == ["verse", "chorus", "bridge"]
    assert all(ln.section_id for ln in song.lyrics) and all(ln.timed for ln in song.lyrics)
    assert notes and any("headers" in n for n in notes)


def test_refused_controls_are_disabled_and_the_f1_sheet_lists_the_new_actions(window) -> None:
    panel = window.generation
    panel.backend.setCurrentText("guide")
    assert not panel.steps.isEnabled() and not panel.cfg.isEnabled() and "takes none" in panel.steps.toolTip()
    panel.backend.setCurrentText("diffrhythm")
    assert panel.steps.isEnabled() and panel.cfg.isEnabled()
    sheet = window.shortcut_sheet()
    for text in ("<b>Sections</b>", "Add section", "Rename section", "F2", "Change section kind", "Split section at "
                 "play head", "Merge section with the next", "Delete section", "Lines follow section edits",
                 "<b>Lyrics</b>", "Import LRC", "Export LRC", "Lyric sheet", "drag its edge", "word view"):
        assert text in sheet, text


def test_the_sections_menu_acts_on_the_section_at_the_play_head(window) -> None:
    from PySide6.QtGui import QAction

    tl = window.timeline
    split = window.findChild(QAction, "section.split")
    tl.locate(4.1)
    tl.select_section(None)
    split.trigger()
    assert [s.name for s in window.doc.song.sections] == ["Verse 1", "Verse 2", "Chorus"]
    follow = window.findChild(QAction, "section.follow")
    follow.setChecked(False)
    assert not tl.lines_follow
