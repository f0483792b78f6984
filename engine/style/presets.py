"""Named styles: a MuQ-MuLan vector saved with where it came from, so a producer can reuse a sound without the
encoder (and without its 2.6 GB) and share it as one small file.

A preset is ``STYLES/<name>.toml`` (``STYLES`` = ``SONGBRIDGE_STYLES`` or the config folder's ``styles/``)::

    name = "dusty boom bap"
    source = "prompt"                  # or "audio"
    prompt = "dusty boom bap, male rap, 90 bpm"
    audio = "ref.wav"                  # for audio: the file's name and sha256
    audio_sha256 = "..."
    encoder = "MuQ-MuLan-large"
    encoder_sha256 = "..."
    created = "2026-12-02T08:00:00Z"
    vector = [0.0123, ...]             # 512 float32 values, exactly as the encoder gave them
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from engine.errors import PresetError
from presets.toml_files import read_toml

NAME_RE = re.compile(r"^[\w][\w .,'&+()-]{0,63}$")
DIM = 512


@dataclass(frozen=True)
class StylePreset:
    name: str
    source: str  # prompt | audio
    vector: np.ndarray  # float32 [1, 512]
    prompt: str = ""
    audio: str = ""
    audio_sha256: str = ""
    encoder: str = ""
    encoder_sha256: str = ""
    created: str = ""
    path: Path | None = None

    def describe(self) -> str:
        what = f"prompt {self.prompt!r}" if self.source == "prompt" else f"audio {self.audio}"
        return f"{self.name}: {what} ({self.encoder or 'unknown encoder'} {self.encoder_sha256[:12]})"


def styles_dir() -> Path:
    env = os.environ.get("SONGBRIDGE_STYLES")
    if env:
        return Path(env).expanduser()
    from engine.settings import config_dir

    return config_dir() / "styles"


def file_name(name: str) -> str:
    """A file name for a preset name (the name itself stays in the file)."""
    check_name(name)
    slug = re.sub(r"[^\w.-]+", "-", name.strip().lower()).strip("-.") or "style"
    return f"{slug}.toml"


def check_name(name: str) -> None:
    if not isinstance(name, str) or not NAME_RE.match(name.strip()) or name != name.strip():
        raise PresetError(f"style preset name {name!r}: 1-64 letters, digits, spaces or .,'&+()- , not starting "
                          "with a symbol")


def _vector(value: object, where: str) -> np.ndarray:
    if not isinstance(value, list) or len(value) != DIM or not all(
            isinstance(x, int | float) and not isinstance(x, bool) for x in value):
        raise PresetError(f"{where}: vector must be a list of {DIM} numbers")
    v = np.asarray(value, dtype=np.float32).reshape(1, DIM)
    if not np.isfinite(v).all():
        raise PresetError(f"{where}: vector holds NaN or infinite values")
    norm = float(np.linalg.norm(v))
    if not 0.05 < norm < 1.5:
        raise PresetError(f"{where}: vector has norm {norm:.3g}; a MuQ-MuLan style vector has norm close to 1")
    return v


def read(path: Path) -> StylePreset:
    data = read_toml(path, PresetError)
    fields = {"name", "source", "prompt", "audio", "audio_sha256", "encoder", "encoder_sha256", "created", "vector"}
    extra = sorted(set(data) - fields)
    if extra:
        raise PresetError(f"{path}: unknown key {extra[0]!r}")
    for key in fields - {"vector"}:
        if key in data and not isinstance(data[key], str):
            raise PresetError(f"{path}: {key} must be a string")
    name = data.get("name") or path.stem
    check_name(name)
    source = data.get("source", "prompt")
    if source not in ("prompt", "audio"):
        raise PresetError(f"{path}: source must be prompt or audio, not {source!r}")
    return StylePreset(name, source, _vector(data.get("vector"), str(path)), data.get("prompt", ""),
                       data.get("audio", ""), data.get("audio_sha256", ""), data.get("encoder", ""),
                       data.get("encoder_sha256", ""), data.get("created", ""), path)


def list_presets() -> tuple[list[StylePreset], list[str]]:
    """(readable presets sorted by name, one message per unreadable file)."""
    folder = styles_dir()
    good, bad = [], []
    for p in sorted(folder.glob("*.toml")) if folder.is_dir() else []:
        try:
            good.append(read(p))
        except PresetError as exc:
            bad.append(str(exc))
    return sorted(good, key=lambda s: s.name.lower()), bad


def find(name: str) -> StylePreset:
    presets, bad = list_presets()
    for s in presets:
        if s.name == name:
            return s
    for s in presets:
        if s.name.lower() == name.lower():
            return s
    names = ", ".join(s.name for s in presets) or "none saved yet"
    hint = f" ({len(bad)} unreadable: {bad[0]})" if bad else ""
    raise PresetError(f"no style preset {name!r} in {styles_dir()}; presets: {names}{hint}; save one with "
                      "`songbridge style save NAME --prompt ...`")


def save(preset: StylePreset, *, overwrite: bool = False) -> Path:
    """Write atomically; refuses to replace an existing preset unless ``overwrite``."""
    import tomli_w

    folder = styles_dir()
    path = folder / file_name(preset.name)
    if path.exists() and not overwrite:
        raise PresetError(f"{path}: a style preset {preset.name!r} exists; pass --force to replace it")
    v = np.asarray(preset.vector, dtype=np.float32).reshape(-1)
    _vector([float(x) for x in v], preset.name)
    data = {"name": preset.name, "source": preset.source, "prompt": preset.prompt, "audio": preset.audio,
            "audio_sha256": preset.audio_sha256, "encoder": preset.encoder, "encoder_sha256": preset.encoder_sha256,
            "created": preset.created or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "vector": [float(x) for x in v]}
    folder.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".toml.tmp")
    tmp.write_text(tomli_w.dumps(data), encoding="utf-8")
    os.replace(tmp, path)
    return path


def delete(name: str) -> Path:
    s = find(name)
    assert s.path is not None
    s.path.unlink()
    return s.path
