"""ACE-Step 1.5 loaded from the official download layout, and the small API the samplers use.

```
<models>/acestep-v15-turbo/ (or -base)  config.json, model.safetensors, silence_latent.pt
<models>/vae/                           config.json, diffusion_pytorch_model.safetensors
<models>/Qwen3-Embedding-0.6B/          config.json, model.safetensors, tokenizer.json, tokenizer_config.json
```

``AceStepCore`` holds the DiT file's modules under their official names (``decoder``, ``encoder``, ``tokenizer``,
``detokenizer``, ``null_condition_emb``). ``AceStepModel`` adds the text encoder, its tokenizer, the VAE and the
silence latent, and offers ``condition`` (the reference's ``prepare_condition``), ``null_condition``, ``velocity``
(one DiT call with r = t) and ``cover_hints``."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor, nn

from .condition import ConditionEncoder
from .config import AceStepConfig, AceStepConfigError, VaeConfig, read_acestep, read_qwen3, read_vae
from .cover import AudioDetokenizer, AudioTokenizer
from .dit import CrossKV, DiT
from .qwen3 import Qwen3TextEncoder
from .tokenize import TextTokenizer
from .vae import AceStepVae
from .weights import AceStepLoadError, load_strict, read_safetensors, read_silence

VARIANTS = ("turbo", "base")
TEXT_ENCODER_DIR = "Qwen3-Embedding-0.6B"
NO_REFERENCE_FRAMES = 750


class AceStepCore(nn.Module):
    """The modules of ``acestep-v15-*/model.safetensors`` with its key names."""

    def __init__(self, cfg: AceStepConfig):
        super().__init__()
        self.cfg = cfg
        self.decoder = DiT(cfg)
        self.encoder = ConditionEncoder(cfg)
        self.tokenizer = AudioTokenizer(cfg)
        self.detokenizer = AudioDetokenizer(cfg)
        self.null_condition_emb = nn.Parameter(torch.zeros(1, 1, cfg.enc.hidden_size))


@dataclass
class Condition:
    """What the DiT is conditioned on: ``encoder_hidden`` [B, S, H] (with its mask [B, S] bool, which the DiT
    does not use), ``context`` [B, T, 2 x latent] (source or cover hints | chunk mask), ``hints`` the 25 Hz cover
    hints when computed. The cross-attention keys/values are computed once per condition and kept."""

    encoder_hidden: Tensor
    encoder_mask: Tensor
    context: Tensor
    hints: Tensor | None = None
    kv: CrossKV | None = field(default=None, repr=False)

    @property
    def batch(self) -> int:
        return self.context.shape[0]

    @staticmethod
    def cat(*conds: Condition) -> Condition:
        """Conditions of the same encoder length joined along the batch (e.g. [cond, uncond] for guidance)."""
        return Condition(torch.cat([c.encoder_hidden for c in conds]), torch.cat([c.encoder_mask for c in conds]),
                         torch.cat([c.context for c in conds]))


def _folder_file(folder: Path, name: str) -> Path:
    p = folder / name
    if not p.is_file():
        raise AceStepLoadError(f"{p}: missing (the official layout has {name} in {folder.name}/)")
    return p


class AceStepModel:
    def __init__(self, core: AceStepCore, text_encoder: Qwen3TextEncoder, text_tokenizer: TextTokenizer,
                 vae: AceStepVae, silence_latent: Tensor, folder: Path | None = None):
        self.core = core.eval()
        self.config = core.cfg
        self.text_encoder = text_encoder.eval()
        self.text_tokenizer = text_tokenizer
        self.vae = vae.eval()
        self.silence_latent = silence_latent  # [1, L, latent]
        self.folder = folder
        if text_encoder.cfg.hidden_size != self.config.text_hidden_dim:
            raise AceStepConfigError(f"{text_encoder.cfg.source}: hidden_size {text_encoder.cfg.hidden_size} does "
                                     f"not match text_hidden_dim {self.config.text_hidden_dim} of "
                                     f"{self.config.source}")
        if vae.cfg.decoder_input_channels != self.config.audio_acoustic_hidden_dim:
            raise AceStepConfigError(f"{vae.cfg.source}: decoder_input_channels {vae.cfg.decoder_input_channels} "
                                     f"does not match audio_acoustic_hidden_dim "
                                     f"{self.config.audio_acoustic_hidden_dim} of {self.config.source}")

    # ------------------------------------------------------------------ loading

    @classmethod
    def from_folder(cls, models_dir: str | os.PathLike[str], variant: str = "turbo") -> AceStepModel:
        """Load ``acestep-v15-<variant>/``, ``vae/`` and ``Qwen3-Embedding-0.6B/`` from ``models_dir`` (float32,
        CPU). Every file is checked strictly: a missing file or a key that does not fit is an AceStepLoadError
        naming the file."""
        if variant not in VARIANTS:
            raise ValueError(f"unknown ACE-Step variant {variant!r}; known: {', '.join(VARIANTS)}")
        root = Path(models_dir)
        dit_dir = root / f"acestep-v15-{variant}"
        if not dit_dir.is_dir():
            raise AceStepLoadError(f"{dit_dir}: missing (the official download has acestep-v15-{variant}/ with "
                                   "config.json, model.safetensors and silence_latent.pt)")
        cfg = read_acestep(_folder_file(dit_dir, "config.json"))
        with torch.device("meta"):
            core = AceStepCore(cfg)
        weights = _folder_file(dit_dir, "model.safetensors")
        load_strict(core, read_safetensors(weights), weights, f"ACE-Step {variant} model")
        silence = read_silence(_folder_file(dit_dir, "silence_latent.pt"), cfg.audio_acoustic_hidden_dim)

        text_dir = root / TEXT_ENCODER_DIR
        qcfg = read_qwen3(_folder_file(text_dir, "config.json"))
        with torch.device("meta"):
            text = Qwen3TextEncoder(qcfg)
        weights = _folder_file(text_dir, "model.safetensors")
        load_strict(text, read_safetensors(weights), weights, "Qwen3 text encoder")
        _folder_file(text_dir, "tokenizer.json")
        tok = TextTokenizer(text_dir)

        vae_dir = root / "vae"
        vcfg = read_vae(_folder_file(vae_dir, "config.json"))
        with torch.device("meta"):
            vae = AceStepVae(vcfg)
        weights = _folder_file(vae_dir, "diffusion_pytorch_model.safetensors")
        vae.load_diffusers(read_safetensors(weights), str(weights))
        return cls(core, text, tok, vae, silence, root)

    @property
    def vae_config(self) -> VaeConfig:
        return self.vae.cfg

    @property
    def device(self) -> torch.device:
        return self.core.null_condition_emb.device

    def to(self, device: str | torch.device) -> AceStepModel:
        """Move every part (DiT file modules, text encoder, VAE, silence latent) to ``device``; returns self."""
        self.core.to(device)
        self.text_encoder.to(device)
        self.vae.to(device)
        self.silence_latent = self.silence_latent.to(device)
        return self

    # ------------------------------------------------------------------ text

    @torch.no_grad()
    def encode_text(self, prompts: list[str], length: int | None = None) -> tuple[Tensor, Tensor]:
        """Caption prompts -> (Qwen3 hidden states [B, L, text_dim] run without mask, mask [B, L] bool)."""
        ids, mask = self.text_tokenizer.text(prompts, length)
        dev = self.text_encoder.embed_tokens.weight.device
        return self.text_encoder(ids.to(dev)), mask.to(dev)

    @torch.no_grad()
    def encode_lyrics(self, prompts: list[str]) -> tuple[Tensor, Tensor]:
        """Lyric prompts -> (embedding-table vectors [B, L, text_dim], mask [B, L] bool)."""
        ids, mask = self.text_tokenizer.lyrics(prompts)
        dev = self.text_encoder.embed_tokens.weight.device
        return self.text_encoder.embed(ids.to(dev)), mask.to(dev)

    # ------------------------------------------------------------------ latents

    def silence(self, frames: int, batch: int = 1) -> Tensor:
        """``silence_latent[:, :frames]`` (tiled when shorter) expanded to [batch, frames, latent]."""
        s = self.silence_latent
        if s.shape[1] < frames:
            s = s.repeat(1, -(-frames // s.shape[1]), 1)
        return s[:, :frames].expand(batch, -1, -1)

    def no_reference(self, batch: int) -> tuple[Tensor, Tensor]:
        """The timbre input the reference uses without reference audio: one silence clip of 750 frames per item
        (packed [B, 750, latent], order [B])."""
        return self.silence(NO_REFERENCE_FRAMES, batch).contiguous(), torch.arange(batch, device=self.device)

    # ------------------------------------------------------------------ conditioning

    @torch.no_grad()
    def cover_hints(self, src_latents: Tensor, attention_mask: Tensor | None = None
                    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Source latents [B, T, latent] -> (quantized 5 Hz [B, T5, H], FSQ indices [B, T5, q] int32, 5 Hz mask
        [B, T5] float, hints [B, T, latent] at 25 Hz cropped to T)."""
        q, idx, mask5 = self.core.tokenizer(src_latents, self.silence_latent, attention_mask)
        hints = self.core.detokenizer(q)[:, : src_latents.shape[1]]
        return q, idx, mask5, hints

    @torch.no_grad()
    def condition(self, text_hidden: Tensor, text_mask: Tensor, lyric_hidden: Tensor, lyric_mask: Tensor,
                  refer_packed: Tensor, refer_order: Tensor, src_latents: Tensor, chunk_masks: Tensor,
                  is_covers: Tensor | None = None, attention_mask: Tensor | None = None,
                  hints: Tensor | None = None) -> Condition:
        """The reference's ``prepare_condition``: encoder states from text/lyrics/timbre, and the context
        ``cat([src (cover hints where is_covers), chunk mask], -1)``. ``chunk_masks`` [B, T] or [B, T, latent]
        (bool or float); ``hints`` precomputed 25 Hz hints (else computed from ``src_latents`` when an item is a
        cover)."""
        b, t, c = src_latents.shape
        if c != self.config.audio_acoustic_hidden_dim:
            raise ValueError(f"src_latents must be [batch, frames, {self.config.audio_acoustic_hidden_dim}], "
                             f"got {tuple(src_latents.shape)}")
        hidden, mask = self.core.encoder(text_hidden, text_mask, lyric_hidden, lyric_mask, refer_packed,
                                         refer_order)
        if chunk_masks.ndim == 2:
            chunk_masks = chunk_masks.unsqueeze(-1).expand(b, t, c)
        if chunk_masks.shape != (b, t, c):
            raise ValueError(f"chunk_masks must be [{b}, {t}] or [{b}, {t}, {c}], got {tuple(chunk_masks.shape)}")
        src = src_latents
        covers = (torch.zeros(b, dtype=torch.bool) if is_covers is None else is_covers.to(torch.bool).reshape(b)
                  ).to(src.device)
        if hints is None and bool(covers.any()):
            hints = self.cover_hints(src_latents, attention_mask)[3]
        if hints is not None:
            src = torch.where(covers[:, None, None], hints[:, :t], src)
        context = torch.cat([src, chunk_masks.to(src.dtype)], dim=-1)
        return Condition(hidden, mask, context, hints)

    def null_condition(self, cond: Condition) -> Condition:
        """The unconditional twin for guidance: ``null_condition_emb`` expanded over the encoder states, same mask
        and context."""
        null = self.core.null_condition_emb.detach().expand_as(cond.encoder_hidden)
        return Condition(null, cond.encoder_mask, cond.context, cond.hints)

    def guided(self, cond: Condition) -> Condition:
        """The doubled batch for guidance: ``cond``'s items, then their null twins (what the base sampler runs
        through one DiT call per step)."""
        return Condition.cat(cond, self.null_condition(cond))

    @torch.no_grad()
    def velocity(self, x_t: Tensor, t: float | Tensor, cond: Condition) -> Tensor:
        """One DiT call: velocity [B, T, latent] at time ``t`` (a number or [B]) with r = t."""
        b = x_t.shape[0]
        if cond.batch != b or cond.context.shape[1] != x_t.shape[1]:
            raise ValueError(f"x_t {tuple(x_t.shape)} does not match the condition's context "
                             f"{tuple(cond.context.shape)}")
        tt = torch.as_tensor(t, dtype=x_t.dtype, device=x_t.device)
        tt = tt.expand(b) if tt.ndim == 0 else tt.reshape(b)
        if cond.kv is None:
            cond.kv = self.core.decoder.cross_kv(cond.encoder_hidden)
        return self.core.decoder(x_t, tt, tt, cond.context, kv=cond.kv)
