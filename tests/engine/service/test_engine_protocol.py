"""The local service, the HTTP client and the Ray ingress are one interface to the session: ``Engine``."""

from __future__ import annotations

import inspect

import pytest

from engine.service import Engine, EngineService
from engine.service.api.client import HttpEngine
from engine.service.api.cluster import RayEngine

IMPLEMENTATIONS = [EngineService, HttpEngine, RayEngine]
METHODS = [n for n, v in vars(Engine).items() if callable(v) and not n.startswith("_")]


def test_the_protocol_names_what_the_session_calls() -> None:
    assert {"submit", "cancel", "jobs", "workers", "events", "wait", "start", "close"} <= set(METHODS)


@pytest.mark.parametrize("cls", IMPLEMENTATIONS, ids=lambda c: c.__name__)
def test_each_engine_has_every_method_with_the_protocols_parameters(cls: type) -> None:
    for name in METHODS:
        impl = getattr(cls, name, None)
        assert callable(impl), f"{cls.__name__} has no {name}()"
        want = [p.name for p in inspect.signature(getattr(Engine, name)).parameters.values()]
        got = [p.name for p in inspect.signature(impl).parameters.values()]
        assert got[:len(want)] == want, f"{cls.__name__}.{name}{got} != Engine.{name}{want}"
        extra = list(inspect.signature(impl).parameters.values())[len(want):]
        assert all(p.default is not inspect.Parameter.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
                   for p in extra), f"{cls.__name__}.{name} needs arguments the session never passes"


def test_a_running_local_service_is_an_engine() -> None:
    with EngineService("thread") as svc:
        assert isinstance(svc, Engine)
        assert svc.mode == "thread"
