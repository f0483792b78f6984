"""Effect-chain presets: a versioned TOML file listing plugins in order (stdlib only; no pedalboard here).

::

    schema_version = 1
    name = "Vocal clean"
    description = "..."

    [[plugin]]
    type = "HighpassFilter"          # any built-in pedalboard plugin, by class name
    cutoff_frequency_hz = 90.0

    [[plugin]]
    type = "external"                # a VST3 or AU by path, through pedalboard.load_plugin, once the producer
                                     # allowed that file here (songbridge fx allow; engine.audio.consent)
    path = "/Library/Audio/Plug-Ins/VST3/Thing.vst3"
    bypass = false
    [plugin.parameters]
    mix = 0.4

Errors name the file and the key (``vocal.toml: plugin[2].ratio: ...``). Shipped presets live beside this module in
``effects/``; user presets are files anywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from presets.toml_files import read_toml

SCHEMA_VERSION = 1
SHIPPED_DIR = Path(__file__).resolve().parent / "effects"


class EffectPresetError(Exception):
    """A chain preset is malformed; the message names the file and key."""


@dataclass(frozen=True)
class PluginSpec:
    type: str  # a pedalboard class name, or "external"
    params: dict[str, Any] = field(default_factory=dict)
    path: str | None = None  # external plugins only
    bypass: bool = False


@dataclass(frozen=True)
class ChainSpec:
    name: str
    plugins: tuple[PluginSpec, ...]
    description: str = ""
    source: str = "<memory>"


#: schema version -> function upgrading a raw dict to the next version
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


def parse_chain(data: dict[str, Any], source: str) -> ChainSpec:
    version = data.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise EffectPresetError(f"{source}: schema_version: expected an integer, got {version!r}")
    if version > SCHEMA_VERSION:
        raise EffectPresetError(f"{source}: schema_version {version} is newer than this SongBridge reads "
                                f"({SCHEMA_VERSION}); upgrade SongBridge")
    while version < SCHEMA_VERSION:
        if version not in MIGRATIONS:
            raise EffectPresetError(f"{source}: no migration from schema_version {version}")
        data = MIGRATIONS[version](dict(data))
        version += 1
    unknown = set(data) - {"schema_version", "name", "description", "plugin"}
    if unknown:
        raise EffectPresetError(f"{source}: {sorted(unknown)[0]}: unknown key")
    name = data.get("name", Path(source).stem)
    if not isinstance(name, str):
        raise EffectPresetError(f"{source}: name: expected a string")
    items = data.get("plugin", [])
    if not isinstance(items, list):
        raise EffectPresetError(f"{source}: plugin: expected [[plugin]] tables")
    plugins = []
    for i, item in enumerate(items):
        where = f"{source}: plugin[{i}]"
        if not isinstance(item, dict):
            raise EffectPresetError(f"{where}: expected a table")
        kind = item.get("type")
        if not isinstance(kind, str) or not kind:
            raise EffectPresetError(f"{where}.type: missing (a pedalboard plugin name such as 'Compressor', "
                                    "or 'external')")
        bypass = item.get("bypass", False)
        if not isinstance(bypass, bool):
            raise EffectPresetError(f"{where}.bypass: expected true or false")
        if kind == "external":
            path = item.get("path")
            params = item.get("parameters", {})
            if not isinstance(path, str) or not path:
                raise EffectPresetError(f"{where}.path: an external plugin needs the path of its .vst3 or .component")
            if not isinstance(params, dict):
                raise EffectPresetError(f"{where}.parameters: expected a table")
            extra = set(item) - {"type", "path", "parameters", "bypass"}
            if extra:
                raise EffectPresetError(f"{where}.{sorted(extra)[0]}: unknown key (external plugin settings go "
                                        "in [plugin.parameters])")
            plugins.append(PluginSpec("external", dict(params), path, bypass))
        else:
            params = {k: v for k, v in item.items() if k not in ("type", "bypass")}
            plugins.append(PluginSpec(kind, params, None, bypass))
    description = data.get("description", "")
    return ChainSpec(name, tuple(plugins), description if isinstance(description, str) else "", source)


def load_chain(path: str | Path) -> ChainSpec:
    p = Path(path)
    return parse_chain(read_toml(p, EffectPresetError), str(p))


def shipped_chains() -> dict[str, Path]:
    """Shipped preset names (file stems) -> paths."""
    return {p.stem: p for p in sorted(SHIPPED_DIR.glob("*.toml"))}


def find_chain(name_or_path: str, search: list[Path] | None = None) -> Path:
    """A preset by shipped name, by name in ``search`` folders, or by path."""
    for folder in search or []:
        candidate = Path(folder) / f"{name_or_path}.toml"
        if candidate.exists():
            return candidate
    shipped = shipped_chains()
    if name_or_path in shipped:
        return shipped[name_or_path]
    p = Path(name_or_path)
    if p.suffix == ".toml" and p.exists():
        return p
    raise EffectPresetError(f"no effect preset {name_or_path!r}; shipped presets: {', '.join(shipped)}")
