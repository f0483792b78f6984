"""Tiny random Stable Audio Open models in the official layout, so loops and beds run end to end in CI:
``stable-audio-open-small/`` (rectified flow, pingpong) and ``stable-audio-open-1.0/`` (v, DPM++ 3M SDE), each a
``model_config.json`` with tiny numbers and the weights (``model.ckpt`` for Small, ``model.safetensors`` for 1.0), and
``t5-base/`` with a tiny T5 and a small Unigram tokenizer of our own (``tokenizer.json``). They make noise, by design.
"""

from __future__ import annotations

import json
import string
from pathlib import Path
from typing import Any

TINY_ID = "stable-audio-tiny-random"
T5_WIDTH = 32


def _config(small: bool, sample_size: int) -> dict[str, Any]:
    conditioners: list[dict[str, Any]] = [
        {"id": "prompt", "type": "t5", "config": {"t5_model_name": "t5-base", "max_length": 64 if small else 128}}]
    if not small:
        conditioners.append({"id": "seconds_start", "type": "number", "config": {"min_val": 0, "max_val": 512}})
    conditioners.append({"id": "seconds_total", "type": "number",
                         "config": {"min_val": 0, "max_val": 256 if small else 512}})
    numbers = ["seconds_total"] if small else ["seconds_start", "seconds_total"]
    oob = {"channels": 4, "c_mults": [1, 2, 4, 8], "strides": [2, 4, 4, 8], "use_snake": True}
    dit: dict[str, Any] = {"io_channels": 8, "embed_dim": 64, "depth": 2, "num_heads": 2, "cond_token_dim": T5_WIDTH,
                           "global_cond_dim": T5_WIDTH * len(numbers), "transformer_type": "continuous_transformer"}
    if small:
        dit["attn_kwargs"] = {"qk_norm": "ln"}
    else:
        dit["project_cond_tokens"] = False
    diffusion: dict[str, Any] = {"cross_attention_cond_ids": ["prompt", *numbers], "global_cond_ids": numbers,
                                 "type": "dit", "config": dit}
    if small:
        diffusion["diffusion_objective"] = "rf_denoiser"
    return {"model_type": "diffusion_cond", "sample_size": sample_size, "sample_rate": 44100, "audio_channels": 2,
            "model": {"pretransform": {"type": "autoencoder", "iterate_batch": True, "config": {
                "encoder": {"type": "oobleck", "config": {"in_channels": 2, **oob, "latent_dim": 16}},
                "decoder": {"type": "oobleck", "config": {"out_channels": 2, **oob, "latent_dim": 8,
                                                          "final_tanh": False}},
                "bottleneck": {"type": "vae"}, "latent_dim": 8, "downsampling_ratio": 256, "io_channels": 2}},
                "conditioning": {"configs": conditioners, "cond_dim": T5_WIDTH}, "diffusion": diffusion,
                "io_channels": 8}}


def _tokenizer(path: Path) -> int:
    """A Unigram tokenizer over letters, digits and some words, T5's special ids (pad 0, </s> 1, <unk> 2)."""
    from tokenizers import Tokenizer, normalizers, pre_tokenizers
    from tokenizers.models import Unigram

    words = ["bpm", "bars", "loop", "drum", "house", "techno", "bass", "piano", "lofi", "beat", "kick", "snare"]
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0)]
    vocab += [(f"▁{w}", -3.0) for w in words]
    vocab += [(c, -4.0) for c in string.ascii_lowercase + string.digits + ",.!-"]
    vocab += [(f"▁{c}", -5.0) for c in string.ascii_lowercase + string.digits]
    tok = Tokenizer(Unigram(vocab, unk_id=2, byte_fallback=False))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(),
                                                 pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")])
    tok.save(str(path))
    return len(vocab)


def create_tiny_stable_audio(models: Path, seed: int = 0) -> list[Path]:
    """Write both tiny models and the tiny T5 into ``models``; returns the model folders. The windows are the
    real models' lengths as multiples of the tiny VAE's 256: Small 524,288 samples (11.9 s: 4 bars at 128 bpm fit,
    8 do not), 1.0 1,048,576 (23.8 s; the real one renders 47.6 s)."""
    import torch
    from safetensors.torch import save_file

    from engine.nn.sao.config import parse
    from engine.nn.sao.model import StableAudio
    from engine.nn.sao.t5 import T5Config, T5Encoder

    torch.manual_seed(seed)
    t5_dir = models / "t5-base"
    t5_dir.mkdir(parents=True, exist_ok=True)
    n_vocab = _tokenizer(t5_dir / "tokenizer.json")
    t5cfg = T5Config(vocab_size=n_vocab, d_model=T5_WIDTH, d_kv=8, d_ff=64, num_layers=2, num_heads=4)
    t5 = T5Encoder(t5cfg)
    for p in t5.parameters():
        torch.nn.init.normal_(p, std=0.2)
    save_file({k: v.contiguous() for k, v in t5.state_dict().items()}, str(t5_dir / "model.safetensors"))
    (t5_dir / "config.json").write_text(json.dumps({**t5cfg.__dict__, "model_type": "t5",
                                                    "feed_forward_proj": "relu"}, indent=1))
    out = []
    for folder, small in (("stable-audio-open-small", True), ("stable-audio-open-1.0", False)):
        d = models / folder
        d.mkdir(parents=True, exist_ok=True)
        cfg = _config(small, 524288 if small else 1048576)
        (d / "model_config.json").write_text(json.dumps(cfg, indent=1))
        model = StableAudio(parse(cfg, str(d / "model_config.json")))
        for p in model.parameters():
            torch.nn.init.normal_(p, std=0.05)
        for name, buf in model.named_buffers():
            if name.endswith("beta"):
                buf.zero_()
        sd = {k: v.contiguous() for k, v in model.state_dict().items()}
        if small:
            torch.save({"state_dict": sd}, d / "model.ckpt")
        else:
            save_file(sd, str(d / "model.safetensors"))
        (d / "MODEL_ID").write_text(f"{TINY_ID}-{'small' if small else '1.0'}\n")
        out.append(d)
    return out
