"""A tiny random MuQ-MuLan in the official folder layout (three folders, real key names, a small Unigram
tokenizer), so that text and audio styles run end to end in CI without the 2.6 GB download. Its vectors are
random functions of the prompt or clip: different inputs give different vectors, and that is all they mean."""

from __future__ import annotations

import json
import string
from pathlib import Path

MULAN = {
    "mulan": {"sr": 24000, "clip_secs": 10, "dim_latent": 512},
    "audio_model": {"name": "OpenMuQ/MuQ-large-msd-iter", "model_dim": 32, "use_layer_idx": -1},
    "text_model": {"name": "xlm-roberta-base", "model_dim": None, "use_layer_idx": -1},
    "audio_transformer": {"dim": 48, "tf_depth": 1, "heads": 4, "dim_head": 16, "ff_mult": 4},
    "text_transformer": {"dim": 48, "tf_depth": 2, "heads": 4, "dim_head": 16, "ff_mult": 4, "max_seq_len": 1024},
}
MUQ = {
    "hop_length": 240, "n_mels": 128, "conv_dim": 4, "encoder_dim": 32, "encoder_depth": 2,
    "stat": {"melspec_2048_mean": 6.768444971712967, "melspec_2048_std": 18.417922652295623},
    "w2v2_config": {"num_attention_heads": 4, "intermediate_size": 64, "conv_depthwise_kernel_size": 31,
                    "rotary_embedding_base": 10000, "layer_norm_eps": 1e-5, "hidden_act": "swish",
                    "position_embeddings_type": "rotary", "num_hidden_layers": 24, "hidden_size": 32},
}
WORDS = ("pop rock jazz hip hop rap trap lo-fi boom bap synth wave house techno ambient folk country metal "
         "soul funk disco piano guitar bass drums strings vocal male female dreamy dark warm bright slow fast "
         "bpm chill epic sad happy night").split()


def _tokenizer_json() -> str:
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    pieces = [("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    seen = {p for p, _ in pieces}
    for w in WORDS:
        for piece in ("\u2581" + w,):
            if piece not in seen:
                pieces.append((piece, -5.0))
                seen.add(piece)
    for ch in "\u2581" + string.ascii_lowercase + string.ascii_uppercase + string.digits + ",.-!?'&":
        if ch not in seen:
            pieces.append((ch, -10.0))
            seen.add(ch)
    pieces.append(("<mask>", 0.0))
    tok = Tokenizer(models.Unigram(pieces, unk_id=3, byte_fallback=False))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Strip(),
                                           normalizers.Replace(Regex(r"\s+"), " ")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always")
    tok.post_processor = processors.TemplateProcessing(single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
                                                       special_tokens=[("<s>", 0), ("</s>", 2)])
    return tok.to_str()


def create_tiny_encoder(models: Path, seed: int = 0) -> Path:
    """Write the tiny encoder's three folders into the model folder ``models``; returns its MuQ-MuLan folder."""
    import torch

    from engine.nn.mulan import MuQMuLan, MuQMuLanConfig

    tok = _tokenizer_json()
    vocab = len(json.loads(tok)["model"]["vocab"])
    xlmr = {"model_type": "xlm-roberta", "vocab_size": vocab, "hidden_size": 48, "num_hidden_layers": 2,
            "num_attention_heads": 4, "intermediate_size": 96, "max_position_embeddings": 514, "type_vocab_size": 1,
            "pad_token_id": 1, "layer_norm_eps": 1e-5, "hidden_act": "gelu"}
    model = MuQMuLan(MuQMuLanConfig.from_json(MULAN, MUQ, xlmr))
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.ndim == 1 and ("norm" in name.lower() or "gamma" in name or "scale" in name
                                or name.endswith(("bn1.weight", "bn2.weight", "bn3.weight", "batch_norm.weight"))):
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=g))
            elif p.ndim == 1:
                p.copy_(0.05 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(torch.randn(p.shape, generator=g) / max(1, p[0].numel()) ** 0.5)
    root = Path(models)
    folders = {"MuQ-MuLan-large": MULAN, "OpenMuQ/MuQ-large-msd-iter": MUQ, "xlm-roberta-base": xlmr}
    for sub, cfg in folders.items():
        (root / sub).mkdir(parents=True, exist_ok=True)
        (root / sub / "config.json").write_text(json.dumps(cfg, indent=2))
    (root / "xlm-roberta-base" / "tokenizer.json").write_text(tok, encoding="utf-8")
    (root / "xlm-roberta-base" / "tokenizer_config.json").write_text('{"model_max_length": 512}')
    sd = {k: v.contiguous() for k, v in model.state_dict().items()}
    torch.save(sd, root / "MuQ-MuLan-large" / "pytorch_model.bin")
    (root / "MuQ-MuLan-large" / "MODEL_ID").write_text("muq-mulan-tiny-random\n")
    return root / "MuQ-MuLan-large"
