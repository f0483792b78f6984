"""The session's use cases that make new takes: whole-song takes (:meth:`MakeTakes.generate`), new takes of parts of
a take (:meth:`MakeTakes.regenerate`, ``regenerate.py``) and loops (:meth:`MakeTakes.make_loop`, ``loops.py``).
Each checks its whole request first, sets what it carries (a style, new words) as one undoable edit, then queues one
job whose takes get their ids when they are committed (``job_flow.py``). Mixed into :class:`engine.session.Session`.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from engine.errors import SongBridgeError

from . import followups
from .loops import MakeLoop, place_reference
from .loops import plan as plan_loop
from .purpose import Purpose, Requester
from .regenerate import Regenerate
from .regenerate import plan as plan_regenerate

if TYPE_CHECKING:
    import threading

    from engine.song.model import Song, Style
    from engine.song.project import Project

    from .followups import FollowUp


class MakeTakes:
    """Generate, regenerate, make a loop (``self`` is the Session)."""

    project: Project
    backend_settings: dict[str, Any]
    _mutex: threading.RLock

    if TYPE_CHECKING:  # the Session's own
        @property
        def song(self) -> Song: ...
        @property
        def models(self) -> Any: ...
        def edit(self, new: Song, label: str, origin: str = "app", on_saved: Any = None) -> bool: ...
        def submit(self, job: Any, purpose: Purpose) -> str: ...
        def _engine(self) -> Any: ...
        def daw_tempo(self) -> float | None: ...
        def take_to_accept(self, take_id: str | None) -> str: ...
        auto_land: bool
        lander: Any

    def default_backend(self) -> str:
        """The backend a request that names none uses: the one that made the newest song take, else the guide."""
        from engine.comp import is_loop

        newest = next((t for t in reversed(self.song.takes) if not is_loop(t)), None)
        return newest.backend if newest is not None else "guide"

    def generate(self, backend: str | None, count: int, seed: int | None = None, *, params: dict[str, Any] | None = None,
                 duration_s: float | None = None, style: Style | None = None, priority: int | None = None,
                 label: str = "song", origin: str = "app", requester: Requester | None = None,
                 follow_ups: Sequence[FollowUp] = ()) -> str:
        """Queue ``count`` whole-song takes with ``backend`` (None: :meth:`default_backend`); ``style`` becomes the
        song's style first (one undoable edit). The takes get their ids when committed, then ``follow_ups`` run."""
        from engine.backends import registry
        from engine.service import PRIORITY_BATCH

        name = backend or self.default_backend()
        if name not in registry.names():
            raise SongBridgeError(f"no backend {name!r}; backends: {', '.join(registry.names())}")
        if params:  # named, typed and in range for that backend, before anything changes
            params = registry.check_request_params(name, params, "parameter {name}")
        if not 1 <= count <= 16:
            raise SongBridgeError(f"takes must be 1..16, got {count}")
        ups = self._policy(followups.checked(follow_ups), lock=False)
        self._engine()
        with self._mutex:
            if style is not None and style != self.song.style:
                self.edit(self.song.replace(style=style), "Style", origin)
            return self._queue_takes(name, count, seed, Purpose("generate", origin=origin, requester=requester,
                                                                follow_ups=ups),
                                     params=params, duration_s=duration_s, label=label,
                                     priority=PRIORITY_BATCH if priority is None else priority)

    def regenerate(self, req: Regenerate, *, origin: str = "app", priority: int | None = None,
                   requester: Requester | None = None, follow_ups: Sequence[FollowUp] = ()) -> str:
        """The one "regenerate parts of a take" (``regenerate.py``): check ``req`` whole, then set the words and style
        it carries (one undoable edit), then queue its takes (``follow_ups`` run on them when they are made); returns
        the job id."""
        from engine.backends import registry
        from engine.service import PRIORITY_INTERACTIVE

        ups = self._policy(followups.checked(follow_ups), lock=True)
        self._engine()
        with self._mutex:
            plan = plan_regenerate(self.song, req, tuple(registry.names()))
            if plan.song != self.song:
                self.edit(plan.song, "Edit lyrics" if req.lyrics else "Style", origin)
            purpose = Purpose("generate", origin=origin, requester=requester, follow_ups=ups, section=plan.section,
                              base_take=plan.base.id, ranges=tuple((r.start_s, r.end_s) for r in plan.edit.ranges))
            return self._queue_takes(plan.backend, req.takes, req.seed, purpose, params=dict(req.params),
                                     edit=plan.edit, label=plan.label, duration_s=plan.duration_s,
                                     priority=PRIORITY_INTERACTIVE if priority is None else priority)

    def make_loop(self, req: MakeLoop, *, origin: str = "app", requester: Requester | None = None,
                  follow_ups: Sequence[FollowUp] = ()) -> str:
        """Queue ``req.takes`` loops (``loops.py``, checked whole first); each becomes a loop clip at its bar, and
        lands there in the DAW when it is made wherever this program links one (session policy: the same from the
        app, the DAW and the command line). The song's style is never changed by a loop: its prompt travels with
        the loop."""
        from engine.service import PRIORITY_INTERACTIVE

        ups = followups.checked(follow_ups)
        if self.lander is not None and not any(u.action == "land" for u in ups):
            ups += (followups.land(every_take=True),)
        self._engine()
        with self._mutex:
            p = plan_loop(self.song, req, self.models)
            place_reference(self.project.folder, p)  # a variation's clip into reference/, so the take can be remade
            purpose = Purpose("generate", origin=origin, requester=requester, follow_ups=ups, loop=True,
                              land_at=req.at_bar)
            return self._queue_takes(p.backend, req.takes, req.seed, purpose, params=p.params, duration_s=p.seconds,
                                     label=p.label, priority=PRIORITY_INTERACTIVE)

    def add_part(self, take_id: str | None, track: str, *, alone: bool = False, caption: str | None = None,
                 seed: int | None = None, origin: str = "app", requester: Requester | None = None,
                 follow_ups: Sequence[FollowUp] = ()) -> str:
        """"Add a bass to this take": a new take of the take (the newest song take unless named) with one more
        instrument made over it (ACE-Step's lego: its stems plus the new one); ``alone``: that instrument taken out
        of the take instead (extract: a take of it alone). ``track``: one of ACE-Step's track names. Needs the
        ACE-Step base model; refused, naming why, before anything is queued (:meth:`check_part`)."""
        from engine.backends.base import EditSpec
        from engine.service import PRIORITY_INTERACTIVE

        ups = followups.checked(follow_ups)
        self._engine()
        with self._mutex:
            take_id, params, label = self.check_part(take_id, track, alone=alone, caption=caption)
            purpose = Purpose("generate", origin=origin, requester=requester, follow_ups=ups, base_take=take_id)
            return self._queue_takes("ace-step", 1, seed, purpose, params=params, edit=EditSpec(take_id, ()),
                                     label=label, priority=PRIORITY_INTERACTIVE)

    def check_part(self, take_id: str | None, track: str, *, alone: bool = False,
                   caption: str | None = None) -> tuple[str, dict[str, Any], str]:
        """:meth:`add_part`'s request checked whole without an engine (the take, the track, the base model
        installed): (the take's id, the backend's parameters, the job's label). Raises SongBridgeError naming
        what is wrong."""
        from engine.backends import registry
        from engine.comp import is_loop

        take = self.song.take(self.take_to_accept(take_id))
        if is_loop(take):
            raise SongBridgeError(f"{take.id} is a loop: a part is added to a song take")
        params: dict[str, Any] = {"task": "extract" if alone else "lego", "track": track}  # on the base model
        if caption:
            params["caption"] = caption
        params = registry.check_request_params("ace-step", params, "{name}")
        registry.check_ready("ace-step", params, models_dir=str(self.models))  # the track, the base model there
        label = f"take the {track} out of {take.id}" if alone else f"add {track} to {take.id}"
        return take.id, params, label

    def _policy(self, ups: tuple[FollowUp, ...], lock: bool) -> tuple[FollowUp, ...]:
        """The session's policies as follow-ups around the caller's: new bars of a take locked to the DAW's tempo
        when following a DAW at another tempo (``lock``; ``daw_tempo``), and every take landed when the session lands
        everything (``auto_land``); never twice."""
        bpm = self.daw_tempo() if lock else None
        first = (followups.lock(bpm),) if bpm is not None and not any(u.action == "lock" for u in ups) else ()
        last = (followups.land(),) if self.auto_land and not any(u.action == "land" for u in ups) else ()
        return first + ups + last

    def _queue_takes(self, backend: str, count: int, seed: int | None, purpose: Purpose, *, label: str,
                     priority: int, params: dict[str, Any] | None = None, edit: Any = None,
                     duration_s: float | None = None) -> str:
        from dataclasses import replace

        from engine.generation import plan_takes
        from engine.service import GenerateJob

        seed = secrets.randbelow(2**31) if seed is None else seed
        tag = secrets.token_hex(4)
        with self._mutex:
            if edit is not None and duration_s is None:
                duration_s = self.song.take(edit.source_take).duration_s
            requests = plan_takes(self.project, count, seed, duration_s=duration_s, params=params, edit=edit,
                                  pending=tag)
        full = f"{label} ({count} take{'s' if count > 1 else ''})"
        job = GenerateJob(backend, tuple(requests), dict(self.backend_settings), priority, full)
        return self.submit(job, replace(purpose, label=full, pending=tag))
