"""Named backends. Each entry builds its backend lazily, so listing backends imports nothing heavy."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

from engine.errors import SongBridgeError

from .base import Backend
from .params import Param, check_params

#: name -> "module:factory"; the factory takes keyword settings (such as ``models_dir``).
_FACTORIES: dict[str, str] = {
    "guide": "engine.backends.guide.backend:GuideBackend",
    "diffrhythm": "engine.backends.diffrhythm.backend:DiffRhythmBackend",
    "stable-audio": "engine.backends.stable_audio.backend:StableAudioBackend",
    "stable-audio-small": "engine.backends.stable_audio.backend:StableAudioSmallBackend",
    "ace-step": "engine.backends.ace_step.backend:AceStepBackend",
}
#: Preference order for "the best available backend" for a song with lyrics (Stable Audio makes loops and beds):
#: ACE-Step 1.5 (the strongest open song model) when its files are installed, then DiffRhythm, then the guide.
PREFERENCE = ("ace-step", "diffrhythm", "guide")
#: Backends that load no model and import no torch: a one-shot command runs their jobs in its own process (the
#: same worker loop, in a thread) instead of starting a worker process, which took longer than the render.
NO_WORKER = frozenset({"guide"})
#: Backends that can continue a take past its end (``Regenerate.extend_s``): ACE-Step's extend
CONTINUES = ("ace-step",)


def register(name: str, target: str) -> None:
    """Add a backend: ``target`` is ``"package.module:Factory"``."""
    _FACTORIES[name] = target


def needs_worker(name: str) -> bool:
    """Whether ``name``'s jobs belong in a worker process (a model to load and keep, torch, a GPU)."""
    return name not in NO_WORKER


def names() -> list[str]:
    return list(_FACTORIES)


def _factory(name: str) -> Callable[..., Backend]:
    target = _FACTORIES.get(name)
    if target is None:
        raise SongBridgeError(f"unknown backend {name!r}; choose one of: {', '.join(_FACTORIES)}")
    module_name, factory_name = target.split(":")
    return getattr(importlib.import_module(module_name), factory_name)


def create(name: str, **settings: object) -> Backend:
    return _factory(name)(**settings)


def param_specs(name: str) -> Mapping[str, Param]:
    """What ``--param`` may set for this backend (no model is loaded, nothing heavy imported)."""
    return getattr(_factory(name), "params", {})


def check_request_params(name: str, params: Mapping[str, Any], label: str = "--param {name}") -> dict[str, Any]:
    """``params`` checked against the backend's declared parameters; raises naming the parameter."""
    return check_params(name, param_specs(name), params, label)


def check_ready(name: str, params: Mapping[str, Any], **settings: Any) -> None:
    """Refuse, before anything is queued, parameters the installed files of ``name`` cannot run (for a backend that
    can tell from its files: :class:`~engine.backends.base.ChecksRequests`)."""
    from .base import ChecksRequests

    backend = create(name, **settings)
    if isinstance(backend, ChecksRequests):
        backend.check_request(params)


def best_available(notes: list[str] | None = None, **settings: object) -> Backend:
    """The most capable backend that can run here; the guide renderer always can. A backend whose files are
    present but broken or incomplete is skipped with a sentence in ``notes``."""
    for name in PREFERENCE:
        if name not in _FACTORIES:
            continue
        backend = create(name, **settings)
        ok, reason = backend.available()
        if ok:
            return backend
        installed = getattr(backend, "installed", None)
        if notes is not None and installed is not None and installed():
            notes.append(f"the {name} backend was skipped: {reason}; drafting with the guide renderer")
    return create("guide")
