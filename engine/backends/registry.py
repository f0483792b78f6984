"""Named backends. Each entry builds its backend lazily, so listing backends imports nothing heavy."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from engine.errors import SongBridgeError

from .base import Backend

#: name -> "module:factory"; the factory takes keyword settings (such as ``models_dir``).
_FACTORIES: dict[str, str] = {
    "guide": "engine.backends.guide.backend:GuideBackend",
    "diffrhythm": "engine.backends.diffrhythm.backend:DiffRhythmBackend",
}
#: Preference order for "the best available backend".
PREFERENCE = ("diffrhythm", "guide")


def register(name: str, target: str) -> None:
    """Add a backend: ``target`` is ``"package.module:Factory"``."""
    _FACTORIES[name] = target


def names() -> list[str]:
    return list(_FACTORIES)


def create(name: str, **settings: object) -> Backend:
    target = _FACTORIES.get(name)
    if target is None:
        raise SongBridgeError(f"unknown backend {name!r}; choose one of: {', '.join(_FACTORIES)}")
    module_name, factory_name = target.split(":")
    factory: Callable[..., Backend] = getattr(importlib.import_module(module_name), factory_name)
    return factory(**settings)


def best_available(**settings: object) -> Backend:
    """The most capable backend that can run here; the guide renderer always can."""
    for name in PREFERENCE:
        if name not in _FACTORIES:
            continue
        backend = create(name, **settings)
        ok, _ = backend.available()
        if ok:
            return backend
    return create("guide")
