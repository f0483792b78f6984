"""Effect chains: preset specs (``presets.effect_chains``) <-> ``pedalboard.Pedalboard``, and chunked processing.

Built-in plugins are named by pedalboard class; every parameter is checked (exists, right type, sane range) and
errors name the preset file, the plugin's index and the key. External VST3/AU plugins load by path through
``pedalboard.load_plugin`` with a parameter dict checked against the plugin's own parameter names, and only when
the producer allowed that exact file on this machine (``engine.audio.consent``): a plugin is native code.

Processing runs in chunks with ``reset=False`` (the player's feeder does the same live), so offline render equals
what was auditioned; for deterministic plugins chunked equals one-shot (a test checks it).
Audio here is float32 ``[channels, frames]``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.errors import PresetError
from presets.effect_chains import ChainSpec, EffectPresetError, PluginSpec, find_chain, load_chain

#: pedalboard classes that are containers or need resources a preset cannot carry
_NOT_EFFECTS = {"Chain", "Mix", "Pedalboard", "PluginContainer", "Plugin", "ExternalPlugin", "VST3Plugin",
                "AudioUnitPlugin", "Convolution", "IIRFilter", "Resample"}
CHUNK = 8192

if TYPE_CHECKING:
    from engine.audio.consent import Verdict


def _range_for(name: str, sample_rate: float) -> tuple[float, float] | None:
    if name.endswith("_hz"):
        return (0.01, sample_rate / 2)
    if name.endswith("_ms"):
        return (0.0, 10_000.0)
    if name.endswith("_db"):
        return (-120.0, 60.0)
    if name in ("mix", "feedback", "depth", "room_size", "damping", "wet_level", "dry_level", "width",
                "freeze_mode"):
        return (0.0, 1.0)
    if name.endswith("_seconds"):
        return (0.0, 30.0)
    if name in ("q", "resonance"):
        return (0.01, 100.0)
    return None


# The range a producer turns each knob over (a slider's travel), inside what _range_for accepts; log=True for
# frequencies, times and ratios, which are heard in proportion.
_CONTROL: dict[str, tuple[float, float, bool]] = {
    "threshold_db": (-60.0, 0.0, False), "gain_db": (-24.0, 24.0, False), "drive_db": (0.0, 48.0, False),
    "ratio": (1.0, 20.0, True), "attack_ms": (0.1, 200.0, True), "release_ms": (5.0, 2000.0, True),
    "cutoff_frequency_hz": (20.0, 20000.0, True), "rate_hz": (0.01, 10.0, True), "centre_delay_ms": (1.0, 50.0, False),
    "q": (0.1, 10.0, True), "delay_seconds": (0.0, 2.0, False),
}


def control_range(name: str, sample_rate: float = 44100.0) -> tuple[float, float, bool] | None:
    """(low, high, logarithmic) for a numeric parameter's control, e.g. ``cutoff_frequency_hz`` -> (20, 20000,
    True); None when the parameter has no known range."""
    if name in _CONTROL:
        lo, hi, log = _CONTROL[name]
        return lo, min(hi, sample_rate / 2) if name.endswith("_hz") else hi, log
    rng = _range_for(name, sample_rate)
    return (rng[0], rng[1], rng[0] > 0 and rng[1] / rng[0] >= 100) if rng else None


def plugin_classes() -> dict[str, type]:
    import pedalboard as pb

    out = {}
    for name in dir(pb):
        obj = getattr(pb, name)
        if isinstance(obj, type) and issubclass(obj, pb.Plugin) and name not in _NOT_EFFECTS \
                and not name.startswith("_"):
            out[name] = obj
    return out


def _params_of(cls: type) -> list[str]:
    return sorted(n for n in dir(cls) if isinstance(getattr(cls, n, None), property)
                  and n not in ("is_effect", "is_instrument", "reported_latency_samples"))


def _builtin(spec: PluginSpec, where: str, sample_rate: float) -> Any:
    classes = plugin_classes()
    cls = classes.get(spec.type)
    if cls is None:
        raise PresetError(f"{where}.type: unknown plugin {spec.type!r}; built-in plugins: {', '.join(classes)}"
                          " (or type = \"external\" with a path)")
    plugin = cls()
    allowed = _params_of(cls)
    for key, value in spec.params.items():
        if key not in allowed:
            raise PresetError(f"{where}.{key}: {spec.type} has no parameter {key!r}; it has: {', '.join(allowed)}")
        current = getattr(plugin, key)
        if isinstance(current, bool):
            ok = isinstance(value, bool)
        elif isinstance(current, int | float):
            ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        else:
            ok = isinstance(value, type(current))
        if not ok:
            raise PresetError(f"{where}.{key}: expected {type(current).__name__}, got {value!r}")
        rng = _range_for(key, sample_rate) if isinstance(value, int | float) and not isinstance(value, bool) else None
        if rng and not rng[0] <= value <= rng[1]:
            raise PresetError(f"{where}.{key}: must be in {rng[0]:g}..{rng[1]:g}, got {value!r}")
        try:
            setattr(plugin, key, value)
        except (ValueError, TypeError) as exc:
            raise PresetError(f"{where}.{key}: {exc}") from None
    return plugin


def plugin_path(ps: PluginSpec, spec: ChainSpec) -> Path:
    """Where an external plugin of ``spec`` is: its path, relative to the chain file when not absolute."""
    path = Path(ps.path or "").expanduser()
    return path if path.is_absolute() else Path(spec.source).parent / path


def plugin_consent(path: Path, where: str) -> Verdict:
    """Whether the external plugin at ``path`` may be loaded on this machine (nothing of it is loaded to tell);
    PresetError naming ``where`` when it is missing or the allowed list cannot be read."""
    from engine.audio.consent import ConsentError, check

    if not path.exists():
        raise PresetError(f"{where}.path: plugin not found at {path}")
    try:
        return check(path)
    except ConsentError as exc:
        raise PresetError(f"{where}.path: {exc}") from None


def refused_plugins(spec: ChainSpec, overrides: Mapping[str, Any] | None = None,
                    label: str = "") -> list[tuple[str, Verdict]]:
    """The external plugins of ``spec`` (those not bypassed) that this machine has not allowed, each with where it
    is named; nothing is loaded. ``label`` prefixes each place (e.g. the slot)."""
    out = []
    for i, ps in enumerate(effective_plugins(spec, overrides)):
        if ps.type == "external" and not ps.bypass:
            where = f"{label}{spec.source}: plugin[{i}]"
            verdict = plugin_consent(plugin_path(ps, spec), where)
            if not verdict.allowed:
                out.append((where, verdict))
    return out


def _external(spec: PluginSpec, where: str, path: Path) -> Any:
    import pedalboard as pb

    from engine.audio.consent import PluginNotAllowed

    # Loading runs the plugin's native code (its constructors run even when the load then fails), so a plugin a
    # project or chain names is loaded only when the producer allowed this exact file on this machine.
    verdict = plugin_consent(path, where)
    if not verdict.allowed:
        raise PluginNotAllowed([(where, verdict)])
    try:
        plugin = pb.load_plugin(str(verdict.path))  # the file that was hashed, not a link that may move
    except (ImportError, RuntimeError, ValueError, OSError) as exc:
        why = " ".join(line.strip() for line in str(exc).splitlines())
        raise PresetError(f"{where}.path: cannot load {path} as a VST3/AU plugin: {why}") from None
    names = sorted(plugin.parameters.keys())
    for key, value in spec.params.items():
        if key not in plugin.parameters:
            raise PresetError(f"{where}.parameters.{key}: the plugin has no such parameter; it has: "
                              f"{', '.join(names[:40])}")
        try:
            setattr(plugin, key, value)
        except (ValueError, TypeError) as exc:
            raise PresetError(f"{where}.parameters.{key}: {exc}") from None
    return plugin


def effective_plugins(spec: ChainSpec, overrides: Mapping[str, Any] | None = None) -> list[PluginSpec]:
    """``spec``'s plugins with ``overrides`` (``"<index>.<param>"`` -> value; ``"<index>.bypass"`` too) applied."""
    specs = list(spec.plugins)
    for key, value in (overrides or {}).items():
        idx_s, _, param = key.partition(".")
        if not idx_s.isdigit() or int(idx_s) >= len(specs) or not param:
            raise PresetError(f"{spec.source}: override {key!r} must be '<plugin index>.<parameter>'")
        i = int(idx_s)
        if param == "bypass":
            specs[i] = PluginSpec(specs[i].type, specs[i].params, specs[i].path, bool(value))
        else:
            specs[i] = PluginSpec(specs[i].type, {**specs[i].params, param: value}, specs[i].path, specs[i].bypass)
    return specs


