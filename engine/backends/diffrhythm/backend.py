"""The ``diffrhythm`` backend: lyrics and style -> a take with the DiffRhythm-compatible model.

A request becomes tokens placed on latent frames, a style embedding, seeded noise (one ``torch.Generator`` per
take, so a seed reproduces its take), ``steps`` and ``cfg`` (defaults 32 and 4.0, the reference), and a latent
that the VAE decodes in chunks. Several takes of one request run as one batch. Editing regenerates time ranges of
an existing take from its saved latent (or from its audio, VAE-encoded) and keeps every other frame bit-exact;
continuation extends a take. The output keeps its natural level (no 0 dBFS peak normalisation): it is only turned
down when a peak would pass -1 dBFS. The latent is saved with the take for later edits.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from engine.backends.base import Cancelled, GenerationRequest, ProgressFn, StopFn
from engine.backends.params import Param, check_params
from engine.backends.takes import TakeWriter
from engine.errors import SongBridgeError
from engine.song.model import Take

from .files import TINY_MODEL_ID as TINY_ID
from .files import ModelFilesError, installed, locate

VERSION = "1.0"
CEILING_DBFS = -1.0
DEFAULTS = {"steps": 32, "cfg": 4.0, "solver": "euler", "grid": "linear", "g2p": "g2p_en"}
#: What ``--param`` may set (the names match engine.sampling.SOLVERS and GRIDS; a test keeps them in step).
PARAMS = {
    "steps": Param("steps", int, "time-grid points; the sampler makes steps-1 steps", 2, 512),
    "cfg": Param("cfg", float, "guidance strength (0: none, one DiT pass a step)", 0, 20),
    "solver": Param("solver", str, "ODE solver (heun and midpoint cost two DiT calls a step)",
                    choices=("euler", "midpoint", "heun")),
    "grid": Param("grid", str, "time grid", choices=("linear", "sway", "few-step")),
    "g2p": Param("g2p", str, "lyric phonemes: g2p_en (built in) or espeak (the reference's; needs espeak-ng)",
                 choices=("g2p_en", "espeak")),
    "quality": Param("quality", str, "sampler preset: best (31 DiT calls, the reference), fast (Heun on an 8-step "
                     "few-step grid: 16 calls), draft (Euler, 8 steps: 8 calls); steps/solver/grid override it",
                     choices=("best", "fast", "draft")),
}
#: What each quality preset sets (explicit steps, solver or grid win).
QUALITY = {"best": {}, "fast": {"steps": 9, "solver": "heun", "grid": "few-step"},
           "draft": {"steps": 9, "solver": "euler", "grid": "sway"}}


def sampler_params(given: dict[str, Any]) -> dict[str, Any]:
    """The sampler settings a request runs with: defaults, then its quality preset, then what it set itself. A
    few-step grid without explicit steps gets its own 9 points (8 steps), not the reference's 32."""
    out = {**DEFAULTS, **QUALITY.get(str(given.get("quality", "best")), {}), **given}
    if out.get("grid") == "few-step" and "steps" not in given and "quality" not in given:
        out["steps"] = 9
    return out


def dit_calls(params: dict[str, Any]) -> int:
    """Batched DiT forward passes a sample costs: one per solver evaluation (CFG doubles the batch, not the calls)."""
    per_step = 2 if params.get("solver") in ("heun", "midpoint") else 1
    return (int(params["steps"]) - 1) * per_step
FRAME_RATE = 44100 / 2048


