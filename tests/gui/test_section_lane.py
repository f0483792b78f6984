"""Sections edited in the app, offscreen: dragging a section moves its lines with it (or not, when lines do not
follow), dragging an edge resizes it on bars and maps its lines onto the new span, split / merge / kind / delete from
the lane and the Sections menu; every edit is one undo step that restores sections and lines together. Also the
lyric lane: two rows when lines crowd, the word view with a draggable word, take lanes that fill the height."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QPointF, Qt

from engine.song import LyricLine, Project, Section, Song, TempoMap
from gui.document import DocumentModel
from gui.timeline import Timeline


def make_project(tmp: Path) -> Project:
    tempo = TempoMap.constant(120)  # a bar is 2 s
    sections = (Section("verse", "Verse", 0.0, 8.0, "#4f8a6b"), Section("chorus", "Chorus", 16.0, 24.0, "#a8564f"))
    lines = (LyricLine("a", "first line here", 1.0, section_id="verse"), LyricLine("b", "second line", 4.0),
             LyricLine("c", "chorus line", 17.0, section_id="chorus"))
    return Project.create(tmp / "s", Song(tempo=tempo, sections=sections, lyrics=lines))


@pytest.fixture
def timeline(qtbot, tmp_path: Path) -> Timeline:
    tl = Timeline(DocumentModel(make_project(tmp_path)))
    tl.resize(1200, 500)
    qtbot.addWidget(tl)
    tl.show()
    qtbot.waitUntil(lambda: getattr(tl, "_fitted", False))
    qtbot.wait(30)
    return tl


def drag(qtbot, tl: Timeline, a: QPointF, b: QPointF) -> None:
    qtbot.mousePress(tl, Qt.LeftButton, pos=a.toPoint())
    qtbot.mouseMove(tl, pos=((a + b) / 2).toPoint())
    qtbot.mouseMove(tl, pos=b.toPoint())
    qtbot.mouseRelease(tl, Qt.LeftButton, pos=b.toPoint())


def starts(tl: Timeline) -> dict[str, float | None]:
    return {ln.id: ln.start_s for ln in tl.doc.song.lyrics}


def bounds(tl: Timeline, sid: str) -> tuple[float, float]:
    s = tl.doc.song.section(sid)
    return s.start_s, s.end_s


def test_dragging_a_section_moves_its_lines_and_undoes_in_one_step(qtbot, timeline: Timeline) -> None:
    tl = timeline
    y = tl.lane_top("sections") + 10
    drag(qtbot, tl, QPointF(tl.x_of(4.0), y), QPointF(tl.x_of(8.3), y))  # +4.3 s: the start snaps to bar 3 (4 s)
    assert bounds(tl, "verse") == (4.0, 12.0)
    assert starts(tl) == {"a": 5.0, "b": 8.0, "c": 17.0}  # its lines came along; the chorus's did not
    assert tl.doc.undo.count() == 1 and tl.doc.undo.undoText() == "Move section"
    tl.doc.undo.undo()
    assert bounds(tl, "verse") == (0.0, 8.0) and starts(tl) == {"a": 1.0, "b": 4.0, "c": 17.0}
    tl.set_lines_follow(False)
    drag(qtbot, tl, QPointF(tl.x_of(4.0), y), QPointF(tl.x_of(8.3), y))
    assert bounds(tl, "verse") == (4.0, 12.0) and starts(tl)["a"] == 1.0  # the lines stayed


def test_dragging_an_edge_resizes_on_bars_and_the_lines_keep_their_place(qtbot, timeline: Timeline) -> None:
    tl = timeline
    y = tl.lane_top("sections") + 10
    drag(qtbot, tl, QPointF(tl.x_of(24.0) - 1, y), QPointF(tl.x_of(31.7), y))
    assert bounds(tl, "chorus") == (16.0, 32.0)
    assert starts(tl)["c"] == pytest.approx(18.0)  # 1 s into 8 s -> 2 s into 16 s
    drag(qtbot, tl, QPointF(tl.x_of(8.0) - 1, y), QPointF(tl.x_of(20.0), y))  # stops at the chorus
    assert bounds(tl, "verse") == (0.0, 16.0)
    assert tl.doc.undo.count() == 2
    tl.doc.undo.undo()
    tl.doc.undo.undo()
    assert bounds(tl, "chorus") == (16.0, 24.0) and starts(tl) == {"a": 1.0, "b": 4.0, "c": 17.0}


def test_split_kind_merge_add_delete_each_one_step(qtbot, timeline: Timeline) -> None:
    tl = timeline
    doc = tl.doc
    assert tl.split_section_at("verse", 4.2)  # at the nearest bar, 4 s
    names = [s.name for s in doc.song.sections]
    assert names == ["Verse 1", "Verse 2", "Chorus"]
    second = doc.song.sections[1].id
    assert {ln.id: ln.section_id for ln in doc.song.lyrics}["b"] == second
    assert tl.set_section_kind(second, "pre-chorus")
    assert [s.name for s in doc.song.sections] == ["Verse", "Pre-Chorus", "Chorus"]
    assert tl.merge_section("verse")
    assert [s.name for s in doc.song.sections] == ["Verse", "Chorus"] and bounds(tl, "verse") == (0.0, 8.0)
    assert tl.add_section_at(9.0, "bridge")
    assert [(s.name, s.start_s, s.end_s) for s in doc.song.sections][1] == ("Bridge", 8.0, 16.0)
    assert tl.selected_section == doc.song.sections[1].id
    assert tl.delete_section("chorus")
    assert {ln.id: ln.section_id for ln in doc.song.lyrics}["c"] is None and starts(tl)["c"] == 17.0
    assert not tl.merge_section(doc.song.sections[-1].id)  # refused, and said why
    assert doc.undo.count() == 5
    for _ in range(5):
        doc.undo.undo()
    assert [(s.id, s.name, s.start_s, s.end_s) for s in doc.song.sections] == [
        ("verse", "Verse", 0.0, 8.0), ("chorus", "Chorus", 16.0, 24.0)]
    assert {ln.id: ln.section_id for ln in doc.song.lyrics} == {"a": "verse", "b": None, "c": "chorus"}


def test_the_lyric_lane_takes_two_rows_when_lines_crowd_and_words_can_be_dragged(qtbot, timeline: Timeline) -> None:
    tl = timeline
    doc = tl.doc
    lines = tuple(LyricLine(f"l{i}", "a rather long line of lyrics to sing", 1.0 + i * 1.0) for i in range(6))
    doc.edit(doc.song.with_lyrics(lines), "crowd")
    tl.fit()
    rows, row_of = tl.lyric_layout()
    assert rows == 2 and [row_of[f"l{i}"] for i in range(4)] == [0, 1, 0, 1]
    assert tl.lane_top("takes") == tl.lane_top("lyrics") + 2 * 46
    assert tl.line_rect(lines[1]).top() > tl.line_rect(lines[0]).bottom()  # on the second row
    tl.px_per_s, tl.scroll_s = 300.0, 0.5  # zoomed in: room for every line's text, and the word view
    assert tl.lyric_layout()[0] == 1 and tl.word_view()
    doc.edit(doc.song.with_lyrics((LyricLine("l0", "a rather long line", 1.0), LyricLine("l1", "next", 5.0))), "far")
    boxes = [b for b in tl.word_boxes() if b[0] == "l0"]
    assert [b[3] for b in boxes] == ["a", "rather", "long", "line"] and not boxes[0][4]  # estimated, not stamped
    box = boxes[1][2]
    before = tl.t_of(box.left())
    tl.repaint()
    drag(qtbot, tl, box.center(), box.center() + QPointF(tl.px_per_s * 0.3, 0))
    line = next(ln for ln in doc.song.lyrics if ln.id == "l0")
    assert [w.text for w in line.words] == ["a", "rather", "long", "line"]  # stamped now
    moved = line.words[1].start_s
    assert moved > before + 0.1 and moved / 0.125 == pytest.approx(round(moved / 0.125))  # later, on a 1/16
    assert line.words[0].end_s == moved
    assert doc.undo.undoText() == "Move word"
    doc.undo.undo()
    assert next(ln for ln in doc.song.lyrics if ln.id == "l0").words == ()


def test_take_lanes_grow_into_the_height_there_is(qtbot, timeline: Timeline) -> None:
    from engine.song import Take

    tl = timeline
    tl.doc.edit(tl.doc.song.with_take(Take("take-001", "guide", 1, duration_s=30.0, stems=("vocal",))), "take")
    rows = tl.take_rows()
    bottom = rows[-1][2] + rows[-1][3]
    assert bottom > tl.height() * 0.85 or rows[0][3] == 4 * 58  # the lanes fill the widget (up to 4x their height)


def test_the_lane_menu_offers_every_section_edit(qtbot, timeline: Timeline) -> None:
    tl = timeline
    menu = tl.section_menu(tl.x_of(4.2), tl.lane_top("sections") + 10)
    offered = []
    for a in menu.actions():
        offered.append(a.text())
        if a.menu() is not None:
            offered.extend(f"{a.text()}/{b.text()}" for b in a.menu().actions())
    for text in ("Add section here/Bridge", "Rename…", "Change kind/Chorus", "Split at bar 3",
                 "Merge with the next section", "Delete section (its lines stay)", "Lines follow section edits"):
        assert text in offered, text
    next(a for a in menu.actions() if a.text().startswith("Split at bar")).trigger()
    assert tl.selected_section == "verse" and [s.name for s in tl.doc.song.sections] == ["Verse 1", "Verse 2",
                                                                                         "Chorus"]
    assert tl.section_menu(tl.x_of(4.2), tl.lane_top("lyrics") + 10) is None
    assert tl.rename_section("verse", "Big Verse") and tl.doc.song.section("verse").name == "Big Verse"
    assert not tl.rename_section("verse", "  ") and tl.doc.song.section("verse").name == "Big Verse"
