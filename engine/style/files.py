"""Where MuQ-MuLan lives in the model folder, checked from the files alone (no torch)::

    MODELS/
      MuQ-MuLan-large/config.json          (OpenMuQ/MuQ-MuLan-large)
      MuQ-MuLan-large/pytorch_model.bin    all the weights (or model.safetensors with the same keys)
      OpenMuQ/MuQ-large-msd-iter/config.json   the audio backbone's settings (its weights are not needed)
      xlm-roberta-base/config.json, tokenizer.json   the text encoder's settings and tokenizer

The two sub-model folders are named by ``MuQ-MuLan-large/config.json`` (``audio_model.name``,
``text_model.name``); they are looked up relative to the model folder (also without their ``OpenMuQ/`` part),
or taken as given when the name is an absolute path. Nothing is ever fetched.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import SongBridgeError

FOLDER = "MuQ-MuLan-large"
WHERE = ("download OpenMuQ/MuQ-MuLan-large (config.json, pytorch_model.bin), the config.json of "
         "OpenMuQ/MuQ-large-msd-iter, and config.json + tokenizer.json of FacebookAI/xlm-roberta-base, e.g. "
         "`huggingface-cli download OpenMuQ/MuQ-MuLan-large --local-dir MODELS/MuQ-MuLan-large`")
LICENCE = "CC-BY-NC-4.0 (MuQ-MuLan weights, Tencent AI Lab); XLM-R tokenizer MIT"


class EncoderFilesError(SongBridgeError):
    """The MuQ-MuLan files are missing or unreadable; the message names the file and where to get it."""


@dataclass(frozen=True)
class EncoderFiles:
    root: Path
    config: Path
    weights: Path
    muq_config: Path
    xlmr_config: Path
    tokenizer: Path

    def configs(self) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        return read_json(self.config), read_json(self.muq_config), read_json(self.xlmr_config)


def read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise EncoderFilesError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise EncoderFilesError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise EncoderFilesError(f"{path}: expected a JSON object")
    return data


def _sub_folder(models: Path, name: object, field: str, config: Path) -> Path:
    if not isinstance(name, str) or not name:
        raise EncoderFilesError(f"{config}: {field} must name a folder")
    p = Path(name)
    if p.is_absolute():
        return p
    for cand in (models / p, models / p.name):
        if cand.is_dir():
            return cand
    raise EncoderFilesError(f"{config}: {field} is {name!r}, and there is no folder {models / p} "
                            f"(nor {models / p.name}); {WHERE}")


def present(models: Path) -> bool:
    return (Path(models) / FOLDER).is_dir()


def locate(models: Path) -> EncoderFiles:
    """The encoder's files, or EncoderFilesError naming the first missing one."""
    models = Path(models)
    root = models / FOLDER
    config = root / "config.json"
    if not config.exists():
        raise EncoderFilesError(f"no MuQ-MuLan style encoder: {config} is missing; {WHERE}")
    weights = next((root / n for n in ("pytorch_model.bin", "model.safetensors") if (root / n).exists()), None)
    if weights is None:
        raise EncoderFilesError(f"{root}: no pytorch_model.bin (nor model.safetensors); {WHERE}")
    cfg = read_json(config)
    try:
        audio_name, text_name = cfg["audio_model"]["name"], cfg["text_model"]["name"]
    except (KeyError, TypeError):
        raise EncoderFilesError(f"{config}: expected audio_model.name and text_model.name") from None
    muq = _sub_folder(models, audio_name, "audio_model.name", config)
    xlmr = _sub_folder(models, text_name, "text_model.name", config)
    needed = [muq / "config.json", xlmr / "config.json", xlmr / "tokenizer.json"]
    missing = [str(p) for p in needed if not p.exists()]
    if missing:
        raise EncoderFilesError(f"the MuQ-MuLan style encoder needs {', '.join(missing)}; {WHERE}")
    return EncoderFiles(root, config, weights, *needed)


def problems(files: EncoderFiles) -> list[str]:
    from engine.backends.diffrhythm.files import file_problem

    out = []
    for p in (files.config, files.weights, files.muq_config, files.xlmr_config, files.tokenizer):
        why = file_problem(p)
        if why:
            out.append(f"{p} is broken: {why}")
    return out


def weights_digest(path: Path) -> str:
    """sha256 of a weights file, remembered per (path, size, mtime) in the user cache folder so that a 2.6 GB
    file is hashed once, not at every take."""
    import os

    from platformdirs import user_cache_dir

    st = path.stat()
    key = str(path.resolve())
    store = Path(os.environ.get("SONGBRIDGE_CACHE") or user_cache_dir("songbridge", appauthor=False)) / "digests.json"
    try:
        known = json.loads(store.read_text())
        if not isinstance(known, dict):
            known = {}
    except (OSError, ValueError):
        known = {}
    hit = known.get(key)
    if isinstance(hit, dict) and hit.get("size") == st.st_size and hit.get("mtime_ns") == st.st_mtime_ns:
        return str(hit.get("sha256"))
    from engine.checkpoints import sha256_file

    digest = sha256_file(path)
    known[key] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": digest}
    try:
        store.parent.mkdir(parents=True, exist_ok=True)
        tmp = store.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(known))
        os.replace(tmp, store)
    except OSError:
        pass  # a read-only cache only costs time
    return digest
