"""ACE-Step 1.5's audio tokenizer and detokenizer (reference ``AceStepAudioTokenizer``, ``AttentionPooler``,
``AudioTokenDetokenizer``; keys ``tokenizer.*`` and ``detokenizer.*``): the 25 Hz source latents of a cover become
5 Hz FSQ tokens and back 25 Hz "hints" that replace the source in the DiT context.

- tokenize: pad T to a multiple of ``pool_window_size`` with SILENCE frames, group, ``audio_acoustic_proj``, the
  attention pooler (a learned token prepended to each group, bidirectional layers with RoPE, RMSNorm, the learned
  token's output), ResidualFSQ (vector-quantize-pytorch: project in to len(levels) dims, bounded rounding, project
  out); the 5 Hz mask is a ceil max-pool of the latent mask.
- detokenize: Linear, each token repeated ``pool_window_size`` times plus learned position tokens, bidirectional
  layers within each group, RMSNorm, Linear to the latent width."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .condition import EncoderStack
from .config import AceStepConfig


class AttentionPooler(EncoderStack):
    def __init__(self, cfg: AceStepConfig):
        super().__init__(cfg, cfg.enc.hidden_size, cfg.num_attention_pooler_hidden_layers)
        self.special_token = nn.Parameter(torch.zeros(1, 1, cfg.enc.hidden_size))

    def forward(self, x: Tensor) -> Tensor:
        # x: [B, T5, P, hidden] -> [B, T5, hidden]
        b, t, _, d = x.shape
        x = self.embed_tokens(x)
        x = torch.cat([self.special_token.expand(b, t, 1, d), x], dim=2)
        h = self.run(x.reshape(b * t, x.shape[2], d))
        return h[:, 0, :].reshape(b, t, d)


class ResidualFSQ(nn.Module):
    """vector-quantize-pytorch's ``ResidualFSQ`` (1.32, its defaults: ``bound_hard_clamp=True``,
    ``preserve_symmetry=True``) at inference:

    ``z = project_in(x)``; soft clamp ``z = tanh(z / c) * c`` with ``c = 1 + 1 / (levels - 1)``; for each quantizer
    q (input divided by ``levels^-q``): ``code = 2 / (L - 1) * floor((L - 1) * (clamp(z, -1, 1) + 1) / 2 + 0.5) - 1``
    (levels spread evenly over [-1, 1]: +-1/7, +-3/7… for 8), residual subtracted; ``project_out`` of the sum.
    Index: the mixed-radix number of the level numbers (basis 1, L0, L0 L1, …). One quantizer is checked against
    the reference (the models use one)."""

    def __init__(self, dim: int, levels: tuple[int, ...], quantizers: int):
        super().__init__()
        if any(level < 2 for level in levels):
            raise ValueError(f"FSQ levels must be at least 2, got {list(levels)}")
        self.levels = levels
        self.quantizers = quantizers
        self.project_in = nn.Linear(dim, len(levels))
        self.project_out = nn.Linear(len(levels), dim)

    def _fsq(self, z: Tensor) -> tuple[Tensor, Tensor]:
        lm1 = torch.tensor(self.levels, dtype=z.dtype, device=z.device) - 1
        step = torch.floor(lm1 * (z.clamp(-1.0, 1.0) + 1) / 2.0 + 0.5)
        codes = (2.0 / lm1) * step - 1.0
        basis = torch.cumprod(torch.tensor([1, *self.levels[:-1]], device=z.device), dim=0).to(torch.int32)
        level_index = (codes + 1.0) / (2.0 / lm1)
        idx = (level_index * basis).sum(dim=-1).round().to(torch.int32)
        return codes, idx

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        orig = x.dtype
        z = self.project_in(x).float()
        lv = torch.tensor(self.levels, dtype=torch.float32, device=z.device)
        clamp = 1 + 1 / (lv - 1)
        z = (z / clamp).tanh() * clamp
        residual, out, indices = z, torch.zeros_like(z), []
        for q in range(self.quantizers):
            scale = lv ** -q
            codes, idx = self._fsq(residual / scale)
            codes = codes * scale
            residual = residual - codes
            out = out + codes
            indices.append(idx)
        return self.project_out(out.to(orig)), torch.stack(indices, dim=-1)


class AudioTokenizer(nn.Module):
    def __init__(self, cfg: AceStepConfig):
        super().__init__()
        self.cfg = cfg
        self.audio_acoustic_proj = nn.Linear(cfg.audio_acoustic_hidden_dim, cfg.enc.hidden_size)
        self.attention_pooler = AttentionPooler(cfg)
        self.quantizer = ResidualFSQ(cfg.fsq_dim, cfg.fsq_input_levels, cfg.fsq_input_num_quantizers)

    def forward(self, x: Tensor, silence: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """``x`` [B, T, latent], ``silence`` [1, L, latent], ``mask`` [B, T] (ones if None) -> quantized
        [B, ceil(T/P), hidden], indices [B, ceil(T/P), quantizers] int32, 5 Hz mask [B, ceil(T/P)] float."""
        p = self.cfg.pool_window_size
        b, length, _ = x.shape
        if mask is None:
            mask = torch.ones(b, length, dtype=x.dtype, device=x.device)
        if length % p:
            pad = p - length % p
            if silence.shape[1] < pad:
                raise ValueError(f"the silence latent has {silence.shape[1]} frames, {pad} are needed for padding")
            x = torch.cat([x, silence[:1, :pad].to(x).repeat(b, 1, 1)], dim=1)
            mask = F.pad(mask, (0, pad), value=0)
        x = x.reshape(b, x.shape[1] // p, p, x.shape[-1])
        groups = x.shape[1]
        chunk = math.ceil(mask.shape[1] / groups)
        mask5 = F.max_pool1d(mask.to(x.dtype).unsqueeze(1), kernel_size=chunk, stride=chunk,
                             ceil_mode=True).squeeze(1)
        quantized, indices = self.quantizer(self.attention_pooler(self.audio_acoustic_proj(x)))
        return quantized, indices, mask5


class AudioDetokenizer(EncoderStack):
    def __init__(self, cfg: AceStepConfig):
        super().__init__(cfg, cfg.enc.hidden_size, cfg.num_attention_pooler_hidden_layers)
        self.special_tokens = nn.Parameter(torch.zeros(1, cfg.pool_window_size, cfg.enc.hidden_size))
        self.proj_out = nn.Linear(cfg.enc.hidden_size, cfg.audio_acoustic_hidden_dim)

    def forward(self, tokens: Tensor) -> Tensor:
        # tokens [B, T5, hidden] -> [B, T5 * P, latent]
        b, t, d = tokens.shape
        p = self.cfg.pool_window_size
        x = self.embed_tokens(tokens).unsqueeze(2).repeat(1, 1, p, 1) + self.special_tokens.expand(b, t, -1, -1)
        h = self.proj_out(self.run(x.reshape(b * t, p, d)))
        return h.reshape(b, t * p, h.shape[-1])
