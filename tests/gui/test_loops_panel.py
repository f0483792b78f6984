"""The Loops panel, offscreen: it names the model, its window and licence, refuses a loop too long for it, and makes
loops exactly N bars long that arrive as clips at the play head's bar, never as takes of the song."""

from __future__ import annotations

from pathlib import Path

import pytest
import soundfile as sf

from engine.backends.stable_audio.tiny import create_tiny_stable_audio
from gui.main_window import MainWindow
from tests.engine.session.test_session import make_project


@pytest.fixture
def window(open_window, tmp_path: Path, monkeypatch):
    models = tmp_path / "models"
    create_tiny_stable_audio(models)
    monkeypatch.setenv("SONGBRIDGE_MODELS", str(models))
    return open_window(make_project(tmp_path).folder)


@pytest.mark.slow
def test_make_two_loop_takes_from_the_panel(qtbot, window: MainWindow) -> None:
    panel = window.loops
    panel.prompt.setText("dusty boom bap drum loop")
    panel.bars.setValue(2)
    assert panel.follow.isChecked() and panel.tempo() == window.doc.song.tempo.bpm == 120
    assert "Stable Audio Open Small" in panel.model_note.text() and "Community License" in panel.model_note.text()
    panel.follow.setChecked(False)
    panel.bpm.setValue(126)
    panel.bars.setValue(40)  # 76 s: longer than any installed model makes
    assert not panel.make.isEnabled() and "longer than" in panel.model_note.text()
    panel.bars.setValue(2)
    panel.takes.setValue(2)
    seed = panel.seed.value()
    takes_before, style_before = window.doc.song.takes, window.doc.song.style
    window.timeline.locate(window.doc.song.tempo.bars_to_seconds(3) + 0.5)  # the play head in bar 3
    assert panel.at_playhead.isChecked() and panel.at_bar.value() == 3
    assert panel.make_loop()
    qtbot.waitUntil(lambda: len(window.doc.song.loops) == 2, timeout=120_000)
    new = [lp.take for lp in window.doc.song.loops]
    assert [t.seed for t in new] == [seed, seed + 1] and panel.seed.value() == seed + 2
    assert [lp.bar for lp in window.doc.song.loops] == [3.0, 3.0]  # clips at the play head's bar
    for take in new:
        assert take.backend == "stable-audio-small" and take.stems == ("loop",)
        frames = sf.info(window.doc.project.take_dir(take.id) / "mix.wav").frames
        assert frames == round(2 * 4 * 60 / 126 * 44100)
    # loops are clips, not takes of the song: the takes, the takes list and the style are as they were
    assert window.doc.song.takes == takes_before and window.doc.song.style == style_before
    assert window.takes.count() == len(takes_before)
    assert [i.loop_id for i in window.timeline.loop_items()] == [t.id for t in new]
