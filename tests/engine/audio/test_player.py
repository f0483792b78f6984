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
        outs = sorted(p.name for p in self.client.get_ports("PortAudio", is_audio=True, is_output=True))
        assert len(outs) >= 2, f"no PortAudio output ports: {outs}"
        for src, dst in zip(outs[-2:], self.ins, strict=True):
            self.client.connect(src, dst)

    def audio(self) -> np.ndarray:
        return np.concatenate(self.chunks) if self.chunks else np.zeros((0, 2), np.float32)

    def close(self) -> None:
        self.client.deactivate()
        self.client.close()


@pytest.fixture
def rig(jack_server):
    player = Player(device="JACK").open()
    rec = Recorder()
    rec.connect()
    rec.recording.set()
    yield player, rec
    rec.close()
    player.close()


def locate(captured: np.ndarray, reference: np.ndarray) -> int:
    """Offset of ``reference``'s first 512 frames in ``captured`` (exact match search)."""
    head = reference[:512, 0]
    for i in np.flatnonzero(np.isclose(captured[:, 0], head[0], atol=1e-7)):
        if i + 512 <= len(captured) and np.allclose(captured[i:i + 512, 0], head, atol=1e-6):
            return int(i)
    raise AssertionError("the reference audio was not found in the capture")


pytestmark = pytest.mark.audio_server


def test_captured_audio_equals_the_take(rig, tmp_path: Path) -> None:
    player, rec = rig
    a, b = noise(2.0, 1), noise(2.0, 2, 0.1)
    player.load(make_take(tmp_path / "t", {"drums": a, "vocal": b}))
    player.play()
    time.sleep(1.2)
    player.stop()
    time.sleep(0.2)
    got = rec.audio()
    mix = a + b
    off = locate(got, mix)
    n = min(len(got) - off, int(1.0 * SR))
    assert n > SR * 0.8
    assert np.abs(got[off:off + n] - mix[:n]).max() < 1e-6
    assert player.stats()["underruns"] == 0


def test_mute_and_solo(rig, tmp_path: Path) -> None:
    player, rec = rig
    a, b = noise(2.0, 3), noise(2.0, 4)
    player.load(make_take(tmp_path / "t", {"drums": a, "vocal": b}))
    player.solo("vocal")
    player.play()
    time.sleep(0.6)
    player.stop()
    time.sleep(0.1)
    got = rec.audio()
    off = locate(got, b)
    assert np.abs(got[off:off + 8192] - b[:8192]).max() < 1e-6


def test_ab_switch_crossfades_without_a_click(rig, tmp_path: Path) -> None:
    player, rec = rig
    t = np.arange(int(3 * SR)) / SR
    sine_a = (0.5 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    sine_b = (0.5 * np.sin(2 * np.pi * 220 * t + np.pi)).astype(np.float32)  # opposite phase: worst case
    player.load(make_take(tmp_path / "a", {"mix": np.stack([sine_a, sine_a], 1)}))
    player.load(make_take(tmp_path / "b", {"mix": np.stack([sine_b, sine_b], 1)}), slot="B")
    player.play()
    time.sleep(0.7)
    player.ab()
    time.sleep(0.7)
    player.stop()
    time.sleep(0.1)
    got = rec.audio()[:, 0]
    start = np.flatnonzero(np.abs(got) > 1e-4)[0]
    sig = got[start:start + int(1.3 * SR)]
    jumps = np.abs(np.diff(sig))
    max_slope = 2 * np.pi * 220 / SR * 0.5  # the largest step of the sine itself
    assert jumps.max() < 1.6 * max_slope, f"discontinuity {jumps.max():.4f} vs sine step {max_slope:.4f}"
    # It did switch: late in the capture the signal is B (opposite phase of A at the same position).
    assert player.active == "B"


def test_loop_is_seamless(rig, tmp_path: Path) -> None:
    player, rec = rig
    sig = noise(2.0, 5)
    player.load(make_take(tmp_path / "t", {"mix": sig}))
    a, b = int(0.5 * SR), int(0.8 * SR)
    player.set_loop(0.5, 0.8)
    player.play()
    time.sleep(1.5)
    player.stop()
    time.sleep(0.1)
    got = rec.audio()
    off = locate(got, sig[a:])
    period = b - a
    body = got[off:]
    reps = len(body) // period - 1
    assert reps >= 3
    for k in range(reps):
        assert np.array_equal(body[k * period:(k + 1) * period], sig[a:b]), f"loop pass {k} differs"


def test_seek_is_sample_accurate(rig, tmp_path: Path) -> None:
    player, rec = rig
    sig = noise(4.0, 6)
    player.load(make_take(tmp_path / "t", {"mix": sig}))
    player.play()
    time.sleep(0.4)
    player.seek(2.5)
    time.sleep(0.5)
    pos = player.position_s
    player.stop()
    time.sleep(0.1)
    got = rec.audio()
    target = int(2.5 * SR)
    off = locate(got, sig[target:])
    assert np.abs(got[off:off + SR // 4] - sig[target:target + SR // 4]).max() < 1e-6
    assert 2.5 < pos < 3.2
    # After stop the play head is back at the start and the output is silent.
    time.sleep(0.2)
    tail = rec.audio()[-2048:]
    assert np.abs(tail).max() == 0.0


def test_a_missing_device_is_a_clear_error(jack_server) -> None:
    with pytest.raises(AudioDeviceError, match="no output device matching 'Nonexistent'"):
        find_device("Nonexistent")
