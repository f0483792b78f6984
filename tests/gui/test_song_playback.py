"""The app plays what will be landed (issue 26): Space plays the comp (take 3 accepted for Chorus 1, the song's take
elsewhere, crossfaded as render and landing assemble it) with the loop clip at bar 5, mixed at play time — measured on
what the player is given; a take double-clicked in the takes list plays alone; after Stop, Play is the song again;
an edit while the song plays is heard at once. The takes list's drag carries a guide take's .mid; a loop can go
neither past the song's end by dragging its clip nor from the Loops panel's "At bar"."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QDrag, QMouseEvent

from engine.audio.player import Player
from engine.audio.source import TakeSource
from engine.comp import comp_pieces, read_comp
from engine.comp_source import SongSource, loop_stem
from engine.song import Project
from engine.song.document import save_song
from engine.song.loop_clip import Loop
from tests.gui.test_comp_lineage import corr, three_takes

SR = 44100
LOOP_BAR = 5.0  # at 120 bpm in 4/4: 8.0 s
LOOP_S = 4.0  # two bars


def comped(tmp: Path) -> Project:
    """take-001 is the song's take, take-003 is accepted for Chorus 1 (16-32 s), a noise loop clip sits at bar 5."""
    project = three_takes(tmp)
    song = project.song
    ch1 = next(s for s in song.sections if s.name == "Chorus 1")
    take = dataclasses.replace(song.takes[0], id="take-004", backend="stable-audio-small", stems=("loop",),
                               params={"prompt": "noise loop", "bars": 2.0, "bpm": 120.0, "at_bar": LOOP_BAR},
                               duration_s=LOOP_S, name="", parent=None, edited_ranges=(), analysis={})
    folder = project.take_dir(take.id)
    (folder / "stems").mkdir(parents=True)
    noise = (np.random.default_rng(7).standard_normal((int(LOOP_S * SR), 2)) * 0.2).astype(np.float32)
    for path in (folder / "mix.wav", folder / "stems" / "loop.wav"):
        sf.write(str(path), noise, SR, subtype="FLOAT")
    project.song = song.with_accepted("", "take-001").with_accepted(ch1.id, "take-003").replace(
        loops=(Loop(take, LOOP_BAR),))
    save_song(project.song, project.folder)
    return project


@pytest.fixture
def win(qtbot, tmp_path: Path, open_window):
    w = open_window(comped(tmp_path).folder, (1600, 900))
    w.player = Player()  # the real player, not opened: what the window gives it waits in its command queue
    return w


def sent(player: Player) -> list[tuple]:
    out = []
    while not player._commands.empty():
        out.append(player._commands.get_nowait())
    return out


def played(qtbot, win) -> list[tuple]:
    qtbot.waitUntil(lambda: not win.player._commands.empty() and win.tasks.pending == 0, timeout=10_000)
    return sent(win.player)


def stem_audio(project: Project, take: str, stem: str) -> np.ndarray:
    return sf.read(str(project.take_dir(take) / "stems" / f"{stem}.wav"), dtype="float32", always_2d=True)[0]


def test_space_plays_the_comp_with_the_loop_at_its_bar(qtbot, win) -> None:
    project, song = win.doc.project, win.doc.song
    assert [(p.take, p.start_s, p.end_s) for p in comp_pieces(song)] == [
        ("take-001", 0.0, 16.0), ("take-003", 16.0, 32.0), ("take-001", 32.0, 64.0)]
    win.timeline.locate(0.0)
    win.toggle_play()  # Space, nothing auditioned: the song as it will be landed
    cmds = played(qtbot, win)
    assert [c[0] for c in cmds] == ["load", "seek", "play"] and cmds[0][1] == "A"
    src = cmds[0][2]
    assert isinstance(src, SongSource)
    lp = song.loops[0]
    assert src.stems == [*song.takes[0].stems, loop_stem(lp)]
    n = src.length
    assert n == int(64.0 * SR)
    ch1 = slice(int(16.02 * SR), int(31.98 * SR))  # inside Chorus 1, clear of the crossfades
    verse = slice(0, int(15.98 * SR))
    apart = []  # the stems where take 1 and take 3 differ in Chorus 1: there the correlation tells them apart
    for stem in song.takes[0].stems:
        heard = src.read_stem(stem, 0, n)
        t1, t3 = stem_audio(project, "take-001", stem), stem_audio(project, "take-003", stem)
        if corr(t1[ch1], t3[ch1]) < 0.9:
            apart.append(stem)
            assert corr(heard[ch1], t3[ch1]) > 0.999 and corr(heard[ch1], t1[ch1]) < 0.9, stem
        assert np.abs(heard[ch1] - t3[ch1]).max() < 1e-6, stem  # take 3 in Chorus 1, as it is
        assert np.abs(heard[verse] - t1[verse]).max() < 1e-6, stem  # the song's take outside the chosen section
        # exactly what render and landing assemble, crossfades included
        assert np.abs(heard - read_comp(project, comp_pieces(song), stem)[:, :2]).max() < 1e-6
    assert apart, "takes 1 and 3 are alike in every stem: the test would not tell them apart"
    # the loop clip: its sample at bar 5 (8.0 s), nothing of it anywhere else
    mix = src.read(0, n)
    comp_mix = sum(src.read_stem(stem, 0, n) for stem in song.takes[0].stems)
    loop_part = mix - comp_mix
    start = int(song.tempo.bars_to_seconds(LOOP_BAR) * SR)
    assert start == 8 * SR
    noise = sf.read(str(project.take_dir(lp.id) / "mix.wav"), dtype="float32", always_2d=True)[0]
    assert corr(loop_part[start:start + len(noise)], noise) > 0.9999
    assert np.abs(loop_part[:start]).max() < 1e-5 and np.abs(loop_part[start + len(noise):]).max() < 1e-5
    assert corr(mix[start:start + len(noise)], noise) > 0.5  # heard over the song, not beside it
    # nothing padded on disk: the clip is mixed while it plays
    assert not (project.cache_dir / "audition").exists()
    assert "take-003 in Chorus 1" in win._playing_song and "1 loop" in win._playing_song
    win.transport.refresh()
    win.player.state = "playing"
    win.transport.refresh()
    assert "take-003 in Chorus 1" in win.transport.now_playing.text()


