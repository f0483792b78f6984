"""One ACE-Step job on a loaded model: prompts -> Qwen3 states -> condition -> sampler -> latent -> 48 kHz audio.

Tasks (fixture README sections 1-10): ``text2music`` (silence as the source, chunk mask of ones), ``repaint``
(the source latent with silence in every window, chunk mask and repaint mask on the windows; several windows are
one pass: one mask with several runs), ``extend`` (the same on a source padded with silence frames past its end, as
the reference pads the wave with zeros: those frames lie inside the window), ``cover`` (the source latent
tokenized to 5 Hz hints by the model, ``is_cover``; below cover strength 1 the condition switches once to a
text2music one). The samplers are ``engine.sampling.ace_step`` (turbo: the 8-step tables; base/SFT: APG).

The reference blends each repaint window's edges over 10 frames; with several windows each window gets its own
ramps (``soft_mask``), so the frames between two windows stay the source's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.errors import SongBridgeError

from .prompts import SongInputs

#: the reference handler packs this many silence frames as the timbre reference when there is none; a reference
#: clip gives at most as many frames (its first 30 s)
TIMBRE_FRAMES = 750
CROSSFADE_FRAMES = 10
#: tasks given the source take's whole latent as context with a chunk mask of ones (``tasks.py``: lego, extract)
CONTEXT_TASKS = ("lego", "extract")


@dataclass(frozen=True)
class Settings:
    steps: int
    shift: float
    guidance_scale: float = 1.0
    cover_strength: float = 1.0
    cover_noise: float = 0.0
    cfg_interval: tuple[float, float] = (0.0, 1.0)


@dataclass
class Job:
    """What the model is asked: ``frames`` latent frames; ``source`` [T, C] clean latents for repaint, extend and
    cover (already padded to ``frames`` for an extend); ``windows`` in seconds of that latent's timeline."""

    task: str  # text2music | repaint | extend | cover | lego | extract
    inputs: SongInputs
    frames: int
    seed: int
    settings: Settings
    source: Any = None
    windows: tuple[tuple[float, float], ...] = ()
    timbre: Any = None  # [Tr, C] latents of a reference clip (the song's style audio); None: silence
    record: dict[str, Any] = field(default_factory=dict)
    instruction: str | None = None  # lego / extract (``tasks.py``): the instruction naming the track


def soft_mask(mask: Any, crossfade: int) -> Any:
    """[B, T] float: 1 on each run of True frames, a linear ramp of up to ``crossfade`` frames either side of
    every run (``linspace(0, 1, n + 2)[1:-1]`` before, ``linspace(1, 0, n + 2)[1:-1]`` after, as the reference
    does for its one window), the largest value where ramps meet, 0 elsewhere."""
    import torch

    soft = mask.float().clone()
    if crossfade <= 0:
        return soft
    length = mask.shape[1]
    for b in range(mask.shape[0]):
        row = mask[b].tolist()
        runs, i = [], 0
        while i < length:
            if row[i]:
                j = i
                while j < length and row[j]:
                    j += 1
                runs.append((i, j))
                i = j
            else:
                i += 1
        for left, right in runs:
            lo, hi = max(left - crossfade, 0), min(right + crossfade, length)
            if left > lo:
                ramp = torch.linspace(0.0, 1.0, left - lo + 2, device=soft.device)[1:-1]
                soft[b, lo:left] = torch.maximum(soft[b, lo:left], ramp)
            if hi > right:
                ramp = torch.linspace(1.0, 0.0, hi - right + 2, device=soft.device)[1:-1]
                soft[b, right:hi] = torch.maximum(soft[b, right:hi], ramp)
    return soft


def edit_tensors(source: Any, silence: Any, windows: Sequence[tuple[float, float]], sample_rate: int, hop: int
                 ) -> tuple[Any, Any, list[tuple[int, int]]]:
    """(src [1, T, C] with silence in every window, chunk mask [1, T] bool, the windows in frames)."""
    import torch

    from engine.sampling.ace_step_edit import silence_frames, window_frames

    frames = source.shape[0]
    sil = silence_frames(silence, frames).to(source)[0]
    src = source.clone()
    chunk = torch.zeros(frames, dtype=torch.bool, device=source.device)
    spans = []
    for s, e in windows:
        a, b = window_frames(s, e, frames, sample_rate=sample_rate, hop=hop)
        chunk[a:b] = True
        src[a:b] = sil[a:b]
        spans.append((a, b))
    return src[None], chunk[None], spans


def _prompts(model: Any, inputs: SongInputs, task: str, device: Any, length: int | None = None,
             instruction: str | None = None) -> tuple[Any, Any, Any, Any]:
    from engine.nn.ace_step.prompts import instruction_for, lyric_prompt, text_prompt

    instruction = instruction or instruction_for("repaint" if task == "extend" else task)
    text = text_prompt(instruction, inputs.caption, inputs.metas)
    ids, mask = model.text_tokenizer.text([text], length)
    lids, lmask = model.text_tokenizer.lyrics([lyric_prompt(inputs.language, inputs.lyrics)])
    ids, mask, lids, lmask = (t.to(device) for t in (ids, mask, lids, lmask))
    hidden = model.text_encoder(ids)
    return hidden, mask, model.text_encoder.embed(lids), lmask


