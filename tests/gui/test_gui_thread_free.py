"""Nothing slow on the GUI thread (issue 25): the style reference clip is read and copied into the project on a worker
thread (the job is queued once it is there); playing a take loads its effect chains (plugins possible) on a worker
thread, says "loading effects…" and plays the chain once it is loaded; refreshing the Generate panel (switching
backend) imports no torch in the app: a neural backend's estimate comes from a child process."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from engine.song.model import EffectSlot
from gui.main_window import MainWindow
from tests.engine.session.test_session import make_project

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def window(open_window, tmp_path: Path) -> MainWindow:
    return open_window(make_project(tmp_path).folder)


def test_the_reference_clip_is_copied_into_the_project_off_the_gui_thread(qtbot, window: MainWindow,
                                                                          tmp_path: Path, monkeypatch) -> None:
    import engine.session.references as references

    copied: list[threading.Thread] = []
    real = references.copy_into

    def spy(*a: Any, **k: Any) -> Any:
        copied.append(threading.current_thread())
        return real(*a, **k)

    monkeypatch.setattr(references, "copy_into", spy)
    clip = tmp_path / "ref.wav"
    sf.write(clip, 0.2 * np.random.default_rng(0).standard_normal((44100 * 11, 2)), 44100)
    doc = window.doc
    count = len(doc.song.takes)
    opts = {"backend": "guide", "style": "pop", "seed": 3, "takes": 1, "params": {}, "reference": str(clip)}
    assert window.generate(opts, None) is None  # nothing queued yet: the clip is being read and copied
    assert "reading the reference clip ref.wav" in window.statusBar().currentMessage()
    qtbot.waitUntil(lambda: doc.song.style.reference_audio == "reference/ref.wav", timeout=10_000)
    assert copied and all(t is not threading.main_thread() for t in copied)
    assert (doc.folder / "reference" / "ref.wav").read_bytes() == clip.read_bytes()
    qtbot.waitUntil(lambda: len(doc.song.takes) == count + 1, timeout=60_000)  # then the job, as before

    short = tmp_path / "short.wav"  # a clip too short for a style: refused, said, nothing changes
    sf.write(short, np.zeros((44100 * 3, 2)), 44100)
    before = doc.song
    assert window.generate({**opts, "reference": str(short)}, None) is None
    qtbot.waitUntil(lambda: "reference not used" in window.statusBar().currentMessage(), timeout=10_000)
    assert "short.wav" in window.statusBar().currentMessage() and doc.song == before and len(copied) == 1


def test_a_takes_chains_load_off_the_gui_thread_then_it_plays_through_them(qtbot, window: MainWindow,
                                                                          monkeypatch) -> None:
    import engine.audio.fx as fx
    from engine.audio.player import Player
    from engine.audio.source import TakeSource

    loaded: list[threading.Thread] = []
    real = fx.load_board

    def spy(*a: Any, **k: Any) -> Any:
        loaded.append(threading.current_thread())
        return real(*a, **k)

    monkeypatch.setattr(fx, "load_board", spy)
    doc = window.doc
    take = doc.song.takes[-1]
    assert "vocal" in take.stems
    doc.edit(doc.song.replace(effects={"vocal": EffectSlot("vocal-radio"), "master": EffectSlot("master-gentle")}),
             "fx")
    window.player = Player()  # the real player, not opened: its commands wait in its queue
    window.play_take(take.id)
    assert "loading effects…" in window.statusBar().currentMessage()
    assert window.player._commands.empty()  # nothing heard before the chains are there
    qtbot.waitUntil(lambda: window.tasks.pending == 0 and not window.player._commands.empty(), timeout=10_000)
    sent = []
    while not window.player._commands.empty():
        sent.append(window.player._commands.get_nowait())
    assert [c[0] for c in sent] == ["load", "seek", "play"]
    src = sent[0][2]
    assert isinstance(src, TakeSource) and src.take_dir == doc.project.audio_dir(take.id)
    assert set(src.chains) == {"vocal"} and src.master is not None  # the audition plays the chain
    assert len(loaded) == 2 and all(t is not threading.main_thread() for t in loaded)
    assert "loading effects" not in window.statusBar().currentMessage()
    src.close()

    window.play_take(take.id)  # a take asked for again before the first load ends: only the newest plays
    window.play_take(take.id)
    qtbot.waitUntil(lambda: window.tasks.pending == 0, timeout=10_000)
    kinds = []
    while not window.player._commands.empty():
        kinds.append(window.player._commands.get_nowait()[0])
    assert kinds == ["load", "seek", "play"]


@pytest.mark.slow
def test_switching_the_generate_panels_backend_imports_no_torch_on_the_gui_thread(tmp_path: Path,
                                                                                 monkeypatch) -> None:
    """In a fresh process (this one has torch already): switching to DiffRhythm shows its estimate, and the app
    never imports torch for it (a child process makes the estimate)."""
    from tests.conftest import tiny_neural_setup

    models = tiny_neural_setup(tmp_path / "models", monkeypatch, "Tiny", seed=1)
    folder = make_project(tmp_path).folder
    script = textwrap.dedent(f"""
        import os, sys, threading, time
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        sys.path.insert(0, {str(ROOT)!r})
        where = []

        class Spy:
            def find_spec(self, name, path=None, target=None):
                if name == "torch":
                    where.append(threading.current_thread().name)
                return None

        sys.meta_path.insert(0, Spy())
        from PySide6.QtWidgets import QApplication
        app = QApplication([])
        from engine.service import EngineService
        from engine.session import Session
        from gui.engine_client import EngineClient
        from gui.main_window import MainWindow
        with EngineService("thread") as engine:
            session = Session.open({str(folder)!r}, engine, "test")
            win = MainWindow(session, EngineClient(session))
            gen = win.generation
            gen.backend.setCurrentText("diffrhythm")  # refresh: controls now, line and estimate from a thread
            assert "torch" not in sys.modules or where, "imported before the spy"
            deadline = time.monotonic() + 60
            while not gen.estimate.text().startswith("about") and time.monotonic() < deadline:
                app.processEvents()
                time.sleep(0.01)
            print("ESTIMATE", gen.estimate.text())
            print("TORCH", where)
            win.close()
            session.close()
    """)
    env = {**os.environ, "SONGBRIDGE_MODELS": str(models), "QT_QPA_PLATFORM": "offscreen",
           "XDG_CONFIG_HOME": str(tmp_path / "xdg")}  # the window's remembered layout: not the user's
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env,
                         cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = dict(ln.split(" ", 1) for ln in out.stdout.splitlines() if ln.startswith(("ESTIMATE", "TORCH")))
    assert lines["ESTIMATE"].startswith("about") and "MiB per take" in lines["ESTIMATE"], out.stdout
    threads = ast.literal_eval(lines["TORCH"])
    # not on the GUI thread, and not in the app at all: importing torch holds the interpreter's lock for a few
    # hundred ms even on a worker thread, so the estimate ran in a child process (gui.backend_status.Estimator)
    assert "MainThread" not in threads and not threads, threads


def test_an_external_plugins_parameter_is_checked_off_the_gui_thread(qtbot, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A chain naming a VST3 (a real shared object whose constructor would show it loaded): an edit of one of its
    parameters builds the chain on a worker thread; the edit lands when that is done, and a plugin that fails to
    load (not allowed here) is refused, naming it, and changes nothing."""
    import engine.audio.fx as fx
    from engine.song import Project, Song
    from gui.document import DocumentModel
    from gui.effects_rack import EffectsRack
    from tests.native_plugin import build_plugin

    monkeypatch.setenv("SONGBRIDGE_CONFIG", str(tmp_path / "config"))
    marker = tmp_path / "marker"
    project = Project.create(tmp_path / "t", Song())
    bundle = build_plugin(project.folder / "fx" / "evil.vst3", marker)
    chain = project.folder / "fx" / "warm.toml"
    chain.write_text('schema_version = 1\n[[plugin]]\ntype = "Gain"\ngain_db = -1.0\n'
                     '[[plugin]]\ntype = "external"\npath = "evil.vst3"\n')
    doc = DocumentModel(project)
    doc.edit(doc.song.replace(effects={"vocal": EffectSlot(str(chain))}), "chain")
    rack = EffectsRack(doc)
    qtbot.addWidget(rack)
    rack.set_override("vocal", "0.gain_db", -2.0)  # not allowed here: refused on the worker, nothing loaded
    qtbot.waitUntil(lambda: bool(rack.refusals), timeout=10_000)
    assert str(bundle) in rack.refusals[-1] and not doc.song.effects["vocal"].overrides and not marker.exists()

    built: list[threading.Thread] = []
    monkeypatch.setattr(fx, "build_board", lambda *a, **k: built.append(threading.current_thread()) or object())
    rack.set_override("vocal", "0.gain_db", -3.0)
    assert not doc.song.effects["vocal"].overrides  # not yet: the chain is being built
    qtbot.waitUntil(lambda: dict(doc.song.effects["vocal"].overrides) == {"0.gain_db": -3.0}, timeout=10_000)
    assert built and all(t is not threading.main_thread() for t in built)
    assert doc.undo.undoText() == "Effect parameter vocal 0.gain_db"
