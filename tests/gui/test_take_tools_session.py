"""The takes list's Split, Find grid and Lock to grid are session calls (issue 25): each queues one job the session
knows by its kind, shown in the app's jobs strip from the session's events; a lock is switched on by the session
when the locked copy is made (before the job's end is published, whoever asked), not by the app afterwards; a split
the session refuses (no stem model) queues nothing and the status bar says why."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.session.events import JobEnded, JobQueued
from engine.stems.tiny import create_tiny_separator
from gui.main_window import MainWindow
from tests.engine.session.test_session import make_project


def watch(window: MainWindow) -> tuple[list[JobQueued], dict[str, tuple[str, ...]]]:
    """The session's JobQueued events, and for each job that ended the takes locked at that moment."""
    session = window.doc.session
    queued: list[JobQueued] = []
    locked_at_end: dict[str, tuple[str, ...]] = {}

    def seen(ev: Any) -> None:
        if isinstance(ev, JobQueued):
            queued.append(ev)
        elif isinstance(ev, JobEnded):
            locked_at_end[ev.job_id] = tuple(session.song.locked)
    session.subscribe(seen)
    return queued, locked_at_end


@pytest.mark.slow
def test_split_grid_and_lock_from_the_takes_list_are_session_jobs(qtbot, open_window, tmp_path: Path,
                                                                    monkeypatch) -> None:
    models = tmp_path / "models"
    create_tiny_separator(models)
    monkeypatch.setenv("SONGBRIDGE_MODELS", str(models))
    window = open_window(make_project(tmp_path).folder)
    doc, session = window.doc, window.doc.session
    queued, locked_at_end = watch(window)
    take = doc.song.takes[-1]

    window.takes.split.emit(take.id, False)
    qtbot.waitUntil(lambda: len(queued) == 1, timeout=5000)
    split = queued[0]
    assert split.purpose.kind == "split" and split.purpose.take == take.id and split.origin == "app"
    qtbot.waitUntil(lambda: split.job_id in window.jobs.labels, timeout=5000)  # the jobs strip shows it
    qtbot.waitUntil(lambda: split.job_id in locked_at_end, timeout=60_000)
    assert doc.song.take(take.id).stems == ("drums", "bass", "other", "vocal")

    window.takes.grid.emit(take.id)
    qtbot.waitUntil(lambda: len(queued) == 2, timeout=5000)
    assert queued[1].purpose.kind == "grid" and queued[1].job_id in window.jobs.labels
    qtbot.waitUntil(lambda: queued[1].job_id in locked_at_end, timeout=60_000)
    assert "grid" in doc.song.take(take.id).analysis and take.id not in doc.song.locked  # a grid locks nothing

    window.takes.lock.emit(take.id)
    qtbot.waitUntil(lambda: len(queued) == 3, timeout=5000)
    lock = queued[2]
    assert lock.purpose.kind == "lock" and lock.purpose.take == take.id
    assert session.in_flight(kind="lock") in ([lock.job_id], [])  # the session's own record of the job
    qtbot.waitUntil(lambda: lock.job_id in window.jobs.labels, timeout=5000)
    qtbot.waitUntil(lambda: lock.job_id in locked_at_end, timeout=120_000)
    # the session switched the lock on before it said the job had ended: not the app, after the event
    assert take.id in locked_at_end[lock.job_id]
    qtbot.waitUntil(lambda: take.id in doc.song.locked, timeout=5000)
    assert doc.undo.undoText() == f"Lock {take.id} to the grid"
    assert not hasattr(window, "_lock_when_done")  # no second copy of the policy in the app


def test_a_split_the_session_refuses_queues_nothing_and_says_why(qtbot, open_window, tmp_path: Path,
                                                                 monkeypatch) -> None:
    empty = tmp_path / "no-models"
    empty.mkdir()
    monkeypatch.setenv("SONGBRIDGE_MODELS", str(empty))
    window = open_window(make_project(tmp_path).folder)
    queued, _ = watch(window)
    take = window.doc.song.takes[-1]
    before = window.doc.song
    window.takes.split.emit(take.id, False)
    message = window.statusBar().currentMessage()
    assert message.startswith(f"Split {take.id}: no stem-separation model in {empty}"), message
    assert window.split_take("take-999") == "" and "take-999" in window.statusBar().currentMessage()
    qtbot.wait(50)
    assert not queued and not window.doc.session.jobs and not window.engine.service.jobs()
    assert window.doc.song == before and not window.jobs.rows
