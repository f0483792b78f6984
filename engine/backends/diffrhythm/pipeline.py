"""The loaded DiffRhythm pipeline: CFM (DiT) + VAE + vocabulary + negative style, on one device.

One owner: the backend holds one pipeline and keeps it loaded between jobs (the engine worker releases it when
idle). Device policy: CUDA with bf16 (fp16 where bf16 is unsupported) and SDPA or flash-attn, then Apple MPS in
fp16, then the CPU in fp32.
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
from engine.nn.vae import VAE

from .files import ModelFiles, ModelFilesError
from .tokens import Vocab


def pick_device(device: str | None = None, dtype: str | None = None) -> tuple[torch.device, torch.dtype]:
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
    from flash_attn import flash_attn_func  # noqa: PLC0415

    out = flash_attn_func(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), causal=False)
    return out.transpose(1, 2)


def attention_for(device: torch.device, dtype: torch.dtype, prefer: str = "auto") -> tuple[Any, str]:
    if prefer in ("auto", "flash") and device.type == "cuda" and dtype in (torch.float16, torch.bfloat16) \
            and importlib.util.find_spec("flash_attn") is not None:
        return flash_attention, "flash-attn"
    if prefer == "flash":
        raise ValueError("flash-attn needs CUDA, fp16/bf16 and the flash-attn package (pip install 'songbridge[gpu]')")
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

    @property
    def max_frames(self) -> int:
        return self.cfm.transformer.max_frames

    @classmethod
    def load(cls, files: ModelFiles, device: str | None = None, dtype: str | None = None,
             attention: str = "auto") -> Pipeline:
        dev, dt = pick_device(device, dtype)
        ckpt = read_checkpoint(files.cfm)
        dims = files.model_config() or infer_dims(ckpt.state_dict)
        cfg = DiTConfig.from_dict(dict(dims), str(files.config or files.cfm), max_frames=ckpt.max_frames)
        with torch.device("meta"):  # built without memory, then filled straight in the target dtype
            cfm = CFM(DiT.from_config(cfg), num_channels=cfg.mel_dim).eval()
        load_into(cfm, ckpt, dev, dt)
        attn, attn_name = attention_for(dev, dt, attention)
        return cls(files, cfm, VAE.load(str(files.vae), dev), Vocab.load(files.vocab),
                   negative_style(files.negative_style), ckpt, dev, dt, attn, attn_name)


def negative_style(path: Path) -> np.ndarray:
    """DiffRhythm's ``vocal.npy`` negative style (512 values, used as given, as the reference does)."""
    try:
        v = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ModelFilesError(f"{path}: not a .npy style vector: {exc}") from None
    if v.size != 512 or not np.isfinite(v).all():
        raise ModelFilesError(f"{path}: a style vector has 512 finite values, this one has {v.size}")
    return np.asarray(v, dtype=np.float32).reshape(1, 512)
