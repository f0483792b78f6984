"""The three config files of the official ACE-Step 1.5 download, read into frozen dataclasses: the DiT/condition
config (``acestep-v15-*/config.json``, model_type ``acestep``), the Qwen3 text encoder (``Qwen3-Embedding-0.6B/
config.json``) and the diffusers ``AutoencoderOobleck`` (``vae/config.json``). Every dimension the models use comes
from here; a missing or mistyped field is an error naming the file and the field."""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import SongBridgeError


class AceStepConfigError(SongBridgeError):
    """A config.json that does not describe the ACE-Step part expected; the message names the file and field."""


class _Fields:
    def __init__(self, data: Any, source: str):
        if not isinstance(data, dict):
            raise AceStepConfigError(f"{source}: expected a JSON object, found {type(data).__name__}")
        self.data, self.source = data, source

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
        if key not in self.data or self.data[key] is None:
            if default is ...:
                raise AceStepConfigError(f"{self.source}: field {key!r} is missing")
            return default
        value = self.data[key]
        if isinstance(value, bool) and kind is not bool and not (isinstance(kind, tuple) and bool in kind):
            raise AceStepConfigError(f"{self.source}: field {key!r} must be {_name(kind)}, found {value!r}")
        if kind is float and isinstance(value, int):
            value = float(value)
        if not isinstance(value, kind):
            raise AceStepConfigError(f"{self.source}: field {key!r} must be {_name(kind)}, found {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise AceStepConfigError(f"{self.source}: field {key!r} must be a finite number, found {value!r}")
        return value

    def positive(self, key: str, default: Any = ...) -> int:
        value = self.get(key, int, default)
        if value <= 0:
            raise AceStepConfigError(f"{self.source}: field {key!r} must be a positive integer, found {value!r}")
        return int(value)

    def ints(self, key: str, default: Any = ...) -> tuple[int, ...]:
        value = self.get(key, list, default)
        if not value or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value):
            raise AceStepConfigError(f"{self.source}: field {key!r} must be a list of positive integers, "
                                     f"found {value!r}")
        return tuple(value)


def _name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join({"int": "an integer", "float": "a number", "str": "a string", "bool": "true/false",
                        "list": "a list"}.get(k.__name__, k.__name__) for k in kinds)


def _read_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise AceStepConfigError(f"{path}: cannot read ({e.strerror or e})") from None
    return load_json(text, path)


