"""A headless command follows its job and then what the session queues after it (a lock here), each with a progress
bar of its own on a terminal, the first bar's line ended before the next begins."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from engine.service import EngineService
from engine.session import Session
from engine.session import followups as fu
from songbridge.headless import run_one
from tests.engine.session.test_session import make_project


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.slow
def test_a_follow_up_gets_a_bar_of_its_own_after_the_jobs_line(tmp_path: Path, monkeypatch) -> None:
    project = make_project(tmp_path)
    monkeypatch.setenv("SONGBRIDGE_MODELS", str(tmp_path / "no-models"))  # the DSP beat tracker
    term = Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    session = Session.open(project.folder, None, "test")
    try:
        ended = run_one(session, EngineService("thread").start(),
                        lambda s: s.generate("guide", 1, 5, follow_ups=(fu.lock(),)), "1 take")
        made = ended.takes[0].id
        assert made in session.song.locked  # the follow-up ran and the session switched the lock on
    finally:
        session.close()
    out = term.getvalue()
    lines = out.split("\n")
    job_line = next(i for i, ln in enumerate(lines) if "1 take [" in ln)
    lock_line = next(i for i, ln in enumerate(lines) if f"lock {made} [" in ln)
    assert job_line < lock_line, out  # the job's bar ended its line; the lock's bar is on a line of its own
    assert f"lock {made}: finished" in out
