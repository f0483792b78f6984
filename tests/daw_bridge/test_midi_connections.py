"""The project's MIDI connections on a private JACK dummy server: what the producer connects to SongBridge's ports is
remembered in the project, made again when the bridge starts (after the app restarts), kept while the other program
is away, forgotten when the producer disconnects it; a broken file is reported by name and left alone."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from daw_bridge.adapters.ardour_status import midi_check
from daw_bridge.midi import connections as mc

pytestmark = [pytest.mark.integration, pytest.mark.audio_server, pytest.mark.slow]


@pytest.fixture
def private_jack(jack_server):
    """JACK for the MIDI ports: the test run's server. One process talks to one JACK server: a private server
    started beside the one PortAudio's client already uses aborted the whole test process."""
    yield os.environ.get("JACK_DEFAULT_SERVER", "default")


def peer(name: str):
    """Another JACK program with a MIDI output and input (a DAW's clock out, a controller's feedback in)."""
    import jack

    c = jack.Client(name, no_start_server=True)
    c.midi_outports.register("clock out")
    c.midi_inports.register("leds in")
    c.activate()
    return c


def open_bridge_ports():
    from daw_bridge.midi.ports import open_ports

    return open_ports("jack", "SongBridge", lambda m: None)


def close_ports(ports) -> None:
    ports[0].close()
    ports[1].close()


def wait(what, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not what():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_connections_are_remembered_per_project_and_made_again_at_start(private_jack: str, tmp_path: Path) -> None:
    import jack

    project = tmp_path / "song.songbridge"
    project.mkdir()
    daw = peer("FakeDAW")
    probe = jack.Client("probe", no_start_server=True)
    ports = open_bridge_ports()
    keeper = mc.keep(project, ports)
    assert keeper is not None and keeper.note == "nothing to reconnect"
    probe.connect("FakeDAW:clock out", "SongBridge:in")  # the producer connects, in their patchbay
    probe.connect("SongBridge-out:out", "FakeDAW:leds in")
    wait(lambda: mc.read(project) == {"in": ["FakeDAW:clock out"], "out": ["FakeDAW:leds in"]})
    assert "FakeDAW:clock out -> SongBridge:in" in keeper.describe()
    status = midi_check(project)  # `daw status` and the panel's Test say it
    assert status.ok and status.text == ("FakeDAW:clock out -> SongBridge:in; the project remembers FakeDAW:clock "
                                         "out -> SongBridge:in, SongBridge-out:out -> FakeDAW:leds in"), status
    keeper.close()
    close_ports(ports)
    # the app quits and the DAW too; the app starts first: remembered, nothing to connect yet
    daw.deactivate()
    daw.close()
    ports = open_bridge_ports()
    keeper = mc.keep(project, ports)
    assert "not there now: FakeDAW:clock out, FakeDAW:leds in" in keeper.note
    time.sleep(1.5)
    assert mc.read(project) == {"in": ["FakeDAW:clock out"], "out": ["FakeDAW:leds in"]}  # not forgotten
    keeper.close()
    close_ports(ports)
    # the DAW runs, the app starts: connected again, as the project remembers
    daw = peer("FakeDAW")
    ports = open_bridge_ports()
    keeper = mc.keep(project, ports)
    got = {p.name for p in probe.get_all_connections("SongBridge:in")}
    assert got == {"FakeDAW:clock out"}
    assert {p.name for p in probe.get_all_connections("SongBridge-out:out")} == {"FakeDAW:leds in"}
    assert "reconnected FakeDAW:clock out -> SongBridge:in, SongBridge-out:out -> FakeDAW:leds in" in keeper.note
    # the producer disconnects the clock while both run: forgotten
    probe.disconnect("FakeDAW:clock out", "SongBridge:in")
    wait(lambda: mc.read(project) == {"in": [], "out": ["FakeDAW:leds in"]})
    keeper.close()
    close_ports(ports)
    # a broken file: said (file and field), nothing connected from it, never saved over
    (project / mc.FILE).write_text('{"in": "FakeDAW:clock out"}')
    before = (project / mc.FILE).read_bytes()
    ports = open_bridge_ports()
    keeper = mc.keep(project, ports)
    assert f"{project / mc.FILE}: \"in\" must be a list" in keeper.note
    assert not midi_check(project).ok and str(project / mc.FILE) in midi_check(project).text
    probe.connect("FakeDAW:clock out", "SongBridge:in")
    time.sleep(1.5)
    keeper.close()
    close_ports(ports)
    assert (project / mc.FILE).read_bytes() == before
    probe.close()
    daw.deactivate()
    daw.close()


def test_bad_connection_files_name_the_file_and_the_field(tmp_path: Path) -> None:
    path = tmp_path / mc.FILE
    for text, says in (("{", "line 1: not JSON"), ("[]", "must be an object"), ('{"in": [1]}', '"in" must be a list'),
                       ('{"in": [], "outs": []}', "unknown field 'outs'"),
                       ('{"out": ["' + "x" * 400 + '"]}', '"out" must be a list')):
        path.write_text(text)
        with pytest.raises(mc.ConnectionsFileError) as err:
            mc.read(tmp_path)
        assert str(path) in str(err.value) and says in str(err.value), (text, err.value)
    path.unlink()
    assert mc.read(tmp_path) == {"in": [], "out": []}


def test_a_link_planted_in_the_project_is_never_written_through(tmp_path: Path) -> None:
    project = tmp_path / "song.songbridge"
    project.mkdir()
    outside = tmp_path / "notes.txt"
    outside.write_text("mine")
    (project / f".{mc.FILE}.tmp").symlink_to(outside)
    mc.write(project, {"in": ["FakeDAW:clock out"], "out": []})
    assert outside.read_text() == "mine"
    assert mc.read(project) == {"in": ["FakeDAW:clock out"], "out": []}
