"""The song's tempo map and sections pushed into the session a running Ardour GUI has open (Debian's Ardour 7 under
Xvfb, on a JACK dummy server of its own), through SongBridge's landing action: ``songbridge daw push`` and the
bridge's ``/songbridge/daw/push`` (what the DAW link panel's Push sends). Ardour saves (OSC ``/save_state``) and its
file has the song's tempo changes at their bars (the producer's own tempo points elsewhere set to the song's tempo)
and a range marker per section; the producer's own markers stay,
earlier ``sb:`` markers are replaced, not stacked. An action installed before the push (bound in another slot) is
told apart: the producer is told to run ``songbridge daw setup ardour`` again, and nothing changes. Set
``SONGBRIDGE_SHOTS`` to a folder to keep the screenshot of Ardour's editor."""

from __future__ import annotations

import os
import shutil
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from daw_bridge.adapters import ardour_live as live
from daw_bridge.adapters.ardour import ArdourError, ArdourOsc, create_session, enable_osc
from daw_bridge.adapters.ardour_markers import read_saved_timeline, save_running, song_from_timeline
from engine.song.document import save_song
from tests.daw_bridge.ardour_gui import ArdourGui
from tests.daw_bridge.screen import grab

pytestmark = [pytest.mark.integration, pytest.mark.audio_server, pytest.mark.slow]
RATE = 44100
SC = 282_240_000  # Ardour 7's superclock ticks a second


def producer_markers(session: Path) -> None:
    """What a producer made before SongBridge pushed: a location marker and a range, and a stale ``sb:`` range from
    an earlier push."""
    path = session / f"{session.name}.ardour"
    tree = ET.parse(path)
    locs = tree.getroot().find("Locations")
    for i, (name, a, b, flags) in enumerate((("Hook idea", 3 * SC, 3 * SC, "IsMark"),
                                             ("My break", 30 * SC, 34 * SC, "IsRangeMarker"),
                                             ("sb:Old section", 1 * SC, 2 * SC, "IsRangeMarker"))):
        ET.SubElement(locs, "Location", {"id": str(9100 + i), "name": name, "start": f"a{a}", "end": f"a{b}",
                                         "flags": flags, "locked": "0", "timestamp": "0", "cue": "0"})
    tree.write(path, xml_declaration=True, encoding="UTF-8")


def producer_tempo(session: Path) -> None:
    """The producer's own tempo changes, at bars the song has none: 150 bpm 5/4 at quarter note 48, 77 bpm at 100."""
    from daw_bridge.adapters.ardour import _lua, _lua_str

    _lua(f"""local s = load_session({_lua_str(str(session))}, {_lua_str(session.name)}); assert(s)
local tm = Temporal.TempoMap.fetch_writable ()
tm:set_meter (Temporal.Meter (5, 4), Temporal.timepos_t.from_ticks (48 * 1920))
tm:set_tempo (Temporal.Tempo (150, 150, 4), Temporal.timepos_t.from_ticks (48 * 1920))
tm:set_tempo (Temporal.Tempo (77, 77, 4), Temporal.timepos_t.from_ticks (100 * 1920))
Temporal.TempoMap.update (tm)
s:save_state ("", false, false, false, false, false); close_session ()
""")


def old_action(folder: Path) -> Path:
    """The landing action as it was before the push: it knows request format 1 only."""
    text = live.SCRIPT.read_text()
    new = ' and first ~= "songbridge-land\\t2"'
    assert new in text
    out = folder / "songbridge_ardour_land_v1.lua"
    out.write_text(text.replace(new, ""))
    return out


