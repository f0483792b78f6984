"""The loaded DiffRhythm pipeline: CFM (DiT) + VAE + vocabulary + negative style, on one device.

One owner: the backend holds one pipeline and keeps it loaded between jobs (the engine worker releases it when
idle). Device policy: CUDA in fp16 (measured: a fifth of bf16's drift) with SDPA or flash-attn, then Apple MPS in
fp16, then the CPU: float32 weights and activations with the transformer blocks' products in the format
``engine.precision`` measured fastest here (bf16 on CPUs with AVX-512 BF16 or AMX; ``engine.nn.lowp``).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine.checkpoints import Checkpoint, infer_dims, load_into, read_checkpoint
from engine.nn import CFM, DiT, DiTConfig
from engine.nn.blocks import sdpa
from engine.nn.cpu_attention import blocked_attention
from engine.nn.lowp import float32_through_onednn, lower
from engine.nn.vae import VAE
from engine.precision import small_model

from .files import ModelFiles, ModelFilesError
from .tokens import Vocab


def pick_device(device: str | None = None, dtype: str | None = None) -> tuple[torch.device, torch.dtype]:
    """(device, dtype the model is stored in). On the CPU that is float32; the precision of the transformer blocks'
    products is chosen apart (:func:`cpu_precision`)."""
    names = {"fp32": torch.float32, "float32": torch.float32, "fp16": torch.float16, "float16": torch.float16,
             "bf16": torch.bfloat16, "bfloat16": torch.bfloat16}
    if device:
        dev = torch.device(device)
    elif torch.cuda.is_available():
        dev = torch.device("cuda")
    elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        dev = torch.device("mps")
    else:
        dev = torch.device("cpu")
    if dtype:
        if dtype not in names:
            raise ValueError(f"dtype must be one of {', '.join(names)}, got {dtype!r}")
        return dev, names[dtype]
    if dev.type == "cuda":
        # fp16, measured: over a 31-step guided sample it drifts 2.7e-3 from fp32 against 2.1e-2 for bf16
        # (benchmarks/precision.py; RoPE, position table and ODE state in fp32 in both).
        return dev, torch.float16
    if dev.type == "mps":
        return dev, torch.float16
    return dev, torch.float32


def flash_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """flash-attn (optional GPU extra); q, k, v: [b, h, n, d]."""
    from flash_attn import flash_attn_func

    out = flash_attn_func(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), causal=False)
    return out.transpose(1, 2)


def attention_for(device: torch.device, dtype: torch.dtype, prefer: str = "auto") -> tuple[Any, str]:
    if prefer in ("auto", "flash") and device.type == "cuda" and dtype in (torch.float16, torch.bfloat16) \
            and importlib.util.find_spec("flash_attn") is not None:
        return flash_attention, "flash-attn"
    if prefer == "flash":
        raise ValueError("flash-attn needs CUDA, fp16/bf16 and the flash-attn package (pip install 'songbridge[gpu]')")
    if device.type == "cpu" and prefer == "auto":
        # float32 oneDNN products a block of rows at a time, a core each (engine.nn.cpu_attention): 1.3-2.5x the
        # CPU flash kernel at DiffRhythm's size; short sequences and other dtypes fall back to it inside
        return blocked_attention, "cpu-blocked"
    return sdpa, "sdpa"


@dataclass
class Pipeline:
    files: ModelFiles
    cfm: CFM
    vae: VAE
    vocab: Vocab
    negative_style: np.ndarray
    checkpoint: Checkpoint
    device: torch.device
    dtype: torch.dtype
    attention: Any
    attention_name: str
    precision: str = "fp32"

    @property
    def max_frames(self) -> int:
        return self.cfm.transformer.max_frames

    @classmethod
    def load(cls, files: ModelFiles, device: str | None = None, dtype: str | None = None,
             attention: str = "auto", precision: str | None = None) -> Pipeline:
        """``precision`` (CPU, when ``dtype`` is not given): auto/None measures, or fp32, bf16, fp16."""
        dev, dt = pick_device(device, dtype)
        ckpt = read_checkpoint(files.cfm)
        dims = files.model_config() or infer_dims(ckpt.state_dict)
        cfg = DiTConfig.from_dict(dict(dims), str(files.config or files.cfm), max_frames=ckpt.max_frames)
        with torch.device("meta"):  # built without memory, then filled straight in the target dtype
            cfm = CFM(DiT.from_config(cfg), num_channels=cfg.mel_dim).eval()
        low, source = cpu_precision(precision, cfg.dim) if dev.type == "cpu" and dtype is None else (None, "")
        # the blocks' projection weights go straight to the low format: the load never holds them in float32
        load_into(cfm, ckpt, dev, dt, (lambda k: low if k.startswith(BLOCKS) and k.endswith("proj.weight") else None)
                  if low is not None else None)
        attn, attn_name = attention_for(dev, dt, attention)
        if low is not None:  # attention stays float32: the CPU flash kernel was no faster in bf16 (64-74 GFLOP/s)
            lower(cfm.transformer.transformer_blocks, low)
        if dev.type == "cpu" and not small_model(cfg.dim):
            float32_through_onednn(cfm)  # what stays float32: oneDNN ran 2.2x MKL's rate on the AMD VM
        vae = VAE.load(str(files.vae), dev, low or torch.float32)
        label = f"{_short(low)} (DiT blocks{', VAE' if vae.native else ''}), fp32 elsewhere; {source}" if low \
            else _short(dt)
        return cls(files, cfm, vae, Vocab.load(files.vocab), negative_style(files.negative_style), ckpt, dev, dt,
                   attn, attn_name, label)


BLOCKS = "transformer.transformer_blocks."


def _short(dtype: torch.dtype) -> str:
    return {torch.float32: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[dtype]


def cpu_precision(explicit: str | None, width: int | None = None) -> tuple[torch.dtype | None, str]:
    """(the low-precision dtype for the CPU's transformer blocks, or None for float32; where that came from).
    ``width``: the DiT's, so that a small (test) model stays float32 unless asked otherwise."""
    from engine.precision import cpu_precision as choose

    choice = choose(explicit, width=width)
    return (choice.dtype if choice.low else None), choice.source


def negative_style(path: Path) -> np.ndarray:
    """DiffRhythm's ``vocal.npy`` negative style (512 values, used as given, as the reference does)."""
    try:
        v = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ModelFilesError(f"{path}: not a .npy style vector: {exc}") from None
    if v.size != 512 or not np.isfinite(v).all():
        raise ModelFilesError(f"{path}: a style vector has 512 finite values, this one has {v.size}")
    return np.asarray(v, dtype=np.float32).reshape(1, 512)