def load_json(text: str, path: Path) -> Any:
    """A model file's JSON, or an error naming the file: not JSON, or nested too deep (a non-finite number is refused
    by the field that holds it)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise AceStepConfigError(f"{path}: line {e.lineno}, column {e.colno}: not valid JSON ({e.msg})") from None
    except RecursionError:
        raise AceStepConfigError(f"{path}: not a model configuration (nested too deep)") from None


def _layer_types(f: _Fields, count: int) -> tuple[str, ...]:
    raw = f.data.get("layer_types")
    if raw is None:
        # AceStepConfig's default: sliding on even layer indices, full on odd ones
        return tuple("sliding_attention" if (i + 1) % 2 else "full_attention" for i in range(count))
    if not isinstance(raw, list) or not all(v in ("sliding_attention", "full_attention") for v in raw):
        raise AceStepConfigError(f"{f.source}: field 'layer_types' must be a list of 'sliding_attention'/"
                                 f"'full_attention', found {raw!r}")
    if len(raw) < count:
        raise AceStepConfigError(f"{f.source}: field 'layer_types' has {len(raw)} entries but a stack needs {count}")
    return tuple(raw)


@dataclass(frozen=True)
class EncoderDims:
    """Width and heads of one transformer stack (the DiT, or the condition encoder / tokenizer stacks)."""

    hidden_size: int
    intermediate_size: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int


@dataclass(frozen=True)
class AceStepConfig:
    source: str
    model_version: str  # "turbo" | "base" | ...
    dit: EncoderDims
    enc: EncoderDims  # condition encoder, audio tokenizer, detokenizer (same as dit unless encoder_hidden_size)
    num_hidden_layers: int
    num_lyric_encoder_hidden_layers: int
    num_timbre_encoder_hidden_layers: int
    num_attention_pooler_hidden_layers: int
    layer_types: tuple[str, ...]
    use_sliding_window: bool
    sliding_window: int | None  # None: no window (sliding layers still get the padding mask)
    rms_norm_eps: float
    rope_theta: float
    attention_bias: bool
    text_hidden_dim: int
    timbre_hidden_dim: int
    audio_acoustic_hidden_dim: int
    in_channels: int
    patch_size: int
    pool_window_size: int
    fsq_dim: int
    fsq_input_levels: tuple[int, ...]
    fsq_input_num_quantizers: int

    def mask_kind(self, layer: int) -> str:
        """How layer ``layer`` of a stack is masked, as the reference builds it: "full" (padding only), "sliding"
        (|i - j| <= window and padding) or "none" (a sliding layer while use_sliding_window is false: the reference
        passes no mask at all, padding included)."""
        if self.layer_types[layer] == "full_attention":
            return "full"
        return "sliding" if self.use_sliding_window else "none"

    def window(self, layer: int) -> int | None:
        """The sliding window of layer ``layer`` (|i - j| <= window), or None."""
        return self.sliding_window if self.mask_kind(layer) == "sliding" else None


def parse_acestep(data: Any, source: str) -> AceStepConfig:
    f = _Fields(data, source)
    model_type = f.get("model_type", str, "acestep")
    if model_type != "acestep":
        raise AceStepConfigError(f"{source}: field 'model_type' is {model_type!r}, expected 'acestep'")
    hidden = f.positive("hidden_size")
    heads = f.positive("num_attention_heads")
    dit = EncoderDims(hidden, f.positive("intermediate_size"), heads, f.positive("num_key_value_heads"),
                      f.positive("head_dim", hidden // heads))
    enc_hidden = f.positive("encoder_hidden_size", hidden)
    enc = dit if enc_hidden == hidden else EncoderDims(
        enc_hidden, f.positive("encoder_intermediate_size", dit.intermediate_size),
        f.positive("encoder_num_attention_heads", heads),
        f.positive("encoder_num_key_value_heads", dit.num_key_value_heads), dit.head_dim)
    for dims in (dit, enc):
        if dims.num_attention_heads % dims.num_key_value_heads:
            raise AceStepConfigError(f"{source}: num_attention_heads {dims.num_attention_heads} is not a multiple "
                                     f"of num_key_value_heads {dims.num_key_value_heads}")
    n = {k: f.positive(k, d) for k, d in (("num_hidden_layers", ...), ("num_lyric_encoder_hidden_layers", 8),
                                           ("num_timbre_encoder_hidden_layers", 4),
                                           ("num_attention_pooler_hidden_layers", 2))}
    use_sliding = f.get("use_sliding_window", bool, True)
    sliding = None
    if use_sliding and ("sliding_window" not in f.data or f.data["sliding_window"] is not None):
        sliding = f.positive("sliding_window", 128)
    layer_types = _layer_types(f, max(n.values()))
    levels = f.ints("fsq_input_levels", [8, 8, 8, 5, 5, 5])
    cfg = AceStepConfig(
        source=source, model_version=f.get("model_version", str, "turbo"), dit=dit, enc=enc,
        num_hidden_layers=n["num_hidden_layers"],
        num_lyric_encoder_hidden_layers=n["num_lyric_encoder_hidden_layers"],
        num_timbre_encoder_hidden_layers=n["num_timbre_encoder_hidden_layers"],
        num_attention_pooler_hidden_layers=n["num_attention_pooler_hidden_layers"],
        layer_types=layer_types, use_sliding_window=use_sliding, sliding_window=sliding,
        rms_norm_eps=f.get("rms_norm_eps", float, 1e-6), rope_theta=f.get("rope_theta", float, 1000000.0),
        attention_bias=f.get("attention_bias", bool, False),
        text_hidden_dim=f.positive("text_hidden_dim", 1024), timbre_hidden_dim=f.positive("timbre_hidden_dim", 64),
        audio_acoustic_hidden_dim=f.positive("audio_acoustic_hidden_dim", 64),
        in_channels=f.positive("in_channels", 192), patch_size=f.positive("patch_size", 2),
        pool_window_size=f.positive("pool_window_size", 5), fsq_dim=f.positive("fsq_dim", 2048),
        fsq_input_levels=levels, fsq_input_num_quantizers=f.positive("fsq_input_num_quantizers", 1))
    if cfg.in_channels != 3 * cfg.audio_acoustic_hidden_dim:
        raise AceStepConfigError(f"{source}: in_channels {cfg.in_channels} must be 3 x audio_acoustic_hidden_dim "
                                 f"({cfg.audio_acoustic_hidden_dim}): noisy latent, source latent and chunk mask")
    if cfg.fsq_dim != cfg.enc.hidden_size:
        raise AceStepConfigError(f"{source}: fsq_dim {cfg.fsq_dim} must equal the encoder width {enc.hidden_size}")
    return cfg


@dataclass(frozen=True)
class Qwen3Config:
    source: str
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    rms_norm_eps: float
    rope_theta: float
    layer_types: tuple[str, ...]
    sliding_window: int | None
    attention_bias: bool

    def window(self, layer: int) -> int | None:
        """transformers' causal sliding window: position i sees j when 0 <= i - j < window."""
        if self.sliding_window is None or self.layer_types[layer] != "sliding_attention":
            return None
        return self.sliding_window


