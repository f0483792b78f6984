"""The app's "Land in DAW" is one session call (``Session.land`` through the bridge's lander), not a DAW-protocol
command in the bridge's inbox: the whole song lands (the generic adapter, stamped files in a folder) and the DAW
link panel says so."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.gui.test_app_hosts_bridge import app  # noqa: F401 - the fixture

pytestmark = pytest.mark.integration


def test_land_in_daw_from_the_panel_is_a_session_call(qtbot, app, tmp_path: Path) -> None:  # noqa: F811
    win, bridge, session = app
    queued: list[dict] = []
    session.subscribe(lambda ev: queued.append(ev.purpose) if type(ev).__name__ == "JobQueued" else None)
    panel = win.daw_link
    panel.land_what.setCurrentIndex(0)  # the whole song
    panel.land()
    qtbot.waitUntil(lambda: bool(bridge.landings), timeout=60_000)
    last = bridge.landings[-1]
    assert last["ok"], last
    assert [q.kind for q in queued] == ["land"] and queued[0].origin == "app"
    assert bridge.commands.received == 0  # nothing went through the bridge's inbox
    files = sorted((session.folder / "renders" / "daw").glob("*.wav"))
    assert files, "no stems landed"
    panel.refresh()
    assert panel.landed.text().startswith("✔"), panel.landed.text()
    shot = os.environ.get("SONGBRIDGE_SCREENSHOT_DIR")
    if shot:
        win.daw_link.grab().save(str(Path(shot) / "app_land_in_daw.png"))


def test_land_a_loop_clip_from_the_lane_is_a_session_call_at_its_bar(qtbot, tmp_path: Path) -> None:
    from engine.backends.stable_audio.tiny import create_tiny_stable_audio
    from tests.engine.song.loop_project import make_loop_project
    from tests.gui.test_regenerate_everywhere import hosted

    models = tmp_path / "models"
    create_tiny_stable_audio(models)
    project = make_loop_project(tmp_path, models)
    gen = hosted(qtbot, project)
    win, bridge, session, jobs = next(gen)
    try:
        clip = session.song.loops[0]
        win.land_loop(clip.id)
        qtbot.waitUntil(lambda: bool(bridge.landings), timeout=60_000)
        last = bridge.landings[-1]
        assert last["ok"] and last["take"] == clip.id, last
        assert bridge.commands.received == 0  # one session call, nothing through the bridge's inbox
        landed = sorted((session.folder / "renders" / "daw").glob("*.wav"))
        assert landed and all(f"_bar{clip.bar:g}_" in p.name for p in landed), landed
    finally:
        next(gen, None)
