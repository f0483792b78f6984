"""Loop clips in ``song.json`` (schema 4): ``"loops": [{"bar": 9, "take": {...a take...}}]``, and the migration
from schema 3, where a loop was a take of the song (its prompt in the take's params, made by a Stable Audio
backend, one "loop" or "bed" stem) that had often replaced the song's style prompt and became its newest take."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from .model import Loop, Take

LOOP_BACKENDS = "stable-audio"


def _is_loop_dict(t: Any) -> bool:
    """The schema 3 rule for "this take is a loop" (as ``model.is_loop_take``, on the raw JSON)."""
    if not isinstance(t, dict):
        return False
    backend, stems = t.get("backend"), t.get("stems")
    return (isinstance(backend, str) and backend.startswith(LOOP_BACKENDS)) or stems in (["loop"], ["bed"])


def _asked_bar(t: dict[str, Any]) -> float:
    params = t.get("params")
    bar = params.get("at_bar") if isinstance(params, dict) else None
    ok = isinstance(bar, int | float) and not isinstance(bar, bool) and math.isfinite(bar) and bar >= 1
    return float(bar) if ok else 1.0


def _prompt(t: dict[str, Any]) -> str:
    params = t.get("params") if isinstance(t.get("params"), dict) else {}
    style = t.get("style") if isinstance(t.get("style"), dict) else {}
    return str(params.get("prompt") or style.get("prompt") or "")


def migrate_loops(data: dict[str, Any]) -> dict[str, Any]:
    """Schema 3 -> 4: loop takes leave ``takes`` for ``loops`` (each at the bar it was asked for, else bar 1), with
    all they held; an accepted entry naming a loop is dropped (a loop is never the song's take) and so is a take's
    parent naming one; a style prompt a loop had put in place of the song's (the loop's prompt, while a song take
    was made with another) goes back to the newest song take's style. Anything malformed is left for the reader to
    report with its path."""
    takes = data.get("takes")
    if not isinstance(takes, list):
        data.setdefault("loops", [])
        return data
    loops = [{"bar": _asked_bar(t), "take": t} for t in takes if _is_loop_dict(t)]
    if not loops:
        data.setdefault("loops", [])
        return data
    song_takes = [t for t in takes if not _is_loop_dict(t)]
    loop_ids = {t.get("id") for t in takes if _is_loop_dict(t)}
    data["takes"] = song_takes
    data["loops"] = [*(data.get("loops") or []), *loops] if isinstance(data.get("loops"), list) else loops
    accepted = data.get("accepted")
    if isinstance(accepted, dict):
        data["accepted"] = {k: v for k, v in accepted.items() if v not in loop_ids}
    for t in song_takes:
        if isinstance(t, dict) and t.get("parent") in loop_ids:
            t["parent"] = None
    style = data.get("style")
    prompts = {_prompt(lp["take"]) for lp in loops} - {""}
    made = [t for t in song_takes if isinstance(t, dict) and isinstance(t.get("style"), dict)]
    if isinstance(style, dict) and style.get("prompt") in prompts and made:
        own = made[-1]["style"]
        if isinstance(own.get("prompt"), str) and own["prompt"] and own["prompt"] not in prompts:
            data["style"] = {**style, **{k: own[k] for k in ("prompt", "negative_prompt") if k in own}}
    return data


def loop_to_dict(lp: Loop, take_to_dict: Callable[[Take], dict[str, Any]]) -> dict[str, Any]:
    return {"bar": lp.bar, "take": take_to_dict(lp.take)}


def read_loops(o: Any, read_take: Callable[[Any], Take]) -> tuple[Loop, ...]:
    """``$.loops`` of a song document (``o``: its reader object); each error names the loop's path."""
    loops = []
    for lo in o.objs("loops", []):
        take = read_take(lo.obj("take"))
        loops.append(lo.build(Loop, take=take, bar=lo.float("bar", 1.0, lo=1.0)))
        lo.done()
    return tuple(loops)
