"""Stable Audio Open's ``model_config.json``, read strictly into frozen dataclasses (the official schema; unknown
keys in the parts the model uses are an error naming the key and the file; the ``training`` and ``demo`` sections
of official files are not needed for inference and are skipped)."""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import SongBridgeError


class ConfigError(SongBridgeError):
    """A model_config.json that does not describe a Stable Audio Open model; the message names the key."""


@dataclass(frozen=True)
class OobleckConfig:
    channels: int
    c_mults: tuple[int, ...]
    strides: tuple[int, ...]
    latent_dim: int
    audio_channels: int = 2
    final_tanh: bool = False


@dataclass(frozen=True)
class ConditionerConfig:
    id: str
    type: str  # "t5" | "number"
    t5_model_name: str = "t5-base"
    max_length: int = 128
    min_val: float = 0.0
    max_val: float = 1.0


@dataclass(frozen=True)
class DiTConfig:
    io_channels: int
    embed_dim: int
    depth: int
    num_heads: int
    cond_token_dim: int
    global_cond_dim: int
    project_cond_tokens: bool = True
    qk_norm: str | None = None  # "ln" | None

    @property
    def dim_heads(self) -> int:
        return self.embed_dim // self.num_heads

    @property
    def rope_dim(self) -> int:
        return max(self.dim_heads // 2, 32)

    @property
    def cond_width(self) -> int:
        """Width of the cross-attention tokens after ``to_cond_embed``."""
        return self.embed_dim if self.project_cond_tokens else self.cond_token_dim


@dataclass(frozen=True)
class SAOConfig:
    sample_size: int
    sample_rate: int
    audio_channels: int
    encoder: OobleckConfig
    decoder: OobleckConfig
    latent_dim: int
    downsampling_ratio: int
    iterate_batch: bool
    conditioners: tuple[ConditionerConfig, ...]
    cond_dim: int
    cross_attention_cond_ids: tuple[str, ...]
    global_cond_ids: tuple[str, ...]
    objective: str  # "v" | "rf_denoiser"
    dit: DiTConfig
    source: str = ""

    @property
    def latent_length(self) -> int:
        return self.sample_size // self.downsampling_ratio

    @property
    def max_seconds(self) -> float:
        return self.sample_size / self.sample_rate

    def conditioner(self, cid: str) -> ConditionerConfig:
        return next(c for c in self.conditioners if c.id == cid)


class _Obj:
    """Reads one JSON object; every key must be read (``done``), unknown ones are reported with their path."""

    def __init__(self, data: Any, path: str, source: str):
        if not isinstance(data, dict):
            raise ConfigError(f"{source}: {path}: expected an object, got {type(data).__name__}")
        self.data, self.path, self.source, self.seen = data, path, source, set()

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
        self.seen.add(key)
        if key not in self.data:
            if default is ...:
                raise ConfigError(f"{self.source}: {self.path}.{key}: missing")
            return default
        value = self.data[key]
        if not isinstance(value, kind) or (isinstance(value, bool) and bool not in (
                kind if isinstance(kind, tuple) else (kind,))):
            raise ConfigError(f"{self.source}: {self.path}.{key}: expected {getattr(kind, '__name__', kind)}, got "
                              f"{value!r}")
        return value

    def obj(self, key: str) -> _Obj:
        return _Obj(self.get(key, dict), f"{self.path}.{key}", self.source)

    def ints(self, key: str) -> tuple[int, ...]:
        values = self.get(key, list)
        if not values or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values):
            raise ConfigError(f"{self.source}: {self.path}.{key}: expected a list of positive integers")
        return tuple(values)

    def done(self, ignore: tuple[str, ...] = ()) -> None:
        extra = sorted(set(self.data) - self.seen - set(ignore))
        if extra:
            raise ConfigError(f"{self.source}: {self.path}.{extra[0]}: unknown key (known: "
                              f"{', '.join(sorted(self.seen))})")


def _positive(o: _Obj, key: str) -> int:
    v = o.get(key, int)
    if v <= 0:
        raise ConfigError(f"{o.source}: {o.path}.{key}: must be positive, got {v}")
    return v


def _oobleck(o: _Obj, side: str) -> OobleckConfig:
    o.get("type", str)
    if o.data.get("type") != "oobleck":
        raise ConfigError(f"{o.source}: {o.path}.type: only 'oobleck' autoencoders are supported")
    c = o.obj("config")
    out = OobleckConfig(channels=_positive(c, "channels"), c_mults=c.ints("c_mults"), strides=c.ints("strides"),
                        latent_dim=_positive(c, "latent_dim"),
                        audio_channels=c.get("in_channels" if side == "encoder" else "out_channels", int, 2),
                        final_tanh=bool(c.get("final_tanh", bool, False)))
    if not c.get("use_snake", bool, True):
        raise ConfigError(f"{c.source}: {c.path}.use_snake: only Snake activations are supported")
    if len(out.c_mults) != len(out.strides):
        raise ConfigError(f"{c.source}: {c.path}: c_mults and strides must be as long")
    c.done()
    o.done()
    return out


