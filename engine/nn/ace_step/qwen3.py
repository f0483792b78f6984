"""The Qwen3 text encoder of ACE-Step 1.5 (``Qwen3-Embedding-0.6B/``, transformers' ``Qwen3Model``): token
embedding, causal pre-norm layers with q/k RMSNorm, RoPE and GQA, final RMSNorm. Key names as the file stores them
(``embed_tokens.weight``, ``layers.N.…``, ``norm.weight``; no ``model.`` prefix).

The reference runs it WITHOUT an attention mask on right-padded ids (the pad positions get real hidden states that
later reach the DiT), and embeds lyrics with the embedding table alone."""

from __future__ import annotations

from torch import Tensor, nn

from .config import EncoderDims, Qwen3Config
from .layers import EncoderLayer, RMSNorm, additive_mask, rope


class Qwen3TextEncoder(nn.Module):
    def __init__(self, cfg: Qwen3Config):
        super().__init__()
        self.cfg = cfg
        dims = EncoderDims(cfg.hidden_size, cfg.intermediate_size, cfg.num_attention_heads,
                           cfg.num_key_value_heads, cfg.head_dim)
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.layers = nn.ModuleList(EncoderLayer(dims, cfg.rms_norm_eps, cfg.attention_bias)
                                    for _ in range(cfg.num_hidden_layers))
        self.norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)

    def _check(self, ids: Tensor) -> None:
        if ids.ndim != 2:
            raise ValueError(f"token ids must be [batch, length], got shape {tuple(ids.shape)}")
        if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= self.cfg.vocab_size):
            raise ValueError(f"token id out of range 0..{self.cfg.vocab_size - 1} (min {int(ids.min())}, "
                             f"max {int(ids.max())})")

    def forward(self, ids: Tensor) -> Tensor:
        """last_hidden_state [B, L, hidden] of ``ids`` [B, L], causal, no padding mask (as the reference)."""
        self._check(ids)
        x = self.embed_tokens(ids)
        length = ids.shape[1]
        cos, sin = rope(length, self.cfg.head_dim, self.cfg.rope_theta, x.device)
        masks: dict[int | None, Tensor | None] = {}
        for i, layer in enumerate(self.layers):
            w = self.cfg.window(i)
            if w not in masks:
                # transformers: 0 <= i - j < window, i.e. our inclusive bound window - 1
                masks[w] = additive_mask(length, window=None if w is None else w - 1, causal=True, dtype=x.dtype,
                                         device=x.device)
            x = layer(x, (cos.to(x.dtype), sin.to(x.dtype)), masks[w])
        return self.norm(x)

    def embed(self, ids: Tensor) -> Tensor:
        """The lyric path: the embedding table alone, [B, L, hidden]."""
        self._check(ids)
        return self.embed_tokens(ids)
