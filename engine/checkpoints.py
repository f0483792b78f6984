"""Reading DiffRhythm checkpoints safely and loading them strictly.

Accepted files: the official ``cfm_model.pt`` (a pickled dict ``{"model_state_dict": {...}}``, fp16), trainer
checkpoints (``ema_model_state_dict`` with the ``ema_model.`` prefix plus ``initted`` and ``step``; or their
``model_state_dict``), flat state dicts, and ``.safetensors``. Pickles are read with ``torch.load(weights_only=True)``
only, so nothing in a checkpoint can execute code. Loading is strict: every key the model expects must be present
with its shape, and nothing else may be, except by rule: the 95 s (2048-frame) model ignores
``transformer.duration_time_embed.*``, which only the 285 s (6144-frame) model has.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import pickle
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from engine.errors import SongBridgeError

PREFIX = "transformer."
DURATION_PREFIX = "transformer.duration_time_embed."


class CheckpointError(SongBridgeError):
    """A checkpoint is missing, truncated, not a checkpoint, or does not fit the model; the message says which."""


@dataclass(frozen=True)
class Checkpoint:
    path: Path
    state_dict: dict[str, Tensor]  # CFM layout: every key starts with "transformer."
    kind: str  # official | trainer-ema | trainer | flat | safetensors
    sha256: str

    @property
    def variant(self) -> str:
        """"full" (6144 frames, up to 285 s) when the song-duration embedding is present, else "base" (95 s)."""
        return "full" if any(k.startswith(DURATION_PREFIX) for k in self.state_dict) else "base"

    def dtype_name(self) -> str:
        dtypes = sorted({str(v.dtype).removeprefix("torch.") for v in self.state_dict.values()})
        return "/".join(dtypes)

    @property
    def max_frames(self) -> int:
        return 6144 if self.variant == "full" else 2048


def sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def _tensors_only(d: dict, path: Path, what: str) -> dict[str, Tensor]:
    bad = [k for k, v in d.items() if not isinstance(v, Tensor)]
    if bad:
        raise CheckpointError(f"{path}: {what} holds non-tensor entries ({', '.join(map(str, bad[:5]))})")
    return {str(k): v for k, v in d.items()}


def _load_weights_only(p: Path, *, mmap: bool = False) -> object:
    """``torch.load(weights_only=True)``: a pickle naming anything but tensors and plain containers is refused
    before any of it runs. ``mmap``: map a torch.save zip's storages instead of reading them (nothing large in
    memory)."""
    try:
        return torch.load(str(p), map_location="cpu", weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(f"{p}: refused: it is a pickle with Python objects other than tensors, and "
                              f"SongBridge never executes code from a checkpoint ({str(exc).splitlines()[0][:160]})") \
            from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as exc:
        raise CheckpointError(f"{p}: not a readable PyTorch checkpoint; truncated or corrupt? "
                              f"({str(exc).splitlines()[0][:160]})") from None


def unsafe_reason(path: str | os.PathLike[str]) -> str | None:
    """Why :func:`read_checkpoint` would refuse this file, by the same weights-only unpickler, or None when it
    would not. A torch.save zip (the official format) is memory-mapped, so its weights are not read into memory;
    an old-style pickle cannot be mapped and is read whole. ``.safetensors`` hold no code. The message names the
    file (``models status`` prints it)."""
    p = Path(path)
    if p.suffix == ".safetensors":
        return None
    try:
        zipped = zipfile.is_zipfile(p)
        obj = _load_weights_only(p, mmap=zipped)
    except CheckpointError as exc:
        return str(exc)
    del obj
    return None


def read_checkpoint(path: str | os.PathLike[str], *, use_ema: bool | None = None) -> Checkpoint:
    """Read a checkpoint file without executing anything in it. ``use_ema``: None = the official choice
    (``model_state_dict`` when present, else the EMA weights)."""
    p = Path(path)
    if not p.exists():
        raise CheckpointError(f"{p}: not found")
    if p.stat().st_size == 0:
        raise CheckpointError(f"{p}: the file is empty (an interrupted download?)")
    digest = sha256_file(p)
    if p.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            raw = load_file(str(p))
        except (SafetensorError, OSError, ValueError) as exc:
            raise CheckpointError(f"{p}: not a readable safetensors file ({exc}); truncated download?") from None
        return Checkpoint(p, _prefixed(raw, p), "safetensors", digest)
    obj = _load_weights_only(p)
    if not isinstance(obj, dict):
        raise CheckpointError(f"{p}: expected a dict of tensors or a checkpoint dict, found {type(obj).__name__}")
    if "model_state_dict" in obj and use_ema is not True:
        sd = obj["model_state_dict"]
        kind = "official" if set(obj) == {"model_state_dict"} else "trainer"
        if not isinstance(sd, dict):
            raise CheckpointError(f"{p}: model_state_dict is not a dict")
        return Checkpoint(p, _prefixed(_tensors_only(sd, p, "model_state_dict"), p), kind, digest)
    if "ema_model_state_dict" in obj and use_ema is not False:
        sd = obj["ema_model_state_dict"]
        if not isinstance(sd, dict):
            raise CheckpointError(f"{p}: ema_model_state_dict is not a dict")
        sd = {k.removeprefix("ema_model."): v for k, v in sd.items() if k not in ("initted", "step")}
        return Checkpoint(p, _prefixed(_tensors_only(sd, p, "ema_model_state_dict"), p), "trainer-ema", digest)
    if obj and all(isinstance(k, str) and isinstance(v, Tensor) for k, v in obj.items()):
        return Checkpoint(p, _prefixed(obj, p), "flat", digest)
    keys = ", ".join(map(str, list(obj)[:8]))
    raise CheckpointError(f"{p}: not a DiffRhythm checkpoint: expected model_state_dict, ema_model_state_dict "
                          f"or a flat state dict; found keys {keys}")


def _prefixed(sd: dict[str, Tensor], path: Path) -> dict[str, Tensor]:
    """CFM layout: strip a DDP ``module.`` prefix; add ``transformer.`` to bare DiT dicts."""
    sd = {k.removeprefix("module."): v for k, v in sd.items()}
    if sd and not any(k.startswith(PREFIX) for k in sd):
        sd = {PREFIX + k: v for k, v in sd.items()}
    if not sd:
        raise CheckpointError(f"{path}: the state dict is empty")
    return sd


def _fitted(expected: dict[str, Tensor], ckpt: Checkpoint) -> dict[str, Tensor]:
    """The checkpoint's tensors for ``expected`` (a state dict, maybe on the meta device) after checking every
    key and shape; CheckpointError with a report otherwise."""
    got = dict(ckpt.state_dict)
    wants_duration = any(k.startswith(DURATION_PREFIX) for k in expected)
    if not wants_duration:
        got = {k: v for k, v in got.items() if not k.startswith(DURATION_PREFIX)}  # the 95 s model's rule
    elif not any(k.startswith(DURATION_PREFIX) for k in got):
        raise CheckpointError(f"{ckpt.path}: the 285 s model needs the song-duration embedding, which this file "
                              "lacks: it is a 95 s (base) or old v1.0 'DiffRhythm-full' checkpoint")
    missing = sorted(set(expected) - set(got))
    unexpected = sorted(set(got) - set(expected))
    shapes = [(k, tuple(got[k].shape), tuple(expected[k].shape)) for k in sorted(set(expected) & set(got))
              if got[k].shape != expected[k].shape]
    if missing or unexpected or shapes:
        raise CheckpointError(mismatch_report(f"{ckpt.path}: does not fit the model", missing, unexpected, shapes))
    return got


def mismatch_report(head: str, missing: list[str], unexpected: list[str],
                    shapes: list[tuple[str, tuple, tuple]]) -> str:
    """A readable key-by-key report of a state dict that does not fit: counts, then up to 8 of each kind, with a
    likely new name for a missing key."""
    lines = [f"{head} ({len(missing)} missing, {len(unexpected)} unexpected, {len(shapes)} wrong shape)"]
    for k in missing[:8]:
        near = difflib.get_close_matches(k, unexpected, n=1, cutoff=0.8)
        lines.append(f"  missing {k}" + (f" (renamed to {near[0]}?)" if near else ""))
    lines += [f"  unexpected {k}" for k in unexpected[:8]]
    lines += [f"  shape of {k}: file {a}, model {b}" for k, a, b in shapes[:8]]
    return "\n".join(lines)


def load_strict(model: nn.Module, ckpt: Checkpoint) -> None:
    """Load ``ckpt`` into ``model`` (a CFM) with every key and shape checked; casts to the model's dtype."""
    expected = model.state_dict()
    got = _fitted(expected, ckpt)
    dtype = next(iter(expected.values())).dtype
    model.load_state_dict({k: got[k].to(dtype) for k in expected}, strict=True)


