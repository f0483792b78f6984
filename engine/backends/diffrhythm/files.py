"""The model folder, laid out as the official downloads are::

    MODELS/
      DiffRhythm-1_2/cfm_model.pt          95 s model (ASLP-lab/DiffRhythm-1_2)
      DiffRhythm-1_2-full/cfm_model.pt     up to 285 s (ASLP-lab/DiffRhythm-1_2-full)
      DiffRhythm-vae/vae_model.pt          the VAE (ASLP-lab/DiffRhythm-vae)
      MuQ-MuLan-large/ ...                 the style encoder (see engine.style.files for its three folders)
      vocab.json                           g2p/g2p/vocab.json from the DiffRhythm repository
      vocal.npy                            infer/example/vocal.npy from the DiffRhythm repository
      config.json                          optional: {"model": {...}} as config/diffrhythm-1b.json; else from shapes

Weights may also be ``.safetensors`` beside or instead of ``cfm_model.pt``. Known official files are verified by
sha256 when their digest is recorded in ``KNOWN_SHA256``.
"""

from __future__ import annotations

import json
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

from engine.errors import SongBridgeError

TINY_MODEL_ID = "diffrhythm-tiny-random"
VARIANT_DIRS = {"full": "DiffRhythm-1_2-full", "base": "DiffRhythm-1_2"}
#: sha256 of official files, filled in as they are verified on real downloads (none yet verified here).
KNOWN_SHA256: dict[str, str] = {}
WHERE = ("download them from Hugging Face (ASLP-lab/DiffRhythm-1_2 or DiffRhythm-1_2-full, ASLP-lab/DiffRhythm-vae) "
         "and take vocab.json and vocal.npy from the DiffRhythm repository; or create the tiny random test model "
         "with `songbridge models create-tiny DIR`")


class ModelFilesError(SongBridgeError):
    """The model folder lacks a file; the message lists what is expected and where to get it."""


