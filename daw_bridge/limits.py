"""What one host may ask of the bridge, and all hosts together: jobs and takes in flight, bytes of takes written a
minute, and subscriptions (each with an expiry). Limits are per *host*, never per port: a client that opens twelve
sockets is still one client. (On loopback any program may also bind 127.0.0.2 and beyond, so every per-host limit has
a total over all hosts behind it.)

Pure bookkeeping, no I/O: the bridge asks :meth:`Quota.refusal` before it queues a job and reports what each job
wrote with :meth:`Quota.wrote`; :class:`Listeners` holds the subscriptions.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

Address = tuple[str, int]


@dataclass(frozen=True)
class Limits:
    jobs_per_host: int = 8  # queued or running jobs that make files (generate, loop, split, grid)
    takes_per_host: int = 32  # takes those jobs will make
    bytes_per_minute_per_host: int = 256 * 2**20  # bytes of takes written in the last minute (and expected)
    jobs_total: int = 32
    takes_total: int = 128
    bytes_per_minute_total: int = 1024 * 2**20
    listens_per_host: int = 64  # subscriptions (address, property) of one host
    listens_total: int = 1024
    listen_ttl_s: float = 600.0  # a subscription ends this long after its last start_listen (renew by repeating it)
    waiting_per_host: int = 1024  # commands of one host waiting for the control thread; past it, "busy"
    waiting_total: int = 4096


class Quota:
    """Bytes written by each host's jobs over the last minute; in-flight jobs are the session's to count."""

    WINDOW_S = 60.0

    def __init__(self, limits: Limits, clock: Callable[[], float] = time.monotonic):
        self.limits = limits
        self.clock = clock
        self._written: collections.deque[tuple[float, str, int]] = collections.deque()
        self._take_bytes = 0  # the last take's size: what a take still to come is expected to write
        self._lock = threading.Lock()

    def wrote(self, host: str, nbytes: int, takes: int) -> None:
        with self._lock:
            self._written.append((self.clock(), host, nbytes))
            if takes:
                self._take_bytes = nbytes // takes
            self._expire()

    def _expire(self) -> None:
        cutoff = self.clock() - self.WINDOW_S
        while self._written and self._written[0][0] < cutoff:
            self._written.popleft()

    def written(self, host: str | None = None) -> int:
        """Bytes written in the last minute by ``host``'s jobs (None: by everyone's)."""
        with self._lock:
            self._expire()
            return sum(n for _, h, n in self._written if host is None or h == host)

    def refusal(self, host: str, takes: int, in_flight: Iterable[tuple[str, int]]) -> str | None:
        """Why a job of ``takes`` takes from ``host`` must wait, or None. ``in_flight``: (host, takes) of every
        queued or running job that counts."""
        lim = self.limits
        jobs = collections.Counter[str]()
        pending = collections.Counter[str]()
        for h, n in in_flight:
            jobs[h] += 1
            pending[h] += n
        mine_jobs, mine_takes = jobs[host], pending[host]
        all_jobs, all_takes = sum(jobs.values()), sum(pending.values())
        if mine_jobs >= lim.jobs_per_host:
            return f"{mine_jobs} of your jobs are queued or running (at most {lim.jobs_per_host} per host)"
        if mine_takes + takes > lim.takes_per_host:
            return (f"{mine_takes} of your takes are queued or being made and this asks for {takes} more (at most "
                    f"{lim.takes_per_host} per host)")
        if all_jobs >= lim.jobs_total or all_takes + takes > lim.takes_total:
            return (f"the bridge has {all_jobs} jobs ({all_takes} takes) from DAW clients queued or running (at most "
                    f"{lim.jobs_total} jobs, {lim.takes_total} takes)")
        if host in LOCAL_HOSTS:  # this machine's own programs (the command line, a DAW here) write its disk anyway:
            return None  # the byte budgets keep peers on the network from filling it
        per_take = self._take_bytes
        mine = self.written(host) + (mine_takes + takes) * per_take
        if mine > lim.bytes_per_minute_per_host:
            return (f"your jobs wrote {self.written(host) / 2**20:.0f} MiB in the last minute and this would write "
                    f"about {(mine_takes + takes) * per_take / 2**20:.0f} MiB more (at most "
                    f"{lim.bytes_per_minute_per_host / 2**20:.0f} MiB a minute per host)")
        if self.written() + (all_takes + takes) * per_take > lim.bytes_per_minute_total:
            return (f"jobs from DAW clients wrote {self.written() / 2**20:.0f} MiB in the last minute (at most "
                    f"{lim.bytes_per_minute_total / 2**20:.0f} MiB a minute in all)")
        return None


#: requests from this machine (loopback), the app's own and MIDI's: not held to the byte budgets
LOCAL_HOSTS = frozenset({"127.0.0.1", "::1", "localhost", "gui", "midi"})


class Listeners:
    """Subscriptions: (object, property) -> addresses, each until an expiry (the sooner of ``listen_ttl_s`` after
    its last start_listen and the end of its address's proof). Bounded per host and in all."""

    def __init__(self, limits: Limits, clock: Callable[[], float] = time.monotonic):
        self.limits = limits
        self.clock = clock
        self._subs: dict[tuple[str, str], dict[Address, float]] = {}
        self._per_host: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()

    def add(self, key: tuple[str, str], to: Address, proven_until: float) -> str | None:
        """Subscribe (or renew); returns why not, or None."""
        now = self.clock()
        until = min(now + self.limits.listen_ttl_s, proven_until)
        with self._lock:
            self._sweep(now)
            subs = self._subs.setdefault(key, {})
            if to not in subs:
                if self._per_host[to[0]] >= self.limits.listens_per_host:
                    return f"{self._per_host[to[0]]} subscriptions from your host (at most " \
                           f"{self.limits.listens_per_host})"
                if sum(self._per_host.values()) >= self.limits.listens_total:
                    return f"the bridge has {self.limits.listens_total} subscriptions, its most"
                self._per_host[to[0]] += 1
            subs[to] = until
        return None

    def remove(self, key: tuple[str, str], to: Address) -> None:
        with self._lock:
            if self._subs.get(key, {}).pop(to, None) is not None:
                self._per_host[to[0]] -= 1

    def targets(self, key: tuple[str, str]) -> list[Address]:
        now = self.clock()
        with self._lock:
            subs = self._subs.get(key)
            if not subs:
                return []
            gone = [a for a, until in subs.items() if until <= now]
            for a in gone:
                del subs[a]
                self._per_host[a[0]] -= 1
            return list(subs)

    def _sweep(self, now: float) -> None:
        for subs in self._subs.values():
            for a in [a for a, until in subs.items() if until <= now]:
                del subs[a]
                self._per_host[a[0]] -= 1
        for h in [h for h, n in self._per_host.items() if n <= 0]:
            del self._per_host[h]

    def __len__(self) -> int:
        with self._lock:
            self._sweep(self.clock())
            return sum(len(s) for s in self._subs.values())
