"""The DAW link panel's Push to DAW while Ardour (the real GUI under Xvfb, on a JACK dummy server of its own) has the
linked session open: the song's sections arrive as range markers and its tempo as the session's, through SongBridge's
landing action, and the panel says so. Set ``SONGBRIDGE_SHOTS`` to a folder to keep the panel's picture."""

from __future__ import annotations

import os
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from tests.gui.test_app_hosts_bridge import app  # noqa: F401 - the fixture

pytestmark = [pytest.mark.integration, pytest.mark.audio_server, pytest.mark.slow]


def test_push_from_the_panel_into_the_session_ardour_has_open(app, qtbot, tmp_path: Path,  # noqa: F811
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from daw_bridge.adapters import ardour_live as live
    from daw_bridge.adapters.ardour import create_session, enable_osc
    from daw_bridge.adapters.ardour_markers import read_saved_timeline, save_running
    from tests.daw_bridge.ardour_gui import ArdourGui

    win, bridge, session = app
    home = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))  # the bridge and Ardour read the same configuration
    gui = ArdourGui(home)
    try:
        assert live.install(home / "ardour7").registered
        folder = create_session(tmp_path / "Live", 120.0, 4)
        enable_osc(folder, "Live")
        gui.open(folder)
        song = session.song
        session.edit(song.replace(daw=replace(song.daw, adapter="ardour", session=str(folder), port=gui.port)),
                     "link", "app")
        win.daw_link.push_button.click()
        qtbot.waitUntil(lambda: win.daw_link.synced.text().startswith("✔ push"), timeout=120_000)
        text = win.daw_link.synced.text()
        assert "through the running Ardour" in text, text
        save_running(folder, ("127.0.0.1", gui.port))
        timeline = read_saved_timeline(folder)
        assert [(m.name, m.start) for m in timeline.markers] == [
            (f"sb:{s.name}", round(s.start_s * 44100)) for s in song.sections]
        assert [(t[1], t[2]) for t in timeline.tempos] == [(song.tempo.bpm, song.tempo.meter.numerator)]
        shot = tmp_path / "daw-link-push-live.png"
        assert win.daw_link.grab().save(str(shot)) and shot.stat().st_size > 5_000
        if os.environ.get("SONGBRIDGE_SHOTS"):
            shutil.copy(shot, Path(os.environ["SONGBRIDGE_SHOTS"]) / shot.name)
    except AssertionError:
        lost = gui.lost_jack()
        if lost:
            pytest.skip(f"Ardour lost its JACK server during the test ({lost}): the machine, not SongBridge")
        raise
    finally:
        gui.close()