@dataclass(frozen=True)
class ModelFiles:
    root: Path
    variant: str  # full | base
    cfm: Path
    vae: Path
    vocab: Path
    negative_style: Path
    config: Path | None

    @property
    def model_id(self) -> str:
        marker = self.root / "MODEL_ID"
        if marker.exists():
            return marker.read_text().strip()
        return VARIANT_DIRS[self.variant].lower()

    def problems(self) -> list[str]:
        """One sentence per file that is present but unusable (empty, truncated, not what its name says)."""
        out = []
        for path in (self.cfm, self.vae, self.vocab, self.negative_style, *([self.config] if self.config else [])):
            why = file_problem(path)
            if why:
                out.append(f"{path} is broken: {why}")
        return out

    def model_config(self) -> dict | None:
        if self.config is None:
            return None
        try:
            data = json.loads(self.config.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ModelFilesError(f"{self.config}: not readable JSON: {exc}") from None
        model = data.get("model", data) if isinstance(data, dict) else None
        if not isinstance(model, dict):
            raise ModelFilesError(f"{self.config}: expected {{\"model\": {{...}}}}")
        return model


def _weights(folder: Path) -> Path | None:
    for name in ("cfm_model.pt", "cfm_model.safetensors", "model.safetensors"):
        if (folder / name).exists():
            return folder / name
    return None


def installed(root: Path) -> bool:
    """Whether any DiffRhythm weights were put in the model folder (complete or not)."""
    return any(_weights(Path(root) / d) for d in VARIANT_DIRS.values())


def expected_layout(root: Path) -> str:
    return (f"{root}/DiffRhythm-1_2-full/cfm_model.pt (or DiffRhythm-1_2/cfm_model.pt), "
            f"{root}/DiffRhythm-vae/vae_model.pt, {root}/vocab.json, {root}/vocal.npy")


def locate(root: Path, variant: str | None = None) -> ModelFiles:
    """Find the files for ``variant`` (default: full when present, else base)."""
    root = Path(root)
    if not root.is_dir():
        raise ModelFilesError(f"no model folder at {root}: expected {expected_layout(root)}; {WHERE}")
    order = [variant] if variant else ["full", "base"]
    cfm = None
    chosen = None
    for v in order:
        if v not in VARIANT_DIRS:
            raise ModelFilesError(f"unknown model variant {v!r}: full or base")
        cfm = _weights(root / VARIANT_DIRS[v])
        if cfm:
            chosen = v
            break
    missing = []
    if cfm is None:
        missing.append(f"{root}/{VARIANT_DIRS[order[0]]}/cfm_model.pt")
    vae = root / "DiffRhythm-vae" / "vae_model.pt"
    for p in (vae, root / "vocab.json", root / "vocal.npy"):
        if not p.exists():
            missing.append(str(p))
    if missing:
        raise ModelFilesError(f"model folder {root} is missing {', '.join(missing)}; {WHERE}")
    config = next((p for p in (root / "config.json", root / "diffrhythm-1b.json") if p.exists()), None)
    assert cfm is not None and chosen is not None
    return ModelFiles(root, chosen, cfm, vae, root / "vocab.json", root / "vocal.npy", config)


def _size_text(n: int) -> str:
    return f"{n:,} bytes" if n < 2**20 else f"{n / 2**20:,.1f} MiB ({n:,} bytes)"


def file_problem(path: Path) -> str | None:
    """Why a model file cannot be used, from its bytes alone (no torch, no full read), or None when it looks whole.

    Empty files, truncated safetensors and .npy files (their headers give the expected size), checkpoints that
    are neither a zip archive with its directory intact (torch.save's format) nor a pickle, and JSON that does
    not parse are reported.
    """
    try:
        size = path.stat().st_size
        if size == 0:
            return "empty file (0 bytes); download it again"
        with open(path, "rb") as fh:
            head = fh.read(16)
            if path.suffix == ".safetensors":
                if size < 8:
                    return f"truncated ({size} bytes)"
                (n,) = struct.unpack("<Q", head[:8])
                if n > size - 8 or n > 100 * 2**20:
                    return f"truncated or not safetensors: its header claims {n:,} bytes, the file has {size:,}"
                fh.seek(8)
                try:
                    header = json.loads(fh.read(n))
                except (ValueError, UnicodeDecodeError, RecursionError):
                    return "not a safetensors file (its header is not JSON)"
                end = max((int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"), default=0)
                if size < 8 + n + end:
                    return f"truncated: {_size_text(size)} of the expected {_size_text(8 + n + end)}"
                return None
            if path.suffix in (".pt", ".pth", ".ckpt", ".bin"):
                if head[:2] == b"PK":
                    try:
                        with zipfile.ZipFile(path) as zf:
                            infos = zf.infolist()
                    except (zipfile.BadZipFile, OSError):
                        return (f"truncated or damaged: {_size_text(size)}, and the zip directory that torch.save "
                                "writes at the end is missing; download it again")
                    if not infos:
                        return "an empty zip archive, not a checkpoint"
                    return None
                if head[:1] == b"\x80":  # a legacy (pickle) torch.save file: nothing more to check cheaply
                    return None
                return "not a PyTorch checkpoint (neither a torch.save zip archive nor a pickle)"
            if path.suffix == ".json":
                fh.seek(0)
                try:
                    json.loads(fh.read().decode("utf-8"))
                except (ValueError, UnicodeDecodeError) as exc:
                    return f"not valid JSON ({exc})"
                except RecursionError:
                    return "not a model file (its JSON is nested too deep)"
                return None
            if path.suffix == ".npy":
                import numpy as np

                fh.seek(0)
                try:
                    version = np.lib.format.read_magic(fh)
                    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                        np.lib.format.read_array_header_2_0
                    shape, _, dtype = read(fh)
                except (ValueError, OSError) as exc:
                    return f"not a .npy array ({exc})"
                expected = fh.tell() + int(np.prod(shape)) * dtype.itemsize
                if size < expected:
                    return f"truncated: {_size_text(size)} of the expected {_size_text(expected)}"
                return None
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    return None
