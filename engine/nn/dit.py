"""The DiffRhythm DiT (docs/reference/diffrhythm-spec.md §1): tensors in, velocity out. It knows nothing of guidance, ODEs, files or devices.

State-dict keys match the official checkpoint under the CFM wrapper's ``transformer.`` prefix. As in the
reference, the attention uses 32 heads of width dim/32 whatever the config's ``heads`` says, the text width is the
hard-coded conditioning width 512, and ``duration_time_embed`` exists only for the 6144-frame (full) variant.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

import torch
from torch import Tensor, nn

from .blocks import (
    AdaLayerNormZeroFinal,
    AttentionFn,
    DecoderLayer,
    InputEmbedding,
    RotaryEmbedding,
    TextEmbedding,
    TimestepEmbedding,
    sdpa,
)

COND_DIM = 512
REFERENCE_HEADS = 32  # LlamaConfig's default, which the reference always uses
FULL_MAX_FRAMES = 6144


class ConfigError(ValueError):
    """A model config is malformed; the message names the key."""


@dataclass(frozen=True)
class DiTConfig:
    dim: int = 2048
    depth: int = 16
    heads: int = 32  # ignored by the reference (always 32 heads); kept for the record
    ff_mult: int = 4
    text_dim: int = 512
    conv_layers: int = 4
    mel_dim: int = 64
    text_num_embeds: int = 363
    max_frames: int = 2048
    dim_head: int = 64  # unused by the reference
    dropout: float = 0.1  # unused at inference

    @classmethod
    def from_dict(cls, data: dict, source: str, max_frames: int | None = None) -> DiTConfig:
        """Strict: unknown keys are errors naming the key and file; missing keys take the official defaults."""
        known = {f.name for f in fields(cls)}
        extra = sorted(set(data) - known)
        if extra:
            raise ConfigError(f"{source}: unknown model config key {extra[0]!r}")
        for k, v in data.items():
            ok = isinstance(v, float | int) and not isinstance(v, bool) if k == "dropout" else \
                isinstance(v, int) and not isinstance(v, bool)
            if not ok:
                raise ConfigError(f"{source}: model config key {k!r} must be a number, got {v!r}")
        cfg = cls(**{**data, **({"max_frames": max_frames} if max_frames is not None else {})})
        cfg.validate(source)
        return cfg

    def validate(self, source: str = "config") -> None:
        if self.text_dim != COND_DIM:
            raise ConfigError(f"{source}: text_dim must be {COND_DIM} (the text fusion layers read the text "
                              f"embedding at the conditioning width), got {self.text_dim}")
        if self.dim % 16 or self.dim % REFERENCE_HEADS or (self.dim // REFERENCE_HEADS) % 2:
            raise ConfigError(f"{source}: dim must be a multiple of 64 (16 conv groups, 32 heads of even width), "
                              f"got {self.dim}")
        if self.max_frames < 1:
            raise ConfigError(f"{source}: max_frames must be positive")

    @property
    def full(self) -> bool:
        """The variable-length (up to 285 s) variant with the song-duration embedding."""
        return self.max_frames == FULL_MAX_FRAMES


class DiT(nn.Module):
    def __init__(self, *, dim: int, depth: int, ff_mult: int, text_dim: int, conv_layers: int, mel_dim: int,
                 text_num_embeds: int, max_frames: int):
        super().__init__()
        self.dim, self.depth, self.max_frames = dim, depth, max_frames
        self.time_embed = TimestepEmbedding(COND_DIM)
        self.start_time_embed = TimestepEmbedding(COND_DIM)
        if max_frames == FULL_MAX_FRAMES:
            self.duration_time_embed = TimestepEmbedding(COND_DIM)
        self.text_embed = TextEmbedding(text_num_embeds, text_dim, conv_layers, max_pos=max_frames)
        self.input_embed = InputEmbedding(mel_dim, text_dim, COND_DIM, dim)
        self.rotary_emb = RotaryEmbedding(dim // REFERENCE_HEADS)
        self.transformer_blocks = nn.ModuleList(
            [DecoderLayer(dim, REFERENCE_HEADS, dim * ff_mult) for _ in range(depth)])
        self.text_fusion_linears = nn.ModuleList(
            [nn.Sequential(nn.Linear(COND_DIM, dim), nn.SiLU()) for _ in range(depth // 2)])
        self.norm_out = AdaLayerNormZeroFinal(dim, COND_DIM)
        self.proj_out = nn.Linear(dim, mel_dim)

    @classmethod
    def from_config(cls, cfg: DiTConfig) -> DiT:
        return cls(dim=cfg.dim, depth=cfg.depth, ff_mult=cfg.ff_mult, text_dim=cfg.text_dim,
                   conv_layers=cfg.conv_layers, mel_dim=cfg.mel_dim, text_num_embeds=cfg.text_num_embeds,
                   max_frames=cfg.max_frames)

    @property
    def has_duration(self) -> bool:
        return hasattr(self, "duration_time_embed")

    def embed_text(self, text: Tensor, drop_text: bool = False) -> Tensor:
        """text: [b, n] long -> [b, n, 512]. Constant over a sampling run: compute once and pass it in."""
        if drop_text:
            text = torch.zeros_like(text)
        return self.text_embed(text)

    def text_fusion(self, text_embed: Tensor) -> list[Tensor]:
        """The text added after each of the first depth/2 blocks, ``[b, n, d]`` each, from :meth:`embed_text`'s
        output. Constant over a sampling run: compute once and pass it in (on the CPU it cost 0.7 s a step)."""
        return [lin(text_embed) for lin in self.text_fusion_linears]

    def conditioning(self, time: Tensor, start_time: Tensor, duration: Tensor | None, batch: int) -> Tensor:
        """c = time + start time (+ song duration on the full variant): [b, 512]."""
        if time.ndim == 0:
            time = time.repeat(batch)
        c = self.time_embed(time) + self.start_time_embed(start_time)
        if self.has_duration:
            if duration is None:
                raise ValueError("the full (6144-frame) model needs the song duration input")
            c = c + self.duration_time_embed(duration)
        return c

    def forward(
        self,
        x: Tensor,
        cond: Tensor,
        text: Tensor,
        time: Tensor,
        style_prompt: Tensor,
        start_time: Tensor,
        duration: Tensor | None = None,
        *,
        drop_audio_cond: bool = False,
        drop_text: bool = False,
        drop_prompt: bool = False,
        text_embed: Tensor | None = None,
        text_fusion: Sequence[Tensor] | None = None,
        attn: AttentionFn = sdpa,
    ) -> Tensor:
        """Velocity [b, n, mel] for noisy latents ``x`` [b, n, mel], reference ``cond`` [b, n, mel], lyric tokens
        ``text`` [b, n], flow ``time`` [b] or scalar, ``style_prompt`` [b, 512], ``start_time`` and ``duration``
        [b] (normalised). ``text_embed`` ([b, n, 512], from :meth:`embed_text`) skips the text branch and
        ``text_fusion`` (from :meth:`text_fusion`) its projections."""
        b, n = x.shape[0], x.shape[1]
        c = self.conditioning(time, start_time, duration, b)
        t_emb = text_embed if text_embed is not None else self.embed_text(text, drop_text)
        if drop_prompt:
            style_prompt = torch.zeros_like(style_prompt)
        if drop_audio_cond:
            cond = torch.zeros_like(cond)
        h = self.input_embed(x, cond, t_emb, style_prompt, c)
        cos, sin = self.rotary_emb(n, h.dtype, h.device)
        for i, block in enumerate(self.transformer_blocks):
            h = block(h, cos, sin, attn)
            if i < self.depth // 2:
                h = h + (text_fusion[i] if text_fusion is not None else self.text_fusion_linears[i](t_emb))
        return self.proj_out(self.norm_out(h, c))
