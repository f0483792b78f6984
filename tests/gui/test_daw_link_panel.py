"""The app while it follows the DAW and syncs with it: the play head is the DAW's (and moves on while it rolls);
the DAW's OSC host and port are set from the DAW link panel and over OSC (undoable, bad input refused and named);
Pull and Push from the panel and over OSC work on a real Ardour session (``ardour7-lua``), the pull one undo step
"from DAW"."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from daw_bridge import protocol as p
from tests.gui.test_app_hosts_bridge import Peer, app  # noqa: F401 - the fixture

pytestmark = pytest.mark.integration


def put(bridge, cmd, address: str = "midi:clock") -> None:
    bridge.commands.put(p.Envelope(cmd, address, None, "gui" if address.startswith("/") else "midi"))


def test_the_play_head_follows_the_daw_while_following(app, qtbot) -> None:  # noqa: F811
    win, bridge, session = app
    tempo = session.song.tempo
    put(bridge, p.TransportUpdate(position_beats=8.0, playing=False, source="Ardour OSC"))
    time.sleep(0.3)
    assert abs(win.timeline.playhead_s - tempo.quarters_to_seconds(8.0)) > 0.5  # not following yet: the app's own
    assert not win.daw_link.follow_box.isChecked()
    win.daw_link.follow_box.click()  # the panel's switch: the same command as /songbridge/transport/set/follow 1
    qtbot.waitUntil(lambda: abs(win.timeline.playhead_s - tempo.quarters_to_seconds(8.0)) < 1e-3, timeout=3000)
    assert session.song.daw.follow_transport  # remembered in the project
    qtbot.waitUntil(lambda: win.transport.position.text().startswith("3|1|000   00:04.000 ⇄ DAW"), timeout=2000)
    # rolling at the DAW's 120 bpm: the play head moves on between the DAW's updates, never far past the last
    put(bridge, p.TransportUpdate(position_beats=8.0, playing=True, bpm=120.0, source="Ardour OSC"))
    qtbot.waitUntil(lambda: win.timeline.playhead_s > tempo.quarters_to_seconds(8.0) + 0.1, timeout=3000)
    qtbot.wait(600)
    assert win.timeline.playhead_s <= tempo.quarters_to_seconds(8.0) + 0.3 + 1e-3
    # a stop and a locate are the DAW's at once
    put(bridge, p.TransportUpdate(position_beats=2.0, playing=False, source="Ardour OSC"))
    qtbot.waitUntil(lambda: abs(win.timeline.playhead_s - tempo.quarters_to_seconds(2.0)) < 1e-3, timeout=3000)
    put(bridge, p.FollowTransport(False), "/songbridge/transport/set/follow")  # over OSC: the switch shows it
    qtbot.waitUntil(lambda: "⇄ DAW" not in win.transport.position.text(), timeout=2000)
    qtbot.waitUntil(lambda: not win.daw_link.follow_box.isChecked(), timeout=2000)


def test_the_daws_osc_address_is_set_from_the_panel_and_over_osc(app, qtbot) -> None:  # noqa: F811
    win, bridge, session = app
    panel = win.daw_link
    panel.daw_host.setText("192.168.1.20")
    panel.daw_port.setValue(3901)
    panel.daw_set.click()
    qtbot.waitUntil(lambda: (session.song.daw.host, session.song.daw.port) == ("192.168.1.20", 3901), timeout=3000)
    assert session.history.undo_entry().label == "Set the DAW's OSC address"
    for host, port, says in (("bad host!", 3819, "host: 'bad host!' is not an IP address or a host name"),
                             ("127.0.0.1", 70000, None)):
        panel.daw_host.setText(host)
        if says is None:  # the spin box cannot hold it: over OSC instead
            peer = Peer(bridge.osc.address)
            peer.send("/songbridge/daw/set/osc", host, port)
            qtbot.waitUntil(lambda peer=peer: any(a == "/songbridge/error" for a, _ in peer.poll()), timeout=3000)
            err = next(args for a, args in peer.got if a == "/songbridge/error")
            assert err[0] == "/songbridge/daw/set/osc" and "port: must be 0..65535" in err[2]
        else:
            panel.daw_set.click()
            qtbot.waitUntil(lambda says=says: says in panel.refused.text(), timeout=3000)
        assert (session.song.daw.host, session.song.daw.port) == ("192.168.1.20", 3901)  # nothing changed
    peer = Peer(bridge.osc.address)
    peer.send("/songbridge/daw/set/osc", "localhost", 0)
    qtbot.waitUntil(lambda: ("/songbridge/daw/get/osc", ["localhost", 0]) in peer.poll(), timeout=3000)
    assert session.history.undo_entry().label == "Set the DAW's OSC address (from DAW)"
    qtbot.waitUntil(lambda: panel.daw_host.text() == "localhost" and panel.daw_port.text() == "find", timeout=2000)
    peer.send("/songbridge/daw/get/osc")
    qtbot.waitUntil(lambda: peer.poll().count(("/songbridge/daw/get/osc", ["localhost", 0])) == 2, timeout=3000)
    session.undo()
    assert (session.song.daw.host, session.song.daw.port) == ("192.168.1.20", 3901)
    # pull and push need an Ardour link: refused, and said so
    peer.send("/songbridge/daw/pull")
    qtbot.waitUntil(lambda: any(a == "/songbridge/error" and args[0] == "/songbridge/daw/pull"
                                for a, args in peer.poll()), timeout=3000)
    err = [args for a, args in peer.got if a == "/songbridge/error" and args[0] == "/songbridge/daw/pull"][0]
    assert "not linked to an Ardour session" in err[2]


@pytest.mark.slow
def test_pull_from_the_panel_and_push_over_osc_with_a_real_ardour_session(app, qtbot, tmp_path: Path) -> None:  # noqa: F811
    from dataclasses import replace

    from daw_bridge.adapters.ardour import create_session
    from daw_bridge.adapters.ardour_markers import read_timeline
    from tests.daw_bridge.test_ardour import need_ardour

    need_ardour()
    win, bridge, session = app
    folder = create_session(tmp_path / "Marks", 100.0, 3)
    xml_path = folder / "Marks.ardour"
    tree = ET.parse(xml_path)
    locs = tree.getroot().find("Locations")
    sc = 282_240_000
    for i, (name, a, b, flags) in enumerate((("Verse", 0, 0, "IsMark"), ("Chorus", 12 * sc, 12 * sc, "IsMark"),
                                             ("Bridge", 20 * sc, 26 * sc, "IsRangeMarker"))):
        ET.SubElement(locs, "Location", {"id": str(9000 + i), "name": name, "start": f"a{a}", "end": f"a{b}",
                                         "flags": flags, "locked": "0", "timestamp": "0", "cue": "0"})
    tree.write(xml_path, xml_declaration=True, encoding="UTF-8")
    song = session.song
    session.edit(song.replace(daw=replace(song.daw, adapter="ardour", session=str(folder))), "link", "app")
    before = session.song
    win.daw_link.pull_button.click()
    qtbot.waitUntil(lambda: win.daw_link.synced.text().startswith("✔ pull"), timeout=120_000)
    assert "3 sections from its markers" in win.daw_link.synced.text()
    got = session.song
    assert (got.tempo.bpm, str(got.tempo.meter)) == (100.0, "3/4")
    assert [(s.name, round(s.start_s, 3), round(s.end_s, 3)) for s in got.sections] == [
        ("Verse", 0.0, 12.0), ("Chorus", 12.0, 20.0), ("Bridge", 20.0, 26.0)]
    assert session.history.undo_entry().label == "Tempo and sections from Ardour (from DAW)"
    assert session.undo() == "Tempo and sections from Ardour (from DAW)"
    assert session.song.sections == before.sections and session.song.tempo == before.tempo  # one step back
    peer = Peer(bridge.osc.address)
    peer.send("/songbridge/daw/push")
    qtbot.waitUntil(lambda: any(a == "/songbridge/daw/pushed" for a, _ in peer.poll()), timeout=120_000)
    pushed = next(args for a, args in peer.got if a == "/songbridge/daw/pushed")
    assert pushed[0] == len(before.sections)
    markers = [(m.name, m.start) for m in read_timeline(folder).markers if m.name.startswith("sb:")]
    assert markers == [(f"sb:{s.name}", round(s.start_s * 44100)) for s in before.sections]
    qtbot.waitUntil(lambda: win.daw_link.synced.text().startswith("✔ push"), timeout=3000)
    # `songbridge daw pull` while the app has the project: the app pulls, one undo step there
    from tests.conftest import run_cli

    r = run_cli("daw", "pull", str(session.folder))
    assert r.returncode == 0 and "sections from its markers" in r.stdout, r.stdout + r.stderr
    assert "has the project open: asking its bridge" in r.stderr
    assert session.history.undo_entry().label == "Tempo and sections from Ardour (from DAW)"
    names = [s.name for s in session.song.sections]
    assert names.count(before.sections[0].name) == 1 and "Bridge" in names  # pushed + producer's: once each
