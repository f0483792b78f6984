"""A project with a song take (the guide renderer's) and two loop clips made by the tiny Stable Audio model, in
process: the acceptance project of issue 26's "loops are clips"."""

from __future__ import annotations

from pathlib import Path

from engine.song.document import save_song
from engine.song.project import Project

STYLE = "americana, male vocal"
LOOPS = (("warm pad", 2.0, 3.0, 11), ("dusty drum loop", 1.0, 9.0, 4))  # prompt, bars, at bar, seed


def make_loop_project(tmp: Path, models: Path, loops: tuple = LOOPS) -> Project:
    from engine.backends import registry
    from engine.backends.guide.backend import GuideBackend
    from engine.backends.stable_audio.loops import loop_seconds
    from engine.generation import SongChoices, plan_takes, prepare_song, run_take
    from engine.lyrics import parse
    from engine.song.model import Song

    project = Project(tmp / "loops.songbridge", Song())
    project.song = prepare_song(project.song, parse("[verse]\none two three four\n[chorus]\nfive six seven\n"),
                                SongChoices(title="Loops", style=STYLE, bpm=120, sections="verse:8,chorus:8"),
                                first_time=True)
    save_song(project.song, project.folder)
    run_take(project, GuideBackend(), plan_takes(project, 1, 1)[0], lambda d, t: None, lambda: False)
    backend = registry.create("stable-audio-small", models_dir=str(models))
    for prompt, bars, at_bar, seed in loops:
        params = registry.check_request_params("stable-audio-small",
                                               {"prompt": prompt, "bars": bars, "bpm": 120.0, "at_bar": at_bar})
        req = plan_takes(project, 1, seed, duration_s=loop_seconds(bars, 120.0, 4), params=params)[0]
        run_take(project, backend, req, lambda d, t: None, lambda: False)
    return project
