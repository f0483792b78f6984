"""The player on a real audio server (JACK dummy), captured by a JACK client connected to PortAudio's ports."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine.audio.player import AudioDeviceError, Player, find_device

SR = 44100


def make_take(folder: Path, stems: dict[str, np.ndarray]) -> Path:
    (folder / "stems").mkdir(parents=True)
    for name, audio in stems.items():
        sf.write(str(folder / "stems" / f"{name}.wav"), audio, SR, subtype="FLOAT")
    return folder


def noise(seconds: float, seed: int, level: float = 0.2) -> np.ndarray:
    return (np.random.default_rng(seed).uniform(-level, level, (int(seconds * SR), 2))).astype(np.float32)


class Recorder:
    """A JACK client recording whatever PortAudio plays."""

    def __init__(self):
        import jack

        self.client = jack.Client("sb-recorder", no_start_server=True)
        self.ins = [self.client.inports.register(f"in_{i}") for i in range(2)]
        self.chunks: list[np.ndarray] = []
        self.recording = threading.Event()

        @self.client.set_process_callback
        def process(frames):
            if self.recording.is_set():
                self.chunks.append(np.stack([p.get_array().copy() for p in self.ins], 1))

        self.client.activate()

    def connect(self) -> None:
        outs = sorted(p.name for p in self.client.get_ports("SongBridge-audio", is_audio=True, is_output=True))
        assert len(outs) >= 2, f"no SongBridge output ports (the player's JACK client): {outs}"
        for src, dst in zip(outs[-2:], self.ins, strict=True):
            self.client.connect(src, dst)

    def audio(self) -> np.ndarray:
        return np.concatenate(self.chunks) if self.chunks else np.zeros((0, 2), np.float32)

    def close(self) -> None:
        self.client.deactivate()
        self.client.close()


class Rig:
    """A player and a recorder. ``attempt`` runs a scenario until one run has no JACK xrun: on this non-realtime
    dummy server an xrun means the server skipped a client's cycle (a machine hiccup, not a player bug), which
    inserts a gap in the capture; the exactness assertions then run on a clean capture."""

    def __init__(self):
        self.player: Player | None = None
        self.rec: Recorder | None = None

    def fresh(self) -> tuple[Player, Recorder]:
        self.close()
        self.player = Player(device="JACK").open()
        self.rec = Recorder()
        self.rec.connect()
        self.rec.recording.set()
        return self.player, self.rec

    def attempt(self, scenario, tries: int = 3):  # type: ignore[no-untyped-def]
        xruns = []
        for _ in range(tries):
            player, rec = self.fresh()
            result = scenario(player, rec)
            xruns.append(int(player.stats()["xruns"]))
            if xruns[-1] == 0:
                return result
        pytest.fail(f"every attempt had JACK xruns ({xruns}): the machine is too loaded for an exact capture")

    def close(self) -> None:
        if self.rec is not None:
            self.rec.close()
        if self.player is not None:
            self.player.close()
        self.player = self.rec = None


@pytest.fixture
def rig(jack_server):
    r = Rig()
    yield r
    r.close()


def locate(captured: np.ndarray, reference: np.ndarray) -> int:
    """Offset of ``reference``'s first 512 frames in ``captured`` (exact match search)."""
    head = reference[:512, 0]
    for i in np.flatnonzero(np.isclose(captured[:, 0], head[0], atol=1e-7)):
        if i + 512 <= len(captured) and np.allclose(captured[i:i + 512, 0], head, atol=1e-6):
            return int(i)
    raise AssertionError("the reference audio was not found in the capture")


pytestmark = pytest.mark.audio_server


def test_captured_audio_equals_the_take(rig, tmp_path: Path) -> None:
    a, b = noise(2.0, 1), noise(2.0, 2, 0.1)
    take = make_take(tmp_path / "t", {"drums": a, "vocal": b})

    def scenario(player, rec):
        player.load(take)
        player.play()
        time.sleep(1.2)
        player.stop()
        time.sleep(0.2)
        return rec.audio(), player.stats()

    got, stats = rig.attempt(scenario)
    mix = a + b
    off = locate(got, mix)
    n = min(len(got) - off, int(1.0 * SR))
    assert n > SR * 0.8
    assert np.abs(got[off:off + n] - mix[:n]).max() < 1e-6
    assert stats["underruns"] == 0


