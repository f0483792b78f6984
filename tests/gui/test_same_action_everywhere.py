"""Issue 25's acceptance, after ``test_regenerate_everywhere.py`` (two lines of a named take, a section): a loop, a
split and a landing asked for from the app (pytest-qt), over OSC (a real UDP peer) and from the command line (a
``songbridge`` subprocess, sent to the app, which holds the project) are each ONE call of the same session use case
and queue the same job. The tiny random Stable Audio and HTDemucs models are installed, so every job really runs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from engine.service import GenerateJob, RenderJob, SplitJob
from tests.gui.front_ends import (
    FrontEnds,
    generate_spec,
    over_osc,
    settle_all,
    songbridge,
    take_job_spec,
    wait_for,
)
from tests.gui.test_regenerate_everywhere import hosted, two_take_project

pytestmark = pytest.mark.integration

PROMPT = "dusty boom bap drum loop"


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from engine.backends.stable_audio.tiny import create_tiny_stable_audio
    from engine.stems.tiny import create_tiny_separator

    folder = tmp_path_factory.mktemp("models")
    create_tiny_stable_audio(folder)
    create_tiny_separator(folder)
    return folder


@pytest.fixture
def app(qtbot, tmp_path: Path, models: Path, monkeypatch):
    """The app holding the two-take project (``test_regenerate_everywhere``), its bridge on, the tiny models in
    SONGBRIDGE_MODELS for it and for the commands it starts: (window, bridge, session, jobs as the engine got them)."""
    monkeypatch.setenv("SONGBRIDGE_MODELS", str(models))
    yield from hosted(qtbot, two_take_project(tmp_path))


@pytest.mark.slow
def test_a_loop_is_one_session_call_and_one_job_from_the_app_osc_and_the_command_line(qtbot, app) -> None:
    win, bridge, session, jobs = app
    song = session.song
    fronts = FrontEnds(session, jobs, GenerateJob)
    # the app: the Loops panel, 2 bars at 126 bpm (not the song's 120) at bar 3 (not the play head's)
    panel = win.loops
    panel.prompt.setText(PROMPT)
    panel.bars.setValue(2)
    panel.follow.setChecked(False)
    panel.bpm.setValue(126)
    panel.at_playhead.setChecked(False)
    panel.at_bar.setValue(3)
    assert panel.make.isEnabled(), panel.model_note.text()
    qtbot.mouseClick(panel.make, Qt.LeftButton)
    fronts.done("the app", "" if wait_for(qtbot, lambda: len(jobs) >= 1, 5000) else
                f"Make loop queued nothing: {panel.model_note.text()}")
    # the DAW: /songbridge/loop/generate prompt bars bpm at_bar
    fronts.done("OSC", over_osc(qtbot, bridge, jobs, GenerateJob, "/songbridge/loop/generate", PROMPT, 2.0, 126.0,
                                3.0))
    # the command line, sent to the app
    cli = songbridge(qtbot, "loop", PROMPT, "-o", str(session.folder), "--bars", "2", "--bpm", "126",
                     "--at-bar", "3")
    fronts.done("the command line", "" if cli.returncode == 0 else
                f"`songbridge loop` exited {cli.returncode}: {cli.stderr.strip()[-400:]}")
    settle_all(qtbot, win, jobs)
    problems = fronts.check("make_loop", generate_spec)
    app_jobs = fronts.asked["the app"][1]
    if app_jobs:  # what the job asks for: the panel's loop, not the song's tempo or a song take
        (req,) = app_jobs[0].requests
        assert app_jobs[0].backend == "stable-audio-small"
        assert dict(req.params) == {"prompt": PROMPT, "bars": 2.0, "bpm": 126.0, "at_bar": 3.0}
        assert req.duration_s == pytest.approx(2 * 4 * 60 / 126) and req.edit is None
    assert not problems, "\n".join(problems)
    assert len(session.song.loops) == 3 and session.song.takes == song.takes and session.song.style == song.style
    qtbot.waitUntil(lambda: len(win.timeline.loop_items()) == 3, timeout=5000)  # three clips at bar 3 in the app
    shots = os.environ.get("SONGBRIDGE_SCREENSHOT_DIR")
    if shots:
        win.resize(1400, 900)
        win.grab().save(str(Path(shots) / "same_loop_everywhere.png"))


@pytest.mark.slow
def test_a_split_is_one_session_call_and_one_job_from_the_app_osc_and_the_command_line(qtbot, app, models) -> None:
    win, bridge, session, jobs = app
    assert session.song.takes[-1].id == "take-002"  # the named take is not the default one
    fronts = FrontEnds(session, jobs, SplitJob)
    # the app: the takes list's "Split into vocal and instrumental" on take-001
    win.takes.split.emit("take-001", True)
    fronts.done("the app", "" if wait_for(qtbot, lambda: len(jobs) >= 1, 5000) else
                f"Split queued nothing: {win.statusBar().currentMessage()}")
    fronts.done("OSC", over_osc(qtbot, bridge, jobs, SplitJob, "/songbridge/take/split", "take-001", True))
    cli = songbridge(qtbot, "split", str(session.folder), "--take", "take-001", "--two")
    fronts.done("the command line", "" if cli.returncode == 0 else
                f"`songbridge split` exited {cli.returncode}: {cli.stderr.strip()[-400:]}")
    settle_all(qtbot, win, jobs)
    problems = fronts.check("split", take_job_spec)
    for _, made in fronts.asked.values():  # whatever else differs: the take, the two stems and the models
        for job in made:
            assert (job.take.id, job.two, job.models) == ("take-001", True, models.resolve())
    assert not problems, "\n".join(problems)
    assert session.song.take("take-001").stems == ("vocal", "instrumental")


def test_a_landing_is_one_session_call_and_one_job_from_the_app_osc_and_the_command_line(qtbot, app) -> None:
    win, bridge, session, jobs = app
    session.accept("take-001", "chorus")  # the chorus's take is take-001, not the newest
    fronts = FrontEnds(session, jobs, RenderJob)
    # the app: the DAW link panel, "Chorus", Land in DAW (its accepted take)
    panel = win.daw_link
    panel.refresh()
    panel.land_what.setCurrentText("Chorus")
    assert panel.land_what.currentData() == "Chorus"
    qtbot.mouseClick(panel.land_button, Qt.LeftButton)
    fronts.done("the app", "" if wait_for(qtbot, lambda: len(jobs) >= 1, 10_000) else
                f"Land in DAW queued nothing: {panel.landed.text()}")
    fronts.done("OSC", over_osc(qtbot, bridge, jobs, RenderJob, "/songbridge/stems/land", "take-001", "Chorus"))
    cli = songbridge(qtbot, "daw", "land", str(session.folder), "--take", "take-001", "--section", "Chorus")
    fronts.done("the command line", "" if cli.returncode == 0 else
                f"`songbridge daw land` exited {cli.returncode}: {cli.stderr.strip()[-400:]}")
    landings = wait_for(qtbot, lambda: len(bridge.landings) >= len(fronts.asked), 60_000)
    settle_all(qtbot, win, jobs)
    problems = fronts.check("land", lambda job: job)
    for _, made in fronts.asked.values():
        for job in made:  # the chorus of take-001: 4-8 s of it
            assert (job.take_id, job.settings.range_s) == ("take-001", (4.0, 8.0)), job
    assert landings, bridge.landings
    assert all(ln["ok"] and ln["adapter"] == "generic" and ln["take"] == "take-001" for ln in bridge.landings), \
        bridge.landings
    landed = sorted((session.folder / "renders" / "daw").glob("*.wav"))
    assert landed and all("_bar3_" in p.name for p in landed), landed  # the chorus starts at bar 3
    assert not problems, "\n".join(problems)
    assert "take-001: landed through generic" in cli.stdout, cli.stdout  # what the command line says


def test_a_landing_goes_to_the_generic_links_folder(qtbot, app, tmp_path: Path) -> None:
    from daw_bridge.adapters.check import check_link
    from engine.song import DawLink

    win, bridge, session, jobs = app
    folder = tmp_path / "daw-imports"
    session.edit(session.song.replace(daw=DawLink(adapter="generic", render_folder=str(folder))),
                 "Link a folder", "test")
    ok, said = check_link(session.song, session.folder)
    assert ok and str(folder) in said  # what the panel's Test tells the producer
    assert not over_osc(qtbot, bridge, jobs, RenderJob, "/songbridge/stems/land", "take-001", "Chorus")
    landed = wait_for(qtbot, lambda: bool(bridge.landings), 60_000)
    settle_all(qtbot, win, jobs)
    assert landed and bridge.landings[-1]["ok"], bridge.landings
    assert sorted(folder.glob("*.wav")), f"nothing landed in {folder}: {bridge.landings[-1]['detail']}"


def refusals(qtbot, bridge, jobs, kind: type, address: str, osc_args: tuple, cli_args: tuple[str, ...]) -> dict:
    """The same request, refused over OSC and from the command line: {front-end: what it said}."""
    said = {"OSC": over_osc(qtbot, bridge, jobs, kind, address, *osc_args)}
    cli = songbridge(qtbot, *cli_args)
    said["the command line"] = f"exit {cli.returncode}: {cli.stderr.strip()}"
    return said


def test_a_split_without_a_stem_model_is_refused_in_the_same_words_everywhere(qtbot, app, tmp_path,
                                                                              monkeypatch) -> None:
    from engine.errors import SongBridgeError

    win, bridge, session, jobs = app
    monkeypatch.setenv("SONGBRIDGE_MODELS", str(tmp_path / "no-models"))
    with pytest.raises(SongBridgeError) as refused:
        session.split("take-001", True)  # the session's words
    why = str(refused.value)
    assert "no stem-separation model in" in why
    win.takes.split.emit("take-001", True)
    said = {"the app": win.statusBar().currentMessage()}
    said.update(refusals(qtbot, bridge, jobs, SplitJob, "/songbridge/take/split", ("take-001", True),
                         ("split", str(session.folder), "--take", "take-001", "--two")))
    assert all(why in text for text in said.values()), said
    assert not said["the command line"].startswith("exit 0")
    assert not jobs and session.song.take("take-001").stems != ("vocal", "instrumental")


def test_a_loop_too_long_for_the_model_is_refused_in_the_same_words_everywhere(qtbot, app) -> None:
    from engine.errors import SongBridgeError
    from engine.session.loops import MakeLoop, plan
    from engine.settings import models_dir

    win, bridge, session, jobs = app
    with pytest.raises(SongBridgeError) as refused:
        plan(session.song, MakeLoop(PROMPT, 40, 126, 3), models_dir()[0])  # the session's check, its words
    why = str(refused.value)
    assert "76.19 s" in why
    panel = win.loops
    panel.prompt.setText(PROMPT)
    panel.bars.setValue(40)
    panel.follow.setChecked(False)
    panel.bpm.setValue(126)
    panel.at_playhead.setChecked(False)
    panel.at_bar.setValue(3)
    assert not panel.make.isEnabled() and "76.19 s is longer than" in panel.model_note.text()  # said before asked
    said = refusals(qtbot, bridge, jobs, GenerateJob, "/songbridge/loop/generate", (PROMPT, 40.0, 126.0, 3.0),
                    ("loop", PROMPT, "-o", str(session.folder), "--bars", "40", "--bpm", "126", "--at-bar", "3"))
    assert all(why in text for text in said.values()), said
    assert not said["the command line"].startswith("exit 0") and not jobs and not session.song.loops
