"""The session's use cases on takes that exist: split into stems, find the grid (and lock to it), render, land in the
DAW.
Each checks its whole input first, then queues one job whose purpose says what it is for and what follows it
(``followups.py``); the front-ends (the app, the command line, the DAW bridge) only translate a request into one
of these calls. Mixed into :class:`engine.session.Session`."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from engine.errors import SongBridgeError

from .followups import FollowUp, Lander, checked
from .purpose import Purpose, Requester

if TYPE_CHECKING:
    from engine.song.model import Song, Take


class TakeActions:
    """Split, grid, lock, render and land (``self`` is the Session)."""

    lander: Lander | None = None

    def set_lander(self: Any, lander: Lander) -> Callable[[], None]:
        """Register what lands takes in the DAW (one at a time); returns the call that unregisters it."""
        if self.lander is not None and self.lander is not lander:
            raise SongBridgeError("a lander is registered already (one DAW link per session)")
        self.lander = lander

        def unregister() -> None:
            if self.lander is lander:
                self.lander = None
        return unregister

    def _take(self: Any, take_id: str | None) -> Take:
        song: Song = self.song
        if not take_id:
            if not song.takes:
                raise SongBridgeError("no take yet")
            return song.takes[-1]
        try:
            return song.take(take_id)
        except KeyError as exc:
            raise SongBridgeError(str(exc.args[0])) from None

    def split(self: Any, take_id: str | None = None, two: bool = False, *, origin: str = "app",
              requester: Requester | None = None, section: str | None = None,
              follow_ups: Sequence[FollowUp] = ()) -> str:
        """Split a take (the newest unless named) into stems (``two``: vocal and accompaniment). ``section``: the
        section the take was made for (a landing that follows lands there)."""
        from engine.service import SplitJob
        from engine.stems.files import WHERE, find_model

        ups = checked(follow_ups)
        take = self._take(take_id)
        models = self.models
        if find_model(models) is None:
            raise SongBridgeError(f"no stem-separation model in {models}; {WHERE}")
        job = SplitJob(self.folder, take, models, two, label=f"split {take.id}")
        return str(self.submit(job, Purpose("split", job.label, origin, take=take.id, section=section,
                                            requester=requester, follow_ups=ups)))

    def find_grid(self: Any, take_id: str | None = None, lock: bool = False, bpm: float | None = None, *,
                  origin: str = "app", requester: Requester | None = None, section: str | None = None,
                  follow_ups: Sequence[FollowUp] = ()) -> str:
        """Find a take's grid (beats, downbeats); ``lock``: also make its grid-locked copy at ``bpm`` (None: the
        DAW's tempo when following a DAW at another tempo, else the song's), heard as soon as it is made
        (``followups.switch_lock_on``)."""
        from engine.service import GridJob

        ups = checked(follow_ups)
        if lock and bpm is None:
            bpm = self.daw_tempo()
        if bpm is not None and (not math.isfinite(bpm) or not 20 <= bpm <= 400):
            raise SongBridgeError(f"bpm must be 20..400, got {bpm:g}")
        take = self._take(take_id)
        song = self.song
        if lock and bpm is not None and abs(bpm - song.tempo.bpm) > 1e-9:
            label = f"lock {take.id} to {bpm:g} bpm"
        else:
            label = f"{'lock' if lock else 'grid'} {take.id}"
        job = GridJob(self.folder, take, song.tempo, lock, bpm, self.models, label=label)
        return str(self.submit(job, Purpose("lock" if lock else "grid", label, origin, take=take.id,
                                            section=section, requester=requester, follow_ups=ups)))

    def render(self: Any, take_id: str | None = None, settings: Any = None, *, origin: str = "app",
               requester: Requester | None = None) -> str:
        """Render a take's stems and mix through their effect chains into ``renders/`` (``engine.render``); with no
        take named, the song as comped (each section's accepted take, into ``renders/comp/``), else the song's
        take. ``settings``: an ``engine.render.RenderSettings`` (None: the defaults). Bad presets and plugins this
        machine has not allowed are refused (``PluginNotAllowed``) before the job is queued."""
        from engine.comp import song_take
        from engine.render import RenderSettings, comp_settings, render_chains
        from engine.service import RenderJob

        settings = RenderSettings() if settings is None else settings
        if not isinstance(settings, RenderSettings):
            raise SongBridgeError(f"render settings: expected RenderSettings, got {type(settings).__name__}")
        song: Song = self.song
        out_name = None
        if take_id:
            take = self._take(take_id)
            label = f"render {take.id}"
        else:
            chosen = song_take(song)
            if chosen is None:
                raise SongBridgeError("the project has no song take yet: generate one first")
            take, label = chosen, f"render {chosen.id}"
            comped = comp_settings(song, settings)
            if comped is not None:
                settings, out_name, label = comped[1], "comp", "render the comp"
        stems = take.stems
        if settings.comp:  # the comp renders every stem of its takes
            from engine.comp import Piece
            from engine.render import comp_stems

            stems = comp_stems(song, tuple(Piece(*p) for p in settings.comp))
        render_chains(self.project, settings, stems)  # a bad chain or a plugin not allowed: refused here
        self.flush()  # the render reads song.json: the latest edit (an accepted take, a chain) must be on disk
        job = RenderJob(self.folder, take.id, settings, label=label, out_name=out_name)
        return str(self.submit(job, Purpose("render", label, origin, take=take.id, requester=requester)))

    def land(self: Any, take_id: str | None = None, section: str | None = None, folder: str | None = None, *,
             origin: str = "app", requester: Requester | None = None,
             follow_ups: Sequence[FollowUp] = ()) -> list[str]:
        """Land a take (None: the section's accepted take, else the song's) in the DAW: a section, or the whole song
        with its loop clips; through the registered lander. Returns the landing jobs' ids."""
        lander = self.lander
        if lander is None:
            raise SongBridgeError("no DAW link in this program: landing needs `songbridge serve` or the app")
        return list(lander.land(self, take_id, section, folder,
                                Purpose("land", origin=origin, requester=requester, follow_ups=checked(follow_ups))))
