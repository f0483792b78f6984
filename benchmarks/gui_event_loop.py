"""How long the app's GUI thread stops answering while it does slow things.

A 5 ms timer ticks on the GUI thread while the window runs an action; the largest gap between two ticks is how long
the app froze (a gap near 5 ms means it never stopped). Measured:

- File > Save As of a project holding ``--mb`` megabytes of take audio (default 1024);
- playing a take whose stems and master have effect chains (the chains, VST3 plugins possible, load on a worker
  thread; with no VST3 installed the shipped pedalboard built-in chains are used, and the script says so), next to
  how long that load takes when done in one go (what the GUI thread used to wait for);
- a backend switch: the Generate panel switched to DiffRhythm with the tiny test model installed (its estimate
  imports torch: on a worker thread), and Preferences switching the models folder (every backend re-checked).

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
    """A guide project with one take (made through a session), then that take padded with extra audio files to
    ``mb``."""
    import numpy as np

    from engine.audio.io import write_wav
    from engine.generation import SongChoices, prepare_song
    from engine.lyrics import parse
    from engine.service import EngineService
    from engine.session import JobEnded, Session
    from engine.song import Song

    song = prepare_song(Song(), parse("[verse]\none two three\n[chorus]\nfour five six\n"),
                        SongChoices(title="Big", style="pop", bpm=120, sections="verse:4,chorus:4"), first_time=True)
    with EngineService("thread") as engine:
        session = Session.create(root / "big.songbridge", song, engine, "bench")
        ended: list[JobEnded] = []
        session.subscribe(lambda ev: ended.append(ev) if isinstance(ev, JobEnded) else None)
        session.generate("guide", 1, 1)
        deadline = time.monotonic() + 300
        while not ended and time.monotonic() < deadline:
            time.sleep(0.05)
        if not ended or ended[0].state != "finished":
            raise SystemExit(f"the guide take was not made: {ended[0].error if ended else 'timed out'}")
        folder, take = session.folder, ended[0].takes[0].id
        session.flush()
        session.close()
    extra = folder / "takes" / take / "stems-archive"
    extra.mkdir()
    block = np.random.default_rng(0).standard_normal((44_100 * 60, 2)).astype(np.float32) * 0.1  # 60 s, ~21 MB
    written, i = 0, 0
    while written < mb * 1_000_000:
        path = extra / f"archive-{i:03d}.wav"
        write_wav(path, block, 44_100)
        written, i = written + path.stat().st_size, i + 1
    return folder


def _tiny_diffrhythm(root: Path) -> Path:
    """The tiny DiffRhythm test model, made in another process (this one must not have imported torch yet)."""
    import subprocess

    code = ("import sys; from pathlib import Path; from engine.backends.diffrhythm.tiny import create_tiny_model; "
            "print(create_tiny_model(Path(sys.argv[1])))")
    out = subprocess.run([sys.executable, "-c", code, str(root / "models")], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[1])
    return Path(out.stdout.strip().splitlines()[-1])


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


def _save_as(app, win, root: Path, size: float, gaps: _Gaps) -> None:
    from PySide6.QtWidgets import QFileDialog

    target = root / "copy.songbridge"
    QFileDialog.getSaveFileName = staticmethod(lambda *a, **k: (str(target), ""))  # type: ignore[method-assign]
    opened: list[str] = []
    win.open_project = opened.append  # type: ignore[method-assign]
    gaps.reset()
    took = _spin(app, lambda: bool(opened), 600) if win.save_as() is None else 0.0
    print(f"save-as: {size:.0f} MB copied in {took:.2f} s; GUI thread's largest gap "
          f"{gaps.worst * 1000:.1f} ms (5 ms timer)")


def _chain_load(app, win, gaps: _Gaps) -> None:
    """Play the take with a chain on every stem and on the master, through the real (unopened) player."""
    from engine.audio.player import Player
    from engine.song.model import EffectSlot
    from gui.audition import load_chains

    vst3 = [p for d in ("/usr/lib/vst3", "/usr/local/lib/vst3", str(Path.home() / ".vst3")) if Path(d).is_dir()
            for p in Path(d).glob("*.vst3")]
    doc = win.doc
    take = doc.song.takes[-1]
    chains = {"drums": "drums-punch", "bass": "bass-warm", "keys": "keys-wide", "vocal": "vocal-space",
              "other": "keys-wide", "master": "master-loud"}
    doc.edit(doc.song.replace(effects={s: EffectSlot(c) for s, c in chains.items() if s in take.stems or
                                       s == "master"}), "bench: chains")
    kind = ("VST3 found but not used (the chains are the shipped built-in ones)" if vst3
            else "no VST3 installed: pedalboard built-in chains")
    started = time.perf_counter()
    boards, master, _notes = load_chains(doc.project, take)
    inline = time.perf_counter() - started
    win.player = Player()  # not opened: its commands wait in its queue
    _spin(app, lambda: False, 0.3)
    gaps.reset()
    win.play_take(take.id)
    took = _spin(app, lambda: not win.player._commands.empty() and win.tasks.pending == 0, 60)
    print(f"chain load ({kind}; {len(boards)} stem chains + master): {inline * 1000:.1f} ms of loading, "
          f"played after {took * 1000:.1f} ms; GUI thread's largest gap {gaps.worst * 1000:.1f} ms")
    win.player = None


def _backend_switch(app, win, models: Path, gaps: _Gaps) -> None:
    from gui.preferences import set_models_dir

    gen = win.generation
    _spin(app, lambda: "diffrhythm" in gen.lines, 30)
    gaps.reset()
    gen.backend.setCurrentText("diffrhythm")
    took = _spin(app, lambda: gen.estimate.text().startswith("about"), 120)
    print(f"backend switch to diffrhythm: estimate '{gen.estimate.text()}' after {took:.2f} s (torch imported: "
          f"{'torch' in sys.modules}); GUI thread's largest gap {gaps.worst * 1000:.1f} ms")
    gen.backend.setCurrentText("guide")
    _spin(app, lambda: False, 0.3)
    gaps.reset()
    set_models_dir(win, models.parent / "empty-models", "bench")
    took = _spin(app, lambda: "diffrhythm" in gen.lines and not gen.lines["diffrhythm"].ok, 30)
    set_models_dir(win, models, "bench")
    took += _spin(app, lambda: "diffrhythm" in gen.lines and gen.lines["diffrhythm"].ok, 30)
    print(f"models folder switched away and back (Preferences): every backend re-checked in {took:.2f} s; GUI "
          f"thread's largest gap {gaps.worst * 1000:.1f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=int, default=1024, help="take audio in the Save As project (MB)")
    args = ap.parse_args()

    from PySide6.QtWidgets import QApplication

    with tempfile.TemporaryDirectory(prefix="sb-gui-bench-") as tmp:
        root = Path(tmp)
        os.environ["SONGBRIDGE_CONFIG"] = str(root / "config")  # the app's settings: not the user's
        os.environ["XDG_CONFIG_HOME"] = str(root / "xdg")
        models = _tiny_diffrhythm(root)
        (root / "empty-models").mkdir()
        os.environ["SONGBRIDGE_MODELS"] = str(models)
        app = QApplication.instance() or QApplication([])
        from engine.service import EngineService
        from engine.session import Session
        from gui.engine_client import EngineClient
        from gui.main_window import MainWindow

        t0 = time.perf_counter()
        folder = _project(root, args.mb)
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6
        print(f"project: {size:.0f} MB in {time.perf_counter() - t0:.1f} s to make; torch imported: "
              f"{'torch' in sys.modules}")
        with EngineService("thread") as engine:
            session = Session.open(folder, engine, "bench")
            client = EngineClient(session)
            win = MainWindow(session, client)
            win.resize(1400, 800)
            win.show()
            _spin(app, lambda: False, 1.0)
            gaps = _Gaps()
            _spin(app, lambda: False, 2.0)
            print(f"idle (the machine's own noise): GUI thread's largest gap in 2 s {gaps.worst * 1000:.1f} ms")
            _chain_load(app, win, gaps)
            _backend_switch(app, win, models, gaps)
            _save_as(app, win, root, size, gaps)
            win.close()
            client.close()
            session.close()


if __name__ == "__main__":
    main()
