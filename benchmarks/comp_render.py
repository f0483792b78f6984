"""What comping costs a render: the whole song rendered as comped (each section from its accepted take, crossfaded at
the boundaries; ``engine.comp``) against the same song's take rendered alone.

Method: a guide project of ``--bars`` bars at 120 bpm (four sections) with three takes; Chorus 1 uses take 1 and
Chorus 2 take 2, the song take 3. Both renders run in this process (``render_take``, no effect chains, loudness
normalised to -14 LUFS), best of ``--runs`` (default 3); the assembly alone (``read_comp`` of every stem) is timed
too. Prints seconds and the comp's overhead in per cent.

Run: ``python benchmarks/comp_render.py [--bars 96] [--runs 3]``
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from engine.song.document import save_song


def best(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bars", type=int, default=96)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    from engine.backends.guide.backend import GuideBackend
    from engine.comp import comp_pieces, read_comp
    from engine.generation import SongChoices, plan_takes, prepare_song, run_take
    from engine.lyrics import parse
    from engine.render import RenderSettings, comp_settings, render_take
    from engine.song import Project, Song

    q = args.bars // 4
    with tempfile.TemporaryDirectory() as tmp:
        project = Project(Path(tmp) / "bench.songbridge", Song())
        project.song = prepare_song(project.song, parse("[verse]\na b\n[chorus]\nc d\n[verse]\ne f\n[chorus]\ng h\n"),
                                    SongChoices(title="Bench", style="pop", bpm=120,
                                                sections=f"verse:{q},chorus:{q},verse:{q},chorus:{q}"),
                                    first_time=True)
        save_song(project.song, project.folder)
        for seed in (1, 2, 3):
            run_take(project, GuideBackend(), plan_takes(project, 1, seed)[0], lambda d, t: None, lambda: False)
        ch = [s.id for s in project.song.sections if s.kind == "chorus"]
        project.song = project.song.with_accepted(ch[0], "take-001").with_accepted(ch[1], "take-002")
        save_song(project.song, project.folder)
        take, settings = comp_settings(project.song, RenderSettings())
        plain = best(lambda: render_take(project, take, RenderSettings(), out_name="plain"), args.runs)
        comped = best(lambda: render_take(project, take, settings, out_name="comp"), args.runs)
        pieces = comp_pieces(project.song)
        stems = project.song.take(take).stems
        assembly = best(lambda: [read_comp(project, pieces, s) for s in stems], args.runs)
        seconds = project.song.take(take).duration_s
        print(f"song {seconds:.0f} s, {len(pieces)} pieces, {len(stems)} stems")
        print(f"render the take alone  {plain:.3f} s")
        print(f"render the comp        {comped:.3f} s  ({100 * (comped - plain) / plain:+.0f} %)")
        print(f"comp assembly alone    {assembly:.3f} s")


if __name__ == "__main__":
    main()
