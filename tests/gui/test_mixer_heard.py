"""The stems mixer's mute, solo and gain, clicked in the app, heard in the player's output on the JACK dummy server
(recorded by a JACK client), and its meters showing what plays."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from gui.mixer import StemMixer
from tests.engine.audio.test_player import Rig, locate, make_take, noise

pytestmark = pytest.mark.audio_server


@pytest.fixture
def rig(jack_server):
    r = Rig()
    yield r
    r.close()


def test_mute_solo_and_gain_from_the_mixer_are_heard(qtbot, rig: Rig, tmp_path: Path) -> None:
    drums, vocal = noise(3.0, 11, 0.2), noise(3.0, 12, 0.2)
    take = make_take(tmp_path / "t", {"drums": drums, "vocal": vocal})
    results: dict[str, np.ndarray] = {}

    def scenario(player, rec):
        mixer = StemMixer(player, ("drums", "vocal"))
        qtbot.addWidget(mixer)
        player.load(take)
        QTest.mouseClick(mixer.rows["vocal"]["mute"], Qt.LeftButton)  # the producer mutes the vocal
        mixer.rows["drums"]["fader"].setValue(-60)  # and pulls the drums down 6 dB
        player.play()
        time.sleep(0.5)
        qtbot.wait(120)  # the meters refresh on the GUI thread
        results["meters"] = np.array([mixer.rows[s]["meter"].value() for s in ("drums", "vocal")])
        player.stop()
        time.sleep(0.1)
        return rec.audio()

    got = rig.attempt(scenario)
    quieter = drums * np.float32(10 ** (-6 / 20))
    off = locate(got, quieter)
    assert np.abs(got[off:off + 8192] - quieter[:8192]).max() < 1e-5  # drums only, 6 dB down: no vocal
    drums_meter, vocal_meter = results["meters"]
    assert drums_meter > -200 and vocal_meter == -600  # tenths of dB: drums near -20 dBFS, the muted vocal silent

    def solo(player, rec):
        mixer = StemMixer(player, ("drums", "vocal"))
        qtbot.addWidget(mixer)
        player.load(take)
        QTest.mouseClick(mixer.rows["vocal"]["solo"], Qt.LeftButton)
        player.play()
        time.sleep(0.5)
        player.stop()
        time.sleep(0.1)
        return rec.audio()

    got = rig.attempt(solo)
    off = locate(got, vocal)
    assert np.abs(got[off:off + 8192] - vocal[:8192]).max() < 1e-6  # the soloed vocal alone