class DiffRhythmBackend:
    name = "diffrhythm"
    version = VERSION
    params = PARAMS

    def __init__(self, models_dir: str | os.PathLike[str] | None = None, variant: str | None = None,
                 device: str | None = None, dtype: str | None = None, attention: str = "auto",
                 precision: str | None = None, **_: Any):
        from engine.settings import models_dir as resolve

        self.models_dir, self.models_origin = resolve(models_dir)
        self.variant, self.device, self.dtype, self.attention = variant, device, dtype, attention
        self.precision = precision  # CPU only: None/auto measures (engine.precision)
        self._pipeline: Any = None

    # -- protocol -------------------------------------------------------------------------------------
    def available(self) -> tuple[bool, str]:
        """Decided from the files alone: nothing is loaded and torch is not imported."""
        try:
            files = locate(self.models_dir, self.variant)
        except ModelFilesError as exc:
            return False, str(exc)
        problems = files.problems()
        if problems:
            return False, "; ".join(problems)
        return True, f"{files.model_id} ({files.variant}) in {files.root}"

    def installed(self) -> bool:
        """Whether the user has put DiffRhythm files in the model folder (complete or not)."""
        return installed(self.models_dir)

    def estimate(self, request: GenerationRequest) -> tuple[float, int]:
        """(seconds, bytes) before the job runs. On the CPU the seconds come from the FLOPs of the sample and the
        rates measured on this machine (``cost.py``); on a GPU from a rate guess the engine refines from jobs."""
        files = locate(self.models_dir, self.variant)
        weights = files.cfm.stat().st_size
        params = weights / 2  # official files are 2-byte floats
        frames = 2048 if files.variant == "base" else int(request.duration_s * FRAME_RATE)
        p = sampler_params(dict(request.params))
        guided = float(p["cfg"]) >= 1e-5
        batch = int(request.params.get("batch", 1))
        calls = dit_calls(p) * (2 if guided else 1)  # a guided call runs two passes
        import torch

        cuda = torch.cuda.is_available() and (self.device or "cuda").startswith("cuda")
        act = frames * 2 * 2048 * 4 * 8 * batch
        if cuda:
            seconds = 2.0 * params * frames * calls * batch / 2e14 + 3.0 + frames / FRAME_RATE * 0.01
            return seconds, int(weights + act + 600 * 2**20)
        from engine.precision import cpu_precision, measured_rates

        from .cost import cpu_seconds

        dims = files.model_config() or {}
        depth, ff_mult = int(dims.get("depth", 16)), int(dims.get("ff_mult", 4))
        dim = int(dims.get("dim", round((params / (depth * (4 + 3 * ff_mult))) ** 0.5)))
        choice = cpu_precision(self.precision)
        seconds = cpu_seconds(frames=frames, calls=dit_calls(p), guided=guided, batch=batch,
                              rates=choice.rates or measured_rates(), precision=choice.name, dim=dim, depth=depth,
                              ff_mult=ff_mult, checkpoint_gb=0.0 if self._pipeline is not None else weights / 1e9,
                              vae=files.vae.stat().st_size > 50e6)  # the tiny test VAE costs nothing
        return seconds, int(weights * 2 + act + 600 * 2**20)

    def pipeline(self) -> Any:
        if self._pipeline is None:
            from .pipeline import Pipeline

            self._pipeline = Pipeline.load(locate(self.models_dir, self.variant), self.device, self.dtype,
                                           self.attention, self.precision)
        return self._pipeline

    def release(self) -> None:
        """Free the model (the service calls this when idle or when another model needs the memory)."""
        self._pipeline = None
        import gc

        gc.collect()

    def generate(self, request: GenerationRequest, on_progress: ProgressFn, should_stop: StopFn) -> Take:
        return self.generate_many([request], on_progress, should_stop)[0]

    def generate_many(self, requests: Sequence[GenerationRequest], on_progress: ProgressFn,
                      should_stop: StopFn) -> list[Take]:
        """Takes of one request (same lyrics, style, duration, edit; different seeds) in one batch."""
        import torch

        from engine.precision import threads_for
        from engine.sampling import GRIDS
        from engine.style.embedding import dit_input, style_vector

        from .tokens import lyrics_tokens

        first = requests[0]
        params = sampler_params(dict(first.params))
        check_params(self.name, {**PARAMS, "batch": Param("batch", int, "", 1, 64)}, params, "parameter {name}")
        # The style first: the encoder is loaded, used and freed before the DiT needs the memory.
        files = locate(self.models_dir, self.variant)
        styled = style_vector(first.style, project_dir=first.out_dir.parent.parent, models_dir=files.root,
                              tiny_dit=files.model_id == TINY_ID,
                              device=self.device or ("cuda" if torch.cuda.is_available() else "cpu"))
        pipe = self.pipeline()
        max_frames = pipe.max_frames
        duration = first.duration_s
        if max_frames == 2048:
            if duration > 2048 / FRAME_RATE + 1e-6:
                raise SongBridgeError(f"the 95 s model makes songs up to 95.1 s; this one is {duration:.1f} s: "
                                      "use the full model (DiffRhythm-1_2-full) or shorten the song")
        elif duration > max_frames / FRAME_RATE:
            raise SongBridgeError(f"the full model makes songs up to {max_frames / FRAME_RATE:.1f} s; "
                                  f"this one is {duration:.1f} s")
        lines = [(ln.start_s, ln.text) for ln in first.lyrics if ln.start_s is not None]
        # Whole frames covering the song (the reference floors, which loses the last fraction of a frame).
        frames = max_frames if max_frames == 2048 else min(max_frames, math.ceil(duration * FRAME_RATE - 1e-9))
        placed = lyrics_tokens(lines, pipe.vocab, max_frames=max_frames, duration_s=duration, mode=params["g2p"],
                               end_frame=frames)
        n = placed.end_frame
        dev, dt = pipe.device, pipe.dtype
        text = torch.tensor([placed.tokens], dtype=torch.long, device=dev)
        style = torch.tensor(dit_input(styled.vector), device=dev)
        neg = torch.tensor(dit_input(pipe.negative_style), device=dev)
        start_time = torch.zeros(1, device=dev)
        song_duration = torch.tensor([n / max_frames], device=dev)
        cond, segments = self._reference(first, pipe, n)
        noise = torch.stack([
            torch.randn(n, 64, generator=torch.Generator().manual_seed(r.seed), dtype=torch.float32)
            for r in requests]).to(dev)
        steps = int(params["steps"])
        grid = GRIDS[params["grid"]](steps, dtype=torch.float32, device="cpu") if params["grid"] in GRIDS else None
        if grid is None:
            raise SongBridgeError(f"unknown time grid {params['grid']!r}; choose one of {', '.join(GRIDS)}")
        decode_units = max(1, math.ceil(n / 96))
        total = (steps - 1) + decode_units * len(requests)  # progress counts solver steps, then VAE chunks
        with threads_for(pipe.cfm.transformer.dim):  # a small (test) model on one thread: engine.precision
            res = pipe.cfm.sample(
                cond=cond, text=text, duration=n, style_prompt=style, negative_style_prompt=neg,
                start_time=start_time, song_duration=song_duration, latent_pred_segments=segments,
                batch=len(requests), steps=steps, cfg_strength=float(params["cfg"]), noise=noise, grid=grid, method=str(params["solver"]),
                on_step=lambda d, t: on_progress(d, total), should_stop=should_stop, attn=pipe.attention)
        takes = []
        for i, req in enumerate(requests):
            if should_stop():
                raise Cancelled("cancelled")
            latent = res.out[i:i + 1].float()
            audio = pipe.vae.decode(latent.transpose(1, 2), should_stop=should_stop)[0].cpu().numpy().T
            audio = audio[: int(round(duration * 44100))]
            peak = float(np.abs(audio).max()) if audio.size else 0.0
            gain = min(1.0, 10 ** (CEILING_DBFS / 20) / peak) if peak > 0 else 1.0
            audio = (audio * gain).astype(np.float32)
            on_progress((steps - 1) + decode_units * (i + 1), total)
            take = Take(
                id=req.take_id, backend=self.name, seed=req.seed, name=req.name, model_id=pipe.files.model_id,
                weights_sha256=pipe.checkpoint.sha256,
                params={**params, "variant": pipe.files.variant, "device": str(dev), "dtype": str(dt).split(".")[-1],
                        "precision": pipe.precision, "attention": pipe.attention_name, "end_frame": n,
                        "batch": len(requests)},
                lrc=_lrc(req), style=req.style, parent=req.edit.source_take if req.edit else None,
                edited_ranges=req.edit.ranges if req.edit else (), duration_s=duration, stems=("song",),
            )
            extra = {"diffrhythm": {"style": styled.record, "dit_calls": dit_calls(params), "output_gain": gain,
                                    "token_frames": sum(1 for x in placed.tokens if x),
                                    "lines_placed": len(placed.line_frames), "segments": segments}}
            with TakeWriter(req.out_dir) as w:
                from safetensors.torch import save_file

                save_file({"latent": latent[0].cpu().contiguous()}, str(w.path("latent.safetensors")))
                w.write_stem("song", audio)
                w.write_mix(audio)
                takes.append(w.commit(take, extra))
        return takes

    def _reference(self, request: GenerationRequest, pipe: Any, n: int) -> tuple[Any, list[tuple[int, int]]]:
        """(cond [1, m, 64], segments to regenerate) for plain generation, editing or continuation."""
        import torch

        if request.edit is None:
            return torch.zeros(1, n, 64, device=pipe.device), [(0, n)]
        src = request.out_dir.parent / request.edit.source_take
        latent_file = src / "latent.safetensors"
        if latent_file.exists():
            from safetensors.torch import load_file

            cond = load_file(str(latent_file))["latent"][None].to(pipe.device)
        else:
            from engine.audio.io import read_audio, to_stereo

            audio, sr = read_audio(src / "mix.wav")
            if sr != 44100:
                raise SongBridgeError(f"{src / 'mix.wav'}: {sr} Hz; takes are 44100 Hz")
            a = to_stereo(audio).T
            a = a * (10 ** (-6 / 20) / max(float(np.abs(a).max()), 1e-9))  # the reference's -6 dBFS
            mean, scale = pipe.vae.encode(torch.tensor(a[None]))
            gen = torch.Generator().manual_seed(request.seed)
            cond = pipe.vae.sample(mean, scale, gen).transpose(1, 2)
        segments = []
        for r in request.edit.ranges:
            s, e = int(r.start_s * 44100 / 2048), min(n, int(math.ceil(r.end_s * 44100 / 2048)))
            if e > s:
                segments.append((s, e))
        if cond.shape[1] < n:
            segments.append((cond.shape[1], n))  # continuation: everything past the source is new
        if not segments:
            raise SongBridgeError("the edit ranges select no frames")
        return cond, segments


def _lrc(request: GenerationRequest) -> str:
    from engine.lyrics import format as format_lrc
    from engine.lyrics import lrc_from_lines

    return format_lrc(lrc_from_lines(request.lyrics, request.sections))
