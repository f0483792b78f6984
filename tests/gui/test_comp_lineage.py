"""Issue 26's acceptance in the app: an edit of take 2 (not the newest) over bars 9-12 and 25-28 in one job differs
from take 2 only there (measured on the audio), its lane highlights both ranges and names take 2, the takes list
shows the lineage; A/B with the parent (one key) loops the edited range; "Use this take for <section>" on the
section lane comps the song as one undo step and the section names its take."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import Qt

from engine.backends.guide.backend import GuideBackend
from engine.generation import SongChoices, plan_takes, prepare_song, run_take
from engine.lyrics import parse
from engine.song import Project, Song
from engine.song.document import save_song

SR = 44100
LYRICS = "[verse]\nwalk the line\nhold it tight\n[chorus]\nsing it out\nloud and clear\n" \
         "[verse]\nback again\nround the bend\n[chorus]\nsing it out\nloud and clear\n"
EDITED = ((16.0, 24.0), (48.0, 56.0))  # bars 9-12 and 25-28 at 120 bpm in 4/4
SEAM = 0.010  # the guide's crossfade at each seam


def three_takes(tmp: Path) -> Project:
    """32 bars at 120 bpm (Verse 1, Chorus 1, Verse 2, Chorus 2: 8 bars each); take-001..003 from the guide."""
    project = Project(tmp / "lineage.songbridge", Song())
    project.song = prepare_song(project.song, parse(LYRICS), SongChoices(title="Lineage", style="pop", bpm=120,
                                                                        sections="verse:8,chorus:8,verse:8,chorus:8"),
                                first_time=True)
    save_song(project.song, project.folder)
    for seed in (1, 2, 3):
        run_take(project, GuideBackend(), plan_takes(project, 1, seed)[0], lambda d, t: None, lambda: False)
    assert project.song.takes[-1].duration_s == 64.0
    return project


def corr(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))


def audio(folder: Path, take: str, stem: str | None = None) -> np.ndarray:
    path = folder / "takes" / take / ("mix.wav" if stem is None else f"stems/{stem}.wav")
    return sf.read(str(path), dtype="float32", always_2d=True)[0]


@pytest.fixture
def edited(qtbot, tmp_path: Path, open_window):
    win = open_window(three_takes(tmp_path).folder, (1920, 1080))
    win.takes.choose("take-002")  # "Edit this take…": take 2, not the newest
    opts = {**win.generation.options(), "backend": "guide", "seed": 99, "takes": 1}
    job = win.regenerate(opts, seconds=EDITED)
    assert job, win.statusBar().currentMessage()
    qtbot.waitUntil(lambda: len(win.doc.song.takes) == 4, timeout=60_000)
    return win


@pytest.mark.slow
def test_an_edit_of_take_2_changes_only_its_ranges_and_shows_where_it_came_from(qtbot, edited) -> None:
    win = edited
    song, folder = win.doc.song, win.doc.folder
    new = song.takes[-1]
    assert new.id == "take-004" and new.parent == "take-002"
    assert [(r.start_s, r.end_s) for r in new.edited_ranges] == list(EDITED)
    assert new.analysis["edit"]["bars"] == [[9.0, 13.0], [25.0, 29.0]]  # recorded with the take, in bars too
    # measured on the audio: outside the ranges and their seams, take 2 itself; inside, something else
    for stem in (None, "drums", "vocal"):
        a, b = audio(folder, "take-004", stem), audio(folder, "take-002", stem)
        assert len(a) == len(b) == 64 * SR
        outside = np.ones(len(a), dtype=bool)
        for s, e in EDITED:
            outside[int((s - SEAM) * SR):int((e + SEAM) * SR) + 1] = False
            inside = slice(int((s + SEAM) * SR), int((e - SEAM) * SR))
            assert np.abs(a[inside] - b[inside]).max() > 1e-2, (stem, s)  # regenerated: not take 2's samples
            if stem != "drums":  # the guide's drum pattern follows the style, not the seed: only its level moves
                assert corr(a[inside], b[inside]) < 0.9, (stem, s)
        same = np.array_equal(a[outside], b[outside]) or corr(a[outside], b[outside]) > 0.999
        assert same, stem
        assert np.abs(a[outside] - b[outside]).max() < 1e-4
    # the takes list: take-004 ← take-002, bars 9-12, 25-28 (1-based bars, as the producer counts)
    row = next(win.takes.item(i) for i in range(win.takes.count()) if win.takes.item(i).data(Qt.UserRole) == new.id)
    assert "← take-002, bars 9-12, 25-28" in row.text()
    # the lane: both ranges tinted with edges, the parent named
    tl = win.timeline
    tl.fit()
    qtbot.wait(50)
    (_, _, y, h) = next(r for r in tl.take_rows() if r[0] == new.id and r[1] == "mix")
    bands = tl.edited_bands(song, new.id, y, h)
    assert [(round(tl.t_of(b.left()), 3), round(tl.t_of(b.right()), 3)) for b in bands] == list(EDITED)
    assert tl.edited_bands(song, "take-002", y, h) == []  # take 2 is not an edit
    img = tl.grab().toImage()
    from gui import theme

    def near(c, ref, tol=40) -> bool:
        return all(abs(u - v) <= tol for u, v in ((c.red(), ref.red()), (c.green(), ref.green()),
                                                   (c.blue(), ref.blue())))

    for band in bands:  # each seam's edge is drawn across the lane
        for x in (band.left(), band.right()):
            assert near(img.pixelColor(int(round(x)), int(y + h * 0.75)), theme.WARN), x
    (_, _, y2, h2) = next(r for r in tl.take_rows() if r[0] == "take-002" and r[1] == "mix")
    assert not near(img.pixelColor(int(round(bands[0].left())), int(y2 + h2 * 0.75)), theme.WARN)
    from gui.take_tools import lineage_text

    assert lineage_text(new) == " ← take-002, bars 9-12, 25-28"  # what the lane's label says after "edit of"


@pytest.mark.slow
def test_one_key_switches_between_the_edit_and_its_parent_at_the_edited_range(qtbot, edited) -> None:
    from engine.audio.player import Player
    from gui.audition import PARENT_AB_KEY

    win = edited
    win.player = Player()  # the real player, not opened: its commands wait in its queue
    keys = [a for a in win.findChildren(type(win.menuBar().actions()[0]))
            if a.shortcut().toString() == PARENT_AB_KEY]
    assert len(keys) == 1 and "A/B edit with its parent" in win.shortcut_sheet()
    win.takes.choose("take-004")
    win.timeline.locate(50.0)  # inside the second edited range
    keys[0].trigger()
    qtbot.waitUntil(lambda: win.tasks.pending == 0)  # both takes open (with their chains) off the GUI thread
    sent = []
    while not win.player._commands.empty():
        sent.append(win.player._commands.get_nowait())
    loads = [(c[1], c[2].take_dir.name) for c in sent if c[0] == "load"]
    assert loads == [("A", "take-004"), ("B", "take-002")]
    assert ("loop", (48 * SR, 56 * SR)) in sent and ("ab", "A") in sent and ("play",) in sent
    assert win.timeline.range == (48.0, 56.0) and win.timeline.slots == {"take-004": "A", "take-002": "B"}
    win.player.state = "playing"
    keys[0].trigger()  # the same key again: switch to the parent at the same position
    assert win.player._commands.get_nowait() == ("ab", None)
    win.takes.choose("take-001")  # not an edit: nothing to compare, and the status bar says so
    win.player.state = "stopped"
    win._playing_take = "take-001"
    win.doc.session.edit(win.doc.song.replace(takes=tuple(t for t in win.doc.song.takes if t.id != "take-004")),
                         "drop the edit", "test")
    keys[0].trigger()
    assert "select an edited take" in win.statusBar().currentMessage()


@pytest.mark.slow
def test_use_this_take_for_a_section_from_the_section_lane(qtbot, edited) -> None:
    win = edited
    tl = win.timeline
    tl.fit()
    song = win.doc.song
    ch1 = next(s for s in song.sections if s.name == "Chorus 1")
    x = tl.x_of((ch1.start_s + ch1.end_s) / 2)
    menu = tl.section_menu(x, tl.lane_top("sections") + 5)
    sub = next(a.menu() for a in menu.actions() if a.text() == "Take for Chorus 1")
    use3 = next(a for a in sub.actions() if a.text().startswith("Use Take 3"))
    assert next(a for a in sub.actions() if a.isChecked()).text().startswith("Use Take 4")  # the newest plays now
    use3.trigger()
    assert win.doc.song.accepted[ch1.id] == "take-003"
    assert win.doc.undo.undoText() == "Use take-003 for Chorus 1"
    from engine.comp import comp_pieces

    assert [(p.take, p.start_s, p.end_s) for p in comp_pieces(win.doc.song)] == [
        ("take-004", 0.0, 16.0), ("take-003", 16.0, 32.0), ("take-004", 32.0, 64.0)]
    # the take lane's menu: "Use Take 2 for Chorus 2" for the section under the mouse
    ch2 = next(s for s in song.sections if s.name == "Chorus 2")
    (_, _, y, h) = next(r for r in tl.take_rows() if r[0] == "take-002" and r[1] == "mix")
    lane_menu = tl.take_lane_menu(tl.x_of(ch2.start_s + 1), y + h / 2)
    next(a for a in lane_menu.actions() if a.text() == "Use Take 2 for Chorus 2").trigger()
    assert win.doc.song.accepted[ch2.id] == "take-002"
    win.doc.undo.undo()
    win.doc.undo.undo()
    assert ch1.id not in win.doc.song.accepted and ch2.id not in win.doc.song.accepted
    win.doc.undo.redo()
    assert win.doc.song.accepted[ch1.id] == "take-003"
