"""The OSC address table: data, not code paths. Each entry maps an address (or a family with a trailing
``<prop>``) to its argument spec and the command it becomes. ``docs/osc.md`` documents the same table.

Argument kinds: ``int`` (OSC i/h), ``float`` (f/d, ints accepted), ``str`` (s), ``bool`` (T/F or 0/1 ints).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from daw_bridge import protocol as p

ROOT = "/songbridge"
SONG_PROPS = {  # property -> (kind of its value, settable)
    "title": ("str", True), "tempo": ("float", True), "time_signature": ("str", True), "key": ("str", True),
    "style": ("str", True), "style_preset": ("str", True), "sections": ("str", True), "lyrics": ("str", True), "length": ("float", False),
    "takes": ("str", False),
}
TRANSPORT_PROPS = ("position", "tempo", "is_playing", "follow")
MAX_STRING = 60_000  # one UDP datagram


class ArgError(ValueError):
    pass


@dataclass(frozen=True)
class Arg:
    name: str
    kind: str
    optional: bool = False


def _coerce(arg: Arg, value: Any) -> Any:
    if arg.kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ArgError(f"{arg.name} must be an int, got {type(value).__name__}")
        return value
    if arg.kind == "float":
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ArgError(f"{arg.name} must be a finite number, got {value!r:.40}")
        return float(value)
    if arg.kind == "str":
        if not isinstance(value, str):
            raise ArgError(f"{arg.name} must be a string, got {type(value).__name__}")
        if len(value) > MAX_STRING:
            raise ArgError(f"{arg.name} is longer than {MAX_STRING} characters")
        return value
    if arg.kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise ArgError(f"{arg.name} must be true/false or 0/1")
    raise ArgError(f"unknown kind {arg.kind}")


def parse_args(spec: Sequence[Arg], args: Sequence[Any]) -> dict[str, Any]:
    required = sum(1 for a in spec if not a.optional)
    if not required <= len(args) <= len(spec):
        want = " ".join(f"{a.name}:{a.kind}" + ("?" if a.optional else "") for a in spec) or "no arguments"
        raise ArgError(f"expected {want}, got {len(args)} argument(s)")
    return {a.name: _coerce(a, v) for a, v in zip(spec, args, strict=False)}


def _positive_takes(v: dict[str, Any]) -> int:
    takes = v.get("takes", 1)
    if not 1 <= takes <= 16:
        raise ArgError("takes must be 1..16")
    return takes


MAX_JSON = 16_384  # bytes of a JSON argument
MAX_TIME = 100_000.0  # bars or seconds: far past any song


def _number(x: Any, what: str) -> float:
    """A finite, non-negative number (bars or seconds)."""
    if isinstance(x, bool) or not isinstance(x, int | float):
        raise ArgError(f"{what} must be numbers, got {json.dumps(x)[:40]}")
    v = float(x)
    if not math.isfinite(v) or not 0 <= v <= MAX_TIME:
        raise ArgError(f"{what} must be finite numbers 0..{MAX_TIME:g}, got {x!r}"[:200])
    return v


def _range(a: Any, b: Any, what: str) -> tuple[float, float]:
    a, b = _number(a, what), _number(b, what)
    if b <= a:
        raise ArgError(f"{what}: end must be after start")
    return a, b


def _load_json(text: str) -> Any:
    """JSON with limits: size, nesting (a RecursionError is a bad request) and digits (Python refuses long ints)."""
    if len(text) > MAX_JSON:
        raise ArgError(f"json is {len(text)} characters; at most {MAX_JSON}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ArgError(f"json: {exc.msg} at column {exc.colno}") from None
    except (ValueError, RecursionError) as exc:
        raise ArgError(f"json: {str(exc)[:120] or 'nested too deeply'}") from None


def _seed(x: Any, what: str) -> int:
    if isinstance(x, bool) or not isinstance(x, int) or not 0 <= x < 2**32:
        raise ArgError(f"{what} must be an int 0..2^32-1, got {json.dumps(x)[:40]}")
    return x


def _params(data: dict[str, Any]) -> dict[str, Any]:
    """``json.params``: backend option names to numbers, strings or true/false (the session checks them against
    the backend)."""
    params = data.get("params", {})
    if not isinstance(params, dict) or len(params) > 32 or not all(
            isinstance(k, str) and len(k) <= 64 and isinstance(x, str | int | float) for k, x in params.items()):
        raise ArgError("json.params must map backend option names to numbers, strings or true/false")
    if any(isinstance(x, float) and not math.isfinite(x) for x in params.values()):
        raise ArgError("json.params: numbers must be finite")
    if any(isinstance(x, str) and len(x) > MAX_STRING for x in params.values()):
        raise ArgError(f"json.params: strings are at most {MAX_STRING} characters")
    return params


def _generate_json(v: dict[str, Any]) -> p.Command:
    data = _load_json(v["json"])
    if not isinstance(data, dict):
        raise ArgError("json must be an object")
    allowed = {"section", "bars", "seconds", "takes", "style", "style_preset", "seed", "backend", "params"}
    extra = set(data) - allowed
    if extra:
        raise ArgError(f"json: unknown key {sorted(extra)[0]!r}")
    out: dict[str, Any] = {}
    for key in ("section", "style", "style_preset", "backend"):
        if key in data:
            if not isinstance(data[key], str):
                raise ArgError(f"json.{key} must be a string")
            out[key] = data[key]
    for key in ("bars", "seconds"):
        if key in data:
            val = data[key]
            if not (isinstance(val, list) and len(val) == 2):
                raise ArgError(f"json.{key} must be [start, end]")
            out[key] = _range(val[0], val[1], f"json.{key}")
    if "takes" in data:
        if not isinstance(data["takes"], int):
            raise ArgError("json.takes must be an int")
        out["takes"] = _positive_takes(data)
    if "seed" in data:
        out["seed"] = _seed(data["seed"], "json.seed")
    if "params" in data:
        out["params"] = tuple(sorted(_params(data).items()))
    return p.Generate(**out)


def _render_json(v: dict[str, Any]) -> p.Command:
    data = _load_json(v.get("json") or "{}")
    keys = {"format", "bits", "loudness", "ceiling", "fx"}
    if not isinstance(data, dict) or set(data) - keys:
        raise ArgError("json must be an object with format, bits, loudness, ceiling and/or fx")
    if "format" in data and data["format"] not in ("wav", "flac"):
        raise ArgError("json.format must be \"wav\" or \"flac\"")
    if "bits" in data and (isinstance(data["bits"], bool) or data["bits"] not in (16, 24, 32)):
        raise ArgError("json.bits must be 16, 24 or 32 (float)")
    for key in ("loudness", "ceiling"):
        val = data.get(key)
        if val is not None and (isinstance(val, bool) or not isinstance(val, int | float) or not math.isfinite(val)):
            raise ArgError(f"json.{key} must be a number" + (" or null (no normalisation)" if key == "loudness"
                                                             else ""))
    fx = data.get("fx", {})
    if not isinstance(fx, dict) or len(fx) > 64 or not all(
            isinstance(k, str) and (t is None or isinstance(t, str)) for k, t in fx.items()):
        raise ArgError("json.fx must map stems to preset names (or null: no chain)")
    return p.Render(v.get("take") or None, tuple(sorted(data.items(), key=lambda kv: kv[0])))


def _edit_json(v: dict[str, Any]) -> p.Command:
    data = _load_json(v["json"])
    keys = {"ranges", "bars", "sections", "lines", "lyrics", "takes", "seed", "backend", "params", "extend",
            "extend_bars"}
    if not isinstance(data, dict) or set(data) - keys:
        raise ArgError("json must be an object with ranges, bars, sections, lines, lyrics, takes, seed, backend, "
                       "params, extend and/or extend_bars")
    extend = {}
    for key in ("extend", "extend_bars"):
        x = data.get(key, 0)
        if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x) or not 0 <= x <= 600:
            raise ArgError(f"json.{key} must be a number 0..600")
        extend[key] = float(x)
    spans = {}
    for key, unit in (("ranges", "seconds"), ("bars", "1-based bars")):
        val = data.get(key, [])
        if not isinstance(val, list) or not all(isinstance(r, list) and len(r) == 2 for r in val):
            raise ArgError(f"json.{key} must be [[start, end], ...] in {unit}")
        spans[key] = val
    lines, sections = data.get("lines", []), data.get("sections", [])
    lyrics = data.get("lyrics", {})
    for key, val in (("lines", lines), ("sections", sections)):
        if not isinstance(val, list) or not all(isinstance(x, str) for x in val):
            raise ArgError(f"json.{key} must be a list of strings")
    if not isinstance(lyrics, dict) or not all(isinstance(k, str) and isinstance(t, str) for k, t in lyrics.items()):
        raise ArgError("json.lyrics must map line ids to new text")
    if not (spans["ranges"] or spans["bars"] or sections or lines or extend["extend"] or extend["extend_bars"]):
        raise ArgError("give ranges, bars, sections or lines to regenerate (or extend)")
    if len(spans["ranges"]) + len(spans["bars"]) + len(sections) > 256 or len(lines) > 1000 or len(lyrics) > 1000:
        raise ArgError("at most 256 ranges and 1000 lines in one edit")
    if "takes" in data and (isinstance(data["takes"], bool) or not isinstance(data["takes"], int)):
        raise ArgError("json.takes must be an int")
    backend = data.get("backend")
    if backend is not None and not isinstance(backend, str):
        raise ArgError("json.backend must be a string")
    seed = None if data.get("seed") is None else _seed(data["seed"], "json.seed")
    params = _params(data)
    return p.Edit(v["take"], tuple(_range(a, b, "json.ranges") for a, b in spans["ranges"]), tuple(lines),
                  tuple(lyrics.items()), seed, tuple(sections),
                  tuple(_range(a, b, "json.bars") for a, b in spans["bars"]), _positive_takes(data), backend or None,
                  tuple(sorted(params.items())), extend["extend"], extend["extend_bars"])


@dataclass(frozen=True)
class Route:
    args: tuple[Arg, ...]
    build: Callable[[dict[str, Any]], p.Command]
    doc: str


def _audition(action: str) -> Callable[[dict[str, Any]], p.Command]:
    return lambda v: p.Audition(action, v.get("seconds"), v.get("end"), v.get("take"))


ROUTES: dict[str, Route] = {
    "/ping": Route((), lambda v: p.Ping(), "liveness: answered with /songbridge/pong s version"),
    "/bridge/get/stats": Route((), lambda v: p.BridgeStats(), "received, handled, coalesced, dropped, unsent"),
    "/job/generate": Route((Arg("json", "str"),), _generate_json,
                           'generate from JSON {"section"|"bars"|"seconds", "takes", "style", "style_preset", '
                           '"seed", "backend", "params"}'),
    "/job/generate_song": Route((Arg("takes", "int", True),), lambda v: p.Generate(takes=_positive_takes(v)),
                                "generate the whole song"),
    "/job/generate_section": Route((Arg("section", "str"), Arg("takes", "int", True)),
                                   lambda v: p.Generate(section=v["section"], takes=_positive_takes(v)),
                                   "regenerate one section by name (e.g. 'Chorus 1')"),
    "/job/generate_bars": Route((Arg("start_bar", "float"), Arg("end_bar", "float"), Arg("takes", "int", True)),
                                lambda v: p.Generate(bars=_range(v["start_bar"], v["end_bar"], "bars"),
                                                     takes=_positive_takes(v)),
                                "regenerate bars [start, end) (1-based)"),
    "/job/generate_seconds": Route((Arg("start", "float"), Arg("end", "float"), Arg("takes", "int", True)),
                                   lambda v: p.Generate(seconds=_range(v["start"], v["end"], "seconds"),
                                                        takes=_positive_takes(v)),
                                   "regenerate a time range in seconds"),
    "/job/edit": Route((Arg("take", "str"), Arg("json", "str")), _edit_json,
                       'regenerate parts of a take ("": the accepted or newest song take): JSON {"ranges": [[s, e]], '
                       '"bars": [[a, b]], "sections": [names], "lines": [ids], "lyrics": {id: text}, "takes", "seed", '
                       '"backend"}'),
    "/job/cancel": Route((Arg("job", "str"), Arg("token", "str", True)), lambda v: p.Cancel(v["job"], v.get("token")),
                         "cancel a job of your host ('*': all of them); any job with the admin token"),
    "/job/get/status": Route((Arg("job", "str", True),), lambda v: p.JobStatus(v.get("job")),
                             "job state: one /songbridge/job/get/status s job s state f progress per job"),
    "/job/start_listen": Route((), lambda v: p.Listen("job", "events", True), "push job progress/done/failed"),
    "/job/stop_listen": Route((), lambda v: p.Listen("job", "events", False), "stop job pushes"),
    "/audition/play": Route((Arg("take", "str", True),), _audition("play"), "play (a take) from the play head"),
    "/audition/pause": Route((), _audition("pause"), "pause"),
    "/audition/stop": Route((), _audition("stop"), "stop and return to the start"),
    "/audition/ab": Route((Arg("take", "str", True),), _audition("ab"), "switch to the other take (A/B)"),
    "/audition/seek": Route((Arg("seconds", "float"),), _audition("seek"), "move the play head"),
    "/audition/loop": Route((Arg("seconds", "float"), Arg("end", "float")), _audition("loop"), "loop a region"),
    "/audition/loop_off": Route((), _audition("loop_off"), "stop looping"),
    "/take/accept": Route((Arg("take", "str"), Arg("section", "str", True)),
                          lambda v: p.Accept(v["take"], v.get("section")), "accept a take (for a section)"),
    "/loop/generate": Route((Arg("prompt", "str"), Arg("bars", "float", True), Arg("bpm", "float", True),
                             Arg("at_bar", "float", True)),
                            lambda v: p.MakeLoop(v["prompt"], float(v.get("bars") or 4.0), v.get("bpm") or None,
                                                 v.get("at_bar") or None),
                            "a loop of bars (4) at bpm (the DAW's tempo when following, else the song's), landed at "
                            "at_bar (where the DAW is) on a track named after the prompt"),
    "/take/add_part": Route((Arg("track", "str"), Arg("take", "str", True), Arg("alone", "bool", True)),
                            lambda v: p.AddPart(v["track"], v.get("take") or None, bool(v.get("alone", False))),
                            "add one instrument over a take (ACE-Step base: bass, drums, guitar, ...; take '' = the "
                            "newest song take); alone=1: take that instrument out of it alone"),
    "/job/render": Route((Arg("take", "str", True), Arg("json", "str", True)), _render_json,
                         'render a take ("": the song as comped) into renders/: JSON {"format": "wav"|"flac", "bits", '
                         '"loudness": LUFS|null, "ceiling": dBTP, "fx": {stem: preset|null}}'),
    "/take/split": Route((Arg("take", "str", True), Arg("two", "bool", True)),
                         lambda v: p.Split(v.get("take") or None, bool(v.get("two", False))),
                         "split a take (the newest) into vocal, drums, bass, other (two: vocal + instrumental)"),
    "/take/grid": Route((Arg("take", "str", True), Arg("lock", "bool", True), Arg("bpm", "float", True)),
                        lambda v: p.FindGrid(v.get("take") or None, bool(v.get("lock", False)), v.get("bpm") or None),
                        "a take's beat grid; lock=1 also locks it to the grid (at bpm, else the DAW's or song's "
                        "tempo)"),
    "/stems/land": Route((Arg("take", "str", True), Arg("section", "str", True)),
                         lambda v: p.Land(v.get("take") or None, v.get("section") or None),
                         "land stems in the DAW (the accepted or newest take; whole song or one section)"),
    "/stems/land_to": Route((Arg("folder", "str"), Arg("take", "str", True), Arg("section", "str", True)),
                            lambda v: p.Land(v.get("take") or None, v.get("section") or None, v["folder"]),
                            "write stamped stems into a folder inside the project"),
    "/transport/set/follow": Route((Arg("on", "bool"),), lambda v: p.FollowTransport(v["on"]),
                                   "follow the DAW's transport (MIDI clock/SPP)"),
    "/daw/pull": Route((), lambda v: p.DawSync("pull"),
                       "the DAW session's tempo map and markers into the song (undoable, from DAW)"),
    "/daw/push": Route((), lambda v: p.DawSync("push"), "the song's sections and tempo into the DAW session"),
    "/daw/get/osc": Route((), lambda v: p.DawOsc(), "where the DAW's OSC listens: s:host i:port"),
    "/daw/set/osc": Route((Arg("host", "str"), Arg("port", "int")), lambda v: p.DawOsc(v["host"], v["port"]),
                          "set where the DAW's OSC listens (port 0: find Ardour's); undoable, kept in song.json"),
}


def translate(address: str, args: Sequence[Any]) -> p.Command:
    """An OSC message -> a command; bad requests become :class:`BadRequest` (never an exception)."""
    if not address.startswith(ROOT + "/"):
        return p.BadRequest("unknown_address", f"addresses start with {ROOT}/")
    tail = address[len(ROOT):]
    try:
        route = ROUTES.get(tail)
        if route is not None:
            return route.build(parse_args(route.args, args))
        parts = tail.strip("/").split("/")
        if len(parts) == 3 and parts[0] == "song" and parts[1] in ("get", "set", "start_listen", "stop_listen"):
            obj, verb, prop = parts
            if prop not in SONG_PROPS:
                return p.BadRequest("unknown_address", f"no song property {prop!r}; properties: "
                                                       + ", ".join(SONG_PROPS))
            kind, settable = SONG_PROPS[prop]
            if verb == "set":
                if not settable:
                    return p.BadRequest("not_allowed", f"song property {prop!r} is read-only")
                value = parse_args((Arg(prop, kind),), args)[prop]
                return p.SetProperty("song", prop, value)
            parse_args((), args)
            return p.GetProperty("song", prop) if verb == "get" else p.Listen("song", prop, verb == "start_listen")
        if len(parts) == 3 and parts[0] == "transport" and parts[1] in ("get", "start_listen", "stop_listen"):
            if parts[2] not in TRANSPORT_PROPS:
                return p.BadRequest("unknown_address", f"no transport property {parts[2]!r}")
            parse_args((), args)
            if parts[1] == "get":
                return p.GetProperty("transport", parts[2])
            return p.Listen("transport", parts[2], parts[1] == "start_listen")
    except ArgError as exc:
        return p.BadRequest("bad_arguments", str(exc))
    except Exception as exc:  # noqa: BLE001 - no argument may stop the OSC thread: it becomes an error reply
        return p.BadRequest("bad_arguments", f"{type(exc).__name__}: {str(exc)[:200]}")
    return p.BadRequest("unknown_address", f"unknown address {address}")