def test_a_take_double_clicked_plays_alone_and_stop_brings_back_the_song(qtbot, win) -> None:
    project = win.doc.project
    row = next(i for i in range(win.takes.count()) if win.takes.item(i).data(Qt.UserRole) == "take-002")
    win.takes.itemDoubleClicked.emit(win.takes.item(row))
    cmds = played(qtbot, win)  # opened (with its chains) off the GUI thread, then played
    assert [c[0] for c in cmds] == ["load", "seek", "play"]
    src = cmds[0][2]
    assert isinstance(src, TakeSource) and src.take_dir == project.audio_dir("take-002")
    assert src.stems == list(win.doc.song.take("take-002").stems)  # no loop stem: the take alone
    alone = src.read(0, int(64.0 * SR))
    t2 = sum(stem_audio(project, "take-002", s) for s in src.stems)
    assert corr(alone, t2) > 0.9999 and np.abs(alone - t2).max() < 1e-5
    assert win.timeline.slots == {"take-002": "A"}
    win.player.state = "paused"  # as the feeder would be after Stop
    win.stop()
    sent(win.player)
    win.toggle_play()  # after Stop, Play is the song again, not the take
    cmds = played(qtbot, win)
    assert isinstance(cmds[0][2], SongSource) and win._playing_take is None


def test_an_edit_while_the_song_plays_is_heard_at_once(qtbot, win) -> None:
    win.timeline.locate(0.0)
    win.toggle_play()
    played(qtbot, win)
    win.player.state = "playing"
    assert win.timeline.move_loop("take-004", 9)  # bar 9: 16 s
    cmds = played(qtbot, win)
    assert [c[0] for c in cmds] == ["load"]  # swapped in where it plays: no seek, no restart
    src = cmds[0][2]
    assert src.clips[loop_stem(win.doc.song.loops[0])][1] == 16 * SR
    win.player.state = "stopped"


def test_the_takes_list_drags_a_guide_takes_midi(qtbot, win, monkeypatch) -> None:
    import mido

    dragged = []
    monkeypatch.setattr(QDrag, "exec", lambda self, *_a: dragged.append(self.mimeData()) or Qt.CopyAction)
    takes = win.takes
    row = next(i for i in range(takes.count()) if takes.item(i).data(Qt.UserRole) == "take-002")
    takes.setCurrentRow(row)
    takes.startDrag(Qt.CopyAction)
    paths = [Path(u.toLocalFile()) for u in dragged[0].urls()]
    mids = [p for p in paths if p.suffix == ".mid"]
    assert len(mids) == 1 and any(p.suffix == ".wav" for p in paths)
    assert "take-002" in mids[0].name and mids[0].is_file()
    mid = mido.MidiFile(str(mids[0]))
    assert any(m.type == "note_on" for t in mid.tracks for m in t)
    assert "drag a take from the takes list" in win.shortcut_sheet()


def mouse(kind, x: float, y: float) -> QMouseEvent:
    return QMouseEvent(kind, QPointF(x, y), QPointF(x, y), Qt.LeftButton,
                       Qt.NoButton if kind == QMouseEvent.MouseButtonRelease else Qt.LeftButton, Qt.NoModifier)


