"""The official key layout of the three ACE-Step weights files, computed from their configs, and a check of a file
against it from its safetensors header alone (no torch, nothing read but the header).

``dit_shapes`` gives the 677 keys of ``acestep-v15-*/model.safetensors`` (decoder.*, encoder.*, tokenizer.*,
detokenizer.*, null_condition_emb), ``vae_shapes`` the diffusers ``AutoencoderOobleck`` keys (weight-norm
``weight_g``/``weight_v``), ``qwen3_shapes`` a transformers ``Qwen3Model`` without the ``model.`` prefix. The tests
hold them against the fixture set's tiny files and the real files' key list (``keys_full.json``); the tiny models
(``tiny.py``) are written from them; ``models status`` reports a file that does not fit, key by key.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

Shapes = dict[str, tuple[int, ...]]


def _attention(p: str, hidden: int, heads: int, kv: int, head_dim: int, bias: bool = False) -> Shapes:
    out = {f"{p}.q_proj.weight": (heads * head_dim, hidden), f"{p}.k_proj.weight": (kv * head_dim, hidden),
           f"{p}.v_proj.weight": (kv * head_dim, hidden), f"{p}.o_proj.weight": (hidden, heads * head_dim),
           f"{p}.q_norm.weight": (head_dim,), f"{p}.k_norm.weight": (head_dim,)}
    if bias:
        out |= {f"{p}.q_proj.bias": (heads * head_dim,), f"{p}.k_proj.bias": (kv * head_dim,),
                f"{p}.v_proj.bias": (kv * head_dim,), f"{p}.o_proj.bias": (hidden,)}
    return out


def _mlp(p: str, hidden: int, inter: int) -> Shapes:
    return {f"{p}.gate_proj.weight": (inter, hidden), f"{p}.up_proj.weight": (inter, hidden),
            f"{p}.down_proj.weight": (hidden, inter)}


def _qwen_layer(p: str, d: Any, bias: bool = False) -> Shapes:
    """One Qwen3-style layer (pre-norm attention and SiLU-gated MLP): ``d`` has the EncoderDims fields."""
    return {f"{p}.input_layernorm.weight": (d.hidden_size,), f"{p}.post_attention_layernorm.weight": (d.hidden_size,),
            **_attention(f"{p}.self_attn", d.hidden_size, d.num_attention_heads, d.num_key_value_heads, d.head_dim,
                         bias),
            **_mlp(f"{p}.mlp", d.hidden_size, d.intermediate_size)}


def _stack(p: str, d: Any, layers: int, inputs: int, bias: bool) -> Shapes:
    out: Shapes = {f"{p}.embed_tokens.weight": (d.hidden_size, inputs), f"{p}.embed_tokens.bias": (d.hidden_size,),
                   f"{p}.norm.weight": (d.hidden_size,)}
    for i in range(layers):
        out |= _qwen_layer(f"{p}.layers.{i}", d, bias)
    return out


def dit_shapes(cfg: Any) -> Shapes:
    """Keys and shapes of ``model.safetensors`` for an ``engine.nn.ace_step.config.AceStepConfig``."""
    d, e = cfg.dit, cfg.enc
    h, bias = d.hidden_size, cfg.attention_bias
    out: Shapes = {"null_condition_emb": (1, 1, h), "decoder.scale_shift_table": (1, 2, h),
                   "decoder.proj_in.1.weight": (h, cfg.in_channels, cfg.patch_size), "decoder.proj_in.1.bias": (h,),
                   "decoder.proj_out.1.weight": (h, cfg.audio_acoustic_hidden_dim, cfg.patch_size),
                   "decoder.proj_out.1.bias": (cfg.audio_acoustic_hidden_dim,),
                   "decoder.condition_embedder.weight": (h, e.hidden_size), "decoder.condition_embedder.bias": (h,),
                   "decoder.norm_out.weight": (h,)}
    for t in ("time_embed", "time_embed_r"):
        out |= {f"decoder.{t}.linear_1.weight": (h, 256), f"decoder.{t}.linear_1.bias": (h,),
                f"decoder.{t}.linear_2.weight": (h, h), f"decoder.{t}.linear_2.bias": (h,),
                f"decoder.{t}.time_proj.weight": (6 * h, h), f"decoder.{t}.time_proj.bias": (6 * h,)}
    for i in range(cfg.num_hidden_layers):
        p = f"decoder.layers.{i}"
        out |= {f"{p}.scale_shift_table": (1, 6, h), f"{p}.self_attn_norm.weight": (h,),
                f"{p}.cross_attn_norm.weight": (h,), f"{p}.mlp_norm.weight": (h,),
                **_attention(f"{p}.self_attn", h, d.num_attention_heads, d.num_key_value_heads, d.head_dim, bias),
                **_attention(f"{p}.cross_attn", h, d.num_attention_heads, d.num_key_value_heads, d.head_dim, bias),
                **_mlp(f"{p}.mlp", h, d.intermediate_size)}
    eh = e.hidden_size
    out["encoder.text_projector.weight"] = (eh, cfg.text_hidden_dim)
    out |= _stack("encoder.lyric_encoder", e, cfg.num_lyric_encoder_hidden_layers, cfg.text_hidden_dim, bias)
    out |= _stack("encoder.timbre_encoder", e, cfg.num_timbre_encoder_hidden_layers, cfg.timbre_hidden_dim, bias)
    out["encoder.timbre_encoder.special_token"] = (1, 1, eh)
    out |= {"tokenizer.audio_acoustic_proj.weight": (eh, cfg.audio_acoustic_hidden_dim),
            "tokenizer.audio_acoustic_proj.bias": (eh,), "tokenizer.attention_pooler.special_token": (1, 1, eh)}
    out |= _stack("tokenizer.attention_pooler", e, cfg.num_attention_pooler_hidden_layers, eh, bias)
    n = len(cfg.fsq_input_levels)
    out |= {"tokenizer.quantizer.project_in.weight": (n, cfg.fsq_dim), "tokenizer.quantizer.project_in.bias": (n,),
            "tokenizer.quantizer.project_out.weight": (cfg.fsq_dim, n),
            "tokenizer.quantizer.project_out.bias": (cfg.fsq_dim,)}
    out |= _stack("detokenizer", e, cfg.num_attention_pooler_hidden_layers, eh, bias)
    out |= {"detokenizer.special_tokens": (1, cfg.pool_window_size, eh),
            "detokenizer.proj_out.weight": (cfg.audio_acoustic_hidden_dim, eh),
            "detokenizer.proj_out.bias": (cfg.audio_acoustic_hidden_dim,)}
    return out


def qwen3_shapes(cfg: Any) -> Shapes:
    """Keys and shapes of ``Qwen3-Embedding-0.6B/model.safetensors`` (a Qwen3Model: no ``model.`` prefix, no
    ``lm_head``) for an ``engine.nn.ace_step.config.Qwen3Config``."""
    out: Shapes = {"embed_tokens.weight": (cfg.vocab_size, cfg.hidden_size), "norm.weight": (cfg.hidden_size,)}
    for i in range(cfg.num_hidden_layers):
        out |= _qwen_layer(f"layers.{i}", cfg)
    return out


def _wn_conv(p: str, cout: int, cin: int, k: int, bias: bool = True) -> Shapes:
    out = {f"{p}.weight_g": (cout, 1, 1), f"{p}.weight_v": (cout, cin, k)}
    return out | ({f"{p}.bias": (cout,)} if bias else {})


def _snake(p: str, ch: int) -> Shapes:
    return {f"{p}.alpha": (1, ch, 1), f"{p}.beta": (1, ch, 1)}


def _res_units(p: str, ch: int) -> Shapes:
    out: Shapes = {}
    for u in (1, 2, 3):
        q = f"{p}.res_unit{u}"
        out |= {**_snake(f"{q}.snake1", ch), **_wn_conv(f"{q}.conv1", ch, ch, 7), **_snake(f"{q}.snake2", ch),
                **_wn_conv(f"{q}.conv2", ch, ch, 1)}
    return out


def vae_shapes(cfg: Any) -> Shapes:
    """Keys and shapes of ``vae/diffusion_pytorch_model.safetensors`` (diffusers ``AutoencoderOobleck``) for an
    ``engine.nn.ace_step.config.VaeConfig``."""
    m = (1, *cfg.channel_multiples)
    hid, ch, n = cfg.encoder_hidden_size, cfg.decoder_channels, len(cfg.downsampling_ratios)
    out: Shapes = _wn_conv("encoder.conv1", hid, cfg.audio_channels, 7)
    for i, stride in enumerate(cfg.downsampling_ratios):
        cin, cout = hid * m[i], hid * m[i + 1]
        p = f"encoder.block.{i}"
        out |= {**_res_units(p, cin), **_snake(f"{p}.snake1", cin), **_wn_conv(f"{p}.conv1", cout, cin, 2 * stride)}
    out |= {**_snake("encoder.snake1", hid * m[n]), **_wn_conv("encoder.conv2", hid, hid * m[n], 3)}
    out |= _wn_conv("decoder.conv1", ch * m[n], cfg.decoder_input_channels, 7)
    for i, stride in enumerate(reversed(cfg.downsampling_ratios)):
        cin, cout = ch * m[n - i], ch * m[n - i - 1]
        p = f"decoder.block.{i}"
        out |= {**_snake(f"{p}.snake1", cin), f"{p}.conv_t1.weight_g": (cin, 1, 1),
                f"{p}.conv_t1.weight_v": (cin, cout, 2 * stride), f"{p}.conv_t1.bias": (cout,),
                **_res_units(p, cout)}
    out |= {**_snake("decoder.snake1", ch), **_wn_conv("decoder.conv2", cfg.audio_channels, ch, 7, bias=False)}
    return out


def header_shapes(path: Path) -> Shapes:
    """Keys and shapes from a safetensors file's header (the tensors are not read). Raises ``ValueError`` with the
    reason when the file is not safetensors or is truncated."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(8)
        if len(head) < 8:
            raise ValueError(f"truncated ({size} bytes)")
        (n,) = struct.unpack("<Q", head)
        if n > size - 8 or n > 100 * 2**20:
            raise ValueError(f"not safetensors or truncated: its header claims {n:,} bytes, the file has {size:,}")
        try:
            header = json.loads(fh.read(n))
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise ValueError("not a safetensors file (its header is not JSON)") from None
    if not isinstance(header, dict):
        raise ValueError("not a safetensors file (its header is not a JSON object)")
    out: Shapes = {}
    end = 0
    for k, v in header.items():
        if k == "__metadata__":
            continue
        try:
            out[k] = tuple(int(x) for x in v["shape"])
            end = max(end, int(v["data_offsets"][1]))
        except (KeyError, TypeError, ValueError, IndexError):
            raise ValueError(f"not a safetensors file (entry {k!r} has no shape/data_offsets)") from None
    if size < 8 + n + end:
        raise ValueError(f"truncated: {size:,} bytes of the expected {8 + n + end:,}")
    return out


def mismatch(found: Shapes, expected: Shapes, limit: int = 6) -> str | None:
    """A readable report of how ``found`` differs from ``expected`` (missing, unexpected, wrong shape), or None."""
    missing = [k for k in expected if k not in found]
    unexpected = [k for k in found if k not in expected]
    shapes = [f"{k} {list(found[k])} (expected {list(v)})" for k, v in expected.items()
              if k in found and tuple(found[k]) != tuple(v)]
    if not (missing or unexpected or shapes):
        return None
    parts = []
    for what, items in (("missing", missing), ("unexpected", unexpected), ("wrong shape", shapes)):
        if items:
            more = f" and {len(items) - limit} more" if len(items) > limit else ""
            parts.append(f"{len(items)} {what}: {', '.join(items[:limit])}{more}")
    return "; ".join(parts)
