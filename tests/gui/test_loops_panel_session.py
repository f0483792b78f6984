"""The Loops panel's Make loop is one session call (issue 25): ``Session.make_loop`` checks the request whole and
queues it as a loop at its bar; what the session refuses is said in the panel and the status bar, and nothing is
queued."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.backends.stable_audio.tiny import create_tiny_stable_audio
from engine.session.events import JobEnded, JobQueued
from gui.main_window import MainWindow
from tests.engine.session.test_session import make_project


@pytest.fixture
def window(open_window, tmp_path: Path, monkeypatch) -> MainWindow:
    models = tmp_path / "models"
    create_tiny_stable_audio(models)
    monkeypatch.setenv("SONGBRIDGE_MODELS", str(models))
    return open_window(make_project(tmp_path).folder)


@pytest.mark.slow
def test_make_loop_is_one_session_call_and_a_refusal_queues_nothing(qtbot, window: MainWindow) -> None:
    events: list[Any] = []
    window.doc.session.subscribe(events.append)
    panel = window.loops
    panel.prompt.setText("warm pad")
    panel.bars.setValue(1)
    panel.at_playhead.setChecked(False)
    panel.at_bar.setValue(2)
    panel.takes.setValue(2)
    assert panel.takes.maximum() == 4  # as many as the session takes in one request
    seed = panel.seed.value()
    job = panel.make_loop()
    assert job
    queued = [e for e in events if isinstance(e, JobQueued)]
    assert [e.job_id for e in queued] == [job] and queued[0].origin == "app"
    purpose = queued[0].purpose
    assert purpose.kind == "generate" and purpose.loop and purpose.land_at == 2.0  # a loop clip at bar 2
    assert panel.seed.value() == seed + 2
    window.doc.session.cancel(job)
    qtbot.waitUntil(lambda: any(isinstance(e, JobEnded) and e.job_id == job for e in events), timeout=60_000)

    before, count = window.doc.song, len(events)
    panel.bars.setValue(40)  # longer than the tiny model makes: the session refuses it, naming why
    assert panel.make_loop() is None
    assert "makes at most" in panel.model_note.text()
    assert window.statusBar().currentMessage().startswith("no loop made: ") and "makes at most" in \
        window.statusBar().currentMessage()
    assert not [e for e in events[count:] if isinstance(e, JobQueued)] and window.doc.song == before
