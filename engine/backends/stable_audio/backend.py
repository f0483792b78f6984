"""The ``stable-audio`` (Stable Audio Open 1.0: beds and loops up to 47 s, text and audio-to-audio) and
``stable-audio-small`` (up to 11.9 s, 8 steps, laptop-friendly) backends.

A request with ``bars`` is a loop: the prompt gets the tempo and bar count, the length is bars x meter x 60 / bpm
(the song's tempo unless ``bpm`` is given), the output is locked to that tempo when the DSP tracker finds a steady
beat, cut to the exact sample count and made to wrap seamlessly. Without ``bars`` it is a bed of the request's
duration. Too long for the model's window: refused, naming the longest loop it can make. Each take records the
weights that made it (name, sha256, licence).
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from engine.backends.base import BackendUnavailable, GenerationRequest, ProgressFn, StopFn
from engine.backends.params import Param, check_params
from engine.backends.takes import TakeWriter
from engine.errors import SongBridgeError
from engine.song.model import Take

from .catalog import FOLDERS, LICENCE
from .files import StableAudioFilesError, find
from .loops import extend_by_bars, loop_frames, loop_prompt, loop_seconds, make_loop, seam_jump

VERSION = "1.0"
CEILING_DBFS = -1.0
MAX_LOCK_DRIFT_PCT = 8.0
PARAMS = {
    "prompt": Param("prompt", str, "what to make (default: the song's style)"),
    "bars": Param("bars", float, "loop length in bars (a bed of the song's length when absent)", 0.25, 64),
    "bpm": Param("bpm", float, "loop tempo (default: the song's)", 20, 400),
    "at_bar": Param("at_bar", float, "where the loop lands in the DAW (bar, 1-based)", 1, 100000),
    "steps": Param("steps", int, "sampler steps (SAO 1.0: 100; Small: 8)", 1, 500),
    "cfg": Param("cfg", float, "guidance strength (1: none; SAO 1.0 uses 7)", 1, 20),
    "sigma_min": Param("sigma_min", float, "SAO 1.0: lowest noise level", 0.001, 10),
    "sigma_max": Param("sigma_max", float, "SAO 1.0: highest noise level", 1, 1000),
    "negative": Param("negative", str, "what to steer away from (with cfg > 1)"),
    "init_audio": Param("init_audio", str, "a clip (in the project) to make a variation of"),
    "init_strength": Param("init_strength", float, "variation: 1 all new, 0 the clip itself", 0.01, 1),
    "lock": Param("lock", str, "lock the loop to its tempo with the beat grid", choices=("yes", "no")),
}


class StableAudioBackend:
    name = "stable-audio"
    version = VERSION
    params = PARAMS
    kind = "stable-audio"

    def __init__(self, models_dir: str | os.PathLike[str] | None = None, device: str | None = None,
                 precision: str | None = None, **_: Any):
        from engine.settings import models_dir as resolve

        self.models_dir, _origin = resolve(models_dir)
        self.device = device
        self.precision = precision  # CPU only: None/auto measures (engine.precision)
        self._loaded: Any = None
        self._precision = "fp32"

    def files(self) -> Any:
        try:
            files = find(self.models_dir, self.kind)
        except StableAudioFilesError as exc:
            raise BackendUnavailable(str(exc)) from None
        if files is None:
            raise BackendUnavailable(f"no {FOLDERS[self.kind]} in {self.models_dir}; see `songbridge models "
                                     "status`")
        return files

    def available(self) -> tuple[bool, str]:
        try:
            files = self.files()
        except BackendUnavailable as exc:
            return False, str(exc)
        return True, f"{files.model_id} in {files.folder}; licence: {LICENCE}"

    def installed(self) -> bool:
        return (self.models_dir / FOLDERS[self.kind] / "model_config.json").is_file()

    def window_s(self) -> float:
        """The longest audio the model renders (its ``sample_size``), read from its config."""
        from .catalog import window_s

        self.files()
        return window_s(self.models_dir, self.kind)

    def check_fits(self, bars: float, bpm: float, beats: int = 4, window: float | None = None) -> float:
        """The loop's length in seconds; raises naming the longest loop this model makes at ``bpm``."""
        window = self.window_s() if window is None else window
        seconds = loop_seconds(bars, bpm, beats)
        if seconds > window + 1e-9:
            per_bar = beats * 60.0 / bpm
            longest = math.floor(window / per_bar) or math.floor(window / per_bar * 4) / 4
            other = " (Stable Audio Open 1.0 makes up to 47.5 s)" if self.kind != "stable-audio" else ""
            raise SongBridgeError(f"{bars:g} bars at {bpm:g} bpm is {seconds:.2f} s; this model makes at most "
                                  f"{window:.2f} s: {longest:g} bar{'s' if longest != 1 else ''} at this tempo{other}")
        return seconds

    def estimate(self, request: GenerationRequest) -> tuple[float, int]:
        files = self.files()
        weights = files.weights.stat().st_size
        steps = int(request.params.get("steps", 100 if self.kind == "stable-audio" else 8))
        cfg = float(request.params.get("cfg", 7.0 if self.kind == "stable-audio" else 1.0))
        import torch

        cuda = torch.cuda.is_available() and (self.device or "cuda").startswith("cuda")
        tokens = 1024 if self.kind == "stable-audio" else 256
        flops = 2.0 * weights / 4 * tokens * steps * (2 if cfg != 1 else 1)
        return flops / (1e14 if cuda else 5e10) + (5.0 if cuda else 3.0), int(weights * 1.3 + 2**30)

    def model(self) -> Any:
        if self._loaded is None:
            import torch

            from .files import load

            loaded = load(self.files())
            dev = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
            loaded.model.to(dev)
            if dev == "cpu":
                from engine.precision import cpu_precision

                from .pipeline import prepare_for_cpu

                loaded.model.t5.float()  # CPU float16 matmuls are slow; the float32 T5 is within 3.5e-3
                choice = cpu_precision(self.precision, width=loaded.model.cfg.dit.embed_dim)
                self._precision = f"{prepare_for_cpu(loaded.model, choice.dtype)}; {choice.source}"
            self._loaded = loaded
        return self._loaded

    def release(self) -> None:
        self._loaded = None

    def generate(self, request: GenerationRequest, on_progress: ProgressFn, should_stop: StopFn) -> Take:
        from engine.precision import threads_for

        from .pipeline import generate, settings_for

        params = check_params(self.name, PARAMS, dict(request.params), "parameter {name}")
        loaded = self.model()
        model = loaded.model
        cfg = model.cfg
        sr = cfg.sample_rate
        window = cfg.max_seconds
        prompt = str(params.get("prompt") or request.style.prompt or "instrumental")
        beats = request.tempo.meter.numerator
        if "bars" in params:
            bpm = float(params.get("bpm", request.tempo.bpm))
            bars = float(params["bars"])
            seconds = self.check_fits(bars, bpm, beats, window)
            text = loop_prompt(prompt, bpm, bars)
            frames = loop_frames(bars, bpm, sr, beats)
        else:
            bpm = bars = None
            seconds = request.duration_s
            if seconds > window + 1e-9:
                raise SongBridgeError(f"a {seconds:.1f} s bed is longer than {loaded.files.model_id} makes "
                                      f"({window:.2f} s)")
            text, frames = prompt, int(round(seconds * sr))
        init = None
        if "init_audio" in params:
            from engine.audio.io import read_audio, to_stereo

            path = request.out_dir.parent.parent / params["init_audio"]
            clip, clip_sr = read_audio(path)
            if clip_sr != sr:
                import soxr

                clip = soxr.resample(clip, clip_sr, sr)
            init = to_stereo(clip)
        s = settings_for(cfg.objective, params)
        total = s.steps + 2
        with threads_for(cfg.dit.embed_dim):  # a small (test) model runs on one thread: engine.precision
            audio = generate(model, [text], [seconds], request.seed, s, init_audio=init,
                             on_step=lambda d, _t: on_progress(d, total), should_stop=should_stop)[0]
        locked: dict[str, Any] = {}
        if bpm is not None and params.get("lock", "yes") == "yes":
            audio, locked = _lock(audio, sr, bpm, beats)
        on_progress(s.steps + 1, total)
        if bpm is not None:
            made = len(audio)
            out = make_loop(audio, frames, sr, bar_frames=int(round(beats * 60.0 / bpm * sr)))
            if made < frames:  # started late: the model's window after its first downbeat was short of the loop
                locked["extended_s"] = round((frames - made) / sr, 3)
        else:
            out = extend_by_bars(audio, frames, frames)[:frames]
        peak = float(np.abs(out).max()) if out.size else 0.0
        gain = min(1.0, 10 ** (CEILING_DBFS / 20) / peak) if peak > 0 else 1.0
        out = (out * gain).astype(np.float32)
        stem = "loop" if bpm is not None else "bed"
        weights = [{"name": loaded.files.model_id, "file": loaded.files.weights.name, "sha256": loaded.sha256,
                    "licence": LICENCE},
                   {"name": "t5-base (text encoder)", "file": str(loaded.files.t5.name), "licence": "Apache-2.0"}]
        take = Take(id=request.take_id, backend=self.name, seed=request.seed, name=request.name,
                    model_id=loaded.files.model_id, weights_sha256=loaded.sha256,
                    params={**params, "prompt_used": text, "steps": s.steps, "cfg": s.cfg,
                            **({"beat": "locked" if locked.get("locked") else
                                f"not locked: {locked.get('why', 'not asked')}"} if bpm is not None else {}),
                            "sampler": "pingpong" if cfg.objective == "rf_denoiser" else "dpmpp-3m-sde",
                            "precision": self._precision},
                    style=request.style, duration_s=len(out) / sr, stems=(stem,))
        extra = {"weights": weights, "stable_audio": {"prompt_used": text, "seconds": seconds, "bars": bars,
                                                      "bpm": bpm, "output_gain": gain, "locked": locked,
                                                      "seam_jump": round(seam_jump(out), 2) if bpm else None}}
        with TakeWriter(request.out_dir) as w:
            w.write_stem(stem, out)
            w.write_mix(out)
            result = w.commit(take, extra)
        on_progress(total, total)
        return result


