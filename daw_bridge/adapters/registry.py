"""Which adapter lands a project's takes: ``song.daw.adapter`` -> a factory that makes it from the project's link
(``Link``). An adapter name not here is refused with the names that are."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from daw_bridge.adapters.base import Adapter
from engine.errors import SongBridgeError


@dataclass(frozen=True)
class Link:
    """What an adapter is made from: the song's DAW link, title and meter, and the folder stamped files go to."""

    daw: Any  # engine.song.DawLink
    song_title: str
    meter: int
    folder: Path
    #: the project folder when ``folder`` is inside it: nothing is written through a link planted in the project
    root: Path | None = None


def _files(name: str) -> Callable[[Link], Adapter]:
    def make(link: Link) -> Adapter:
        from daw_bridge.adapters.generic import FilesAdapter

        return FilesAdapter(link.folder, link.song_title, name, root=link.root)

    return make


def _ardour(link: Link) -> Adapter:
    if not link.daw.session:  # an Ardour link without a session lands stamped files, as it always has
        return _files("generic")(link)
    from daw_bridge.adapters.ardour_adapter import ArdourAdapter

    return ArdourAdapter(Path(link.daw.session), (link.daw.host, link.daw.port), link.daw.track_prefix, link.meter)


def _reaper(link: Link) -> Adapter:
    from daw_bridge.adapters.reaper import ReaperAdapter

    return ReaperAdapter(Path(link.daw.render_folder) if link.daw.render_folder else Path(""),
                         (link.daw.host, link.daw.port), link.daw.track_prefix)


def _live(link: Link) -> Adapter:
    from daw_bridge.adapters.live import LiveAdapter

    return LiveAdapter((link.daw.host, link.daw.port), link.daw.track_prefix)


#: ``song.daw.adapter`` -> factory. Bitwig imports the generic adapter's stamped files (no script of ours there).
ADAPTERS: dict[str, Callable[[Link], Adapter]] = {
    "generic": _files("generic"),
    "ardour": _ardour,
    "reaper": _reaper,
    "live": _live,
    "bitwig": _files("bitwig"),
}


class UnknownAdapter(SongBridgeError):
    pass


def names() -> tuple[str, ...]:
    return tuple(ADAPTERS)


def check_name(name: Any) -> str:
    """``name`` when an adapter of that name is registered, else ``UnknownAdapter`` naming the known ones."""
    if not isinstance(name, str) or name not in ADAPTERS:
        raise UnknownAdapter(f"song.json daw.adapter: unknown DAW adapter {name!r}; known adapters: "
                             f"{', '.join(ADAPTERS)}")
    return name


def adapter_for(link: Link) -> Adapter:
    return ADAPTERS[check_name(link.daw.adapter)](link)
