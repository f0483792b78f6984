"""Issue 26's acceptance across front-ends: take 2 (not the newest) edited over bars 9-12 and 25-28 in one job is
the same job spec from the app, over OSC and from ``songbridge edit`` (sent to the app, which holds the project)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.backends.base import EditSpec
from engine.song.model import TimeRange
from tests.gui.test_app_hosts_bridge import Peer
from tests.gui.test_comp_lineage import EDITED, three_takes
from tests.gui.test_regenerate_everywhere import from_the_command_line, hosted, settle, spec_of

pytestmark = pytest.mark.integration


@pytest.fixture
def app32(qtbot, tmp_path: Path):
    yield from hosted(qtbot, three_takes(tmp_path))


def test_two_bar_ranges_of_take_2_are_one_spec_from_the_app_osc_and_the_command_line(qtbot, app32) -> None:
    win, bridge, session, jobs = app32
    assert session.song.takes[-1].id == "take-003"  # take 2 is not the default
    win.takes.choose("take-002")
    opts = {**win.generation.options(), "backend": "guide", "takes": 1}
    assert win.regenerate(opts, seconds=EDITED)
    qtbot.waitUntil(lambda: len(jobs) == 1, timeout=5000)
    daw = Peer(bridge.osc.address)
    daw.send("/songbridge/job/edit", "take-002", json.dumps({"bars": [[9, 13], [25, 29]]}))  # [start, end)
    qtbot.waitUntil(lambda: len(jobs) == 2, timeout=10_000)
    from_the_command_line(qtbot, session.folder, "--take", "take-002", "--bars", "9-13", "--bars", "25-29")
    assert len(jobs) == 3
    app_spec, osc_spec, cli_spec = (spec_of(j) for j in jobs)
    assert app_spec == osc_spec == cli_spec
    assert app_spec[0] == EditSpec("take-002", (TimeRange(16.0, 24.0), TimeRange(48.0, 56.0)))
    settle(qtbot, win)
