"""Timeline repaint time with 500 lyric lines and a 5-minute take with its 4 stems expanded.

Method: offscreen Qt (QT_QPA_PLATFORM=offscreen), a 1600x900 timeline showing a 5-minute guide take (rendered
once into a temporary project, peaks computed and cached first), 500 timed lyric lines, the take expanded to its
four stems; zoom levels from the whole song down to 4 bars; for each, time ``widget.repaint()`` (a synchronous
paint) ``--runs`` times and print the median and worst. The goal is under 16 ms (one frame at 60 Hz).

Run: ``python benchmarks/timeline_paint.py [--runs 30]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=30)
    args = ap.parse_args()

    from PySide6.QtWidgets import QApplication

    from engine.backends.guide.backend import GuideBackend
    from engine.generation import plan_takes, run_take
    from engine.song import LyricLine, Project, Song, TempoMap
    from engine.song.sections import parse_sections
    from gui.document import DocumentModel
    from gui.peaks import PeakCache, compute_peaks
    from gui.timeline import Timeline

    app = QApplication.instance() or QApplication([])
    tempo = TempoMap.constant(120)
    sections = parse_sections("intro:8,verse:32,chorus:16,verse:32,chorus:16,bridge:16,chorus:16,outro:14", tempo)
    lines = tuple(LyricLine(f"l{i:03d}", f"line number {i} of the benchmark song", 4.0 + i * 0.58)
                  for i in range(500))
    tmp = Path(tempfile.mkdtemp())
    project = Project.create(tmp / "bench", Song(tempo=tempo, sections=sections, lyrics=lines))
    take = run_take(project, GuideBackend(), plan_takes(project, 1, 1, duration_s=300.0)[0], lambda d, t: None,
                    lambda: False)
    peaks = PeakCache(project.folder)
    for name in ("mix", *take.stems):
        wav = project.take_dir(take.id) / ("mix.wav" if name == "mix" else f"stems/{name}.wav")
        peaks.peaks[peaks.key(take.id, name)] = compute_peaks(wav, project.folder / "cache" / f"{name}.npy")
    tl = Timeline(DocumentModel(project), peaks)
    tl.expanded.add(take.id)
    tl.resize(1600, 900)
    tl.show()
    app.processEvents()
    print(f"500 lyric lines, {take.duration_s:.0f} s take with {len(take.stems)} stems expanded, 1600x900")
    for label, px_per_s in (("whole song", 1500 / 300), ("32 bars", 1500 / 64), ("4 bars", 1500 / 8)):
        tl.px_per_s = px_per_s
        tl.scroll_s = 100.0 if px_per_s > 10 else 0.0
        times = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            tl.repaint()
            times.append((time.perf_counter() - t0) * 1000)
        print(f"{label:>10}: repaint median {statistics.median(times):.1f} ms, worst {max(times):.1f} ms "
              f"over {args.runs}")


if __name__ == "__main__":
    main()