class StableAudioSmallBackend(StableAudioBackend):
    name = "stable-audio-small"
    kind = "stable-audio-small"


def _lock(audio: np.ndarray, sr: int, bpm: float, beats: int) -> tuple[np.ndarray, dict[str, Any]]:
    """The window locked to ``bpm`` from its first downbeat (DSP tracker); unchanged, with the reason, when no
    steady beat is found."""
    from engine.grid import dsp, lock

    bar = beats * 60.0 / bpm
    found, downs = dsp.track(audio, sr, bpm=bpm, meter=beats)
    if downs.size < 2 or found.size < 2 * beats:
        return audio, {"locked": False, "why": "no steady beat found"}
    whole = audio
    start = float(downs[0])
    if start > 60.0 / bpm:  # the model started late: keep its audio from the first downbeat
        audio = audio[int(round(start * sr)):]
        downs = downs - start
        start = 0.0
    lines = start + np.arange(0, len(audio) / sr + 4 * bar, bar)
    try:
        p = lock.plan(downs, lines, sr, frames=len(audio))
    except (SongBridgeError, ValueError) as exc:  # the model's audio as it came, and why
        return whole, {"locked": False, "why": str(exc)}
    if p.drift_pct > MAX_LOCK_DRIFT_PCT:  # that is not the loop's tempo being off, it is no beat at this tempo
        return whole, {"locked": False, "why": f"the beat found is {p.drift_pct:.0f} % off {bpm:g} bpm"}
    return lock.apply(p, audio), {"locked": True, "mode": p.mode, "ratio": round(p.ratio, 5),
                                  "drift_pct": round(p.drift_pct, 2)}
