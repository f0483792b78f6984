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
    assert [q["kind"] for q in queued] == ["land"] and queued[0]["origin"] == "app"
    assert bridge.commands.received == 0  # nothing went through the bridge's inbox
    files = sorted((session.folder / "renders" / "daw").glob("*.wav"))
    assert files, "no stems landed"
    panel.refresh()
    assert panel.landed.text().startswith("✔"), panel.landed.text()
    shot = os.environ.get("SONGBRIDGE_SCREENSHOT_DIR")
    if shot:
        win.daw_link.grab().save(str(Path(shot) / "app_land_in_daw.png"))