def condition(model: Any, inputs: SongInputs, task: str, src: Any, chunk: Any, timbre: Any,
              instruction: str | None = None) -> Any:
    """The model's condition for one item: encoder states of the prompts and the timbre reference, context
    ``[src | chunk mask]`` (cover: the model puts its hints in place of ``src``)."""
    import torch

    dev = src.device
    hidden, mask, lyric, lmask = _prompts(model, inputs, task, dev, instruction=instruction)
    c = src.shape[-1]
    return model.condition(hidden, mask, lyric, lmask, timbre, torch.zeros(1, dtype=torch.long, device=dev),
                           src, chunk[..., None].expand(-1, -1, c), torch.tensor([task == "cover"], device=dev))


def run(model: Any, job: Job, *, on_step: Callable[[int, int], None] | None = None,
        should_stop: Callable[[], bool] | None = None) -> Any:
    """The job's latent [1, T, C] (float32)."""
    import torch

    from engine.sampling import ace_step as sampler
    from engine.sampling.ace_step_edit import silence_frames

    s = job.settings
    silence = model.silence_latent
    dev = silence.device
    c = silence.shape[-1]
    frames = job.frames
    sr, hop = model.vae.cfg.sampling_rate, model.vae.cfg.hop
    timbre = (silence_frames(silence, TIMBRE_FRAMES) if job.timbre is None else job.timbre[None]).to(dev)
    repaint = None
    if job.task in ("repaint", "extend"):
        if job.source is None or tuple(job.source.shape) != (frames, c):
            raise SongBridgeError(f"ACE-Step {job.task}: the source latent must be [{frames}, {c}]")
        clean = job.source.to(dev)[None]
        src, chunk, spans = edit_tensors(job.source.to(dev), silence, job.windows, sr, hop)
        job.record["windows_frames"] = spans
        repaint = sampler.Repaint(mask=chunk.clone(), clean=clean, crossfade=0)
    elif job.task == "cover":
        if job.source is None or tuple(job.source.shape) != (frames, c):
            raise SongBridgeError(f"ACE-Step cover: the source latent must be [{frames}, {c}]")
        src = job.source.to(dev)[None]
        chunk = torch.ones(1, frames, dtype=torch.bool, device=dev)
    elif job.task in CONTEXT_TASKS:  # the whole source latent as the context, nothing silenced (tasks.py)
        if job.source is None or tuple(job.source.shape) != (frames, c) or not job.instruction:
            raise SongBridgeError(f"ACE-Step {job.task}: needs the source latent [{frames}, {c}] and an instruction")
        src = job.source.to(dev)[None]
        chunk = torch.ones(1, frames, dtype=torch.bool, device=dev)
    else:
        src = silence_frames(silence, frames).to(dev)
        chunk = torch.ones(1, frames, dtype=torch.bool, device=dev)
    with torch.no_grad():
        cond = condition(model, job.inputs, job.task, src, chunk, timbre, job.instruction)
        switch = None
        if job.task == "cover" and s.cover_strength < 1.0:
            switch = condition(model, job.inputs, "text2music", silence_frames(silence, frames).to(dev), chunk,
                               timbre)
        noise = sampler.initial_noise([job.seed], (1, frames, c), device=dev)
        cover_noise = (sampler.CoverNoise(s.cover_noise, src) if job.task == "cover" and s.cover_noise > 0
                       else None)
        strength = s.cover_strength if job.task == "cover" else 1.0
        if model.config.model_version == "turbo":
            schedule = turbo_timesteps(s)
            job.record["timesteps"] = schedule or list(sampler.turbo_timesteps(s.shift))
            x = sampler.turbo(model.velocity, noise, cond, shift=s.shift, timesteps=schedule,
                              cover_strength=strength, switch=switch, cover_noise=cover_noise, repaint=repaint,
                              on_step=on_step, should_stop=should_stop)
        else:
            x = sampler.base(model.velocity, noise, cond, steps=s.steps, shift=s.shift,
                             guidance_scale=s.guidance_scale, with_null=lambda c: with_null(model, c),
                             cfg_interval=s.cfg_interval, cover_strength=strength, switch=switch,
                             cover_noise=cover_noise, repaint=repaint, on_step=on_step, should_stop=should_stop)
        if repaint is not None:  # each window's own edges, the frames between windows the source's
            m = soft_mask(repaint.mask, CROSSFADE_FRAMES).unsqueeze(-1).to(x)
            x = m * x + (1.0 - m) * repaint.clean
    return x.float()