def test_push_into_the_running_ardour_sets_its_tempo_map_and_section_markers(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from daw_bridge import protocol as p
    from daw_bridge.adapters.ardour_push_live import push_live
    from daw_bridge.server import Bridge
    from engine.service import EngineService
    from engine.session import Session
    from engine.song import DawLink, Project, Song
    from engine.song.model import Section
    from engine.song.tempo import TempoMap, TempoSegment, TimeSignature
    from tests.conftest import run_cli
    from tests.daw_bridge.test_ardour_follow import wait_for

    home = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))  # SongBridge and Ardour read the same configuration
    gui = ArdourGui(home, rate=RATE)
    try:
        cfg = home / "ardour7"
        with monkeypatch.context() as m:  # an action from before the push in slot 3, today's in slot 4
            m.setattr(live, "SCRIPT", old_action(tmp_path))
            assert live.install(cfg, slot=3).registered
        assert live.install(cfg, slot=4).registered and live.bound_slot(cfg) == 4
        session = create_session(tmp_path / "Live", 120.0, 4, rate=RATE)
        producer_markers(session)
        producer_tempo(session)
        enable_osc(session, "Live")
        gui.open(session)

        # 96 bpm 4/4 for four bars (10 s), then 132 bpm 3/4
        tempo = TempoMap((TempoSegment(1, 96.0, TimeSignature(4, 4)), TempoSegment(5, 132.0, TimeSignature(3, 4))),
                         0.0)
        sections = (Section("intro", "Intro", 0.0, 10.0), Section("verse", "Verse", 10.0, 20.0),
                    Section("chorus", "Chorus", 20.0, 28.5))
        project = Project(tmp_path / "p.songbridge", Song())
        project.song = project.song.replace(tempo=tempo, sections=sections,
                                            daw=DawLink(adapter="ardour", session=str(session), port=gui.port))
        save_song(project.song, project.folder)

        # the old action answers that it does not know the request, and changes nothing
        osc = ("127.0.0.1", gui.port)
        save_running(session, osc)
        before = read_saved_timeline(session)
        with pytest.raises(ArdourError, match=r"run `songbridge daw setup ardour` again"):
            push_live(session, project.song, 3, osc, cfg)
        save_running(session, osc)
        assert read_saved_timeline(session) == before

        # `songbridge daw push` with the session open in Ardour: through its landing action
        r = run_cli("daw", "push", str(project.folder))
        assert r.returncode == 0, r.stdout + r.stderr
        assert "through the running Ardour" in r.stdout and "1 earlier ones replaced" in r.stdout, r.stdout
        assert "2 of the producer's own markers" in r.stdout, r.stdout
        save_running(session, osc)
        timeline = read_saved_timeline(session)
        # the song's tempo changes at their bars; the producer's own tempo points (Lua cannot remove one) now say
        # the song's tempo and meter, so the map plays as the song's, and a pull gives back the song's map
        tempos = [(bar, round(qpm, 4), beats, note) for bar, qpm, beats, note in timeline.tempos]
        assert tempos[:2] == [(1, 96.0, 4, 4), (5, 132.0, 3, 4)] and len(tempos) > 2, tempos
        assert all(t[1:] == (132.0, 3, 4) for t in tempos[2:]), tempos
        assert song_from_timeline(Song(), timeline).tempo.segments == tempo.segments
        assert "of the session's own tempo points set to the song's" in r.stdout, r.stdout
        marks = {(m.name, m.start, m.end, m.kind) for m in timeline.markers}
        assert {("sb:Intro", 0, 10 * RATE, "range"), ("sb:Verse", 10 * RATE, 20 * RATE, "range"),
                ("sb:Chorus", 20 * RATE, round(28.5 * RATE), "range")} <= marks, marks
        assert ("Hook idea", 3 * RATE, 3 * RATE, "mark") in marks and ("My break", 30 * RATE, 34 * RATE, "range") \
            in marks, marks  # the producer's own markers stay
        assert not any(m.name == "sb:Old section" for m in timeline.markers)

        # the panel's Push (/songbridge/daw/push) after a section was renamed: replaced, not stacked
        project = Project.open(project.folder)
        project.song = project.song.replace(sections=(sections[0], Section("verse", "Verse 1", 10.0, 20.0),
                                                      sections[2]))
        save_song(project.song, project.folder)
        with EngineService("thread") as engine:
            core = Session(project, engine)
            bridge = Bridge(core, lambda data, to: None).start()
            try:
                bridge.commands.put(p.Envelope(p.DawSync("push"), "/songbridge/daw/push", None, "gui"))
                wait_for(lambda: bridge.daw_syncs, 60)
                last = bridge.daw_syncs[-1]
                assert last["ok"] and "through the running Ardour" in last["text"], last
                assert "3 earlier ones replaced" in last["text"], last
            finally:
                bridge.close()
                core.close()
        save_running(session, osc)
        timeline = read_saved_timeline(session)
        pushed = [(m.name, m.start) for m in timeline.markers if m.name.startswith("sb:")]
        assert pushed == [("sb:Intro", 0), ("sb:Verse 1", 10 * RATE), ("sb:Chorus", 20 * RATE)], pushed
        assert {"Hook idea", "My break"} <= {m.name for m in timeline.markers}

        link = ArdourOsc(port=gui.port)
        for action in ("Editor/zoom-to-session", *["Editor/temporal-zoom-out"] * 5):  # all of the markers
            link.send("/access_action", action)
            time.sleep(0.5)
        link.close()
        time.sleep(2.0)
        shot = grab(gui.env["DISPLAY"], tmp_path / "ardour-push-live.png")
        assert shot.stat().st_size > 10_000
        if os.environ.get("SONGBRIDGE_SHOTS"):
            shutil.copy(shot, Path(os.environ["SONGBRIDGE_SHOTS"]) / shot.name)
    except (AssertionError, ArdourError):
        lost = gui.lost_jack()
        if lost:  # told apart from a push that failed: the machine's doing
            pytest.skip(f"Ardour lost its JACK server during the test ({lost}): the machine, not SongBridge")
        raise
    finally:
        gui.close()
