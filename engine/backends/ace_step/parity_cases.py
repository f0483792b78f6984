"""The cases of the ACE-Step parity command (see ``parity.py``): one function a case name of ``fixtures.json``,
each reading its inputs, arguments and expected outputs from the case."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from engine.parity import Report
from engine.sampling.ace_step import CoverNoise, Repaint, base, initial_noise, turbo, turbo_timesteps
from engine.sampling.ace_step_edit import (
    HOP,
    SAMPLE_RATE,
    extend_padding,
    repaint_inputs,
    text2music_inputs,
)

from .parity import Check, Inputs, _arg, _spans


class Context:
    """What the cases share: the models (loaded once a variant), the fixture set, the prompt inputs."""

    def __init__(self, models: Path, meta: dict[str, Any], tensors: dict[str, Tensor], inputs: Inputs,
                 report: Report):
        self.models_dir, self.meta, self.tensors, self.inputs, self.report = models, meta, tensors, inputs, report
        self._models: dict[str, Any] = {}

    def model(self, variant: str = "turbo") -> Any:
        if variant not in self._models:
            from engine.nn.ace_step.model import AceStepModel

            self._models[variant] = AceStepModel.from_folder(self.models_dir, variant=variant)
        return self._models[variant]

    def prompt_inputs(self) -> dict[str, Any]:
        """Captions, lyrics, languages and metadata: the ``tokenizer`` case's inputs (the other cases reuse them)."""
        for case in self.meta.get("cases", []):
            if case.get("name") == "tokenizer":
                return dict(case.get("inputs", {}))
        raise ValueError("the set has no tokenizer case to take the captions and metadata from")

    def text_prompts(self, instruction: str) -> list[str]:
        from engine.nn.ace_step.prompts import text_prompt

        p = self.prompt_inputs()
        return [text_prompt(instruction, cap, metas) for cap, metas in zip(p["captions"], p["metas"], strict=True)]

    def text_states(self, model: Any, instruction: str, length: int | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """ids, mask and Qwen3 states of the prompts with ``instruction``."""
        ids, mask = model.text_tokenizer.text(self.text_prompts(instruction), length)
        return ids, mask, model.text_encoder(ids)

    def get(self, case: dict[str, Any], name: str, fallback: str | None = None) -> Any:
        value = self.inputs.get(case, name)
        if value is None and fallback is not None:
            value = self.tensors[fallback]
        return value


def _velocity(model: Any) -> Callable[[Tensor, Tensor, Any], Tensor]:
    return lambda x, t, cond: model.velocity(x, t, cond)


def _doubled(model: Any) -> Callable[[Any], Any]:
    """The condition of the batch [items; null items] for guidance (the reference's doubled batch)."""
    from engine.nn.ace_step.model import Condition

    return lambda cond: Condition.cat(cond, model.null_condition(cond))


def _frames(case: dict[str, Any]) -> tuple[int, int]:
    """(B, T) of the case's first [B, T, C] output."""
    for spec in case.get("outputs", {}).values():
        shape = spec.get("shape", [])
        if len(shape) == 3:
            return int(shape[0]), int(shape[1])
    raise ValueError("the case has no [B, T, C] output to take the latent length from")


def _condition(ctx: Context, model: Any, case: dict[str, Any], text: Tensor, text_mask: Tensor, src: Tensor,
               chunk: Tensor, is_covers: Tensor | None = None, batch: int | None = None) -> Any:
    """``prepare_condition`` with the case's lyric and reference inputs (the shared golden ones by default)."""
    b = batch or text.shape[0]
    lyric = ctx.get(case, "lyric_hidden_states", "qwen3.lyric_embeds")[:b]
    lyric_mask = ctx.get(case, "lyric_attention_mask", "tok.lyric_mask")[:b]
    refs = ctx.get(case, "refer_audio_acoustic_hidden_states_packed", "in.refer_latents_packed")
    order = ctx.get(case, "refer_audio_order_mask", "in.refer_order_mask")
    covers = is_covers if is_covers is not None else torch.zeros(b, dtype=torch.bool)
    chunk3 = chunk.unsqueeze(-1).expand(*chunk.shape, src.shape[-1]) if chunk.dim() == 2 else chunk
    return model.condition(text[:b], text_mask[:b], lyric, lyric_mask, refs, order, src, chunk3, covers)


def _t2m(ctx: Context, model: Any, case: dict[str, Any]) -> tuple[Any, Tensor]:
    """The text2music condition of the case and its initial noise."""
    text = ctx.get(case, "text_hidden_states", "qwen3.text_hidden")
    mask = ctx.get(case, "text_attention_mask", "tok.text_mask")
    b, frames = _frames(case)
    e = text2music_inputs(b, frames, model.silence_latent)
    cond = _condition(ctx, model, case, text, mask, e.src, e.chunk_mask)
    noise = initial_noise(_arg(case, "seed"), (b, frames, e.src.shape[-1]))
    return cond, noise


def _unsupported(case: dict[str, Any], c: Check) -> None:
    """Sampler options outside what this version implements are a failure, not a silent ODE run."""
    if _arg(case, "infer_method", "ode") != "ode":
        c.problem(f"infer_method {_arg(case, 'infer_method')!r}: only 'ode' is implemented")
    if _arg(case, "use_adg", False):
        c.problem("use_adg: ADG guidance is not implemented")


def _windows(case: dict[str, Any], batch: int) -> list[tuple[float, float] | None]:
    """One (start, end) a item from ``repainting_start`` / ``repainting_end`` (a number or one a item)."""
    start, end = _arg(case, "repainting_start"), _arg(case, "repainting_end")
    starts = start if isinstance(start, list) else [start] * batch
    ends = end if isinstance(end, list) else [end] * batch
    return [None if a is None or b is None else (float(a), float(b)) for a, b in zip(starts, ends, strict=True)]


def tokenizer(ctx: Context, case: dict[str, Any], c: Check) -> None:
    from engine.nn.ace_step.prompts import lyric_prompt, metas_string

    model = ctx.model()
    p = case["inputs"]
    texts = ctx.text_prompts(p["instruction"])
    lyrics = [lyric_prompt(lang, words) for lang, words in zip(p["vocal_languages"], p["lyrics"], strict=True)]
    for what, ours, theirs in (("text prompt", texts, _arg(case, "text_prompts")),
                               ("lyric prompt", lyrics, _arg(case, "lyric_prompts")),
                               ("metas", [metas_string(m) for m in p["metas"]], _arg(case, "parsed_metas"))):
        if theirs is not None and ours != theirs:
            c.problem(f"{what}s differ from the reference's strings")
    ids, mask = model.text_tokenizer.text(texts)
    c("tok.text_ids", ids)
    c("tok.text_mask", mask)
    ids, mask = model.text_tokenizer.lyrics(lyrics)
    c("tok.lyric_ids", ids)
    c("tok.lyric_mask", mask)
    long = _arg(case, "long_prompt")
    if long is not None:
        ids, mask = model.text_tokenizer.text([long])
        c("tok.long_ids", ids)
        c("tok.long_mask", mask)
        n = _arg(case, "long_prompt_untruncated_len")
        if n is not None and len(model.text_tokenizer.encode(long, 10**9)) != n:
            c.problem(f"the long prompt is {len(model.text_tokenizer.encode(long, 10**9))} tokens, not {n}")


def qwen3_text_encoder(ctx: Context, case: dict[str, Any], c: Check) -> None:
    te = ctx.model().text_encoder
    with torch.no_grad():
        for out, ids, fn in (("qwen3.text_hidden", "tok.text_ids", te), ("qwen3.lyric_embeds", "tok.lyric_ids", te.embed),
                             ("qwen3.long_hidden", "tok.long_ids", te)):
            if out in case.get("outputs", {}):
                c(out, fn(ctx.tensors[ids]))


def condition_encoder(ctx: Context, case: dict[str, Any], c: Check) -> None:
    model = ctx.model()
    g = ctx.get
    taps: dict[str, Tensor] = {}
    with torch.no_grad():
        hidden, mask = model.core.encoder(g(case, "text_hidden_states"), g(case, "text_attention_mask"),
                                          g(case, "lyric_hidden_states"), g(case, "lyric_attention_mask"),
                                          g(case, "refer_audio_acoustic_hidden_states_packed"),
                                          g(case, "refer_audio_order_mask"), taps=taps)
    for key in ("text_proj", "lyric", "timbre", "timbre_mask"):
        c(f"enc.{key}", taps[key])
    c("enc.hidden", hidden)
    c("enc.mask", mask)


def prepare_condition_t2m(ctx: Context, case: dict[str, Any], c: Check) -> None:
    model = ctx.model()
    text = ctx.get(case, "text_hidden_states", "qwen3.text_hidden")
    frames = int(_arg(case, "T"))
    e = text2music_inputs(text.shape[0], frames, model.silence_latent)
    c("cond.context_t2m", e.context())
    with torch.no_grad():
        cond = _condition(ctx, model, case, text, ctx.get(case, "text_attention_mask", "tok.text_mask"), e.src,
                          e.chunk_mask)
    c("cond.context_t2m", cond.context)


def dit_forward(ctx: Context, case: dict[str, Any], c: Check) -> None:
    model = ctx.model()
    g = ctx.get
    x, t = g(case, "hidden_states"), g(case, "timestep")
    text = ctx.tensors["qwen3.text_hidden"]
    e = text2music_inputs(x.shape[0], x.shape[1], model.silence_latent)
    with torch.no_grad():
        cond = _condition(ctx, model, case, text, ctx.tensors["tok.text_mask"], e.src, e.chunk_mask)
        cond = dataclasses.replace(cond, encoder_hidden=g(case, "encoder_hidden_states"),
                                   encoder_mask=g(case, "encoder_attention_mask"), context=g(case, "context_latents"))
        c("dit.out", model.velocity(x, t, cond))


def turbo_noise(ctx: Context, case: dict[str, Any], c: Check) -> None:
    context = ctx.get(case, "context_latents", "cond.context_t2m")
    b, frames, ch = context.shape
    c("turbo.noise", initial_noise(_arg(case, "seed"), (b, frames, ch // 2)))


def turbo_t2m(ctx: Context, case: dict[str, Any], c: Check) -> None:
    model = ctx.model()
    _unsupported(case, c)
    timesteps = _arg(case, "timesteps")
    snapped = _arg(case, "snapped_schedule")
    if timesteps is not None and snapped is not None and turbo_timesteps(_arg(case, "shift", 3.0), timesteps) != snapped:
        c.problem(f"snapped schedule {turbo_timesteps(_arg(case, 'shift', 3.0), timesteps)} != {snapped}")
    with torch.no_grad():
        cond, noise = _t2m(ctx, model, case)
        out = turbo(_velocity(model), noise, cond, shift=_arg(case, "shift", 3.0), timesteps=timesteps)
    c(next(iter(case["outputs"])), out)


def base_t2m(ctx: Context, case: dict[str, Any], c: Check) -> None:
    model = ctx.model("base")
    _unsupported(case, c)
    with torch.no_grad():
        cond, noise = _t2m(ctx, model, case)
        out = base(_velocity(model), noise, cond, steps=int(_arg(case, "infer_steps", 30)),
                   shift=_arg(case, "shift", 1.0), guidance_scale=_arg(case, "diffusion_guidance_scale", 1.0),
                   with_null=_doubled(model),
                   cfg_interval=(_arg(case, "cfg_interval_start", 0.0), _arg(case, "cfg_interval_end", 1.0)))
    c(next(iter(case["outputs"])), out)


def _repaint_text(ctx: Context, model: Any, c: Check, key: str | None) -> tuple[Tensor, Tensor]:
    from engine.nn.ace_step.prompts import instruction_for

    ids, mask, states = ctx.text_states(model, instruction_for("repaint"))
    if key is not None:
        c(key, ids)
    return states, mask


def repaint(ctx: Context, case: dict[str, Any], c: Check) -> None:
    model = ctx.model()
    clean = ctx.get(case, "clean_src_latents", "in.src_audio_latents")
    with torch.no_grad():
        text, mask = _repaint_text(ctx, model, c, "repaint.text_ids")
        e = repaint_inputs(clean, model.silence_latent, _windows(case, clean.shape[0]))
        if _arg(case, "spans") is not None and _spans(e.spans) != _spans(_arg(case, "spans")):
            c.problem(f"spans {e.spans} != {_arg(case, 'spans')}")
        c("repaint.chunk_mask", e.chunk_mask)
        c("repaint.src_latents", e.src)
        c("repaint.mask", e.repaint_mask)
        cond = _condition(ctx, model, case, text, mask, e.src, e.chunk_mask)
        noise = initial_noise(_arg(case, "seed"), tuple(clean.shape))
        ratio = float(_arg(case, "repaint_injection_ratio", 0.5))
        assert e.repaint_mask is not None
        for key, frames in (("repaint.out", int(_arg(case, "repaint_crossfade_frames", 10))),
                            ("repaint.out_noblend", int(_arg(case, "out_noblend uses repaint_crossfade_frames", 0)))):
            out = turbo(_velocity(model), noise, cond, shift=_arg(case, "shift", 3.0),
                        repaint=Repaint(e.repaint_mask, clean, ratio, frames))
            c(key, out)


def extend(ctx: Context, case: dict[str, Any], c: Check) -> None:
    model = ctx.model()
    source = ctx.get(case, "source", "in.extend_src_latents")
    src_samples = round(float(_arg(case, "src_seconds")) * SAMPLE_RATE)
    pad = extend_padding(src_samples, float(_arg(case, "repainting_start")), float(_arg(case, "repainting_end")))
    frames = (pad.left + src_samples + pad.right) // HOP
    derived = {"src_frames": source.shape[1], "src_samples": src_samples, "right_pad_samples": pad.right,
               "T": frames}
    expected = _arg(case, "derived") or {}
    if any(expected.get(k, v) != v for k, v in derived.items()):
        c.problem(f"derived {derived} != {expected}")
    silence = model.silence_latent
    # the padded tail's latents are the silence latent's frames at the same positions (what the set gives)
    tail = text2music_inputs(1, frames, silence).src[:, source.shape[1]:]
    target = torch.cat([source, tail.expand(source.shape[0], -1, -1)], dim=1)
    c("extend.target_latents", target)
    with torch.no_grad():
        e = repaint_inputs(target, silence, [(pad.start_sec, pad.end_sec)] * target.shape[0])
        if _arg(case, "spans") is not None and _spans(e.spans) != _spans(_arg(case, "spans")):
            c.problem(f"spans {e.spans} != {_arg(case, 'spans')}")
        c("extend.chunk_mask", e.chunk_mask)
        c("extend.src_latents", e.src)
        c("extend.mask", e.repaint_mask)
        text, mask = _repaint_text(ctx, model, c, None)
        b = target.shape[0]
        # "item k of the repaint text states": the prompt (and lyrics) of item k of the shared prompts
        m = re.search(r"item (\d+)", str(case.get("inputs", {}).get("text_hidden_states", "")))
        k = int(m.group(1)) if m else 0
        pick = slice(k, k + b)
        lyric = ctx.get(case, "lyric_hidden_states", "qwen3.lyric_embeds")
        lyric_mask = ctx.get(case, "lyric_attention_mask", "tok.lyric_mask")
        if lyric.shape[0] > b:
            lyric, lyric_mask = lyric[pick], lyric_mask[pick]
        cond = model.condition(text[pick], mask[pick], lyric, lyric_mask,
                               ctx.get(case, "refer_audio_acoustic_hidden_states_packed", "in.refer_latents_packed"),
                               ctx.get(case, "refer_audio_order_mask", "in.refer_order_mask"), e.src, e.chunk_mask,
                               torch.zeros(b, dtype=torch.bool))
        noise = initial_noise(_arg(case, "seed"), tuple(target.shape))
        assert e.repaint_mask is not None
        out = turbo(_velocity(model), noise, cond, shift=_arg(case, "shift", 3.0),
                    repaint=Repaint(e.repaint_mask, target, float(_arg(case, "repaint_injection_ratio", 0.5)),
                                    int(_arg(case, "repaint_crossfade_frames", 10))))
    c("extend.out", out)


def cover(ctx: Context, case: dict[str, Any], c: Check) -> None:
    from engine.nn.ace_step.prompts import instruction_for, is_cover_instruction

    model = ctx.model()
    src = ctx.get(case, "src_latents", "in.src_audio_latents")
    b, frames, _ = src.shape
    instruction = instruction_for("cover")
    with torch.no_grad():
        ids, mask, text = ctx.text_states(model, instruction)
        c("cover.text_ids", ids)
        nc_ids, nc_mask, nc_text = ctx.text_states(model, instruction_for("text2music"), ids.shape[1])
        c("cover.noncover_text_ids", nc_ids)
        c("cover.noncover_text_mask", nc_mask)
        covers = torch.tensor([is_cover_instruction(instruction)] * b)
        c("cover.is_covers", covers)
        quantized, indices, mask5, hints = model.cover_hints(src)
        c("cover.quantized_5hz", quantized)
        c("cover.fsq_indices", indices)
        c("cover.mask_5hz", mask5)
        c("cover.hints_25hz", hints)
        chunk = torch.ones(b, frames, dtype=torch.bool)
        cond = _condition(ctx, model, case, text, mask, src, chunk, covers)
        e = text2music_inputs(b, frames, model.silence_latent)
        switch = _condition(ctx, model, case, nc_text, nc_mask, e.src, chunk)
        noise = initial_noise(_arg(case, "seed"), tuple(src.shape))
        strength = float(_arg(case, "audio_cover_strength", 1.0))
        shift = _arg(case, "shift", 3.0)
        c("cover.out", turbo(_velocity(model), noise, cond, shift=shift, cover_strength=strength, switch=switch))
        noisy = _arg(case, "cover_noise_strength")
        keys = [k for k in case.get("outputs", {}) if k.startswith("cover.out_noise")]
        if noisy is not None and keys:
            out = turbo(_velocity(model), noise, cond, shift=shift, cover_strength=strength, switch=switch,
                        cover_noise=CoverNoise(float(noisy), src))
            c(keys[0], out)


def vae(ctx: Context, case: dict[str, Any], c: Check) -> None:
    v = ctx.model().vae
    latents = ctx.get(case, "decode", "in.vae_latents")
    with torch.no_grad():
        c("vae.decode", v.decode(latents.transpose(1, 2)))
        mean, std = v.encode(ctx.get(case, "encode", "in.vae_wav"))
        c("vae.encode_mean", mean)
        c("vae.encode_std", std)
        seed = int(_arg(case, "sample_generator_seed"))
        c("vae.encode_sample", v.sample(mean, std, torch.Generator("cpu").manual_seed(seed)))


CASES: dict[str, Callable[[Context, dict[str, Any], Check], None]] = {
    "tokenizer": tokenizer,
    "qwen3_text_encoder": qwen3_text_encoder,
    "condition_encoder": condition_encoder,
    "prepare_condition_t2m": prepare_condition_t2m,
    "dit_forward": dit_forward,
    "turbo_noise": turbo_noise,
    "turbo_t2m_shift1": turbo_t2m,
    "turbo_t2m_shift3": turbo_t2m,
    "turbo_t2m_custom_timesteps": turbo_t2m,
    "base_apg": base_t2m,
    "base_apg_cfg_interval": base_t2m,
    "base_no_cfg": base_t2m,
    "repaint": repaint,
    "extend": extend,
    "cover": cover,
    "vae": vae,
}
#: runners for case names of a family (another shift or guidance setting in another set)
FAMILIES: tuple[tuple[str, Callable[[Context, dict[str, Any], Check], None]], ...] = (
    ("turbo_t2m", turbo_t2m), ("base_", base_t2m))


def runner_for(name: str) -> Callable[[Context, dict[str, Any], Check], None] | None:
    if name in CASES:
        return CASES[name]
    return next((fn for prefix, fn in FAMILIES if name.startswith(prefix)), None)