def parse_qwen3(data: Any, source: str) -> Qwen3Config:
    f = _Fields(data, source)
    model_type = f.get("model_type", str, "qwen3")
    if model_type != "qwen3":
        raise AceStepConfigError(f"{source}: field 'model_type' is {model_type!r}, expected 'qwen3'")
    if f.get("rope_scaling", dict, None) is not None:
        raise AceStepConfigError(f"{source}: field 'rope_scaling' is not supported (only plain RoPE)")
    hidden = f.positive("hidden_size")
    heads = f.positive("num_attention_heads")
    layers = f.positive("num_hidden_layers")
    use_sliding = f.get("use_sliding_window", bool, False)
    sliding = f.positive("sliding_window", 4096) if use_sliding else None
    raw = f.data.get("layer_types")
    if raw is None:
        first = f.get("max_window_layers", int, layers)
        raw = ["sliding_attention" if sliding is not None and i >= first else "full_attention"
               for i in range(layers)]
    if not isinstance(raw, list) or len(raw) < layers or not all(
            v in ("sliding_attention", "full_attention") for v in raw):
        raise AceStepConfigError(f"{source}: field 'layer_types' must list 'sliding_attention'/'full_attention' "
                                 f"for each of the {layers} layers, found {raw!r}")
    kv = f.positive("num_key_value_heads", heads)
    if heads % kv:
        raise AceStepConfigError(f"{source}: num_attention_heads {heads} is not a multiple of "
                                 f"num_key_value_heads {kv}")
    return Qwen3Config(
        source=source, vocab_size=f.positive("vocab_size"), hidden_size=hidden,
        intermediate_size=f.positive("intermediate_size"), num_hidden_layers=layers, num_attention_heads=heads,
        num_key_value_heads=kv, head_dim=f.positive("head_dim", hidden // heads),
        rms_norm_eps=f.get("rms_norm_eps", float, 1e-6), rope_theta=f.get("rope_theta", float, 1000000.0),
        layer_types=tuple(raw), sliding_window=sliding, attention_bias=f.get("attention_bias", bool, False))


@dataclass(frozen=True)
class VaeConfig:
    source: str
    encoder_hidden_size: int
    decoder_channels: int
    decoder_input_channels: int
    channel_multiples: tuple[int, ...]
    downsampling_ratios: tuple[int, ...]
    audio_channels: int
    sampling_rate: int

    @property
    def hop(self) -> int:
        """Audio samples per latent frame (the product of the downsampling ratios)."""
        out = 1
        for r in self.downsampling_ratios:
            out *= r
        return out

    @property
    def latent_channels(self) -> int:
        """Channels of the encoder's mean (the decoder takes ``decoder_input_channels``)."""
        return self.encoder_hidden_size // 2


def parse_vae(data: Any, source: str) -> VaeConfig:
    f = _Fields(data, source)
    name = f.get("_class_name", str, "AutoencoderOobleck")
    if name != "AutoencoderOobleck":
        raise AceStepConfigError(f"{source}: field '_class_name' is {name!r}, expected 'AutoencoderOobleck'")
    cfg = VaeConfig(
        source=source, encoder_hidden_size=f.positive("encoder_hidden_size", 128),
        decoder_channels=f.positive("decoder_channels", 128),
        decoder_input_channels=f.positive("decoder_input_channels", 64),
        channel_multiples=f.ints("channel_multiples", [1, 2, 4, 8, 16]),
        downsampling_ratios=f.ints("downsampling_ratios", [2, 4, 4, 8, 8]),
        audio_channels=f.positive("audio_channels", 2), sampling_rate=f.positive("sampling_rate", 44100))
    if len(cfg.channel_multiples) != len(cfg.downsampling_ratios):
        raise AceStepConfigError(f"{source}: channel_multiples and downsampling_ratios must have the same length "
                                 f"({len(cfg.channel_multiples)} vs {len(cfg.downsampling_ratios)})")
    if cfg.encoder_hidden_size % 2:
        raise AceStepConfigError(f"{source}: field 'encoder_hidden_size' must be even (mean and scale halves), "
                                 f"found {cfg.encoder_hidden_size}")
    return cfg


def read_acestep(path: str | os.PathLike[str]) -> AceStepConfig:
    p = Path(path)
    return parse_acestep(_read_json(p), str(p))


def read_qwen3(path: str | os.PathLike[str]) -> Qwen3Config:
    p = Path(path)
    return parse_qwen3(_read_json(p), str(p))


def read_vae(path: str | os.PathLike[str]) -> VaeConfig:
    p = Path(path)
    return parse_vae(_read_json(p), str(p))