def test_a_loop_cannot_go_past_the_songs_end(qtbot, win, tmp_path: Path, monkeypatch) -> None:
    from engine.backends.stable_audio.tiny import create_tiny_stable_audio

    said: list[str] = []
    win.timeline.message.connect(said.append)
    tl, song = win.timeline, win.doc.song
    assert song.tempo.seconds_to_bars(song.duration_s) == pytest.approx(33)  # 32 bars: it ends at bar 33
    tl.fit()
    item = tl.loop_items()[0]
    x, y = item.rect.left() + 3, item.rect.center().y()
    bar_px = song.tempo.bars_to_seconds(2) * tl.px_per_s
    tl.mousePressEvent(mouse(QMouseEvent.MouseButtonPress, x, y))
    tl.mouseMoveEvent(mouse(QMouseEvent.MouseMove, x + 30 * bar_px, y))  # bar 35
    tl.mouseReleaseEvent(mouse(QMouseEvent.MouseButtonRelease, x + 30 * bar_px, y))
    assert win.doc.song.loop("take-004").bar == LOOP_BAR  # snapped back
    assert said and "bar 35 is past the end of the song (it ends at bar 33)" in said[-1]
    assert win.statusBar().currentMessage() == said[-1]
    assert not tl.move_loop("take-004", 33) and win.doc.song.loop("take-004").bar == LOOP_BAR
    assert tl.move_loop("take-004", 32) and win.doc.song.loop("take-004").bar == 32  # the last bar is fine
    tl.locate(song.tempo.bars_to_seconds(33) + 0.5)
    menu = tl.loop_menu(tl.loop_items()[0])
    move = next(a for a in menu.actions() if a.text().startswith("Move to the play head"))
    assert not move.isEnabled() and "past the song's end" in move.text()

    # the Loops panel: a loop model there, a prompt, the bar past the end: Make is off and says why
    models = tmp_path / "models"
    create_tiny_stable_audio(models)
    monkeypatch.setenv("SONGBRIDGE_MODELS", str(models))
    panel = win.loops
    panel.at_playhead.setChecked(False)
    panel.prompt.setText("warm pad")
    panel.bars.setValue(1)
    panel.at_bar.setValue(9)
    assert panel.make.isEnabled(), panel.model_note.text()
    panel.at_bar.setValue(40)
    assert not panel.make.isEnabled() and "bar 40 is past the end of the song" in panel.model_note.text()
    before = win.doc.song
    assert panel.make_loop() is None
    assert "no loop made: bar 40 is past the end" in win.statusBar().currentMessage()
    assert win.doc.song == before and not win.engine.service.jobs()


@pytest.mark.audio_server
@pytest.mark.integration
@pytest.mark.slow
def test_space_is_heard_as_the_song_on_jack(qtbot, win, jack_server) -> None:
    """The real player on the JACK dummy server, recorded by a JACK client: Space at bar 5 plays the comp with the
    loop, sample for sample what the song source mixes there."""
    from tests.engine.audio.test_player import Rig, locate

    project = win.doc.project
    ref = SongSource(project, project.song)
    start = 8 * SR  # bar 5: the loop's first sample, over take 1's Verse 1
    expected = ref.read(start, SR // 2)
    ref.close()
    rig = Rig()

    def scenario(player, rec):
        win.player = win.timeline.player = player
        win.timeline.locate(8.0)
        win.toggle_play()
        qtbot.waitUntil(lambda: player.state == "playing", timeout=10_000)
        qtbot.wait(900)
        stats = player.stats()
        player.stop()
        qtbot.wait(100)
        return rec.audio(), stats

    try:
        got, stats = rig.attempt(scenario)
    finally:
        win.player = win.timeline.player = None
        rig.close()
    off = locate(got, expected)
    n = min(len(expected), len(got) - off)
    assert n > SR // 4 and np.abs(got[off:off + n] - expected[:n]).max() < 1e-5
    assert stats["underruns"] == 0


def test_an_edit_that_changes_nothing_heard_keeps_the_song_playing_as_is(qtbot, win) -> None:
    win.toggle_play()
    played(qtbot, win)
    win.player.state = "playing"
    win.doc.edit(win.doc.song.replace(lyrics=win.doc.song.lyrics[:-1]), "Delete line")  # nothing heard changes
    qtbot.wait(50)
    assert win.tasks.pending == 0 and win.player._commands.empty()
    win.player.state = "stopped"


def test_a_damaged_stem_of_the_comp_is_named_and_nothing_plays(qtbot, win) -> None:
    bad = win.doc.project.take_dir("take-003") / "stems" / "bass.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot audio")
    win.toggle_play()
    qtbot.waitUntil(lambda: win.tasks.pending == 0, timeout=10_000)
    assert win.player._commands.empty() and not win._playing_song
    message = win.statusBar().currentMessage()
    assert message.startswith("cannot play the song:") and "take-003/stems/bass.wav" in message
    win.play_take("take-001")  # a take without the damaged file still plays alone
    assert isinstance(played(qtbot, win)[0][2], TakeSource)
