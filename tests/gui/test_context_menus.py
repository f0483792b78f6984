"""The right-click menus of a take, a section and a loop clip are built from the action table (``gui.actions``): each
lists the table's rows for its context, in table order, with the keys and the enabled state of the window's menu for
the same item (a take's and a loop's with the very same titles; a section's with the lane's own titles, which name the
place clicked), and triggering an entry makes the same session call as the window's menu. Comparing a take (A/B at
the play head) and the A/B key open the take's files on a worker thread, the newest request winning."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu

from engine.backends.stable_audio.tiny import create_tiny_stable_audio
from engine.session.events import JobQueued, SongChanged
from gui.actions import ACTIONS
from gui.actions.items import item_rows
from gui.main_window import MainWindow
from tests.engine.song.loop_project import make_loop_project
from tests.gui.test_app_hosts_bridge import app  # noqa: F401 - the fixture (the app hosting the DAW bridge)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("models")
    create_tiny_stable_audio(folder)
    return folder


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, models: Path) -> Path:
    """A song take (take-001), sections Verse and Chorus, two loop clips (take-002 at bar 1, take-003 at bar 9)."""
    return make_loop_project(tmp_path_factory.mktemp("template"), models).folder


@pytest.fixture
def window(open_window, qtbot, tmp_path: Path, models: Path, template: Path, monkeypatch) -> MainWindow:
    monkeypatch.setenv("SONGBRIDGE_MODELS", str(models))
    folder = tmp_path / template.name
    shutil.copytree(template, folder)
    win = open_window(folder, (1600, 900))
    qtbot.waitUntil(lambda: getattr(win.timeline, "_fitted", False))
    return win


def record(win: MainWindow) -> list[tuple[str, str, str]]:
    """What the session did, as its subscribers see it: (event, label or job kind, origin)."""
    seen: list[tuple[str, str, str]] = []

    def on(ev: Any) -> None:
        if isinstance(ev, SongChanged):
            seen.append(("edit", ev.label, ev.origin))
        elif isinstance(ev, JobQueued):
            seen.append(("job", f"{ev.purpose.kind} {getattr(ev.purpose, 'take', '')}".strip(), ev.origin))
    win.doc.session.subscribe(on)
    return seen


def entries(menu: QMenu) -> dict[str, QAction]:
    """The menu's entries that are table rows, by row id (in menu order)."""
    return {a.data(): a for a in menu.actions() if isinstance(a.data(), str)}


def window_action(win: MainWindow, row_id: str) -> QAction:
    a = win.action_set.actions[row_id]
    assert a.objectName() == row_id
    return a


def same_as_the_window(win: MainWindow, menu: QMenu, kind: str, titles: bool = True) -> dict[str, QAction]:
    """The item's menu lists the rows of ``kind`` in table order with the window's keys and enabled state (and
    titles; a row with choices is a submenu there, which shows no key); returns its entries."""
    got = entries(menu)
    choices = {s.id for s in ACTIONS if s.choices is not None}
    assert list(got) == [s.id for s in item_rows(kind)]
    assert len(got) >= 4
    win.action_set.refresh()  # as the menu bar does before it shows
    for row_id, entry in got.items():
        bar = window_action(win, row_id)
        assert entry.isEnabled() == bar.isEnabled(), row_id
        assert entry.shortcuts() == ([] if row_id in choices else bar.shortcuts()), row_id
        assert (entry.menu() is not None) == (row_id in choices), row_id
        if titles:
            assert entry.text() == bar.text(), row_id
    return got


