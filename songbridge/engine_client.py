"""The CLI's side of the engine service: open the local worker or a remote engine, run a job with a progress
bar, and turn a failure into one clear error. Ctrl-C cancels the job and waits for it to stop cleanly."""

from __future__ import annotations

import sys
from typing import Any

from engine.errors import SongBridgeError
from engine.service import Cancelled, Failed, Finished, Progress, Queued
from songbridge.progress import ProgressBar


def open_engine(spec: str | None, key_file: str | None = None, ca_file: str | None = None,
                devices: list[str | None] | None = None) -> Any:
    """``None``/``local``: worker processes on this machine (one, or one per entry of ``devices``); ``thread``: in
    this process; ``http(s)://HOST:PORT`` or ``HOST:PORT``: a remote engine's JSON API
    (``songbridge serve --engine``). ``ca_file`` (``--engine-ca``) is checked first, whatever the engine."""
    if ca_file:
        check_ca_file(ca_file)
    if spec in (None, "", "local"):
        from engine.service import EngineService

        return EngineService("process", devices=devices or [None]).start()
    if spec == "thread":
        from engine.service import EngineService

        return EngineService("thread").start()
    from engine.service.api.auth import parse_address, read_key
    from engine.service.api.client import HttpEngine

    if not spec.startswith(("http://", "https://")):
        host, port = parse_address(spec)
        spec = f"http://{host}:{port}"
    return HttpEngine(spec, read_key(key_file), cafile=ca_file)


def check_ca_file(ca_file: str) -> None:
    """``--engine-ca``: a readable file of PEM certificates, or an error naming it (not an internal error)."""
    import ssl

    try:
        ssl.create_default_context(cafile=ca_file)
    except FileNotFoundError:
        raise SongBridgeError(f"--engine-ca {ca_file}: not found") from None
    except ssl.SSLError as exc:
        raise SongBridgeError(f"--engine-ca {ca_file}: not a PEM certificate file "
                              f"({exc.reason or exc.strerror or exc})") from None
    except OSError as exc:
        raise SongBridgeError(f"--engine-ca {ca_file}: cannot read: {exc.strerror or exc}") from None


def run_job(engine: Any, job: Any, label: str) -> Finished:
    job_id = engine.submit(job)
    bar = ProgressBar(label)
    try:
        try:
            for ev in engine.follow(job_id):
                if isinstance(ev, Queued) and ev.position > 0:
                    print(f"{label}: queued behind {ev.position} job(s)", file=sys.stderr)
                elif isinstance(ev, Progress):
                    bar(ev.step, ev.total)
                elif isinstance(ev, Finished):
                    return ev
                elif isinstance(ev, Failed):
                    raise SongBridgeError(f"{label} failed: {ev.error}")
                elif isinstance(ev, Cancelled):
                    raise SongBridgeError(f"{label} was cancelled")
        except KeyboardInterrupt:
            engine.cancel(job_id)
            for ev in engine.follow(job_id, timeout=60):
                if isinstance(ev, Cancelled | Finished | Failed):
                    break
            raise
    finally:
        bar.close()
    raise SongBridgeError(f"{label}: the engine stopped without an answer")
