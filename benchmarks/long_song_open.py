"""How soon a long song is usable in the app: a 300-line, 12-minute song with a 12-minute take, opened in the main
window with a cold peak cache (no peaks computed yet).

Method: offscreen Qt (QT_QPA_PLATFORM=offscreen); a project with 300 timed lines over 12 minutes and a guide take
of 12 minutes (rendered once, before the clock starts); time from creating the main window to the first paint
that drew the lyric lane (the widget's paint event returning), then to the take's waveform drawn (the peaks read
in the background). The goal: lyric lane within 2 s.

Run: ``python benchmarks/long_song_open.py``
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    from PySide6.QtWidgets import QApplication

    from engine.backends.guide.backend import GuideBackend
    from engine.generation import plan_takes, run_take
    from engine.service import EngineService
    from engine.session import Session
    from engine.song import LyricLine, Project, Song, TempoMap
    from engine.song.sections import parse_sections
    from gui.engine_client import EngineClient
    from gui.main_window import MainWindow
    from gui.timeline import Timeline

    app = QApplication.instance() or QApplication([])
    tempo = TempoMap.constant(100)
    lines = tuple(LyricLine(f"l{i:03d}", f"line number {i} of the long song", 3.0 + i * 2.38) for i in range(300))
    tmp = Path(tempfile.mkdtemp())
    project = Project.create(tmp / "long", Song(tempo=tempo, sections=parse_sections("verse:300", tempo),
                                                lyrics=lines))
    take = run_take(project, GuideBackend(), plan_takes(project, 1, 1, duration_s=720.0)[0], lambda d, t: None,
                    lambda: False)
    shutil.rmtree(project.folder / "cache", ignore_errors=True)  # cold: no peaks yet
    first: dict[str, float] = {}
    paint = Timeline.paintEvent

    def timed_paint(self, event):  # type: ignore[no-untyped-def]
        paint(self, event)
        now = time.perf_counter()
        first.setdefault("lyrics", now)
        if self.peaks.peaks.get(self.peaks.key(take.id, "mix")) is not None:
            first.setdefault("waveform", now)

    Timeline.paintEvent = timed_paint  # type: ignore[method-assign]
    engine = EngineService("thread").start()
    t0 = time.perf_counter()
    session = Session.open(project.folder, engine, "benchmark")
    client = EngineClient(session)
    win = MainWindow(session, client)
    win.resize(1920, 1080)
    win.show()
    deadline = t0 + 60
    while "waveform" not in first and time.perf_counter() < deadline:
        app.processEvents()
        time.sleep(0.005)
    print(f"300 lines, {take.duration_s / 60:.1f}-minute take, cold peak cache")
    print(f"lyric lane drawn after {first.get('lyrics', float('nan')) - t0:.2f} s (goal: under 2 s)")
    print(f"waveform drawn after {first.get('waveform', float('nan')) - t0:.2f} s")
    client.close()
    session.close()
    engine.close()
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
