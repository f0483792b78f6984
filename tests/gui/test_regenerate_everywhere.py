"""Issue 25's acceptance: the same regeneration asked for from the app, over OSC and from the command line (sent to
the app, which holds the project) queues three jobs whose edit specs are identical — for two lyric lines of a named
take, one of which has an end time, and for a section."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from engine.backends.base import EditSpec
from engine.backends.guide.backend import GuideBackend
from engine.generation import plan_takes, run_take
from engine.service import EngineService
from engine.session import Session
from engine.song.document import save_song
from engine.song.model import TimeRange
from tests.engine.session.test_session import make_project
from tests.gui.test_app_hosts_bridge import Peer, free_port

pytestmark = pytest.mark.integration


def two_take_project(tmp: Path):
    """take-001 and take-002 (8 s each, Verse 0-4 s, Chorus 4-8 s); line l001 (0 s) ends at 2.5 s, l002 (4 s) has no
    end time."""
    project = make_project(tmp)
    run_take(project, GuideBackend(), plan_takes(project, 1, 2)[0], lambda d, t: None, lambda: False)
    project.song = project.song.with_lyrics(replace(ln, end_s=2.5) if ln.id == "l001" else ln
                                            for ln in project.song.lyrics)
    save_song(project.song, project.folder)
    return project


@pytest.fixture
def app(qtbot, tmp_path: Path):
    yield from hosted(qtbot, two_take_project(tmp_path))


def hosted(qtbot, project):
    """The app on ``project`` with its bridge on, as ``songbridge gui`` runs it: (window, bridge, session, the jobs
    queued, as queued); closed after."""
    from gui.engine_client import EngineClient
    from gui.main_window import MainWindow
    from songbridge.commands.serve import start_bridge, stop_bridge

    service = EngineService("thread").start()
    jobs: list = []
    submit = service.submit
    service.submit = lambda job: (jobs.append(job), submit(job))[1]  # every job the session queues, as queued
    session = Session.open(project.folder, service, "songbridge gui")
    args = argparse.Namespace(osc=f"127.0.0.1:{free_port()}", allow=None, reply_port=None, midi="off",
                              auto_land=False, land_folder=None, midi_map=None)
    bridge = start_bridge(session, args)
    engine = EngineClient(session)
    win = MainWindow(session, engine, None, bridge)
    qtbot.addWidget(win)
    win.show()
    yield win, bridge, session, jobs
    win.close()
    stop_bridge(bridge)
    engine.close()
    session.close()
    service.close()


def settle(qtbot, win) -> None:
    """Wait for the jobs to end: closing the window asks while jobs run."""
    qtbot.waitUntil(lambda: not [j for j in win.engine.service.jobs() if j.state in ("queued", "running")],
                    timeout=30_000)


def spec_of(job) -> tuple:
    """What a regeneration job asks the backend for (its seed aside: each front-end picks its own)."""
    (req,) = job.requests
    return req.edit, req.duration_s, req.lyrics, job.backend


def from_the_command_line(qtbot, folder: Path, *options: str) -> subprocess.CompletedProcess:
    proc = subprocess.Popen([sys.executable, "-m", "songbridge", "edit", str(folder), *options],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": os.getcwd()})
    qtbot.waitUntil(lambda: proc.poll() is not None, timeout=60_000)  # the app's event loop runs meanwhile
    out, err = proc.communicate()
    assert proc.returncode == 0, err
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def over_osc(qtbot, bridge, take: str, data: dict) -> None:
    daw = Peer(bridge.osc.address)
    daw.send("/songbridge/job/edit", take, json.dumps(data))
    qtbot.waitUntil(lambda: any(a == "/songbridge/job/queued" for a, _ in daw.poll()), timeout=10_000)


def test_two_lines_of_a_named_take_are_one_spec_from_the_app_osc_and_the_command_line(qtbot, app) -> None:
    win, bridge, session, jobs = app
    assert session.song.takes[-1].id == "take-002"  # the named take is not the default one
    # the app: the take chosen in the takes list, the two lines selected on the timeline, Regenerate lines
    win.takes.choose("take-001")
    win.timeline.selected = {"l001", "l002"}
    win.timeline.selectionChanged.emit()
    assert win.generation.btn_lines.isEnabled()
    qtbot.mouseClick(win.generation.btn_lines, Qt.LeftButton)
    qtbot.waitUntil(lambda: len(jobs) == 1, timeout=5000)
    over_osc(qtbot, bridge, "take-001", {"lines": ["l001", "l002"]})
    qtbot.waitUntil(lambda: len(jobs) == 2, timeout=5000)
    done = from_the_command_line(qtbot, session.folder, "--take", "take-001", "--lines", "l001,l002")
    assert len(jobs) == 3 and "take-" in done.stdout
    app_spec, osc_spec, cli_spec = (spec_of(j) for j in jobs)
    assert app_spec == osc_spec == cli_spec
    # l001 ends at its end time (2.5 s), not at the next line; l002 runs to the take's end
    assert app_spec[0] == EditSpec("take-001", (TimeRange(0.0, 2.5), TimeRange(4.0, 8.0)))
    settle(qtbot, win)


def test_a_section_is_one_spec_from_the_app_osc_and_the_command_line(qtbot, app) -> None:
    win, bridge, session, jobs = app
    session.accept("take-001", "chorus")  # the section's accepted take is the default, not the newest take
    win.timeline.range = (4.0, 8.0)  # the chorus, selected in the ruler
    win.timeline.rangeChanged.emit(4.0, 8.0)
    qtbot.mouseClick(win.generation.btn_sel, Qt.LeftButton)
    qtbot.waitUntil(lambda: len(jobs) == 1, timeout=5000)
    daw = Peer(bridge.osc.address)
    daw.send("/songbridge/job/generate_section", "Chorus")
    qtbot.waitUntil(lambda: any(a == "/songbridge/job/queued" for a, _ in daw.poll()), timeout=10_000)
    from_the_command_line(qtbot, session.folder, "--section", "chorus")
    assert len(jobs) == 3
    app_spec, osc_spec, cli_spec = (spec_of(j) for j in jobs)
    assert app_spec == osc_spec == cli_spec
    assert app_spec[0] == EditSpec("take-001", (TimeRange(4.0, 8.0),))
    settle(qtbot, win)


def test_a_refused_edit_from_the_command_line_says_why_and_queues_nothing(qtbot, app) -> None:
    win, bridge, session, jobs = app
    proc = subprocess.Popen([sys.executable, "-m", "songbridge", "edit", str(session.folder), "--bars", "3-9"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": os.getcwd()})
    qtbot.waitUntil(lambda: proc.poll() is not None, timeout=60_000)
    _, err = proc.communicate()
    assert proc.returncode == 2 and "bars 3-9: past the end of take-002" in err and not jobs


def test_the_app_never_edits_a_loop_unless_asked_and_then_says_why(qtbot, app) -> None:
    win, bridge, session, jobs = app
    song = session.song
    loop = replace(song.takes[0], id="take-003", backend="stable-audio-small", params={"bars": 2, "prompt": "x"},
                   duration_s=2.0)
    session.edit(song.with_take(loop), "a loop take", "test")  # the newest take is now a 2 s loop
    win.timeline.range = (4.0, 8.0)
    win.timeline.rangeChanged.emit(4.0, 8.0)
    qtbot.mouseClick(win.generation.btn_sel, Qt.LeftButton)
    qtbot.waitUntil(lambda: len(jobs) == 1, timeout=5000)
    assert spec_of(jobs[0])[0] == EditSpec("take-002", (TimeRange(4.0, 8.0),))  # the newest song take
    rows = [win.takes.item(i).data(256) for i in range(win.takes.count())]
    assert "take-003" not in rows and [lp.id for lp in session.song.loops] == ["take-003"]  # a clip, not a take
    win.takes.choose("take-003")  # asked for by its id all the same
    assert win.takes.edit_take == "take-003"
    qtbot.mouseClick(win.generation.btn_sel, Qt.LeftButton)
    assert "take: take-003 is a loop" in win.statusBar().currentMessage() and len(jobs) == 1
    settle(qtbot, win)
