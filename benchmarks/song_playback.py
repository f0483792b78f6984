"""Playing the song as it will be landed (issue 26): what the player's feeder thread pays to mix the comp and the
loops at play time (``engine.comp_source.SongSource``) against one take alone (``engine.audio.source.TakeSource``).

Method: a 64 s guide song (120 bpm, 4 stems; take-001 the song's take, take-003 accepted for Chorus 1, so two
crossfaded seams) and two noise loop clips (bars 5 and 21); the time to build the source (on the app's worker thread),
and the time to mix each 1024-frame block of the whole song in order, as the feeder does (median, 99th percentile,
worst; a block lasts 23.2 ms at 44.1 kHz), for the song and for take-001 alone; and the bytes written to disk.

Run: ``python benchmarks/song_playback.py [--block 1024]``
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

from engine.song.document import save_song


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--block", type=int, default=1024)
    args = ap.parse_args()

    import numpy as np
    import soundfile as sf

    from engine.audio.source import TakeSource
    from engine.backends.guide.backend import GuideBackend
    from engine.comp_source import SongSource
    from engine.generation import SongChoices, plan_takes, prepare_song, run_take
    from engine.lyrics import parse
    from engine.song import Project, Song
    from engine.song.loop_clip import Loop

    tmp = Path(tempfile.mkdtemp(prefix="sb-song-play-"))
    project = Project(tmp / "play.songbridge", Song())
    project.song = prepare_song(project.song, parse("[verse]\nwalk the line\n[chorus]\nsing it out\n"
                                                    "[verse]\nback again\n[chorus]\nsing it out\n"),
                                SongChoices(title="Play", style="pop", bpm=120,
                                            sections="verse:8,chorus:8,verse:8,chorus:8"), first_time=True)
    save_song(project.song, project.folder)
    for seed in (1, 2, 3):
        run_take(project, GuideBackend(), plan_takes(project, 1, seed)[0], lambda d, t: None, lambda: False)
    song = project.song
    loops = []
    rng = np.random.default_rng(0)
    for i, bar in enumerate((5.0, 21.0)):
        take = dataclasses.replace(song.takes[0], id=f"take-{10 + i:03d}", backend="stable-audio-small",
                                   stems=("loop",), params={"prompt": "noise", "bars": 2.0, "bpm": 120.0},
                                   duration_s=4.0, parent=None, edited_ranges=(), analysis={})
        d = project.take_dir(take.id)
        (d / "stems").mkdir(parents=True)
        sf.write(d / "mix.wav", (rng.standard_normal((4 * 44100, 2)) * 0.1).astype(np.float32), 44100)
        loops.append(Loop(take, bar))
    chorus = next(s for s in song.sections if s.name == "Chorus 1")
    project.song = song.with_accepted("", "take-001").with_accepted(chorus.id, "take-003").replace(
        loops=tuple(loops))
    before = sum(p.stat().st_size for p in project.folder.rglob("*") if p.is_file())

    t = time.perf_counter()
    song_src = SongSource(project, project.song)
    built = time.perf_counter() - t
    take_src = TakeSource(project.audio_dir("take-001"), list(project.song.takes[0].stems))
    for name, src in (("the song (comp + 2 loops)", song_src), ("take-001 alone", take_src)):
        times = []
        for pos in range(0, src.length, args.block):
            t = time.perf_counter()
            src.read(pos, args.block)
            times.append(time.perf_counter() - t)
        ms = np.array(times) * 1000
        print(f"{name}: {len(ms)} blocks of {args.block}, median {np.median(ms):.3f} ms, p99 "
              f"{np.percentile(ms, 99):.3f} ms, worst {ms.max():.3f} ms (a block lasts "
              f"{args.block / 44.1:.1f} ms)")
        src.close()
    written = sum(p.stat().st_size for p in project.folder.rglob("*") if p.is_file()) - before
    print(f"song source built in {built * 1000:.1f} ms; {written / 2**20:.1f} MiB written to disk for playback")


if __name__ == "__main__":
    main()