def parse(data: Any, source: str) -> SAOConfig:
    root = _Obj(data, "$", source)
    if root.get("model_type", str) != "diffusion_cond":
        raise ConfigError(f"{source}: $.model_type: expected 'diffusion_cond', got {data.get('model_type')!r}")
    model = root.obj("model")
    pre = model.obj("pretransform")
    if pre.get("type", str) != "autoencoder":
        raise ConfigError(f"{source}: $.model.pretransform.type: only 'autoencoder' is supported")
    iterate = bool(pre.get("iterate_batch", bool, False))
    pc = pre.obj("config")
    encoder, decoder = _oobleck(pc.obj("encoder"), "encoder"), _oobleck(pc.obj("decoder"), "decoder")
    bottleneck = pc.obj("bottleneck")
    if bottleneck.get("type", str) != "vae":
        raise ConfigError(f"{source}: $.model.pretransform.config.bottleneck.type: only 'vae' is supported")
    bottleneck.done()
    latent_dim, ratio = _positive(pc, "latent_dim"), _positive(pc, "downsampling_ratio")
    pc.get("io_channels", int)
    pc.done()
    pre.done(("config",))
    if encoder.latent_dim != 2 * latent_dim or decoder.latent_dim != latent_dim:
        raise ConfigError(f"{source}: $.model.pretransform.config: the encoder must output 2 x latent_dim "
                          f"({2 * latent_dim}) channels and the decoder take latent_dim ({latent_dim})")
    if math.prod(encoder.strides) != ratio:
        raise ConfigError(f"{source}: downsampling_ratio {ratio} is not the product of the strides")
    cond = model.obj("conditioning")
    confs = []
    for i, raw in enumerate(cond.get("configs", list)):
        c = _Obj(raw, f"$.model.conditioning.configs[{i}]", source)
        cid, kind = c.get("id", str), c.get("type", str)
        cc = c.obj("config")
        if kind == "t5":
            confs.append(ConditionerConfig(cid, kind, t5_model_name=cc.get("t5_model_name", str, "t5-base"),
                                           max_length=_positive(cc, "max_length")))
        elif kind == "number":
            lo, hi = float(cc.get("min_val", (int, float))), float(cc.get("max_val", (int, float)))
            if not hi > lo:
                raise ConfigError(f"{source}: {cc.path}: max_val must be above min_val")
            confs.append(ConditionerConfig(cid, kind, min_val=lo, max_val=hi))
        else:
            raise ConfigError(f"{source}: {c.path}.type: conditioner type {kind!r} is not supported (t5, number)")
        cc.done()
        c.done()
    cond_dim = _positive(cond, "cond_dim")
    cond.done()
    diff = model.obj("diffusion")
    if diff.get("type", str) != "dit":
        raise ConfigError(f"{source}: $.model.diffusion.type: only 'dit' is supported")
    cross = tuple(diff.get("cross_attention_cond_ids", list))
    glob = tuple(diff.get("global_cond_ids", list, []))
    objective = diff.get("diffusion_objective", str, "v")
    if objective not in ("v", "rf_denoiser"):
        raise ConfigError(f"{source}: $.model.diffusion.diffusion_objective: {objective!r} (v or rf_denoiser)")
    dc = diff.obj("config")
    attn = dc.get("attn_kwargs", dict, {})
    qk = attn.get("qk_norm") if isinstance(attn, dict) else None
    if set(attn) - {"qk_norm"} or qk not in (None, "ln"):
        raise ConfigError(f"{source}: $.model.diffusion.config.attn_kwargs: only qk_norm 'ln' is supported")
    if dc.get("transformer_type", str, "continuous_transformer") != "continuous_transformer":
        raise ConfigError(f"{source}: $.model.diffusion.config.transformer_type: only continuous_transformer")
    dit = DiTConfig(io_channels=_positive(dc, "io_channels"), embed_dim=_positive(dc, "embed_dim"),
                    depth=_positive(dc, "depth"), num_heads=_positive(dc, "num_heads"),
                    cond_token_dim=_positive(dc, "cond_token_dim"), global_cond_dim=_positive(dc, "global_cond_dim"),
                    project_cond_tokens=bool(dc.get("project_cond_tokens", bool, True)), qk_norm=qk)
    dc.done()
    diff.done()
    model.get("io_channels", int)
    model.done()
    ids = {c.id for c in confs}
    for cid in (*cross, *glob):
        if cid not in ids:
            raise ConfigError(f"{source}: $.model.diffusion: conditioner {cid!r} is not configured")
    if dit.embed_dim % dit.num_heads or dit.io_channels != latent_dim:
        raise ConfigError(f"{source}: $.model.diffusion.config: embed_dim must divide by num_heads and io_channels "
                          f"equal the latent size {latent_dim}")
    out = SAOConfig(sample_size=_positive(root, "sample_size"), sample_rate=_positive(root, "sample_rate"),
                    audio_channels=root.get("audio_channels", int, 2), encoder=encoder, decoder=decoder,
                    latent_dim=latent_dim, downsampling_ratio=ratio, iterate_batch=iterate,
                    conditioners=tuple(confs), cond_dim=cond_dim, cross_attention_cond_ids=cross,
                    global_cond_ids=glob, objective=objective, dit=dit, source=source)
    root.done(("training", "demo"))
    return out


def read(path: str | os.PathLike[str]) -> SAOConfig:
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{p}: not found") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{p}: not readable JSON ({exc})") from None
    return parse(data, str(p))
