"""``songbridge loop --at-bar N`` into an existing song (issue 26): two loops become clips at their bars with their
own prompts; the song's style, backend, takes and base take are unchanged; landing puts each loop on a track of its
own at its bar (the generic adapter: files named with the bar, stamped with its time); bad bars are refused and
change nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.audio.bwf import read_bext
from engine.backends.stable_audio.tiny import create_tiny_stable_audio
from engine.song.project import Project
from tests.conftest import run_cli
from tests.engine.song.loop_project import STYLE, make_loop_project


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("models")
    create_tiny_stable_audio(folder)
    return folder


@pytest.mark.slow
def test_two_loops_from_the_command_line_are_clips_at_their_bars_and_land_there(tmp_path: Path,
                                                                                models: Path) -> None:
    from daw_bridge.landing import deliver, render_job
    from engine.render import render_summary, render_take
    from engine.session import Session

    project = make_loop_project(tmp_path, models, loops=())
    before = project.song
    for prompt, bars, at_bar, seed in (("warm pad", "2", "5", "3"), ("dusty drums", "1", "9", "4")):
        r = run_cli("loop", prompt, "--bars", bars, "--at-bar", at_bar, "--seed", seed, "--models", str(models),
                    "-o", str(project.folder))
        assert r.returncode == 0, r.stderr
        assert f"loop at bar {at_bar}" in r.stdout
    song = Project.open(project.folder).song
    assert song.style == before.style and song.style.prompt == STYLE
    assert song.takes == before.takes and song.base_take() == before.base_take()
    assert dict(song.accepted) == dict(before.accepted)
    assert [(lp.prompt, lp.bar, lp.bars, lp.backend) for lp in song.loops] == [
        ("warm pad", 5.0, 2.0, "stable-audio-small"), ("dusty drums", 9.0, 1.0, "stable-audio-small")]

    session = Session.open(project.folder, None, "test")
    try:
        out = tmp_path / "landed"
        for lp in song.loops:
            job, purpose = render_job(session, lp.id, None, None, out)
            assert purpose.landing.track == f"loop {lp.prompt}" and purpose.landing.bar == lp.bar
            result = render_take(session.project, job.take_id, job.settings, time_reference_s=job.time_reference_s,
                                 out_name=job.out_name)
            adapter, what = deliver(session, purpose, render_summary(result))
            assert adapter == "generic", what
        for lp in song.loops:
            files = sorted(out.glob(f"*{lp.id}*_bar{lp.bar:g}_*.wav"))
            assert files, sorted(p.name for p in out.iterdir())
            for f in files:
                assert read_bext(f).time_reference == round(song.tempo.bars_to_seconds(lp.bar) * 44100)
    finally:
        session.close()


@pytest.mark.slow
def test_a_bar_before_the_song_or_past_its_end_is_refused_and_changes_nothing(tmp_path: Path, models: Path) -> None:
    project = make_loop_project(tmp_path, models, loops=())
    text = (project.folder / "song.json").read_bytes()
    for at_bar, says in (("0", "--at-bar must be a bar 1..100000"), ("40", "past the end of the song")):
        r = run_cli("loop", "pad", "--bars", "1", "--at-bar", at_bar, "--models", str(models),
                    "-o", str(project.folder))
        assert r.returncode != 0 and says in r.stderr, r.stderr
        assert (project.folder / "song.json").read_bytes() == text
