"""HTDemucs models from the models folder, loaded through demucs' own code after checking what the file asks for.

Layouts (nothing is fetched):
- ``MODELS/HTDemucs/`` as the Hugging Face repository ``adefossez/HTDemucs`` holds it: ``htdemucs.yaml`` (the bag:
  model signatures, weights, segment) and one ``<signature>.safetensors`` per model; ``HTDemucs-ft/`` likewise;
- or a single ``MODELS/demucs/*.safetensors``, or a legacy ``*.th`` package.

A demucs safetensors file names, in its metadata, the class to build and its arguments; demucs' loader imports
whatever class that names. So the metadata is read first, and only ``demucs.htdemucs.HTDemucs``,
``demucs.hdemucs.HDemucs`` and ``demucs.demucs.Demucs`` are accepted, with no class references inside a nested
state (``structure``). A ``.th`` package is read with ``weights_only=True`` and only those classes (and
``fractions.Fraction``) allowed as globals: nothing in a model file is executed.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .files import FOLDERS, WHERE, SeparationModelError, find_model

ALLOWED = ("demucs.htdemucs.HTDemucs", "demucs.hdemucs.HDemucs", "demucs.demucs.Demucs")


@dataclass
class Separator:
    model: Any  # demucs Model or BagOfModels, eval mode
    name: str
    files: tuple[Path, ...]
    sha256: str  # of the weights file (the first, for a bag)

    @property
    def sources(self) -> list[str]:
        return list(self.model.sources)

    @property
    def samplerate(self) -> int:
        return int(self.model.samplerate)


def _check_structure(node: Any, path: Path) -> None:
    if isinstance(node, dict):
        if "_class" in node:
            raise SeparationModelError(f"{path}: its state names a class ({node['_class']!r}); only plain tensors "
                                       "are loaded")
        for v in node.values():
            _check_structure(v, path)
    elif isinstance(node, list):
        for v in node:
            _check_structure(v, path)


def load_safetensors(path: Path) -> Any:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
    except Exception as exc:  # noqa: BLE001 - truncated download, not safetensors at all
        raise SeparationModelError(f"{path}: not a readable safetensors file ({exc})") from None
    klass = meta.get("klass")
    if klass not in ALLOWED:
        raise SeparationModelError(f"{path}: names the model class {klass!r}; only {', '.join(ALLOWED)} are loaded")
    for key in ("args", "kwargs"):
        try:
            json.loads(meta.get(key, "null"))
        except json.JSONDecodeError as exc:
            raise SeparationModelError(f"{path}: metadata {key!r} is not JSON ({exc})") from None
    if "structure" in meta:
        _check_structure(json.loads(meta["structure"]), path)
    from demucs.hf import load_safetensors_model

    try:
        return load_safetensors_model(path)
    except Exception as exc:  # noqa: BLE001 - wrong shapes, missing tensors
        raise SeparationModelError(f"{path}: does not load as {klass}: {str(exc).splitlines()[0][:200]}") from None


def load_th(path: Path) -> Any:
    import fractions

    import torch
    from demucs.demucs import Demucs
    from demucs.hdemucs import HDemucs
    from demucs.htdemucs import HTDemucs
    from demucs.states import load_model

    try:
        with torch.serialization.safe_globals([HTDemucs, HDemucs, Demucs, fractions.Fraction]):
            package = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - a pickle naming other globals is refused here
        raise SeparationModelError(f"{path}: refused or unreadable: {str(exc).splitlines()[0][:200]}") from None
    if not isinstance(package, dict) or package.get("klass") not in (HTDemucs, HDemucs, Demucs):
        raise SeparationModelError(f"{path}: not a demucs model package")
    return load_model(package)


def load(path: str | os.PathLike[str]) -> Separator:
    """A model or bag from a ``.yaml`` bag, a ``.safetensors`` file or a ``.th`` package."""
    from engine.checkpoints import sha256_file

    p = Path(path)
    if not p.is_file():
        raise SeparationModelError(f"{p}: not found; {WHERE}")
    if p.suffix == ".yaml":
        import yaml
        from demucs.apply import BagOfModels

        try:
            bag = yaml.safe_load(p.read_text(encoding="utf-8"))
            sigs = [str(s) for s in bag["models"]]
        except Exception as exc:  # noqa: BLE001
            raise SeparationModelError(f"{p}: not a demucs bag description ({exc})") from None
        files = tuple(p.parent / f"{s}.safetensors" for s in sigs)
        missing = [str(f) for f in files if not f.is_file()]
        if missing:
            raise SeparationModelError(f"{p}: missing {', '.join(missing)}; {WHERE}")
        models = [load_safetensors(f) for f in files]
        model = BagOfModels(models, bag.get("weights"), bag.get("segment"))
        return Separator(model.eval(), p.stem, files, sha256_file(files[0]))
    if p.suffix == ".safetensors":
        model = load_safetensors(p)
    elif p.suffix == ".th":
        model = load_th(p)
    else:
        raise SeparationModelError(f"{p}: not a demucs model (.yaml, .safetensors or .th)")
    return Separator(model.eval(), p.stem, (p,), sha256_file(p))


def from_models(models: Path) -> Separator:
    path = find_model(models)
    if path is None:
        raise SeparationModelError(f"no stem-separation model in {models} ({', '.join(FOLDERS)}); {WHERE}")
    return load(path)