def test_a_takes_menu_is_the_takes_menu_acting_on_the_take_clicked(qtbot, window: MainWindow) -> None:
    seen = record(window)
    take = window.doc.song.takes[0].id
    window.takes.setCurrentRow(-1)
    window.takes.edit_take = None
    menu = window.takes.take_menu(take)
    assert window.takes.edit_take == take  # the take clicked is the one the Takes menu acts on now
    got = same_as_the_window(window, menu, "take")
    assert all(a.isEnabled() for a in got.values())
    texts = [a.text() for a in menu.actions()]
    assert "&Play the selected take" in texts and "&Edit the selected take…" in texts
    assert any(t.startswith("Use ") for t in texts)  # comping stays: "Use this take for <section>"
    # a row added to the table is in the take's menu and the Takes menu alike
    assert [s.id for s in ACTIONS if s.menu == "Takes"] == list(got)
    # an entry is the row's one call: Star from the take's menu and from the Takes menu are the same session edit
    got["takes.star"].trigger()
    window_action(window, "takes.star").trigger()
    assert seen == [("edit", "Star take", "app"), ("edit", "Star take", "app")]
    assert not window.doc.song.take(take).starred
    # Find the beat grid: one job the session queues for the take, from either menu
    got["takes.grid"].trigger()
    qtbot.waitUntil(lambda: len(seen) == 3, timeout=5000)
    assert seen[2] == ("job", f"grid {take}", "app")
    qtbot.waitUntil(lambda: not window.doc.session.in_flight(), timeout=60_000)
    # with no take selected the Takes menu is off, and says what it needs
    window.takes.edit_take = None
    window.action_set.refresh()
    play = window_action(window, "takes.play")
    assert not play.isEnabled() and play.toolTip().endswith("needs a take selected in the takes list")
    menu.deleteLater()


def test_a_sections_menu_is_the_sections_menu_acting_on_the_section_clicked(qtbot, window: MainWindow) -> None:
    seen = record(window)
    tl = window.timeline
    chorus = tl.doc.song.sections[1]  # bars 9-16 (16-32 s)
    x, y = tl.x_of(chorus.start_s + 4.2), tl.lane_top("sections") + 10
    menu = tl.section_menu(x, y)
    assert tl.selected_section == chorus.id and tl.current_section() == chorus.id
    got = same_as_the_window(window, menu, "section", titles=False)
    # the lane's own titles name the place clicked; the menu bar's are the table's titles
    assert [a.text() for a in got.values()] == ["Add section here", "Rename…", "Change kind", "Split at bar 11",
                                                "Merge with the next section", "Delete section (its lines stay)",
                                                "Land in DAW (its take, at its bar)", "Lines follow section edits"]
    assert [window_action(window, i).text() for i in got][:2] == ["Add section…", "Rename section…"]
    assert any(a.text() == f"Take for {chorus.name}" for a in menu.actions())
    # an empty spot of the lane: only the rows that need no section
    empty = tl.section_menu(tl.x_of(tl.doc.song.duration_s) + 40, y)
    assert list(entries(empty)) == ["section.add", "section.follow"]
    # Split from the lane (at the bar clicked) and from the Sections menu (at the play head): the same edit
    got["section.split"].trigger()
    assert seen == [("edit", "Split section", "app")]
    assert [s.start_s for s in tl.doc.song.sections] == [0.0, 16.0, 20.0]  # bar 11
    tl.select_section(None)
    tl.locate(2.1)
    window_action(window, "section.split").trigger()
    assert seen[-1] == ("edit", "Split section", "app") and len(seen) == 2
    # the follow switch is one state in both menus
    got["section.follow"].trigger()
    window.action_set.refresh()
    assert not tl.lines_follow and not window_action(window, "section.follow").isChecked()
    menu.deleteLater()
    empty.deleteLater()