def build_board(spec: ChainSpec, sample_rate: float = 44100.0,
                overrides: Mapping[str, Any] | None = None) -> Any:
    """A ``pedalboard.Pedalboard`` for ``spec``; bypassed plugins are left out. ``overrides`` maps
    ``"<index>.<param>"`` to a value (the GUI's edits on top of a preset). An external plugin the producer has not
    allowed on this machine (``engine.audio.consent``) raises :class:`~engine.audio.consent.PluginNotAllowed`
    before anything of it is loaded."""
    import pedalboard as pb

    plugins = []
    for i, ps in enumerate(effective_plugins(spec, overrides)):
        where = f"{spec.source}: plugin[{i}]"
        if ps.bypass:
            continue
        plugins.append(_external(ps, where, plugin_path(ps, spec)) if ps.type == "external"
                       else _builtin(ps, where, sample_rate))
    return pb.Pedalboard(plugins)


def chain_spec(name_or_path: str, search: list[Path] | None = None) -> ChainSpec:
    """A chain preset by shipped name, by name in ``search`` folders, or by path; PresetError naming it."""
    try:
        return load_chain(find_chain(name_or_path, search))
    except EffectPresetError as exc:
        raise PresetError(str(exc)) from None


def load_board(name_or_path: str, sample_rate: float = 44100.0, search: list[Path] | None = None,
               overrides: Mapping[str, Any] | None = None) -> Any:
    return build_board(chain_spec(name_or_path, search), sample_rate, overrides)


def process_chunked(board: Any, audio: np.ndarray, sample_rate: float, chunk: int = CHUNK,
                    should_stop: Callable[[], bool] | None = None) -> np.ndarray:
    """Run ``board`` over ``audio`` [channels, frames] in chunks with ``reset=False`` (after one reset)."""
    board.reset()
    x = np.ascontiguousarray(audio, dtype=np.float32)
    out = np.empty_like(x)
    for a in range(0, x.shape[1], chunk):
        if should_stop is not None and should_stop():
            from engine.errors import Cancelled

            raise Cancelled("cancelled")
        y = board(x[:, a:a + chunk], sample_rate, reset=False)
        out[:, a:a + y.shape[1]] = y
    return out


def user_preset_dirs() -> list[Path]:
    """Where user presets are looked up first: ``SONGBRIDGE_PRESETS`` (path list), then the config folder."""
    from engine.settings import config_dir

    dirs = [Path(p) for p in os.environ.get("SONGBRIDGE_PRESETS", "").split(os.pathsep) if p]
    return [*dirs, config_dir() / "effects"]
