"""Audition: a player over ``sounddevice.OutputStream``.

The PortAudio callback only copies from a preallocated ring buffer into ``outdata``, zero-fills on underrun and
bumps preallocated counters. A feeder thread reads the take's stems, mixes them (mute/solo), runs the stem and
master chains with ``reset=False``, crossfades A/B switches (equal power, 20 ms), wraps loops sample-exactly, and
keeps the ring a few blocks ahead of the play head. Commands go to the feeder through a queue; the transport
methods never block. Sample rate and block size come from the device; takes are resampled when they differ.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import SongBridgeError

from .ring import Ring
from .source import SAMPLE_RATE, TakeSource

XFADE_S = 0.020
COUNTERS = ("callbacks", "frames", "underruns", "xruns")


class AudioDeviceError(SongBridgeError):
    """No usable audio output (no PortAudio, no device, the device vanished)."""


@dataclass(frozen=True)
class DeviceInfo:
    index: int
    name: str
    hostapi: str
    channels: int
    default_samplerate: float


JACK_CLIENT_NAME = b"SongBridge-audio"  # "SongBridge" itself is the MIDI ports' client
_named = False


def _sd() -> Any:
    try:
        import sounddevice as sd
    except OSError as exc:
        raise AudioDeviceError(f"no PortAudio library ({exc}); install it: apt-get install libportaudio2") from None
    _name_jack_client(sd)
    return sd


def _name_jack_client(sd: Any) -> None:
    """Our JACK audio client is "SongBridge-audio", not PortAudio's default "PortAudio" (so a producer finds it in
    the patch bay). PortAudio takes the name when it initialises, so it is set once, before any stream, and
    PortAudio is initialised again to use it."""
    global _named
    if _named:
        return
    _named = True
    try:
        import ctypes

        lib = ctypes.CDLL(sd._libname)
        if not hasattr(lib, "PaJack_SetClientName"):
            return  # a PortAudio built without JACK
        lib.PaJack_SetClientName.argtypes = [ctypes.c_char_p]
        lib.PaJack_SetClientName(JACK_CLIENT_NAME)  # a module-level bytes object: it outlives PortAudio's use
        sd._terminate()
        sd._initialize()
    except (OSError, AttributeError):
        pass


def list_devices() -> list[DeviceInfo]:
    sd = _sd()
    apis = [a["name"] for a in sd.query_hostapis()]
    return [DeviceInfo(i, d["name"], apis[d["hostapi"]], d["max_output_channels"], d["default_samplerate"])
            for i, d in enumerate(sd.query_devices()) if d["max_output_channels"] >= 1]


def find_device(name: str | None) -> DeviceInfo:
    devices = list_devices()
    if not devices:
        raise AudioDeviceError("no audio output device (is a sound server such as JACK or PulseAudio running?)")
    if name is None:
        sd = _sd()
        default = sd.default.device[1]
        return next((d for d in devices if d.index == default), devices[0])
    exact = [d for d in devices if d.name == name]
    partial = [d for d in devices if name.lower() in d.name.lower() or name.lower() in d.hostapi.lower()]
    found = exact or partial
    if not found:
        raise AudioDeviceError(f"no output device matching {name!r}; devices: "
                               + ", ".join(f"{d.name} ({d.hostapi})" for d in devices))
    return found[0]


class Player:
    def __init__(self, device: str | None = None, blocksize: int = 0, ring_blocks: int = 4,
                 feed_block: int = 1024):
        self.device_name = device
        self.requested_blocksize = blocksize
        self.feed_block = feed_block
        self.ring_blocks = ring_blocks
        self.ring: Ring | None = None
        self.stream: Any = None
        self.samplerate = SAMPLE_RATE
        self.blocksize = 0
        self.latency_s = 0.0
        self.device: DeviceInfo | None = None
        self.counters = np.zeros(len(COUNTERS), dtype=np.int64)
        # Callback durations: a histogram in 10 us bins (the last bin collects everything from 20 ms) and the max.
        self.callback_hist = np.zeros(2001, dtype=np.int64)
        self.callback_max = np.zeros(1, dtype=np.float64)
        self._playing = False  # read by the callback (for underrun counting)
        self._commands: queue.Queue[tuple[Any, ...]] = queue.Queue()
        self._feeder: threading.Thread | None = None
        self._alive = threading.Event()
        self.state = "stopped"
        self.error = ""
        self._sources: dict[str, TakeSource | None] = {"A": None, "B": None}
        self.active = "A"

    # -- device --------------------------------------------------------------------------------------------------
    def open(self) -> Player:
        sd = _sd()
        self.device = find_device(self.device_name)
        rate = SAMPLE_RATE
        try:
            sd.check_output_settings(device=self.device.index, samplerate=SAMPLE_RATE, channels=2, dtype="float32")
        except Exception:  # noqa: BLE001 - the device wants its own rate: resample to it
            rate = int(self.device.default_samplerate)
        self.samplerate = rate
        self.ring = Ring(max(self.feed_block * self.ring_blocks, 4096), 2)
        try:
            self.stream = sd.OutputStream(device=self.device.index, samplerate=rate, channels=2, dtype="float32",
                                          blocksize=self.requested_blocksize, callback=self._callback,
                                          finished_callback=self._finished)
            self.stream.start()
        except Exception as exc:  # noqa: BLE001 - PortAudio errors come in several types
            raise AudioDeviceError(f"cannot open {self.device.name} ({self.device.hostapi}) at {rate} Hz: {exc}") \
                from None
        self.blocksize = self.stream.blocksize
        self.latency_s = float(self.stream.latency)
        self._alive.set()
        self._feeder = threading.Thread(target=self._feed, name="songbridge-feeder", daemon=True)
        self._feeder.start()
        return self

    def close(self) -> None:
        self._alive.clear()
        if self._feeder is not None:
            self._feeder.join(2.0)
        if self.stream is not None:
            try:
                self.stream.stop()
                self.stream.close()
            except Exception:  # noqa: BLE001
                pass
        for src in self._sources.values():
            if src is not None:
                src.close()

    def __enter__(self) -> Player:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the realtime callback: copy, zero-fill, count ------------------------------------------------------------
    def _callback(self, outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        t0 = time.perf_counter()
        counters = self.counters
        if status.output_underflow:
            counters[3] += 1
        ring = self.ring
        n = ring.read_into(outdata) if ring is not None else 0
        if n < frames:
            outdata[n:] = 0.0
            if self._playing:
                counters[2] += 1
        counters[0] += 1
        counters[1] += frames
        dt = time.perf_counter() - t0
        self.callback_hist[min(int(dt * 100_000), 2000)] += 1
        if dt > self.callback_max[0]:
            self.callback_max[0] = dt

    def _finished(self) -> None:
        if self._alive.is_set():
            self.error = "the audio device stopped"
            self.state = "error"

    # -- transport (non-blocking) ----------------------------------------------------------------------------------
    def load(self, take_dir: str | Path, *, slot: str = "A", stems: list[str] | None = None,
             chains: Mapping[str, Any] | None = None, master: Any = None) -> None:
        """Open a take for slot A (or B, for A/B comparison). Raises at once when its files are unreadable."""
        self._commands.put(("load", slot, TakeSource(Path(take_dir), stems, chains, master)))

    def load_source(self, source: Any, *, slot: str = "A") -> None:
        """Give slot A (or B) a ready source: anything with the take source's reading interface, e.g. the song as it
        will be landed (``engine.comp_source``), built off the GUI thread."""
        self._commands.put(("load", slot, source))

    def play(self) -> None:
        self._commands.put(("play",))

    def pause(self) -> None:
        self._commands.put(("pause",))

    def toggle(self) -> None:
        self._commands.put(("toggle",))

    def stop(self) -> None:
        self._commands.put(("stop",))

    def seek(self, seconds: float) -> None:
        self._commands.put(("seek", max(0, int(round(seconds * SAMPLE_RATE)))))

    def set_loop(self, start_s: float | None, end_s: float | None = None) -> None:
        if start_s is None or end_s is None:
            self._commands.put(("loop", None))
        else:
            if end_s - start_s < 0.05:
                raise SongBridgeError("a loop must be at least 50 ms long")
            self._commands.put(("loop", (int(round(start_s * SAMPLE_RATE)), int(round(end_s * SAMPLE_RATE)))))

    def ab(self, slot: str | None = None) -> None:
        """Switch to the other take (or to ``slot``) at the same song position, with a short crossfade."""
        self._commands.put(("ab", slot))

    def set_gain(self, stem: str, gain: float) -> None:
        self._commands.put(("gain", stem, float(gain)))

    def mute(self, stem: str, on: bool = True) -> None:
        self._commands.put(("mute", stem, on))

    def solo(self, stem: str, on: bool = True) -> None:
        self._commands.put(("solo", stem, on))

    # -- reporting -------------------------------------------------------------------------------------------------
    def levels(self) -> dict[str, float]:
        """Peak level of each stem of the take playing, as last fed to the device (0 when muted or stopped)."""
        src = self._sources.get(self.active)
        if src is None or self.state != "playing":
            return {}
        return dict(src.levels)

    @property
    def position_s(self) -> float:
        """Song position of the last frame handed to the device (seconds; 0 before anything played)."""
        if self.ring is None:
            return 0.0
        p = self.ring.played_position
        if self.state != "playing" or p < 0:
            return self._idle_pos / SAMPLE_RATE
        return p / SAMPLE_RATE

    _idle_pos = 0

    def stats(self) -> dict[str, Any]:
        hist = self.callback_hist.copy()
        total = int(hist.sum())

        def pct(q: float) -> float:  # upper edge of the bin holding the q-th percentile, in microseconds
            if total == 0:
                return 0.0
            return float((np.searchsorted(np.cumsum(hist), q / 100 * total) + 1) * 10)

        return {**{k: int(v) for k, v in zip(COUNTERS, self.counters, strict=True)},
                "callback_us_p50": pct(50), "callback_us_p99": pct(99), "callback_us_p999": pct(99.9),
                "callback_us_max": float(self.callback_max[0] * 1e6), "samplerate": self.samplerate,
                "blocksize": self.blocksize, "latency_s": self.latency_s}

    # -- the feeder thread ---------------------------------------------------------------------------------------
    def _feed(self) -> None:
        ring = self.ring
        assert ring is not None
        pos = 0
        loop: tuple[int, int] | None = None
        xfade_left = 0
        xfade_from = "A"
        xfade_n = int(XFADE_S * SAMPLE_RATE)
        mutes: set[str] = set()
        solos: set[str] = set()
        gains: dict[str, float] = {}
        resampler = None
        if self.samplerate != SAMPLE_RATE:
            from pedalboard.io import StreamResampler

            resampler = StreamResampler(SAMPLE_RATE, self.samplerate, 2)

        def apply_gains() -> None:
            for src in self._sources.values():
                if src is None:
                    continue
                for stem in src.stems:
                    g = gains.get(stem, 1.0)
                    if stem in mutes or (solos and stem not in solos):
                        g = 0.0
                    src.gains[stem] = g

        def flush(new_pos: int) -> None:
            nonlocal pos
            self._playing = False  # not primed: an empty ring now is not an underrun
            ring.request_flush()
            pos = new_pos
            self._idle_pos = new_pos
            for src in self._sources.values():
                if src is not None:
                    src.reset()

        while self._alive.is_set():
            try:
                cmd = self._commands.get(timeout=0.002 if self.state == "playing" else 0.02)
            except queue.Empty:
                cmd = None
            if cmd is not None:
                kind = cmd[0]
                if kind == "load":
                    old = self._sources.get(cmd[1])
                    self._sources[cmd[1]] = cmd[2]
                    if old is not None:
                        old.close()
                    apply_gains()
                elif kind == "play" or (kind == "toggle" and self.state != "playing"):
                    if self._sources[self.active] is not None:
                        self.state = "playing"
                elif kind == "pause" or (kind == "toggle" and self.state == "playing"):
                    heard = ring.played_position
                    self.state, self._playing = "paused", False
                    flush(heard + 1 if heard >= 0 else pos)
                elif kind == "stop":
                    self.state, self._playing = "stopped", False
                    flush(loop[0] if loop else 0)
                elif kind == "seek":
                    flush(cmd[1])
                elif kind == "loop":
                    loop = cmd[1]
                    if loop and not loop[0] <= pos < loop[1]:
                        flush(loop[0])
                elif kind == "ab":
                    target = cmd[1] or ("B" if self.active == "A" else "A")
                    if target != self.active and self._sources.get(target) is not None:
                        xfade_from, self.active = self.active, target
                        xfade_left = xfade_n
                elif kind in ("gain", "mute", "solo"):
                    stem = cmd[1]
                    if kind == "gain":
                        gains[stem] = cmd[2]
                    else:
                        target_set = mutes if kind == "mute" else solos
                        (target_set.add if cmd[2] else target_set.discard)(stem)
                    apply_gains()
                continue
            if self.state != "playing":
                continue
            src = self._sources[self.active]
            if src is None:
                continue
            n = self.feed_block
            if ring.writable() < n * (2 if resampler is not None else 1):
                continue
            # Positions of this block, wrapping at the loop end sample-exactly.
            if loop is not None and pos + n > loop[1]:
                first = max(0, loop[1] - pos)
                positions = np.concatenate([np.arange(pos, pos + first), np.arange(loop[0], loop[0] + n - first)])
            else:
                positions = np.arange(pos, pos + n)
            end = src.length if loop is None else loop[1]
            if loop is None and pos >= end:
                self.state, self._playing = "stopped", False
                flush(0)
                continue
            block = self._render(src, positions)
            if xfade_left > 0:
                other = self._sources[xfade_from]
                if other is not None:
                    old = self._render(other, positions)
                    k = np.arange(xfade_n - xfade_left, xfade_n - xfade_left + n, dtype=np.float32)
                    theta = np.clip(k / xfade_n, 0.0, 1.0)[:, None] * np.float32(np.pi / 2)
                    block = old * np.cos(theta) + block * np.sin(theta)
                xfade_left = max(0, xfade_left - n)
            pos = int(positions[-1]) + 1
            if loop is not None and pos >= loop[1]:
                pos = loop[0]
            if resampler is not None:
                out = resampler.process(np.ascontiguousarray(block.T)).T
                pos_out = np.linspace(positions[0], positions[-1], len(out)).astype(np.int64)
                ring.write(np.ascontiguousarray(out, dtype=np.float32), pos_out)
            else:
                ring.write(block, positions)
            self._playing = True  # primed: from now on an empty ring is an underrun

    @staticmethod
    def _render(src: TakeSource, positions: np.ndarray) -> np.ndarray:
        """Read the frames at ``positions`` (at most two contiguous runs, split at a loop wrap)."""
        breaks = np.flatnonzero(np.diff(positions) != 1)
        if len(breaks) == 0:
            return src.read(int(positions[0]), len(positions))
        cut = int(breaks[0]) + 1
        return np.concatenate([src.read(int(positions[0]), cut), src.read(int(positions[cut]), len(positions) - cut)])
