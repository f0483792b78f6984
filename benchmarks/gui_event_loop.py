"""How long the app's GUI thread stops answering while it does slow things.

A 5 ms timer ticks on the GUI thread while the window runs an action; the largest gap between two ticks is how long
the app froze (a gap near 5 ms means it never stopped). Measured: File > Save As of a project holding ``--mb``
megabytes of take audio (default 1024).

    QT_QPA_PLATFORM=offscreen python benchmarks/gui_event_loop.py [--mb 1024]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _project(root: Path, mb: int) -> Path:
    """A guide project, then its first take's stems padded with extra takes' worth of audio files to ``mb``."""
    import numpy as np

    from engine.audio.io import write_wav
    from engine.backends.guide.backend import GuideBackend
    from engine.generation import SongChoices, plan_takes, prepare_song, run_take
    from engine.lyrics import parse
    from engine.song import Project, Song

    project = Project(root / "big.songbridge", Song())
    project.song = prepare_song(project.song, parse("[verse]\none two three\n[chorus]\nfour five six\n"),
                                SongChoices(title="Big", style="pop", bpm=120, sections="verse:4,chorus:4"),
                                first_time=True)
    project.save()
    take = run_take(project, GuideBackend(), plan_takes(project, 1, 1)[0], lambda d, t: None, lambda: False)
    extra = project.take_dir(take.id) / "stems-archive"
    extra.mkdir()
    block = np.random.default_rng(0).standard_normal((44_100 * 60, 2)).astype(np.float32) * 0.1  # 60 s, ~21 MB
    written, i = 0, 0
    while written < mb * 1_000_000:
        path = extra / f"archive-{i:03d}.wav"
        write_wav(path, block, 44_100)
        written, i = written + path.stat().st_size, i + 1
    return project.folder


class _Gaps:
    def __init__(self) -> None:
        from PySide6.QtCore import QTimer

        self.last = time.perf_counter()
        self.worst = 0.0
        self.timer = QTimer()
        self.timer.setInterval(5)
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.worst = max(self.worst, now - self.last)
        self.last = now

    def reset(self) -> None:
        self.last, self.worst = time.perf_counter(), 0.0


def _spin(app, until, timeout: float) -> float:
    start = time.perf_counter()
    while not until() and time.perf_counter() - start < timeout:
        app.processEvents()
        time.sleep(0.001)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=int, default=1024, help="take audio in the Save As project (MB)")
    args = ap.parse_args()

    from PySide6.QtWidgets import QApplication, QFileDialog

    from engine.service import EngineService
    from engine.session import Session
    from gui.engine_client import EngineClient
    from gui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory(prefix="sb-gui-bench-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        folder = _project(root, args.mb)
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6
        print(f"project: {size:.0f} MB in {time.perf_counter() - t0:.1f} s to make")
        with EngineService("thread") as engine:
            session = Session.open(folder, engine, "bench")
            client = EngineClient(session)
            win = MainWindow(session, client)
            win.resize(1400, 800)
            win.show()
            _spin(app, lambda: False, 1.0)
            gaps = _Gaps()
            target = root / "copy.songbridge"
            QFileDialog.getSaveFileName = staticmethod(lambda *a, **k: (str(target), ""))  # type: ignore[method-assign]
            opened: list[str] = []
            win.open_project = opened.append  # type: ignore[method-assign]
            gaps.reset()
            took = _spin(app, lambda: bool(opened), 600) if win.save_as() is None else 0.0
            print(f"save-as: {size:.0f} MB copied in {took:.2f} s; GUI thread's largest gap "
                  f"{gaps.worst * 1000:.1f} ms (5 ms timer)")
            win.close()
            client.close()
            session.close()


if __name__ == "__main__":
    main()