def test_a_loop_clips_menu_is_the_loops_menu_acting_on_the_clip_clicked(qtbot, window: MainWindow) -> None:
    seen = record(window)
    tl = window.timeline
    tl.locate(window.doc.song.tempo.bars_to_seconds(13) + 0.3)
    loop = window.action_set.actions["loops.play"]
    window.action_set.refresh()
    assert not loop.isEnabled() and "needs a loop clip" in loop.toolTip()  # none selected, none at the play head
    item = tl.loop_items()[1]
    menu = tl.loop_menu(item)
    assert tl.current_loop() == item.loop_id
    got = same_as_the_window(window, menu, "loop")
    assert [a.text() for a in menu.actions()] == ["Play from bar 9", "Move to the play head (bar 13)",
                                                  "Land in DAW (its own track, at its bar)", "Land every loop in DAW"]
    got["loops.move"].trigger()
    assert seen == [("edit", "Move loop", "app")] and window.doc.song.loop(item.loop_id).bar == 13
    window.action_set.refresh()
    assert not window_action(window, "loops.move").isEnabled()  # it is at the play head now, in both menus
    assert not tl.loop_menu(item).actions()[1].isEnabled()
    tl.locate(window.doc.song.tempo.bars_to_seconds(3) + 0.2)
    window.action_set.refresh()  # as the Loops menu does before it shows
    window_action(window, "loops.move").trigger()  # from the Loops menu: the same edit
    assert seen[-1] == ("edit", "Move loop", "app") and len(seen) == 2
    assert window.doc.song.loop(item.loop_id).bar == 3
    window_action(window, "loops.land").trigger()  # no bridge in this window: it says so, queues nothing
    assert "the DAW bridge is off" in window.statusBar().currentMessage() and len(seen) == 2
    assert not window.doc.session.in_flight()
    menu.deleteLater()


def spy_reader(monkeypatch, folder: Path) -> list[str]:
    """The threads that open a stem of a take of ``folder`` (the reader ``engine.audio.source.TakeSource`` uses;
    the waveform cache's reads of the same files happen on its own thread, also never the GUI's)."""
    import soundfile

    threads: list[str] = []
    real = soundfile.SoundFile

    def spy(path: Any, *a: Any, **k: Any) -> Any:
        where = Path(str(path))
        if where.parent.name == "stems" and folder in where.parents:
            threads.append(threading.current_thread().name)
        return real(path, *a, **k)
    monkeypatch.setattr(soundfile, "SoundFile", spy)
    return threads


def commands(player: Any) -> list[tuple[Any, ...]]:
    out = []
    while not player._commands.empty():
        out.append(player._commands.get_nowait())
    return out


def test_compare_and_ab_open_no_take_file_on_the_gui_thread_and_the_newest_wins(qtbot, window: MainWindow,
                                                                                 monkeypatch) -> None:
    from engine.audio.player import Player

    window.doc.session.generate("guide", 1, 7)  # a second take
    qtbot.waitUntil(lambda: len(window.doc.song.takes) == 2 and not window.doc.session.in_flight(), timeout=60_000)
    threads = spy_reader(monkeypatch, window.doc.project.folder / "takes")
    window.player = Player()  # the real player, not opened: what the window gives it waits in its queue
    song = window.doc.song
    first, second = song.takes[0].id, song.takes[1].id
    window.compare_take(first)
    window.compare_take(second)  # asked again before the first opened: only this one is heard
    assert window.player._commands.empty()  # nothing opened here, nothing sent yet
    qtbot.waitUntil(lambda: window.tasks.pending == 0 and not window.player._commands.empty(), timeout=10_000)
    sent = commands(window.player)
    assert [c[0] for c in sent] == ["load", "ab"] and sent[0][1] == "B" and sent[1][1:] == ("B",)
    assert sent[0][2].take_dir == window.doc.project.audio_dir(second)
    assert window.timeline.slots.get(second) == "B"
    assert threads and threading.main_thread().name not in threads, threads
    assert any(t.startswith("songbridge-gui-task") for t in threads), threads
    sent[0][2].close()
    # A/B: the take before the newest becomes B, opened off the GUI thread; once it is B, A/B only switches
    threads.clear()
    window.ab()
    assert window.player._commands.empty()
    qtbot.waitUntil(lambda: window.tasks.pending == 0 and not window.player._commands.empty(), timeout=10_000)
    sent = commands(window.player)
    assert [c[0] for c in sent] == ["load", "ab"]
    assert sent[0][2].take_dir == window.doc.project.audio_dir(song.takes[-2].id)
    assert threads and threading.main_thread().name not in threads, threads
    sent[0][2].close()
    threads.clear()
    window.ab()
    assert [c[0] for c in commands(window.player)] == ["ab"] and threads == []
    # a take double-clicked, then compared with another at once: both are heard (A plays, B is there to switch to)
    window.play_take(first)
    window.compare_take(second)
    qtbot.waitUntil(lambda: window.tasks.pending == 0, timeout=10_000)
    sent = commands(window.player)
    loads = {c[1]: c[2] for c in sent if c[0] == "load"}
    assert set(loads) == {"A", "B"} and {"play", "ab"} <= {c[0] for c in sent}, sent
    assert loads["A"].take_dir == window.doc.project.audio_dir(first)
    for src in loads.values():
        src.close()
    # compared, then another take double-clicked before B opened: the take plays, B is not switched to
    window.compare_take(second)
    window.play_take(first)
    qtbot.waitUntil(lambda: window.tasks.pending == 0, timeout=10_000)
    sent = commands(window.player)
    assert [(c[0], c[1] if c[0] == "load" else None) for c in sent] == [("load", "A"), ("seek", None),
                                                                        ("play", None)], sent
    sent[0][2].close()