def load_into(model: nn.Module, ckpt: Checkpoint, device: torch.device, dtype: torch.dtype,
              dtype_for: Callable[[str], torch.dtype | None] | None = None) -> None:
    """Load ``ckpt`` into ``model`` built on the meta device, each tensor converted once, straight to ``device``
    and ``dtype`` (or ``dtype_for(key)`` where that is not None), and the checkpoint's copy dropped as soon as it
    is used (``ckpt.state_dict`` is emptied): the peak is about one copy of the weights in the target dtype, not
    an fp32 model plus the file plus copies."""
    expected = model.state_dict(keep_vars=True)
    got = _fitted(expected, ckpt)
    ckpt.state_dict.clear()
    out = {}
    for k in list(expected):
        v = got.pop(k)
        want = ((dtype_for(k) if dtype_for is not None else None) or dtype) if expected[k].is_floating_point() \
            else expected[k].dtype
        out[k] = v.to(device=device, dtype=want)
        del v
    model.load_state_dict(out, strict=True, assign=True)
    del out
    for module in model.modules():  # non-persistent buffers (RoPE, position tables) are not in the file
        init = getattr(module, "init_buffers", None)
        if init is not None:
            init()
            for name, buf in list(module._buffers.items()):
                if buf is not None and not buf.is_meta and buf.device != device:
                    module._buffers[name] = buf.to(device)
    left = [n for n, t in [*model.named_parameters(), *model.named_buffers()] if t.is_meta]
    if left:
        raise CheckpointError(f"{ckpt.path}: internal error: {', '.join(left[:4])} were not loaded")


def infer_dims(sd: dict[str, Tensor]) -> dict[str, int]:
    """The model config implied by a state dict's shapes (weights carry their config)."""
    try:
        dim = sd["transformer.proj_out.weight"].shape[1]
        mel = sd["transformer.proj_out.weight"].shape[0]
        depth = len({k.split(".")[2] for k in sd if k.startswith("transformer.transformer_blocks.")})
        hidden = sd["transformer.transformer_blocks.0.mlp.gate_proj.weight"].shape[0]
        conv = len({k.split(".")[3] for k in sd if k.startswith("transformer.text_embed.text_blocks.")})
        vocab = sd["transformer.text_embed.text_embed.weight"].shape[0] - 1
        text_dim = sd["transformer.text_embed.text_embed.weight"].shape[1]
    except KeyError as exc:
        raise CheckpointError(f"not a DiffRhythm DiT state dict: no {exc.args[0]}") from None
    return {"dim": int(dim), "depth": depth, "ff_mult": int(hidden // dim), "text_dim": int(text_dim),
            "conv_layers": conv, "mel_dim": int(mel), "text_num_embeds": int(vocab)}