def with_null(model: Any, cond: Any) -> Any:
    """The doubled batch the base sampler guides with: [cond items; null items] (the model's ``null_condition``
    gives the null twin alone; joined here unless it already holds both)."""
    null = model.null_condition(cond)
    if null.batch == 2 * cond.batch:
        return null
    return type(cond).cat(cond, null)


def turbo_timesteps(s: Settings) -> list[float] | None:
    """None for the turbo's own 8-step table; for other step counts the shifted ``linspace(1, 0, steps + 1)``
    without its final 0, each value snapped to the nearest of the 20 the turbo model was distilled on (as the
    sampler would) and repeats dropped, so no step is a step of 0 (more than about 12 steps add nothing)."""
    if s.steps == 8:
        return None
    from engine.sampling.ace_step import VALID_TIMESTEPS

    shift = float(min((1.0, 2.0, 3.0), key=lambda v: abs(v - s.shift)))
    out: list[float] = []
    for i in range(s.steps):
        t = 1.0 - i / s.steps
        v = min(VALID_TIMESTEPS, key=lambda x: abs(x - shift * t / (1 + (shift - 1) * t)))
        if v not in out:
            out.append(v)
    return out


def prepare_for_cpu(model: Any, dtype: Any) -> str:
    """Make a loaded model fast on the CPU (in place, after loading): the DiT layers' feed-forward products (about
    two thirds of a step's FLOPs) in ``dtype`` (``engine.nn.lowp``: float32 between them, in attention, norms,
    the condition encoders and the sampler), the VAE in its inference form (``engine.nn.sao.vae_inference``:
    weight norm folded, channels-last convolutions) in ``dtype``. A small (test) model stays as loaded
    (``engine.precision.small_model``). Returns a description for the take's record."""
    import torch

    from engine.nn.lowp import lower
    from engine.nn.sao.vae_inference import for_inference
    from engine.precision import small_model

    name = {torch.float32: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[dtype]
    if small_model(model.config.dit.hidden_size):
        return "fp32 (a small model: as loaded, on one thread)"
    if dtype != torch.float32:
        lower([layer.mlp for layer in model.core.decoder.layers], dtype)
    for_inference(model.vae.oobleck, dtype)
    return f"{name} (DiT feed-forward, VAE), fp32 elsewhere" if dtype != torch.float32 else "fp32"


def decode(model: Any, latent: Any) -> Any:
    """[2, samples] float32 numpy audio at the VAE's rate. A long song is decoded in overlapping windows of
    :data:`DECODE_CHUNK` frames (``engine.nn.vae.chunked``: each window's edges trimmed), so the decoder's memory
    does not grow with the song (a 60 s song decoded whole peaked near 18 GiB in float32)."""
    import torch

    from engine.nn.vae import chunked

    from .cost import DECODE_CHUNK, DECODE_OVERLAP

    hop = int(model.vae.hop)
    z = latent.transpose(1, 2)  # [B, C, T]
    with torch.no_grad():
        wav = chunked(model.vae.oobleck.decode, z, 1, hop, z.shape[-1], chunk=DECODE_CHUNK,
                      overlap=DECODE_OVERLAP)
    if not bool(torch.isfinite(latent).all()) or not bool(torch.isfinite(wav).all()):
        raise SongBridgeError("the model made no usable audio (non-finite values): check the ACE-Step files with "
                              "`songbridge models status`, nothing was kept")
    return wav[0].float().cpu().numpy()


def encode(model: Any, audio: Any, seed: int) -> Any:
    """[T, C] latent of ``audio`` ([samples, 2] float32 at the VAE's rate), sampled with a generator seeded by
    ``seed`` (the reference samples the posterior with the global RNG)."""
    import numpy as np
    import torch

    from engine.nn.vae import chunked

    from .cost import DECODE_CHUNK, DECODE_OVERLAP

    wav = torch.from_numpy(np.ascontiguousarray(audio.T, dtype=np.float32))[None].to(model.silence_latent.device)
    hop = int(model.vae.hop)

    def both(w: Any) -> Any:  # mean and std side by side, so one windowed pass gives both
        return torch.cat(model.vae.encode(w), dim=1)

    with torch.no_grad():  # a long take in overlapping windows, as it is decoded: memory does not grow with it
        h = chunked(both, wav, hop, 1, wav.shape[-1] // hop, chunk=DECODE_CHUNK, overlap=DECODE_OVERLAP)
        mean, std = h.chunk(2, dim=1)
        latent = model.vae.sample(mean, std, torch.Generator(device=wav.device).manual_seed(int(seed)))
    c = model.silence_latent.shape[-1]
    if latent.shape[1] != c:
        raise SongBridgeError(f"the VAE's encoder makes {latent.shape[1]}-channel latents; the DiT takes {c} "
                              f"({model.vae.cfg.source}: encoder_hidden_size must be {2 * c})")
    return latent[0].transpose(0, 1).float()
