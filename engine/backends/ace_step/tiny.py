"""Tiny random ACE-Step 1.5 models in the official download layout, so the backend runs end to end in CI:
``acestep-v15-turbo/`` (and ``acestep-v15-base/``), ``vae/`` and ``Qwen3-Embedding-0.6B/``, each with the official
file names and key names (``layout.py``) at tiny sizes: the fixture set's DiT dims (hidden 64, 2 layers, 4/2 heads,
sliding window 4), a 32-wide Qwen3 with a small byte-level BPE tokenizer of our own (the Qwen2 split regex, NFC,
``<|endoftext|>``/``<|im_start|>``/``<|im_end|>`` after the merges), and an Oobleck VAE with a narrow decoder but
an encoder 128 wide, so that it encodes to the 64 latent channels the DiT works in (an edit of a take made
elsewhere, a cover of a guide take) at the real hop of 1920 samples. They make noise, by design.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .catalog import TEXT_FOLDER, VAE_FOLDER, VARIANTS

TINY_ID = "acestep-v15-tiny-random"
SILENCE_FRAMES = 800
LATENT = 64

_DIT: dict[str, Any] = {
    "architectures": ["AceStepConditionGenerationModel"], "model_type": "acestep", "dtype": "float32",
    "attention_bias": False, "attention_dropout": 0.0, "audio_acoustic_hidden_dim": LATENT, "data_proportion": 0.5,
    "fsq_dim": 64, "fsq_input_levels": [8, 8, 8, 5, 5, 5], "fsq_input_num_quantizers": 1, "head_dim": 16,
    "hidden_act": "silu", "hidden_size": 64, "in_channels": 192, "initializer_range": 0.1, "intermediate_size": 128,
    "layer_types": ["sliding_attention", "full_attention"], "lyric_alignment_layers_config": None,
    "max_position_embeddings": 32768, "num_attention_heads": 4, "num_attention_pooler_hidden_layers": 1,
    "num_audio_decoder_hidden_layers": 2, "num_hidden_layers": 2, "num_key_value_heads": 2,
    "num_lyric_encoder_hidden_layers": 2, "num_timbre_encoder_hidden_layers": 1, "patch_size": 2,
    "pool_window_size": 5, "rms_norm_eps": 1e-06, "rope_scaling": None, "rope_theta": 1000000, "sliding_window": 4,
    "text_hidden_dim": 32, "timbre_fix_frame": 24, "timbre_hidden_dim": 64, "timestep_mu": -0.4,
    "timestep_sigma": 1.0, "use_cache": True, "use_sliding_window": True, "vocab_size": 64003,
}
_QWEN: dict[str, Any] = {
    "architectures": ["Qwen3Model"], "model_type": "qwen3", "attention_bias": False, "attention_dropout": 0.0,
    "dtype": "float32", "head_dim": 8, "hidden_act": "silu", "hidden_size": 32, "initializer_range": 0.1,
    "intermediate_size": 64, "layer_types": ["full_attention", "full_attention"], "max_position_embeddings": 32768,
    "max_window_layers": 28, "num_attention_heads": 4, "num_hidden_layers": 2, "num_key_value_heads": 2,
    "rms_norm_eps": 1e-06, "rope_scaling": None, "rope_theta": 1000000, "sliding_window": None,
    "tie_word_embeddings": True, "use_cache": True, "use_sliding_window": False,
}
_VAE: dict[str, Any] = {"_class_name": "AutoencoderOobleck", "audio_channels": 2, "channel_multiples": [1, 1, 1, 1, 1],
        "decoder_channels": 8, "decoder_input_channels": 64, "downsampling_ratios": [2, 4, 4, 6, 10],
        "encoder_hidden_size": 128, "sampling_rate": 48000}
SPECIALS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
_CORPUS = [
    "# Instruction\nFill the audio semantic mask based on the given conditions:\n\n# Caption\n",
    "Repaint the mask area based on the given conditions:", "Generate audio semantic tokens based on the given "
    "conditions:", "# Metas\n- bpm: 120\n- timesignature: 4\n- keyscale: C major\n- duration: 30 seconds\n",
    "# Languages\nen\n\n# Lyric\n[Verse]\n[Chorus]\n[Pre-Chorus]\n[Bridge]\n[Intro]\n[Outro]\n[Instrumental]",
    "Upbeat synth pop with punchy drums and a bright female vocal. Slow acoustic folk ballad, fingerpicked guitar.",
    "Neon lights are calling me, dancing in the city, we are alive tonight. Minor major sharp flat N/A unknown.",
    "rock, hip hop, jazz, electronic, piano, bass, strings, male vocal, lofi, house, techno, ambient, soul, funk",
]


def _tokenizer(folder: Path, vocab_size: int = 400) -> int:
    """A byte-level BPE with the Qwen2 pre-tokenizer and the three specials after it; returns its size."""
    from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers
    from tokenizers.models import BPE
    from tokenizers.trainers import BpeTrainer

    split = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|"
             r"\s+(?!\S)|\s+")
    tok = Tokenizer(BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(split), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = BpeTrainer(vocab_size=vocab_size, show_progress=False,
                         initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(_CORPUS, trainer=trainer)
    tok.add_special_tokens(list(SPECIALS))
    tok.save(str(folder / "tokenizer.json"))
    size = tok.get_vocab_size()
    added = {str(tok.token_to_id(s)): {"content": s, "lstrip": False, "normalized": False, "rstrip": False,
                                       "single_word": False, "special": True} for s in SPECIALS}
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "added_tokens_decoder": added, "bos_token": None, "clean_up_tokenization_spaces": False,
        "eos_token": "<|im_end|>", "errors": "replace", "model_max_length": 32768, "pad_token": "<|endoftext|>",
        "tokenizer_class": "Qwen2Tokenizer", "unk_token": None}, indent=2))
    return size


def _random(shapes: dict[str, tuple[int, ...]], gen: Any, std: float) -> dict[str, Any]:
    """Random weights for every key: norms near 1, Snake parameters near 0 (log scale: alpha = beta = 1), weight-
    norm magnitudes equal to their directions' norms, matrices normal with ``std`` over sqrt(fan-in)."""
    import torch

    out = {}
    for k, shape in shapes.items():
        if k.endswith(("norm.weight", "layernorm.weight", "norm_out.weight")) and len(shape) == 1:
            t = 1.0 + 0.05 * torch.randn(shape, generator=gen)
        elif k.endswith((".alpha", ".beta")):
            t = 0.05 * torch.randn(shape, generator=gen)
        elif k.endswith(".bias"):
            t = 0.02 * torch.randn(shape, generator=gen)
        elif len(shape) >= 2 and not k.endswith(("special_token", "special_tokens", "scale_shift_table",
                                                 "null_condition_emb")):
            fan_in = 1
            for s in shape[1:]:
                fan_in *= s
            t = torch.randn(shape, generator=gen) * (std / max(1.0, fan_in) ** 0.5)
        else:
            t = 0.1 * torch.randn(shape, generator=gen)
        out[k] = t.float().contiguous()
    for k in [k for k in out if k.endswith(".weight_g")]:
        v = out[k[: -len("_g")] + "_v"]
        out[k] = v.flatten(1).norm(dim=1).reshape(-1, 1, 1).contiguous()
    return out