def test_mute_and_solo(rig, tmp_path: Path) -> None:
    a, b = noise(2.0, 3), noise(2.0, 4)
    take = make_take(tmp_path / "t", {"drums": a, "vocal": b})

    def scenario(player, rec):
        player.load(take)
        player.solo("vocal")
        player.play()
        time.sleep(0.6)
        player.stop()
        time.sleep(0.1)
        return rec.audio()

    got = rig.attempt(scenario)
    off = locate(got, b)
    assert np.abs(got[off:off + 8192] - b[:8192]).max() < 1e-6


def test_ab_switch_crossfades_without_a_click(rig, tmp_path: Path) -> None:
    t = np.arange(int(3 * SR)) / SR
    sine_a = (0.5 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    sine_b = (0.5 * np.sin(2 * np.pi * 220 * t + np.pi)).astype(np.float32)  # opposite phase: worst case
    take_a = make_take(tmp_path / "a", {"mix": np.stack([sine_a, sine_a], 1)})
    take_b = make_take(tmp_path / "b", {"mix": np.stack([sine_b, sine_b], 1)})

    def scenario(player, rec):
        player.load(take_a)
        player.load(take_b, slot="B")
        player.play()
        time.sleep(0.7)
        player.ab()
        time.sleep(0.7)
        player.stop()
        time.sleep(0.1)
        return rec.audio()[:, 0], player.active

    got, active = rig.attempt(scenario)
    start = np.flatnonzero(np.abs(got) > 1e-4)[0]
    sig = got[start:start + int(1.3 * SR)]
    jumps = np.abs(np.diff(sig))
    max_slope = 2 * np.pi * 220 / SR * 0.5  # the largest step of the sine itself
    assert jumps.max() < 1.6 * max_slope, f"discontinuity {jumps.max():.4f} vs sine step {max_slope:.4f}"
    assert active == "B"  # it did switch


def test_loop_is_seamless(rig, tmp_path: Path) -> None:
    sig = noise(2.0, 5)
    take = make_take(tmp_path / "t", {"mix": sig})
    a, b = int(0.5 * SR), int(0.8 * SR)

    def scenario(player, rec):
        player.load(take)
        player.set_loop(0.5, 0.8)
        player.play()
        time.sleep(1.5)
        player.stop()
        time.sleep(0.1)
        return rec.audio()

    got = rig.attempt(scenario)
    off = locate(got, sig[a:])
    period = b - a
    body = got[off:]
    reps = len(body) // period - 1
    assert reps >= 3
    for k in range(reps):
        assert np.array_equal(body[k * period:(k + 1) * period], sig[a:b]), f"loop pass {k} differs"


def test_seek_is_sample_accurate(rig, tmp_path: Path) -> None:
    sig = noise(4.0, 6)
    take = make_take(tmp_path / "t", {"mix": sig})

    def scenario(player, rec):
        player.load(take)
        player.play()
        time.sleep(0.4)
        player.seek(2.5)
        time.sleep(0.5)
        pos = player.position_s
        player.stop()
        time.sleep(0.3)
        return rec.audio(), pos

    got, pos = rig.attempt(scenario)
    target = int(2.5 * SR)
    off = locate(got, sig[target:])
    assert np.abs(got[off:off + SR // 4] - sig[target:target + SR // 4]).max() < 1e-6
    assert 2.5 < pos < 3.2
    assert np.abs(got[-2048:]).max() == 0.0  # after stop the output is silent


def test_a_missing_device_is_a_clear_error(jack_server) -> None:
    with pytest.raises(AudioDeviceError, match="no output device matching 'Nonexistent'"):
        find_device("Nonexistent")
