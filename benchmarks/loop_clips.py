"""Loop clips in the app (issue 26): what the GUI thread waits for and what playing a song with loops costs.

Method: (1) the models-folder check behind each backend's line (``gui.backend_status.backend_lines``: file-system
checks only, run in a thread by the app) on an empty folder and on the tiny models, best of ``--runs``; and the
time ``BackendChecker.check`` holds its caller (the GUI thread) before the thread takes over. (2) What playing a
song with loops costs (``engine.comp_source.SongSource``, built on a worker thread by ``gui.loop_audition``): two
loops at bar ``--bar`` at 120 bpm, the time to build the source, the time to mix one 1024-frame block at each loop's
bar, and the disk it takes (none: loops are mixed at play time; they were once padded to their bar on disk). Nothing is generated: the loops are noise written as takes of the tiny project.

Run: ``QT_QPA_PLATFORM=offscreen python benchmarks/loop_clips.py [--bar 100] [--runs 5]``
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bar", type=float, default=100.0)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()

    import numpy as np
    import soundfile as sf
    from PySide6.QtCore import QCoreApplication

    from engine.backends.stable_audio.tiny import create_tiny_stable_audio
    from engine.comp_source import SongSource
    from engine.song.model import Song, Take
    from engine.song.project import Project
    from engine.song.tempo import TempoMap
    from gui.backend_status import BackendChecker, backend_lines

    app = QCoreApplication.instance() or QCoreApplication([])
    tmp = Path(tempfile.mkdtemp(prefix="sb-loop-bench-"))
    empty, models = tmp / "empty", tmp / "models"
    empty.mkdir()
    create_tiny_stable_audio(models)
    for name, folder in (("empty folder", empty), ("tiny models", models)):
        times = []
        for _ in range(args.runs):
            t = time.perf_counter()
            backend_lines(folder)
            times.append(time.perf_counter() - t)
        print(f"backend lines, {name}: best {min(times) * 1000:.1f} ms (in a thread)")
    checker = BackendChecker()
    held = []
    for _ in range(args.runs):
        t = time.perf_counter()
        thread = checker.check(models)
        held.append(time.perf_counter() - t)
        thread.join()
    app.processEvents()
    print(f"BackendChecker.check holds the GUI thread: worst {max(held) * 1000:.2f} ms")

    project = Project(tmp / "b.songbridge", Song(tempo=TempoMap.constant(120)))
    rng = np.random.default_rng(0)
    for i, tid in enumerate(("take-001", "take-002")):
        d = project.take_dir(tid)
        (d / "stems").mkdir(parents=True)
        audio = (rng.standard_normal((4 * 88200, 2)) * 0.1).astype(np.float32)
        sf.write(d / "mix.wav", audio, 44100, subtype="FLOAT")
        sf.write(d / "stems" / "loop.wav", audio, 44100, subtype="FLOAT")
        take = Take(tid, "stable-audio-small", i, params={"prompt": "noise", "bars": 4.0, "bpm": 120.0,
                                                          "at_bar": args.bar + 4 * i}, duration_s=8.0,
                    stems=("loop",))
        project.song = project.song.with_take(take)
    before = sum(p.stat().st_size for p in project.folder.rglob("*") if p.is_file())
    t = time.perf_counter()
    source = SongSource(project, project.song)
    built = time.perf_counter() - t
    blocks = []
    for lp in project.song.loops:
        at = int(project.song.tempo.bars_to_seconds(lp.bar) * 44100)
        for k in range(args.runs * 20):
            t = time.perf_counter()
            source.read(at + 1024 * k, 1024)
            blocks.append(time.perf_counter() - t)
    source.close()
    size = sum(p.stat().st_size for p in project.folder.rglob("*") if p.is_file()) - before
    print(f"two loops at bar {args.bar:g}: source built in {built * 1000:.1f} ms, a 1024-frame block mixed in "
          f"{np.median(blocks) * 1e6:.0f} us (median), {max(blocks) * 1e6:.0f} us (worst; the block lasts 23.2 ms), "
          f"{size / 2**20:.1f} MiB written to disk")


if __name__ == "__main__":
    main()