def test_screenshot_of_a_takes_right_click_menu(qtbot, window: MainWindow) -> None:
    """The menu as a producer sees it (offscreen grab), when SONGBRIDGE_SCREENSHOT_DIR is set; always: it shows."""
    menu = window.takes.take_menu(window.doc.song.takes[0].id)
    menu.popup(window.takes.mapToGlobal(window.takes.rect().center()))
    qtbot.waitUntil(menu.isVisible)
    image = menu.grab()
    assert image.width() > 150 and image.height() > 200
    shot = os.environ.get("SONGBRIDGE_SCREENSHOT_DIR")
    if shot:
        image.save(str(Path(shot) / "take_context_menu.png"))
    menu.close()
    menu.deleteLater()


@pytest.mark.integration
def test_land_in_daw_from_a_sections_menu_and_the_file_menu_is_the_panels_session_call(qtbot, app) -> None:  # noqa: F811
    """With the bridge hosted: a section's "Land in DAW" (the lane) and File > Land the song in DAW each queue one
    landing through the session (the DAW link panel's call), nothing through the bridge's inbox."""
    win, bridge, session = app
    queued: list[Any] = []
    session.subscribe(lambda ev: queued.append(ev) if isinstance(ev, JobQueued) else None)
    tl = win.timeline
    qtbot.waitUntil(lambda: getattr(tl, "_fitted", False))
    chorus = session.song.section("chorus")
    menu = tl.section_menu(tl.x_of(chorus.start_s + 0.5), tl.lane_top("sections") + 10)
    got = entries(menu)
    assert got["section.land"].text() == "Land in DAW (its take, at its bar)" and got["section.land"].isEnabled()
    got["section.land"].trigger()
    qtbot.waitUntil(lambda: len(bridge.landings) == 1, timeout=60_000)
    assert bridge.landings[-1]["ok"] and bridge.landings[-1]["section"] == chorus.name, bridge.landings[-1]
    win.action_set.refresh()
    window_action(win, "file.land").trigger()
    qtbot.waitUntil(lambda: len(bridge.landings) == 2, timeout=60_000)
    assert bridge.landings[-1]["ok"] and bridge.landings[-1]["section"] == "song", bridge.landings[-1]
    assert [(q.purpose.kind, q.origin) for q in queued] == [("land", "app"), ("land", "app")]
    assert bridge.commands.received == 0
    menu.deleteLater()
