"""Stable Audio Open's files, as the official downloads are, and loading them without running anything in them.

::

    MODELS/stable-audio-open-1.0/model_config.json + model.safetensors (or model.ckpt)
    MODELS/stable-audio-open-small/model_config.json + model.ckpt (or model.safetensors)
    MODELS/t5-base/config.json + model.safetensors (or pytorch_model.bin) + tokenizer.json

The T5 folder may also sit inside the model's folder (``t5/``). Weights: a flat safetensors state dict, or a
``torch.save({"state_dict": ...})`` read with ``weights_only=True``; every key is checked both ways, with a readable
report. Both models are under the Stability AI Community License: free for research, non-commercial use, and
commercial use by individuals and organisations under US$1M annual revenue (an Enterprise licence above that).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import SongBridgeError

from .catalog import FOLDERS, WHERE


class StableAudioFilesError(SongBridgeError):
    """A Stable Audio Open file is missing, unreadable or does not fit; the message names it and why."""


@dataclass(frozen=True)
class StableAudioFiles:
    folder: Path
    config: Path
    weights: Path
    t5: Path

    @property
    def model_id(self) -> str:
        marker = self.folder / "MODEL_ID"
        return marker.read_text().strip() if marker.is_file() else self.folder.name


def locate(folder: Path, models: Path | None = None) -> StableAudioFiles:
    """The files of the model in ``folder``; the T5 in ``folder/t5`` or ``models/t5-base``."""
    config = folder / "model_config.json"
    if not config.is_file():
        raise StableAudioFilesError(f"{config}: not found; {WHERE}")
    weights = next((folder / n for n in ("model.safetensors", "model.ckpt") if (folder / n).is_file()), None)
    if weights is None:
        raise StableAudioFilesError(f"{folder}: no model.safetensors or model.ckpt; {WHERE}")
    t5 = next((p for p in (folder / "t5", *([models / "t5-base"] if models else []), folder.parent / "t5-base")
               if (p / "config.json").is_file()), None)
    if t5 is None:
        raise StableAudioFilesError(f"{folder}: no T5 text encoder (t5-base: config.json, model.safetensors, "
                                    f"tokenizer.json) in {folder / 't5'} or {folder.parent / 't5-base'}; {WHERE}")
    return StableAudioFiles(folder, config, weights, t5)


def find(models: Path, kind: str) -> StableAudioFiles | None:
    folder = models / FOLDERS[kind]
    if not (folder / "model_config.json").is_file():
        return None
    return locate(folder, models)


def read_state_dict(path: Path) -> dict[str, Any]:
    import pickle
    import zipfile

    import torch

    if path.stat().st_size == 0:
        raise StableAudioFilesError(f"{path}: the file is empty (an interrupted download?)")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except Exception as exc:  # noqa: BLE001 - truncated, not safetensors
            raise StableAudioFilesError(f"{path}: not a readable safetensors file ({exc}); truncated download?") \
                from None
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise StableAudioFilesError(f"{path}: refused: a pickle with Python objects other than tensors "
                                    f"({str(exc).splitlines()[0][:160]})") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as exc:
        raise StableAudioFilesError(f"{path}: not a readable PyTorch checkpoint ({str(exc).splitlines()[0][:160]})") \
            from None
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise StableAudioFilesError(f"{path}: expected a state dict of tensors (or {{'state_dict': ...}})")
    return obj


def load_strict(module: Any, sd: dict[str, Any], path: Path, what: str, *, assign: bool = False) -> None:
    """Copy ``sd`` into ``module`` with every key and shape checked both ways, cast to the module's dtypes.
    ``assign``: the module was built on the meta device; its tensors become ``sd``'s (cast where needed)."""
    from engine.checkpoints import mismatch_report

    expected = module.state_dict()
    missing = [k for k in expected if k not in sd]
    unexpected = [k for k in sd if k not in expected]
    shapes = [(k, tuple(sd[k].shape), tuple(v.shape)) for k, v in expected.items()
              if k in sd and tuple(sd[k].shape) != tuple(v.shape)]
    if missing or unexpected or shapes:
        raise StableAudioFilesError(mismatch_report(f"{path}: does not fit {what}", missing, unexpected, shapes))
    if assign:
        module.load_state_dict({k: sd[k].to(v.dtype) for k, v in expected.items()}, strict=True, assign=True)
        return
    module.load_state_dict({k: sd[k].to(v.dtype).clone() for k, v in expected.items()}, strict=True)


