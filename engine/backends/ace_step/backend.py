"""The ``ace-step`` backend: ACE-Step 1.5 (MIT) from the official download, driven by the song.

The song's sections, lyrics, tempo, meter, key, length and style become ACE-Step's lyric tags, metadata block and
caption (``prompts.py``); a regeneration of sections, bars or lines of a take becomes repaint windows on that take
(several windows, one pass), a range past its end an extend, and an edit of a guide take a cover of it
(``jobs.py``); the song's reference clip, when its style has one, is the timbre reference. The turbo model runs
its 8-step table without guidance; a base model adds APG guidance. On the CPU the DiT's feed-forward products and
the VAE run in the precision measured fastest on the machine (``pipeline.prepare_for_cpu``). Takes are
48 kHz from the model, resampled to the project's 44.1 kHz; the 25 Hz latent is kept with the take so a later edit
repaints the exact latent instead of re-encoding the audio. Every take's record names each weights file, its
sha256 and licence (ACE-Step MIT, Qwen3-Embedding Apache-2.0).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from engine.backends.base import BackendUnavailable, GenerationRequest, ProgressFn, StopFn
from engine.backends.params import Param, check_params
from engine.backends.takes import TakeWriter
from engine.errors import SongBridgeError
from engine.song.model import Take, TimeRange

from .catalog import LICENCE, TEXT_LICENCE, VARIANTS
from .files import AceStepFiles, AceStepFilesError, installed, locate
from .tasks import TASKS, TRACK_NAMES

VERSION = "1.5"
CEILING_DBFS = -1.0
LATENT_FILE = "latent.safetensors"
PARAMS = {
    "variant": Param("variant", str, "which model: turbo (8 steps, no guidance) or base (guidance)",
                     choices=tuple(VARIANTS)),
    "steps": Param("steps", int, "sampler steps (turbo: 8, its own table, at most 20 distinct; base: 32)", 1,
                   200),
    "shift": Param("shift", float, "timestep shift (turbo: rounded to 1, 2 or 3; default 3)", 1, 5),
    "guidance_scale": Param("guidance_scale", float, "base only: APG guidance strength (1: none; default 7)",
                            1, 20),
    "cover_strength": Param("cover_strength", float, "cover of a guide take: the share of the steps that follow "
                            "the guide (1: all; default 0.6)", 0, 1),
    "cover_noise": Param("cover_noise", float, "cover: start part-way from the guide itself (0: from noise)", 0, 1),
    "caption": Param("caption", str, "what the song sounds like (default: the song's style)", max_len=512),
    "language": Param("language", str, "the lyrics' language code (default: read from the lyrics)",
                      pattern=r"unknown|[a-z]{2,3}(-[A-Za-z]{2,4})?", pattern_help="a language code (en, zh, es-MX …)"),
    "task": Param("task", str, "on a take, base model only: lego (add the track as a new stem over the take) or "
                  "extract (the track alone out of the take)", choices=TASKS),
    "track": Param("track", str, "the track lego adds or extract takes out", choices=TRACK_NAMES),
}


class AceStepBackend:
    name = "ace-step"
    version = VERSION
    params = PARAMS

    def __init__(self, models_dir: str | os.PathLike[str] | None = None, device: str | None = None,
                 variant: str | None = None, precision: str | None = None, **_: Any):
        from engine.settings import models_dir as resolve

        self.models_dir, _origin = resolve(models_dir)
        self.device, self.variant, self.precision = device, variant, precision
        self._loaded: dict[str, Any] = {}
        self._precision = "fp32"

    # -- files ----------------------------------------------------------------------------------------------
    def files(self, variant: str | None = None) -> AceStepFiles:
        try:
            return locate(self.models_dir, variant or self.variant)
        except AceStepFilesError as exc:
            raise BackendUnavailable(str(exc)) from None

    def available(self) -> tuple[bool, str]:
        """From the files alone (configs and safetensors headers): no weights are read."""
        try:
            files = self.files()
        except BackendUnavailable as exc:
            return False, str(exc)
        problems = files.problems()
        if problems:
            return False, "; ".join(problems)
        return True, (f"{files.model_id} ({files.variant}) in {files.root}; licence: ACE-Step {LICENCE}, "
                      f"Qwen3-Embedding {TEXT_LICENCE}")

    def check_request(self, params: Mapping[str, Any]) -> None:
        """A track task (lego, extract) with a valid track, on a model that was trained for it (the base), from the
        files alone."""
        from .tasks import check_task, variant_for

        check_task(params, self.files(variant_for(self, params)))

    def installed(self) -> bool:
        return installed(self.models_dir)

    # -- cost -----------------------------------------------------------------------------------------------
    def estimate(self, request: GenerationRequest) -> tuple[float, int]:
        """(seconds, peak bytes) before the job runs, from the configs: FLOPs of the text encoder, the DiT steps
        (twice the batch with guidance), the decode and any encode of a source take (``cost.py``), on the CPU at
        the float32 rate measured on this machine; the bytes are the device's peak (GPU memory on a GPU), float32
        weights and activations as the model runs."""
        from . import cost
        from .jobs import frames_for, settings_for

        params = check_params(self.name, PARAMS, dict(request.params), "parameter {name}")
        from .tasks import check_task, variant_for

        files = self.files(variant_for(self, params))
        check_task(params, files)
        dit, vae, text = files.configs()
        s = settings_for(files.variant, params)
        guided = files.variant != "turbo" and s.guidance_scale > 1.0
        seconds_audio = request.duration_s
        encode = 0
        if request.edit is not None:
            seconds_audio = max([request.duration_s, *(r.end_s for r in request.edit.ranges)])
            src = request.out_dir.parent / request.edit.source_take
            encode = 0 if (src / LATENT_FILE).is_file() else frames_for(seconds_audio, vae.sampling_rate, vae.hop)
        frames = frames_for(seconds_audio, vae.sampling_rate, vae.hop)
        flops = cost.job_flops(dit, vae, text, frames, s.steps, guided, encode)
        gpu = self._cuda()
        loaded = files.variant in self._loaded
        load_gb = 0.0 if loaded else sum(p.stat().st_size for _, p, _ in files.weights()) / 1e9
        if gpu:
            secs = cost.seconds(flops, rate_gflops=1e5, load_gb=load_gb / 3) + 2.0
        else:
            from engine.precision import cpu_precision, measured_rates

            low = cpu_precision(self.precision, width=dit.dit.hidden_size).name != "fp32"
            secs = cost.seconds(flops, rate_gflops=measured_rates().get("fp32", 100.0), load_gb=load_gb,
                                efficiency=cost.CPU_EFFICIENCY_LOW if low else cost.CPU_EFFICIENCY) + 1.0
        return secs, cost.peak_bytes(dit, vae, text, frames, guided, decode_chunk=min(frames, cost.DECODE_CHUNK))

    def _cuda(self) -> bool:
        if self.device is not None:
            return self.device.startswith("cuda")
        import importlib.util

        if importlib.util.find_spec("torch") is None:
            return False
        import torch

        return bool(torch.cuda.is_available())

    # -- model ----------------------------------------------------------------------------------------------
    def model(self, variant: str | None = None) -> tuple[Any, AceStepFiles]:
        files = self.files(variant)
        if files.variant not in self._loaded:
            problems = files.problems()
            if problems:
                raise BackendUnavailable("; ".join(problems))
            try:
                from engine.nn.ace_step.model import AceStepModel
            except ImportError as exc:
                raise SongBridgeError(f"the ACE-Step model code is not in this build ({exc}); the backend can "
                                      "check its files and plan jobs but not generate yet") from None
            import torch

            dev = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
            model = _to_device(AceStepModel.from_folder(self.models_dir, variant=files.variant), dev)
            self._precision = "fp32"
            if dev == "cpu":
                from engine.precision import cpu_precision

                from .pipeline import prepare_for_cpu

                choice = cpu_precision(self.precision, width=model.config.dit.hidden_size)
                self._precision = f"{prepare_for_cpu(model, choice.dtype)}; {choice.source}"
            self._loaded = {files.variant: model}  # one model in memory at a time
        return self._loaded[files.variant], files

    def release(self) -> None:
        self._loaded = {}
        import gc

        gc.collect()

    # -- generate -------------------------------------------------------------------------------------------
    def generate(self, request: GenerationRequest, on_progress: ProgressFn, should_stop: StopFn) -> Take:
        from engine.precision import threads_for

        from .files import weights_record
        from .jobs import plan
        from .pipeline import Job, decode, run, turbo_timesteps

        params = check_params(self.name, PARAMS, dict(request.params), "parameter {name}")
        if "task" in params or "track" in params:  # lego / extract on a take (tasks.py)
            from .tasks import generate_task

            return generate_task(self, request, params, on_progress, should_stop)
        files = self.files(params.get("variant"))
        _dit, vae, _text = files.configs()
        planned = plan(request, params, files.variant, vae.sampling_rate, vae.hop)
        model, files = self.model(files.variant)
        turbo = model.config.model_version == "turbo"
        total = (len(turbo_timesteps(planned.settings) or (0,) * 8) if turbo else planned.settings.steps) + 2
        on_progress(0, total)
        width = model.config.dit.hidden_size
        with threads_for(width):
            source = self._source(model, planned, request.seed) if planned.source_dir is not None else None
            timbre = self._timbre(model, request) if request.style.reference_audio else None
            job = Job(planned.task, planned.inputs, planned.frames, request.seed, planned.settings, source,
                      planned.windows, timbre)
            if timbre is not None:
                job.record["timbre_reference"] = {"file": request.style.reference_audio,
                                                  "frames": int(timbre.shape[0])}
            latent = run(model, job, on_step=lambda d, _n: on_progress(d, total), should_stop=should_stop)
            if should_stop():
                from engine.errors import Cancelled

                raise Cancelled("cancelled")
            wav = decode(model, latent)
        on_progress(total - 1, total)
        audio = _to_project_rate(wav, vae.sampling_rate, planned.seconds)
        peak = float(np.abs(audio).max()) if audio.size else 0.0
        gain = min(1.0, 10 ** (CEILING_DBFS / 20) / peak) if peak > 0 else 1.0
        audio = (audio * gain).astype(np.float32)
        weights = weights_record(files)
        from engine.nn.ace_step.prompts import metas_string

        s = planned.settings
        used = {"variant": files.variant, "task": planned.task, "steps": s.steps, "shift": s.shift,
                "precision": self._precision,
                "caption": planned.inputs.caption, "language": planned.inputs.language,
                **({"guidance_scale": s.guidance_scale} if files.variant != "turbo" else {}),
                **({"cover_strength": s.cover_strength, "cover_noise": s.cover_noise}
                   if planned.task == "cover" else {})}
        take = Take(id=request.take_id, backend=self.name, seed=request.seed, name=request.name,
                    model_id=files.model_id, weights_sha256=weights[0]["sha256"], params={**params, **used},
                    lrc=_lrc(request), style=request.style, parent=request.edit.source_take if request.edit else None,
                    edited_ranges=_edited(request, planned), duration_s=len(audio) / 44100,
                    stems=("song",))
        extra = {"weights": weights, "licence": f"ACE-Step 1.5: {LICENCE}; Qwen3-Embedding-0.6B: {TEXT_LICENCE}",
                 "ace_step": {"task": planned.task, "lyrics": planned.inputs.lyrics,
                              "metas": metas_string(planned.inputs.metas), "frames": planned.frames,
                              "windows_s": [list(w) for w in planned.windows], **job.record,
                              "source_s": planned.source_s, "output_gain": gain}}
        with TakeWriter(request.out_dir) as w:
            from safetensors.torch import save_file

            save_file({"latent": latent[0].cpu().contiguous()}, str(w.path(LATENT_FILE)),
                      metadata={"backend": self.name, "model": files.model_id, "frames_per_second":
                                str(vae.sampling_rate / vae.hop)})
            w.write_stem("song", audio)
            w.write_mix(audio)
            result = w.commit(take, extra)
        on_progress(total, total)
        return result

    def _timbre(self, model: Any, request: GenerationRequest) -> Any:
        """The song's reference clip (its style audio) as the timbre reference: its first 30 s VAE-encoded."""
        from engine.style.embedding import reference_path

        from .pipeline import TIMBRE_FRAMES

        ref = str(request.style.reference_audio)
        path = reference_path(ref, request.out_dir.parent.parent)
        if not path.is_file():
            raise SongBridgeError(f"the style's reference clip {ref} is not in the project ({path})")
        cfg = model.vae.cfg
        audio = self._read(path, cfg.sampling_rate)[: TIMBRE_FRAMES * cfg.hop]
        if len(audio) < cfg.hop:
            raise SongBridgeError(f"{path}: the reference clip is shorter than one latent frame")
        from .pipeline import encode

        return encode(model, audio, request.seed)

    @staticmethod
    def _read(path: Any, rate: int) -> np.ndarray:
        return read_stereo(path, rate)

    def _source(self, model: Any, planned: Any, seed: int) -> Any:
        """The source take's latent [frames, C]: its saved latent when an ACE-Step take with the same latent
        width made it, else its mix VAE-encoded at the model's rate; cut or padded with silence frames (an extend
        pads what lies past the source, as the reference pads the wave with zeros, inside the window)."""
        import torch

        from engine.sampling.ace_step_edit import silence_frames

        from .pipeline import encode

        c = model.silence_latent.shape[-1]
        latent = None
        path = planned.source_dir / LATENT_FILE
        if planned.source_backend == self.name and path.is_file():
            from safetensors.torch import load_file

            try:
                saved = load_file(str(path)).get("latent")
            except Exception as exc:  # noqa: BLE001 - truncated or not safetensors
                raise SongBridgeError(f"{path}: not a readable latent ({str(exc)[:120]})") from None
            if saved is not None and saved.ndim == 2 and saved.shape[1] == c:
                latent = saved.float()
        if latent is None:
            audio = self._read(planned.source_dir / "mix.wav", model.vae.cfg.sampling_rate)
            latent = encode(model, audio, seed).cpu()
        frames = planned.frames
        if latent.shape[0] < frames:
            pad = silence_frames(model.silence_latent.cpu(), frames)[0, latent.shape[0]:]
            latent = torch.cat([latent, pad.to(latent)], dim=0)
        return latent[:frames].to(model.silence_latent.device)


