"""Models in the app (issue 26): each backend is one line in the Generate and Loops panels (ready, or what is
missing and where it goes), the details a click away; Edit > Preferences sets the models folder, remembered in the
app's settings, and changing it re-checks the backends in a thread, without a restart; ``songbridge gui --models``."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from engine.backends.stable_audio.tiny import create_tiny_stable_audio
from engine.errors import SongBridgeError
from gui.main_window import MainWindow
from gui.preferences import open_preferences, read_settings, settings_path
from tests.conftest import run_cli
from tests.engine.session.test_session import make_project


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("models")
    create_tiny_stable_audio(folder)
    return folder


@pytest.fixture
def window(open_window, tmp_path: Path, models: Path, monkeypatch) -> MainWindow:
    monkeypatch.setenv("SONGBRIDGE_MODELS", str(models))
    settings_path().unlink(missing_ok=True)
    yield open_window(make_project(tmp_path).folder)
    settings_path().unlink(missing_ok=True)


def test_each_backend_is_one_line_and_a_new_folder_is_checked_without_a_restart(qtbot, window: MainWindow,
                                                                                tmp_path: Path, models: Path) -> None:
    loops, gen = window.loops, window.generation
    qtbot.waitUntil(lambda: "stable-audio-small" in loops.lines, timeout=10_000)
    assert loops.lines["stable-audio-small"].line == "Stable Audio Open Small: ready"
    assert "Stable Audio Open Small: ready" in loops.backend_status.text()
    loops.prompt.setText("warm pad")
    assert loops.make.isEnabled()

    empty = tmp_path / "no-models"
    empty.mkdir()
    dialog = open_preferences(window)
    assert dialog.folder.text() == str(models)
    dialog.folder.setText(str(empty))
    qtbot.waitUntil(lambda: "put model_config.json" in dialog.status.text(), timeout=10_000)
    started = time.perf_counter()
    dialog._ok()
    assert time.perf_counter() - started < 0.25  # the check runs in a thread, not on the GUI thread
    assert read_settings()["models_dir"] == str(empty.resolve())  # remembered
    assert os.environ["SONGBRIDGE_MODELS"] == str(empty.resolve())
    qtbot.waitUntil(lambda: "stable-audio-small" in loops.lines and not loops.lines["stable-audio-small"].ok,
                    timeout=10_000)
    small = loops.lines["stable-audio-small"]
    assert small.line == (f"Stable Audio Open Small: put model_config.json and model.ckpt in "
                          f"{empty.resolve() / 'stable-audio-open-small'}")
    assert "songbridge models status" in small.details  # the full report is the details
    assert not loops.make.isEnabled()
    note = loops.model_note.text()
    assert note == f"no loop model in {empty.resolve()} (what goes where: Models below)"  # one line, no wall
    dr = gen.lines["diffrhythm"]
    assert dr.line.startswith("DiffRhythm: put cfm_model.pt in ") and len(dr.details) > len(dr.line)
    gen.backend.setCurrentText("diffrhythm")
    assert "DiffRhythm: put cfm_model.pt" in gen.availability.text() and "details" in gen.availability.text()
    assert not gen.btn_song.isEnabled()
    gen.backend.setCurrentText("guide")
    assert gen.btn_song.isEnabled()

    from gui.preferences import set_models_dir

    set_models_dir(window, models, "Preferences")  # back to the folder with the tiny model: ready again
    qtbot.waitUntil(lambda: loops.lines.get("stable-audio-small") is not None
                    and loops.lines["stable-audio-small"].ok, timeout=10_000)
    assert loops.make.isEnabled()


def test_a_broken_settings_file_is_named_and_the_folder_refused_when_a_file(qtbot, window: MainWindow,
                                                                           tmp_path: Path) -> None:
    path = settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('models_dir = "x"\ncolour = "red"\n')
    with pytest.raises(SongBridgeError, match=r"app\.toml: unknown key 'colour'"):
        read_settings()
    path.write_text("models_dir = [1]\n")
    with pytest.raises(SongBridgeError, match="models_dir: expected a folder path"):
        read_settings()
    path.unlink()
    dialog = open_preferences(window)
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    dialog.folder.setText(str(a_file))
    dialog._ok()
    assert "not a folder" in dialog.error.text() and dialog.isVisible() and not path.exists()


@pytest.mark.slow
def test_gui_models_option_is_for_this_run(tmp_path: Path, models: Path) -> None:
    folder = make_project(tmp_path).folder
    shot = tmp_path / "shot.png"
    r = run_cli("gui", str(folder), "--models", str(models), "--no-bridge", "--audio", "off", "--engine", "thread",
                "--screenshot", str(shot), env={"QT_QPA_PLATFORM": "offscreen"})
    assert r.returncode == 0, r.stderr
    assert f"models folder {models.resolve()} (--models, this run only)" in r.stderr
    assert shot.stat().st_size > 10_000 and not settings_path().exists()
    bad = run_cli("gui", str(folder), "--models", str(shot), "--no-bridge", "--audio", "off",
                  env={"QT_QPA_PLATFORM": "offscreen"})
    assert bad.returncode != 0 and "not a folder" in bad.stderr
