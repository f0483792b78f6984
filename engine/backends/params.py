"""Backend parameters (``--param KEY=VALUE``, the GUI's fields, OSC): each backend declares what it takes, with
types, ranges and choices, and a request is checked against that before anything is written or queued."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.errors import SongBridgeError


@dataclass(frozen=True)
class Param:
    """One backend parameter: ``kind`` is int, float or str; numbers have an inclusive range, strings choices."""

    name: str
    kind: type
    help: str
    lo: float | None = None
    hi: float | None = None
    choices: tuple[str, ...] = ()
    #: a string's form (a regular expression it must match whole), said as ``pattern_help``; at most ``max_len``
    pattern: str | None = None
    pattern_help: str = ""
    max_len: int = 1000

    def allowed(self) -> str:
        if self.choices:
            return "one of " + ", ".join(self.choices)
        if self.kind is str:
            return self.pattern_help or f"text of at most {self.max_len} characters"
        what = "a whole number" if self.kind is int else "a number"
        return f"{what} {self.lo:g}..{self.hi:g}" if self.lo is not None and self.hi is not None else what

    def check(self, value: Any, label: str) -> Any:
        try:
            if self.kind is int:
                if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                    raise ValueError
                v: Any = int(str(value).strip()) if isinstance(value, str) else int(value)
            elif self.kind is float:
                if isinstance(value, bool):
                    raise ValueError
                v = float(value)
                if v != v or v in (float("inf"), float("-inf")):
                    raise ValueError
            else:
                v = str(value)
        except (TypeError, ValueError):
            raise SongBridgeError(f"{label}: must be {self.allowed()}, got {value!r}") from None
        if self.choices and v not in self.choices:
            raise SongBridgeError(f"{label}: must be {self.allowed()}, got {v!r}")
        if self.kind is str and (len(v) > self.max_len
                                 or (self.pattern is not None and not re.fullmatch(self.pattern, v))):
            raise SongBridgeError(f"{label}: must be {self.allowed()}, got {v[:80]!r}")
        if (self.lo is not None and v < self.lo) or (self.hi is not None and v > self.hi):
            raise SongBridgeError(f"{label}: must be {self.allowed()}, got {v!r}")
        return v


def check_params(backend: str, specs: Mapping[str, Param], params: Mapping[str, Any],
                 label: str = "--param {name}") -> dict[str, Any]:
    """``params`` with each value converted to its declared type; anything unknown or out of range raises a
    :class:`SongBridgeError` naming the parameter and what is allowed."""
    out: dict[str, Any] = {}
    for name, value in params.items():
        spec = specs.get(name)
        if spec is None:
            takes = ", ".join(specs) if specs else "no parameters"
            raise SongBridgeError(f"{label.format(name=name)}: the {backend} backend has no parameter {name!r} "
                                  f"(it takes {takes})")
        out[name] = spec.check(value, label.format(name=name))
    return out
