"""A strict reader for JSON documents that names the path of every bad field.

``Obj(data, "song.json", "$.tempo")`` wraps a dict; each accessor checks the type and, on failure, raises
:class:`~engine.errors.DocumentError` with a message such as
``song.json: $.tempo.segments[0].bpm: expected a number, got "fast"``. Unknown keys are errors too
(:meth:`Obj.done`), so typos never pass silently.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from engine.errors import DocumentError

T = TypeVar("T")
_MISSING = object()
#: Deepest nesting of objects and lists a document may have; ours need fewer than ten levels.
MAX_DEPTH = 64
_STRING_OR_BRACKET = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')


def parse_json(text: str, source: str, *, max_depth: int = MAX_DEPTH,
               error: type[Exception] = DocumentError) -> Any:
    """``json.loads`` whose errors name ``source``, the line and the column: invalid JSON, and nesting deeper than
    ``max_depth``, refused before parsing (Python's parser would die on a hostile file 100,000 levels deep with a
    RecursionError, and so would anything that walks what it returned)."""
    depth = 0
    for m in _STRING_OR_BRACKET.finditer(text):
        c = m.group()
        if c in "[{":
            depth += 1
            if depth > max_depth:
                line = text.count("\n", 0, m.start()) + 1
                col = m.start() - text.rfind("\n", 0, m.start())
                raise error(f"{source}: line {line} column {col}: nested more than {max_depth} levels deep")
        elif c in "]}":
            depth -= 1
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(f"{source}: line {exc.lineno} column {exc.colno}: invalid JSON: {exc.msg}") from None
    except RecursionError:  # not reached after the depth check; kept so no input can make it an internal error
        raise error(f"{source}: nested too deeply") from None


def _show(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, float) or math.isfinite(value) else str(value)
    return text if len(text) <= 40 else text[:37] + "..."


class Obj:
    def __init__(self, data: Any, source: str, path: str = "$", error: type[Exception] = DocumentError):
        self.source, self.path, self.error = source, path, error
        if not isinstance(data, dict):
            raise self.fail(path, f"expected an object, got {_show(data)}")
        self.data = data
        self._used: set[str] = set()

    def fail(self, path: str, message: str) -> Exception:
        return self.error(f"{self.source}: {path}: {message}")

    def _get(self, key: str, default: Any) -> Any:
        self._used.add(key)
        if key not in self.data:
            if default is _MISSING:
                raise self.fail(f"{self.path}.{key}", "missing")
            return default
        return self.data[key]

    def _check(self, key: str, value: Any, ok: bool, what: str) -> Any:
        if not ok:
            raise self.fail(f"{self.path}.{key}", f"expected {what}, got {_show(value)}")
        return value

    def str(self, key: str, default: Any = _MISSING) -> Any:
        v = self._get(key, default)
        return v if v is default else self._check(key, v, isinstance(v, str), "a string")

    def opt_str(self, key: str) -> str | None:
        v = self._get(key, None)
        return v if v is None else self._check(key, v, isinstance(v, str), "a string or null")

    def int(self, key: str, default: Any = _MISSING, lo: int | None = None, hi: int | None = None) -> Any:
        v = self._get(key, default)
        if v is default:
            return v
        self._check(key, v, isinstance(v, int) and not isinstance(v, bool), "an integer")
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise self.fail(f"{self.path}.{key}", f"must be {lo}..{hi}, got {v}")
        return v

    def float(self, key: str, default: Any = _MISSING, lo: float | None = None, hi: float | None = None) -> Any:
        v = self._get(key, default)
        if v is default or v is None:
            return v
        ok = isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
        self._check(key, v, ok, "a number")
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise self.fail(f"{self.path}.{key}", f"must be in {lo}..{hi}, got {v}")
        return float(v)

    def opt_float(self, key: str, lo: float | None = None) -> float | None:
        return self.float(key, None, lo=lo)

    def bool(self, key: str, default: Any = _MISSING) -> Any:
        v = self._get(key, default)
        return v if v is default else self._check(key, v, isinstance(v, bool), "true or false")

    def obj(self, key: str, default: Any = _MISSING) -> Obj:
        v = self._get(key, default)
        if v is default and default is not _MISSING:
            v = {} if v is None else v
        return Obj(v, self.source, f"{self.path}.{key}", self.error)

    def raw_dict(self, key: str, default: Any = _MISSING) -> dict[str, Any]:
        v = self._get(key, default)
        return dict(self._check(key, v, isinstance(v, dict), "an object"))

    def list(self, key: str, default: Any = _MISSING) -> list[Any]:
        v = self._get(key, default)
        return list(self._check(key, v, isinstance(v, list), "a list"))

    def objs(self, key: str, default: Any = _MISSING) -> Iterator[Obj]:
        for i, item in enumerate(self.list(key, default)):
            yield Obj(item, self.source, f"{self.path}.{key}[{i}]", self.error)

    def items(self, key: str, default: Any = _MISSING) -> Iterator[tuple[str, Obj]]:
        for name, item in self.raw_dict(key, default).items():
            yield name, Obj(item, self.source, f"{self.path}.{key}.{name}", self.error)

    def build(self, make: Callable[..., T], **kwargs: Any) -> T:
        """Call a constructor, turning its ValueError into an error naming this object's path."""
        try:
            return make(**kwargs)
        except (ValueError, TypeError) as exc:
            raise self.fail(self.path, str(exc)) from None

    def done(self) -> None:
        """Raise if the object has keys nobody read."""
        extra = sorted(set(self.data) - self._used)
        if extra:
            raise self.fail(f"{self.path}.{extra[0]}", "unknown field")