def create_tiny_ace_step(models: Path, seed: int = 0, variants: tuple[str, ...] = ("turbo", "base"),
                         width: int = 64) -> list[Path]:
    """Write the tiny models into ``models`` (the official layout); returns the DiT folders written. ``width``:
    the DiT and encoder width (64; 256 and more count as a real model for ``engine.precision``)."""
    import torch
    from safetensors.torch import save_file

    from engine.nn.ace_step.config import parse_acestep, parse_qwen3, parse_vae

    from .layout import dit_shapes, qwen3_shapes, vae_shapes

    models = Path(models)
    gen = torch.Generator().manual_seed(int(seed))
    text = models / TEXT_FOLDER
    text.mkdir(parents=True, exist_ok=True)
    vocab = _tokenizer(text)
    eos = vocab - len(SPECIALS)
    qcfg: dict[str, Any] = {**_QWEN, "vocab_size": vocab}
    qcfg |= {"bos_token_id": eos, "eos_token_id": eos}
    (text / "config.json").write_text(json.dumps(qcfg, indent=2))
    save_file(_random(qwen3_shapes(parse_qwen3(qcfg, "tiny")), gen, 1.0), str(text / "model.safetensors"))
    vae = models / VAE_FOLDER
    vae.mkdir(parents=True, exist_ok=True)
    (vae / "config.json").write_text(json.dumps(_VAE, indent=2))
    save_file(_random(vae_shapes(parse_vae(_VAE, "tiny")), gen, 1.0),
              str(vae / "diffusion_pytorch_model.safetensors"))
    silence = 0.3 * torch.randn(1, LATENT, SILENCE_FRAMES, generator=gen)
    out = []
    for variant in variants:
        folder = models / VARIANTS[variant]
        folder.mkdir(parents=True, exist_ok=True)
        cfg = {**_DIT, "hidden_size": width, "fsq_dim": width, "intermediate_size": 2 * width,
               "model_version": variant, "auto_map": {
            "AutoConfig": "configuration_acestep_v15.AceStepConfig",
            "AutoModel": f"modeling_acestep_v15_{'turbo' if variant == 'turbo' else 'base'}."
                         "AceStepConditionGenerationModel"}}
        (folder / "config.json").write_text(json.dumps(cfg, indent=2))
        save_file(_random(dit_shapes(parse_acestep(cfg, "tiny")), gen, 1.0), str(folder / "model.safetensors"))
        torch.save(silence.clone(), folder / "silence_latent.pt")
        (folder / "MODEL_ID").write_text(f"{TINY_ID}-{variant}\n")
        out.append(folder)
    return out