def _to_device(model: Any, dev: str) -> Any:
    """The loaded model's modules and silence latent on ``dev`` (it loads on the CPU)."""
    if dev != "cpu":
        model.core.to(dev)
        model.text_encoder.to(dev)
        model.vae.to(dev)
        model.silence_latent = model.silence_latent.to(dev)
    return model


def _to_project_rate(wav: np.ndarray, sr: int, seconds: float) -> np.ndarray:
    """[2, n] at ``sr`` -> [samples, 2] at 44.1 kHz, exactly ``seconds`` long."""
    from engine.audio.io import SAMPLE_RATE

    audio = np.ascontiguousarray(wav.T, dtype=np.float32)
    if sr != SAMPLE_RATE:
        import soxr

        audio = soxr.resample(audio, sr, SAMPLE_RATE).astype(np.float32)
    n = int(round(seconds * SAMPLE_RATE))
    if len(audio) < n:
        audio = np.concatenate([audio, np.zeros((n - len(audio), audio.shape[1]), np.float32)])
    return audio[:n]


def _lrc(request: GenerationRequest) -> str:
    from engine.lyrics import format as format_lrc
    from engine.lyrics import lrc_from_lines

    return format_lrc(lrc_from_lines(request.lyrics, request.sections))


def _edited(request: GenerationRequest, planned: Any) -> tuple[TimeRange, ...]:
    """What of the source take the new take remade: a cover remakes all of it, whatever ranges were asked."""
    if request.edit is None:
        return ()
    if planned.task == "cover":
        return tuple(TimeRange(float(a), float(b)) for a, b in planned.windows)
    return tuple(request.edit.ranges)


def read_stereo(path: Any, rate: int) -> np.ndarray:
    """A take's audio file as [samples, 2] float32 at ``rate``; an error naming the file when it is not audio."""
    from engine.audio.io import read_audio, to_stereo

    try:
        audio, sr = read_audio(path)
    except (OSError, ValueError, RuntimeError) as exc:
        raise SongBridgeError(f"{path}: not readable audio ({str(exc)[:160]})") from None
    audio = to_stereo(audio)
    if sr != rate:
        import soxr

        audio = soxr.resample(audio, sr, rate)
    return np.ascontiguousarray(audio, dtype=np.float32)