def load_t5(folder: Path, dtype: Any = None) -> tuple[Any, Any]:
    """(T5Encoder in ``dtype`` (float16: the reference's), T5Tokenizer) from a t5-base style folder."""
    import torch

    from engine.nn.sao.t5 import T5Config, T5Encoder, T5Tokenizer

    cfg_path = folder / "config.json"
    try:
        raw = json.loads(cfg_path.read_text(encoding="utf-8"))
        cfg = T5Config(**{k: raw[k] for k in ("vocab_size", "d_model", "d_kv", "d_ff", "num_layers", "num_heads")},
                       relative_attention_num_buckets=raw.get("relative_attention_num_buckets", 32),
                       relative_attention_max_distance=raw.get("relative_attention_max_distance", 128),
                       layer_norm_epsilon=raw.get("layer_norm_epsilon", 1e-6))
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise StableAudioFilesError(f"{cfg_path}: not a T5 config ({exc})") from None
    if raw.get("feed_forward_proj", "relu") != "relu":
        raise StableAudioFilesError(f"{cfg_path}: feed_forward_proj {raw.get('feed_forward_proj')!r}: only t5-base's "
                                    "'relu' is supported")
    weights = next((folder / n for n in ("model.safetensors", "pytorch_model.bin") if (folder / n).is_file()), None)
    if weights is None:
        raise StableAudioFilesError(f"{folder}: no model.safetensors or pytorch_model.bin for T5; {WHERE}")
    sd = read_state_dict(weights)
    if "shared.weight" not in sd and "encoder.embed_tokens.weight" in sd:
        sd["shared.weight"] = sd["encoder.embed_tokens.weight"]
    sd = {k: v for k, v in sd.items() if k == "shared.weight" or (k.startswith("encoder.")
                                                                 and k != "encoder.embed_tokens.weight")}
    enc = T5Encoder(cfg)
    load_strict(enc, sd, weights, "a T5 encoder")
    tok_path = folder / "tokenizer.json"
    if not tok_path.is_file():
        raise StableAudioFilesError(f"{tok_path}: not found (the T5 tokenizer in the tokenizers format); {WHERE}")
    try:
        tok = T5Tokenizer(str(tok_path))
    except Exception as exc:  # noqa: BLE001
        raise StableAudioFilesError(f"{tok_path}: not a readable tokenizer.json ({str(exc)[:160]})") from None
    return enc.to(dtype or torch.float16).eval(), tok


@dataclass
class Loaded:
    model: Any  # engine.nn.sao.StableAudio, eval mode
    files: StableAudioFiles
    sha256: str


def build(cfg: Any, sd: dict[str, Any], path: Path, what: str) -> Any:
    """A StableAudio model holding ``sd``'s weights: built on the meta device and filled by assignment, so no
    memory or time goes to random initial weights (3-4 s and a second copy of 2 GB for SAO Small on 2 cores)."""
    import torch

    from engine.nn.sao.model import StableAudio

    with torch.device("meta"):
        model = StableAudio(cfg)
    load_strict(model, sd, path, what, assign=True)
    return model


def load(files: StableAudioFiles, t5_dtype: Any = None) -> Loaded:
    from engine.checkpoints import sha256_file
    from engine.nn.sao.config import ConfigError, read

    try:
        cfg = read(files.config)
    except ConfigError as exc:
        raise StableAudioFilesError(str(exc)) from None
    model = build(cfg, read_state_dict(files.weights), files.weights, f"the model in {files.config.name}")
    model.t5, model.tokenizer = load_t5(files.t5, t5_dtype)
    t5_width = model.t5.config.d_model
    if t5_width != cfg.cond_dim:
        raise StableAudioFilesError(f"{files.t5}: T5 width {t5_width} differs from cond_dim {cfg.cond_dim} in "
                                    f"{files.config} (a projection would be needed; the official models have none)")
    return Loaded(model.eval(), files, sha256_file(files.weights))
