"""Loading MuQ-MuLan from the model folder and embedding a prompt or a prepared clip.

The model is built on the meta device and takes the checkpoint's tensors directly (copied only when a tensor is
not 64-byte aligned), so loading needs about one copy of the weights; it stays float32 as in DiffRhythm. Every key
is checked: missing keys, keys that fit nothing and wrong shapes are refused with a report, and the file's
unused extras (RVQ, the unused positional conv, the pooler, ...) are accepted and dropped.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import SongBridgeError

from .files import EncoderFiles, EncoderFilesError


class StyleError(SongBridgeError):
    """No style vector can be made; the message says what to install or provide."""


def _read_weights(path: Path) -> dict[str, Any]:
    import torch

    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except (SafetensorError, OSError, ValueError) as exc:
            raise EncoderFilesError(f"{path}: not a readable safetensors file ({exc})") from None
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)  # fresh, aligned storages
    except pickle.UnpicklingError as exc:
        raise EncoderFilesError(f"{path}: refused: a pickle with Python objects other than tensors "
                                f"({str(exc).splitlines()[0][:160]})") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as exc:
        raise EncoderFilesError(f"{path}: not a readable PyTorch checkpoint; truncated download? "
                                f"({str(exc).splitlines()[0][:160]})") from None
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise EncoderFilesError(f"{path}: expected a flat dict of tensors (MuQ-MuLan's state dict)")
    return obj


def load_state(model: Any, sd: dict[str, Any], path: Path) -> None:
    """Put ``sd`` into ``model`` (built on the meta device) after checking every key and shape."""
    from engine.nn.mulan.model import UNUSED_PREFIXES

    if sd and not any(k.startswith("mulan.") for k in sd):
        sd = {f"mulan.{k}": v for k, v in sd.items()}
    expected = model.state_dict(keep_vars=True)
    got = {k: v for k, v in sd.items() if not k.startswith(UNUSED_PREFIXES)}
    missing = sorted(set(expected) - set(got))
    unexpected = sorted(set(got) - set(expected))
    shapes = [(k, tuple(got[k].shape), tuple(expected[k].shape)) for k in sorted(set(expected) & set(got))
              if tuple(got[k].shape) != tuple(expected[k].shape)]
    if missing or unexpected or shapes:
        from engine.checkpoints import mismatch_report

        raise EncoderFilesError(mismatch_report(f"{path}: does not fit MuQ-MuLan as its config.json files describe it",
                                                missing, unexpected, shapes))
    sd.clear()  # each tensor is held once, by the model, as soon as it is placed
    fresh = {}
    for k, ref in expected.items():
        v = got.pop(k)
        fresh[k] = v.to(ref.dtype) if v.is_floating_point() else v
        if fresh[k].data_ptr() % 64:  # last-bit parity wants aligned memory (safetensors' mmap may not be)
            fresh[k] = fresh[k].clone()
    model.load_state_dict(fresh, strict=True, assign=True)
    for module in model.modules():  # buffers that are not in the file (window, filterbank, zero biases)
        init = getattr(module, "init_buffers", None)
        if init is not None:
            init()
    left = [n for n, t in [*model.named_parameters(), *model.named_buffers()] if t.is_meta]
    if left:
        raise EncoderFilesError(f"{path}: internal error: {', '.join(left[:4])} not loaded")
    del fresh


class Tokenizer:
    """XLM-R's sentencepiece Unigram tokenizer from ``tokenizer.json`` (the ``tokenizers`` library)."""

    def __init__(self, path: Path):
        try:
            from tokenizers import Tokenizer as Fast
        except ImportError:
            raise StyleError("text styles need the tokenizers package: pip install tokenizers") from None
        try:
            self._tok = Fast.from_file(str(path))
        except Exception as exc:  # noqa: BLE001 - the library raises a bare Exception on a bad file
            raise EncoderFilesError(f"{path}: not a readable tokenizer.json ({str(exc)[:160]})") from None
        self._tok.no_truncation()
        self._tok.no_padding()

    def ids(self, text: str) -> list[int]:
        return list(self._tok.encode(text).ids)

    def tokens(self, text: str) -> list[str]:
        return list(self._tok.encode(text).tokens)


class StyleEncoder:
    """MuQ-MuLan loaded from the model folder; ``text`` and ``audio`` give float32 [1, 512] vectors."""

    def __init__(self, files: EncoderFiles, device: str = "cpu"):
        import torch

        from engine.nn.mulan import MuQMuLan, MuQMuLanConfig

        mulan, muq, xlmr = files.configs()
        try:
            cfg = MuQMuLanConfig.from_json(mulan, muq, xlmr)
        except (KeyError, TypeError, ValueError) as exc:
            raise EncoderFilesError(f"{files.root}: the config.json files do not describe MuQ-MuLan "
                                    f"({type(exc).__name__}: {exc})") from None
        self.files, self.cfg, self.device = files, cfg, torch.device(device)
        self.tokenizer = Tokenizer(files.tokenizer)
        with torch.device("meta"):
            model = MuQMuLan(cfg)
        load_state(model, _read_weights(files.weights), files.weights)
        self.model = model.to(self.device).eval()

    def token_ids(self, prompt: str) -> list[int]:
        ids = self.tokenizer.ids(prompt)
        limit = self.cfg.xlmr.max_tokens
        if len(ids) > limit:
            raise StyleError(f"the style prompt is {len(ids)} tokens long; MuQ-MuLan reads at most {limit}: "
                             "shorten it")
        return ids

    def text(self, prompt: str, taps: dict[str, Any] | None = None) -> np.ndarray:
        import torch

        ids = torch.tensor([self.token_ids(prompt)], dtype=torch.long, device=self.device)
        with torch.inference_mode():
            emb = self.model.embed_text(ids, torch.ones_like(ids), taps)
        return emb.float().cpu().numpy()

    def wave(self, wav: np.ndarray, taps: list[dict[str, Any]] | None = None) -> np.ndarray:
        """A prepared 24 kHz mono clip (see ``reference.prepare``) -> [1, 512]."""
        import torch

        x = torch.from_numpy(np.ascontiguousarray(wav, dtype=np.float32))[None].to(self.device)
        with torch.inference_mode():
            emb = self.model.embed_audio(x, taps)
        return emb.float().cpu().numpy()

    def close(self) -> None:
        self.model = None  # type: ignore[assignment]
        import gc

        gc.collect()
