"""What an ACE-Step job costs before it starts, from the configs alone (nothing loaded): parameters from
the official key layout, FLOPs of the text encoders, the DiT steps and the VAE decode, and the peak memory of the
device it runs on (weights, plus the largest activation: the DiT's tokens or the decoder's widest layer).

A DiT pass costs 2 x its decoder parameters per patch token (``T / patch`` tokens, T = 25 a second) plus
attention: ``4 T'^2 H`` per layer for self-attention (a sliding layer only ``2w + 1`` keys a token) and ``4 T' S H``
for cross-attention over ``S`` encoder tokens. Guidance (base/SFT, scale > 1) doubles the batch. The decoder is
``engine.backends.diffrhythm.cost.decoder_flops`` with the ACE-Step VAE's shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

LOAD_S_PER_GB = 3.0
#: fractions of the float32 matrix-product rate ``engine.precision`` measures (about 190 GFLOP/s there) that each
#: part reached on the shared 2-core VM (``benchmarks/ace_step_cpu.py``, load 3-4.5, 60 s song): real-size DiT
#: layers over 750 tokens 47-68 GFLOP/s in float32, the real-size decoder 30 GFLOP/s (plain, float32); with the
#: feed-forward products in bfloat16 the DiT ran 1.7x faster, the decoder's inference form in bfloat16 1.8x
#: a song longer than this many latent frames (25 a second) is decoded in overlapping windows of it (``pipeline.decode``)
DECODE_CHUNK = 256
DECODE_OVERLAP = 32
CPU_EFFICIENCY = {"text": 0.3, "dit": 0.3, "decode": 0.16, "encode": 0.16}
CPU_EFFICIENCY_LOW = {"text": 0.3, "dit": 0.5, "decode": 0.28, "encode": 0.28}
#: encoder tokens a song sends to the cross-attention: caption prompt + lyrics + one timbre slot (rough)
ENCODER_TOKENS = 600
#: bytes of a weight and an activation as the backend runs the model (float32, on the CPU and on a GPU alike)
FLOAT_BYTES = 4


def count(shapes: Mapping[str, tuple[int, ...]], prefix: str = "") -> int:
    total = 0
    for k, s in shapes.items():
        if k.startswith(prefix):
            n = 1
            for d in s:
                n *= d
            total += n
    return total


def dit_flops(cfg: Any, frames: int, encoder_tokens: int = ENCODER_TOKENS) -> float:
    """FLOPs of one DiT pass over one item of ``frames`` latent frames."""
    from .layout import dit_shapes

    tokens = -(-frames // cfg.patch_size)
    h = cfg.dit.hidden_size
    linear = 2.0 * tokens * count(dit_shapes(cfg), "decoder.layers.")
    attention = 0.0
    for i in range(cfg.num_hidden_layers):
        w = cfg.window(i)
        keys = tokens if w is None else min(tokens, 2 * w + 1)
        attention += 4.0 * tokens * keys * h + 4.0 * tokens * encoder_tokens * h
    return linear + attention


def vae_shape(vae: Any) -> dict[str, Any]:
    return {"channels": vae.decoder_channels, "c_mults": tuple(vae.channel_multiples),
            "strides": tuple(vae.downsampling_ratios), "latent": vae.decoder_input_channels,
            "audio": vae.audio_channels}


def job_flops(dit: Any, vae: Any, text: Any, frames: int, calls: int, guided: bool, encode_frames: int = 0
              ) -> dict[str, float]:
    """FLOPs by part for a job: the text encoder over the caption prompt, ``calls`` DiT passes (twice the items
    when guided), the decode, and the encode of ``encode_frames`` of source audio (an edit or cover of a take
    that has no saved latent; the encoder mirrors the decoder's work at the encoder's width)."""
    from engine.backends.diffrhythm.cost import decoder_flops

    from .layout import qwen3_shapes

    text_f = 2.0 * 256 * count(qwen3_shapes(text), "layers.")
    dit_f = calls * (2 if guided else 1) * dit_flops(dit, frames)
    dec = decoder_flops(frames, vae_shape(vae))
    enc = 0.0
    if encode_frames:
        enc_shape = {**vae_shape(vae), "channels": vae.encoder_hidden_size}
        enc = decoder_flops(encode_frames, enc_shape)
    return {"text": text_f, "dit": dit_f, "decode": dec, "encode": enc}


def weights_bytes(dit: Any, vae: Any, text: Any, per_param: int) -> int:
    from .layout import dit_shapes, qwen3_shapes, vae_shapes

    return per_param * (count(dit_shapes(dit)) + count(vae_shapes(vae)) + count(qwen3_shapes(text)))


def peak_bytes(dit: Any, vae: Any, text: Any, frames: int, guided: bool, *, per: int = FLOAT_BYTES,
               decode_chunk: int = 0) -> int:
    """Peak memory of a job on its device (GPU memory on a GPU): the weights at ``per`` bytes each, plus the larger
    of the DiT's activations (a few [tokens, 6H] buffers and one attention matrix a head at a time) and the
    decoder's widest layer over the frames decoded at once (``decode_chunk`` frames when it decodes in chunks,
    else all of them: the backend decodes a song in one pass), plus 0.5 GiB for the runtime."""
    items = 2 if guided else 1
    tokens = -(-frames // dit.patch_size)
    h = dit.dit.hidden_size
    dit_act = items * (12 * tokens * h + tokens * max(tokens, ENCODER_TOKENS)) * per
    n = len(vae.downsampling_ratios)
    widest = max(vae.decoder_channels * (1, *vae.channel_multiples)[n - i] * _prod(vae.downsampling_ratios[n - i:])
                 for i in range(n + 1))
    decoded = decode_chunk or frames
    dec_act = 4 * widest * decoded * per  # a few buffers of the decoder's widest layer
    return weights_bytes(dit, vae, text, per) + max(dit_act, dec_act) + 2**29


def _prod(xs: Any) -> int:
    out = 1
    for x in xs:
        out *= x
    return out


def seconds(flops: Mapping[str, float], *, rate_gflops: float, load_gb: float = 0.0,
            efficiency: Mapping[str, float] | None = None) -> float:
    """Wall seconds: each part's FLOPs at ``rate_gflops`` times its ``efficiency`` (1 when not given), plus loading
    ``load_gb`` of weights."""
    eff = efficiency or {}
    return sum(f / (max(rate_gflops * eff.get(k, 1.0), 1e-3) * 1e9) for k, f in flops.items()) + \
        load_gb * LOAD_S_PER_GB
