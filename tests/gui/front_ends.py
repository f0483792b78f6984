"""What issue 25's "same action everywhere" tests record: which session use case each front-end called (the app, a
real OSC peer, a ``songbridge`` subprocess sent to the app), the jobs the engine received, and how two jobs differ.
Nothing here stands in for a peer: the spies call the real methods, the jobs run."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytestqt.exceptions import TimeoutError as QtTimeout

from tests.gui.test_app_hosts_bridge import Peer

#: the session's use cases, and the two calls a front-end could make instead of one (``generate``, ``submit``)
USE_CASES = ("generate", "regenerate", "make_loop", "split", "find_grid", "render", "land", "accept", "submit")
PUMP = "songbridge-session"  # the session's event pump: what it runs when a job ends (follow-ups) is its own


class UseCases:
    """The outermost session call each front-end makes, per thread: a use case that queues through ``generate`` or
    ``submit`` counts once, as itself; a front-end that builds its own job and submits it is seen as ``submit``.
    Calls on the session's pump (follow-ups, auto-split) are the session's, not a front-end's, and are left out.
    Every call goes on to the real method."""

    def __init__(self, session: Any) -> None:
        self.calls: list[str] = []
        self._depth = threading.local()
        self._lock = threading.Lock()
        for name in USE_CASES:
            setattr(session, name, self._spy(name, getattr(session, name)))

    def _spy(self, name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            depth = getattr(self._depth, "n", 0)
            if depth == 0 and threading.current_thread().name != PUMP:
                with self._lock:
                    self.calls.append(name)
            self._depth.n = depth + 1
            try:
                return real(*args, **kwargs)
            finally:
                self._depth.n = depth
        return call

    def take(self) -> list[str]:
        """The calls since the last ``take``."""
        with self._lock:
            out, self.calls[:] = list(self.calls), []
        return out


def of(jobs: list, kind: type) -> list:
    return [j for j in jobs if isinstance(j, kind)]


def wait_for(qtbot: Any, ok: Callable[[], bool], timeout_ms: int = 10_000) -> bool:
    """Run the app's event loop until ``ok()`` or the timeout; whether it came true (the caller says what failed)."""
    try:
        qtbot.waitUntil(ok, timeout=timeout_ms)
    except (AssertionError, QtTimeout):
        return False
    return True


def over_osc(qtbot: Any, bridge: Any, jobs: list, kind: type, address: str, *args: Any) -> str:
    """Send one request from a real OSC peer (python-osc over UDP, its address proven); "" once a ``kind`` job is
    queued for it, else the bridge's error (or that nothing came)."""
    daw = Peer(bridge.osc.address)
    try:
        before = len(of(jobs, kind))
        daw.send(address, *args)
        came = wait_for(qtbot, lambda: len(of(jobs, kind)) > before
                        or any(a == "/songbridge/error" for a, _ in daw.poll()))
        errors = [v for a, v in daw.got if a == "/songbridge/error"]
        if errors:
            return f"{address} refused: {errors[0][-1]}"
        return "" if came else f"{address}: no job queued and no answer in 10 s"
    finally:
        daw.sock.close()


def songbridge(qtbot: Any, *args: str, timeout_ms: int = 120_000) -> subprocess.CompletedProcess:
    """``songbridge ARGS`` as a subprocess (the app's event loop runs meanwhile: the command may be sent to it)."""
    proc = subprocess.Popen([sys.executable, "-m", "songbridge", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": os.getcwd()})
    if not wait_for(qtbot, lambda: proc.poll() is not None, timeout_ms):
        proc.kill()
    out, err = proc.communicate()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def differences(a: Any, b: Any) -> list[str]:
    """The fields in which two jobs (dataclasses) differ, as ``field: a != b``; [] when they are equal."""
    if type(a) is not type(b):
        return [f"type: {type(a).__name__} != {type(b).__name__}"]
    if not dataclasses.is_dataclass(a):
        return [] if a == b else [f"{a!r} != {b!r}"]
    out = []
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if x != y:
            out.append(f"{f.name}: {str(x)[:300]} != {str(y)[:300]}")
    return out


def generate_spec(job: Any) -> Any:
    """A GenerateJob less what each queueing names for itself: the takes' pending ids, folders and names, and the
    seeds (a DAW request carries none)."""
    return dataclasses.replace(job, requests=tuple(
        dataclasses.replace(r, take_id="", out_dir=Path(), name="", seed=0) for r in job.requests))


def take_job_spec(job: Any) -> Any:
    """A split or grid job with its take as the take's id: the take itself changes when an earlier job on it ends."""
    return dataclasses.replace(job, take=job.take.id)


class FrontEnds:
    """One action asked for from each front-end in turn: the session calls it made, the jobs the engine got for it,
    and what went wrong on the way, checked together (every problem is named, not only the first)."""

    def __init__(self, session: Any, jobs: list, kind: type) -> None:
        self.spy = UseCases(session)
        self.jobs, self.kind = jobs, kind
        self.asked: dict[str, tuple[list[str], list[Any]]] = {}
        self.problems: list[str] = []

    def done(self, front: str, why: str = "") -> None:
        """``front`` has asked (``why``: what went wrong, if anything): keep its calls and its new jobs."""
        seen = sum(len(made) for _, made in self.asked.values())
        self.asked[front] = (self.spy.take(), of(self.jobs, self.kind)[seen:])
        if why:
            self.problems.append(f"{front}: {why}")

    def check(self, use_case: str, spec: Callable[[Any], Any]) -> list[str]:
        """Every front-end made one ``Session.<use_case>`` call and queued one job, the same job as the app's."""
        problems = list(self.problems)
        specs: dict[str, Any] = {}
        for front, (calls, made) in self.asked.items():
            if calls != [use_case]:
                problems.append(f"{front}: called {', '.join(f'Session.{c}' for c in calls) or 'no session use case'}"
                                f", not one Session.{use_case}")
            if len(made) != 1:
                problems.append(f"{front}: queued {len(made)} {self.kind.__name__}s, not one")
            else:
                specs[front] = spec(made[0])
        first = next(iter(specs), "")
        for front in specs:
            diff = differences(specs[first], specs[front])
            if diff:
                problems.append(f"{front}'s job differs from {first}'s: " + "; ".join(diff))
        return problems


def settle_all(qtbot: Any, win: Any, jobs: list) -> None:
    """Wait until every job has ended, the jobs its end started too (a landing after a loop from the DAW): closing
    the window asks while jobs run."""
    from tests.gui.test_regenerate_everywhere import settle

    while True:
        seen = len(jobs)
        settle(qtbot, win)
        qtbot.wait(300)  # the session's pump queues a follow-up right after the job it follows ends
        if len(jobs) == seen:
            return
