"""The guide's MIDI landed through the running Ardour GUI (Debian's Ardour 7 under Xvfb, on a JACK dummy server of
its own): a section of a guide take lands its stems and its MIDI, one ``SB <part> (MIDI)`` track per part with a
region at the section's bar; a later landing replaces them; a take without MIDI takes them away; Ardour's own save
keeps it all. Set ``SONGBRIDGE_SHOTS`` to a folder to keep the screenshot of Ardour's editor."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from daw_bridge.adapters import ardour_live as live
from daw_bridge.adapters.ardour import ArdourError, ArdourOsc, create_session, enable_osc
from tests.daw_bridge.ardour_gui import ArdourGui
from tests.daw_bridge.guide_take import PARTS, assert_landed, guide_project, land, saved_midi_regions
from tests.daw_bridge.screen import grab

pytestmark = [pytest.mark.integration, pytest.mark.audio_server, pytest.mark.slow]


def save(port: int) -> None:
    link = ArdourOsc(port=port)
    link.send("/save_state")
    link.close()
    time.sleep(2.0)


def test_guide_midi_lands_through_the_running_ardour(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))  # SongBridge and Ardour read the same configuration
    gui = ArdourGui(home)
    try:
        assert live.install(home / "ardour7").registered  # `songbridge daw setup ardour`, Ardour not running
        project, take = guide_project(tmp_path)
        song = project.song
        chorus = next(s for s in song.sections if s.kind == "chorus")
        session = create_session(tmp_path / "Live", song.tempo.bpm, song.tempo.meter.numerator)
        enable_osc(session, "Live")
        gui.open(session)

        detail = land(project, take, chorus, session)
        assert "into the running Ardour" in detail and f"{len(PARTS)} of them the guide's MIDI" in detail, detail
        # the same take again: the section's regions are replaced, not stacked
        detail = land(project, take, chorus, session)
        assert "into the running Ardour" in detail, detail
        save(gui.port)
        assert_landed(session, project, take, chorus, with_lyrics=False)  # Ardour's import keeps no lyric events

        link = ArdourOsc(port=gui.port)
        for action in ("Editor/zoom-to-session", "Editor/fit_all_tracks"):
            link.send("/access_action", action)
            time.sleep(0.5)
        link.close()
        time.sleep(2.0)
        shot = grab(gui.env["DISPLAY"], tmp_path / "ardour-midi-live.png")
        assert shot.stat().st_size > 10_000
        if os.environ.get("SONGBRIDGE_SHOTS"):
            shutil.copy(shot, Path(os.environ["SONGBRIDGE_SHOTS"]) / shot.name)

        # a take without MIDI lands its audio only; the chorus's notes leave the MIDI tracks
        (project.take_dir(take.id) / "guide.mid").unlink()
        detail = land(project, take, chorus, session)
        assert "audio only" in detail and f"earlier MIDI left {len(PARTS)} tracks" in detail, detail
        save(gui.port)
        regions = saved_midi_regions(session)
        assert all(regions[f"SB {p} (MIDI)"] == [] for p in PARTS), regions
    except (AssertionError, ArdourError):
        lost = gui.lost_jack()
        if lost:  # told apart from a landing that failed: the machine's doing
            pytest.skip(f"Ardour lost its JACK server during the test ({lost}): the machine, not SongBridge")
        raise
    finally:
        gui.close()
