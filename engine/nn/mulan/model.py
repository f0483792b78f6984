"""MuQ-MuLan: waveforms or token ids -> L2-normalised 512-d latents (the joint music/text space).

Audio is cut into 10 s clips (a remaining tail is completed from the start of the wave, once), every clip is
embedded and normalised, and the clip latents are averaged without normalising again, as the reference does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .heads import AudioTower, TextTower
from .muq import MuQ, MuQConfig
from .xlmr import XLMRConfig, XLMRoberta

#: State-dict prefixes present in the official file but unused at inference (accepted and ignored on load).
UNUSED_PREFIXES = ("mulan.audio.model.model.rvq.", "mulan.audio.model.model.linear.",
                   "mulan.audio.model.model.cls_token", "mulan.audio.model.model.conformer.pos_conv_embed.",
                   "mulan.audio.aggregator.", "mulan.text.model.pooler.", "mulan.contrast.")


@dataclass(frozen=True)
class TowerConfig:
    dim: int = 768
    depth: int = 8
    heads: int = 8
    dim_head: int = 64
    ff_mult: float = 4


@dataclass(frozen=True)
class MuQMuLanConfig:
    sample_rate: int = 24000
    clip_secs: float = 10
    dim_latent: int = 512
    audio_model_dim: int = 1024
    text_model_dim: int | None = None
    audio: TowerConfig = field(default_factory=lambda: TowerConfig(depth=0))
    text: TowerConfig = field(default_factory=TowerConfig)
    muq: MuQConfig = field(default_factory=MuQConfig)
    xlmr: XLMRConfig = field(default_factory=XLMRConfig)

    @property
    def clip_samples(self) -> int:
        return int(self.sample_rate * self.clip_secs)

    @classmethod
    def from_json(cls, mulan: dict[str, Any], muq: dict[str, Any], xlmr: dict[str, Any]) -> MuQMuLanConfig:
        """From the three official config.json files (MuQ-MuLan-large, MuQ-large-msd-iter, xlm-roberta-base).
        A missing or mistyped field raises KeyError/TypeError/ValueError naming the field."""
        m = mulan["mulan"]

        def tower(d: dict[str, Any]) -> TowerConfig:
            return TowerConfig(int(d["dim"]), int(d["tf_depth"]), int(d["heads"]), int(d["dim_head"]),
                               float(d["ff_mult"]))

        w2v = muq["w2v2_config"]
        if int(muq.get("n_mels", 128)) != 128:
            raise ValueError(f"MuQ n_mels is {muq['n_mels']}; MuQ always uses 128")
        act = str(w2v.get("hidden_act", "swish"))
        if act not in ("swish", "silu"):
            raise ValueError(f"MuQ w2v2_config.hidden_act {act!r}: only swish is supported")
        if str(w2v.get("position_embeddings_type", "rotary")) != "rotary":
            raise ValueError("MuQ w2v2_config.position_embeddings_type must be rotary")
        stat = muq["stat"]
        muq_cfg = MuQConfig(
            sample_rate=int(m["sr"]), hop_length=int(muq["hop_length"]), n_mels=128,
            mel_mean=float(stat["melspec_2048_mean"]), mel_std=float(stat["melspec_2048_std"]),
            conv_dim=int(muq["conv_dim"]), encoder_dim=int(muq["encoder_dim"]), encoder_depth=int(muq["encoder_depth"]),
            heads=int(w2v["num_attention_heads"]), intermediate=int(w2v["intermediate_size"]),
            depthwise_kernel=int(w2v["conv_depthwise_kernel_size"]), rotary_base=float(w2v["rotary_embedding_base"]),
            layer_norm_eps=float(w2v.get("layer_norm_eps", 1e-5)))
        if str(xlmr.get("hidden_act", "gelu")) != "gelu":
            raise ValueError(f"XLM-R hidden_act {xlmr['hidden_act']!r}: only gelu is supported")
        xlmr_cfg = XLMRConfig(
            vocab_size=int(xlmr["vocab_size"]), hidden_size=int(xlmr["hidden_size"]),
            num_hidden_layers=int(xlmr["num_hidden_layers"]), num_attention_heads=int(xlmr["num_attention_heads"]),
            intermediate_size=int(xlmr["intermediate_size"]),
            max_position_embeddings=int(xlmr["max_position_embeddings"]),
            type_vocab_size=int(xlmr.get("type_vocab_size", 1)), pad_token_id=int(xlmr.get("pad_token_id", 1)),
            layer_norm_eps=float(xlmr.get("layer_norm_eps", 1e-5)))
        audio_dim = mulan["audio_model"].get("model_dim")
        text_dim = mulan["text_model"].get("model_dim")
        return cls(sample_rate=int(m["sr"]), clip_secs=float(m["clip_secs"]), dim_latent=int(m["dim_latent"]),
                   audio_model_dim=int(audio_dim) if audio_dim else muq_cfg.encoder_dim,
                   text_model_dim=int(text_dim) if text_dim else None,
                   audio=tower(mulan["audio_transformer"]), text=tower(mulan["text_transformer"]), muq=muq_cfg,
                   xlmr=xlmr_cfg)


class MuLan(nn.Module):
    def __init__(self, cfg: MuQMuLanConfig):
        super().__init__()
        a, t = cfg.audio, cfg.text
        self.audio = AudioTower(MuQ(cfg.muq), cfg.audio_model_dim, a.dim, a.depth, a.heads, a.dim_head, a.ff_mult)
        self.text = TextTower(XLMRoberta(cfg.xlmr), cfg.xlmr.hidden_size, cfg.text_model_dim, t.dim, t.depth,
                              t.heads, t.dim_head, t.ff_mult)
        self.audio_to_latents = nn.Linear(a.dim, cfg.dim_latent)
        self.text_to_latents = nn.Linear(t.dim, cfg.dim_latent)


def split_clips(wav: Tensor, clip: int) -> Tensor:
    """[N] -> [n_clips, clip]: whole clips, then the tail completed from the start (once: a wave shorter than
    half a clip gives one clip of twice its length)."""
    n = wav.shape[-1]
    clips, at = [], 0
    while at + clip <= n:
        clips.append(wav[at:at + clip])
        at += clip
    if at < n:
        clips.append(torch.cat([wav[at:], wav[0:clip - (n - at)]]))
    return torch.stack(clips, dim=0)


class MuQMuLan(nn.Module):
    def __init__(self, cfg: MuQMuLanConfig):
        super().__init__()
        self.cfg = cfg
        self.mulan = MuLan(cfg)

    def audio_latents(self, clips: Tensor, taps: dict[str, Tensor] | None = None) -> Tensor:
        """clips [C, n] -> per-clip unit latents [C, 512]."""
        pooled = self.mulan.audio(clips, taps)
        raw = self.mulan.audio_to_latents(pooled)
        if taps is not None:
            taps["audio_pooled"], taps["audio_latent_raw"] = pooled, raw
        return F.normalize(raw, p=2, dim=-1)

    def embed_audio(self, wavs: Tensor, taps: list[dict[str, Tensor]] | None = None) -> Tensor:
        """wavs [B, N] float32 at 24 kHz -> [B, 512]: per row, the mean of its clips' unit latents.
        ``taps``: a list that receives, per row, a dict of intermediates (``clips`` and their stages)."""
        out = []
        for row in wavs:
            clips = split_clips(row, self.cfg.clip_samples)
            tap = {} if taps is not None else None
            lat = self.audio_latents(clips, tap)
            if taps is not None and tap is not None:
                tap["clips"] = clips
                tap["audio_latent"] = lat
                taps.append(tap)
            out.append(lat.mean(dim=0))
        return torch.stack(out, dim=0)

    def embed_text(self, ids: Tensor, attention_mask: Tensor | None = None,
                   taps: dict[str, Tensor] | None = None) -> Tensor:
        """ids [B, n] (XLM-R ids with <s> and </s>) -> [B, 512] unit latents. Every position is averaged,
        pads included (as the reference does), so one prompt per call is the way to use it."""
        if attention_mask is None:
            attention_mask = torch.ones_like(ids)
        pooled = self.mulan.text(ids, attention_mask, taps)
        raw = self.mulan.text_to_latents(pooled)
        if taps is not None:
            taps["text_pooled"], taps["text_latent_raw"] = pooled, raw
        return F.normalize(raw, p=2, dim=-1)
