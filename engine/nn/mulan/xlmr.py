"""The XLM-RoBERTa encoder (post-LN BERT) MuQ-MuLan reads text with; names follow ``mulan.text.model.*``.

Attention runs through ``scaled_dot_product_attention`` with no mask when nothing is padded, as transformers'
"sdpa" path does: that is what reproduces the reference to the last bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F


@dataclass(frozen=True)
class XLMRConfig:
    vocab_size: int = 250002
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    max_position_embeddings: int = 514
    type_vocab_size: int = 1
    pad_token_id: int = 1
    layer_norm_eps: float = 1e-5

    @property
    def max_tokens(self) -> int:
        """Positions start after the pad id, so this many tokens fit (512 for the real model)."""
        return self.max_position_embeddings - self.pad_token_id - 1


class Embeddings(nn.Module):
    def __init__(self, cfg: XLMRConfig):
        super().__init__()
        self.pad = cfg.pad_token_id
        self.word_embeddings = nn.Embedding(cfg.vocab_size, cfg.hidden_size, padding_idx=cfg.pad_token_id)
        self.position_embeddings = nn.Embedding(cfg.max_position_embeddings, cfg.hidden_size,
                                                padding_idx=cfg.pad_token_id)
        self.token_type_embeddings = nn.Embedding(cfg.type_vocab_size, cfg.hidden_size)
        self.LayerNorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)  # checkpoint name

    def forward(self, ids: Tensor) -> Tensor:
        mask = ids.ne(self.pad).int()
        positions = (torch.cumsum(mask, dim=1).type_as(mask) * mask).long() + self.pad
        x = self.word_embeddings(ids) + self.token_type_embeddings(torch.zeros_like(ids))
        x += self.position_embeddings(positions)
        return self.LayerNorm(x)


class SelfAttention(nn.Module):
    def __init__(self, cfg: XLMRConfig):
        super().__init__()
        self.heads = cfg.num_attention_heads
        self.query = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.key = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.value = nn.Linear(cfg.hidden_size, cfg.hidden_size)

    def _split(self, x: Tensor) -> Tensor:
        b, n, d = x.shape
        return x.view(b, n, self.heads, d // self.heads).permute(0, 2, 1, 3)

    def forward(self, x: Tensor, mask: Tensor | None) -> Tensor:
        q, k, v = self._split(self.query(x)), self._split(self.key(x)), self._split(self.value(x))
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=0.0, is_causal=False)
        b, n = x.shape[:2]
        return out.transpose(1, 2).reshape(b, n, -1)


class DenseNorm(nn.Module):
    """``LayerNorm(dense(x) + residual)``: the attention output and the layer output of a post-LN block."""

    def __init__(self, cin: int, cout: int, eps: float):
        super().__init__()
        self.dense = nn.Linear(cin, cout)
        self.LayerNorm = nn.LayerNorm(cout, eps=eps)

    def forward(self, x: Tensor, residual: Tensor) -> Tensor:
        return self.LayerNorm(self.dense(x) + residual)


class Attention(nn.Module):
    def __init__(self, cfg: XLMRConfig):
        super().__init__()
        self.self = SelfAttention(cfg)
        self.output = DenseNorm(cfg.hidden_size, cfg.hidden_size, cfg.layer_norm_eps)

    def forward(self, x: Tensor, mask: Tensor | None) -> Tensor:
        return self.output(self.self(x, mask), x)


class Intermediate(nn.Module):
    def __init__(self, cfg: XLMRConfig):
        super().__init__()
        self.dense = nn.Linear(cfg.hidden_size, cfg.intermediate_size)

    def forward(self, x: Tensor) -> Tensor:
        return F.gelu(self.dense(x))


class Layer(nn.Module):
    def __init__(self, cfg: XLMRConfig):
        super().__init__()
        self.attention = Attention(cfg)
        self.intermediate = Intermediate(cfg)
        self.output = DenseNorm(cfg.intermediate_size, cfg.hidden_size, cfg.layer_norm_eps)

    def forward(self, x: Tensor, mask: Tensor | None) -> Tensor:
        a = self.attention(x, mask)
        return self.output(self.intermediate(a), a)


class Encoder(nn.Module):
    def __init__(self, cfg: XLMRConfig):
        super().__init__()
        self.layer = nn.ModuleList([Layer(cfg) for _ in range(cfg.num_hidden_layers)])


class XLMRoberta(nn.Module):
    """ids [B, n] (+ attention_mask) -> last hidden state [B, n, hidden]. The pooler is not built (unused)."""

    def __init__(self, cfg: XLMRConfig):
        super().__init__()
        self.cfg = cfg
        self.embeddings = Embeddings(cfg)
        self.encoder = Encoder(cfg)

    def forward(self, ids: Tensor, attention_mask: Tensor | None = None,
                taps: dict[str, Tensor] | None = None) -> Tensor:
        if ids.shape[1] > self.cfg.max_tokens:
            raise ValueError(f"{ids.shape[1]} tokens; the text encoder reads at most {self.cfg.max_tokens}")
        h = self.embeddings(ids)
        if taps is not None:
            taps["xlmr_embeddings"] = h
        mask = None
        if attention_mask is not None and not bool(attention_mask.all()):
            keep = attention_mask[:, None, None, :].to(h.dtype)
            mask = (1.0 - keep).masked_fill((1.0 - keep).bool(), torch.finfo(h.dtype).min)
            mask = mask.expand(ids.shape[0], 1, ids.shape[1], ids.shape[1])
        for i, layer in enumerate(self.encoder.layer):
            h = layer(h, mask)
            if taps is not None:
                taps[f"xlmr_layer{i}"] = h
        return h
