"""DAW commands that make or reshape takes beyond a song: split a take into stems, find its grid (and lock it), and
make a loop that lands where the DAW is. Each checks everything, queues one job on the session and answers
``/songbridge/job/queued`` at once; the bridge's job events do the rest (done, failed, landing)."""

from __future__ import annotations

import math
from typing import Any

from daw_bridge import protocol as p
from daw_bridge.job_requests import admission, purpose_of, refuse_busy
from engine.errors import SongBridgeError

ROOT = "/songbridge"
MAX_LOOP_TAKES = 4


def analyse(bridge: Any, env: p.Envelope, cmd: p.Split | p.FindGrid) -> None:
    """A split or grid job on a take (the newest unless named). A lock asked for from the DAW is heard as soon as
    it is made (the bridge switches it on when the job ends)."""
    from engine.service import GridJob, SplitJob  # noqa: PLC0415
    from engine.settings import models_dir  # noqa: PLC0415

    why = admission(bridge, env, 1)  # a split or a grid rewrites one take's files
    if why is not None:
        refuse_busy(bridge, env, why)
        return
    song = bridge.session.song
    if not song.takes:
        raise SongBridgeError("no take yet")
    take = bridge.take(cmd.take) if cmd.take else song.takes[-1]
    models = models_dir()[0]
    if isinstance(cmd, p.Split):
        from engine.stems.files import WHERE, find_model  # noqa: PLC0415

        if find_model(models) is None:
            raise SongBridgeError(f"no stem-separation model in {models}; {WHERE}")
        job: Any = SplitJob(bridge.session.folder, take, models, cmd.two, label=f"split {take.id}")
        kind = "split"
    else:
        bpm = cmd.bpm
        if bpm is not None and not 20 <= bpm <= 400:
            raise SongBridgeError(f"bpm must be 20..400, got {bpm:g}")
        if cmd.lock and bpm is None and bridge.bpm() != song.tempo.bpm:
            bpm = bridge.bpm()  # following the DAW: its tempo
        job = GridJob(bridge.session.folder, take, song.tempo, cmd.lock, bpm, models,
                      label=f"{'lock' if cmd.lock else 'grid'} {take.id}")
        kind = "lock" if cmd.lock else "grid"
    job_id = bridge.session.submit(job, {**purpose_of(env, 1), "kind": kind, "take": take.id, "label": job.label},
                                   "daw")
    bridge.reply(env, f"{ROOT}/job/queued", job_id, job.label)


def make_loop(bridge: Any, env: p.Envelope, cmd: p.MakeLoop) -> None:
    """Queue ``cmd.takes`` loops with Stable Audio Open; each lands at its bar on a track named after the prompt
    when it is done (``purpose["land_at"]``)."""
    from engine.backends import registry  # noqa: PLC0415
    from engine.backends.stable_audio.catalog import loop_backend, window_s  # noqa: PLC0415
    from engine.backends.stable_audio.loops import loop_seconds  # noqa: PLC0415
    from engine.settings import models_dir  # noqa: PLC0415

    song = bridge.session.song
    prompt = " ".join(cmd.prompt.split()) or song.style.prompt
    if not prompt:
        raise SongBridgeError("the loop needs a prompt (or a style in the song)")
    if len(prompt) > 500:
        raise SongBridgeError("the prompt must be at most 500 characters")
    if not 0.25 <= cmd.bars <= 64 or not math.isfinite(cmd.bars):
        raise SongBridgeError(f"bars must be 0.25..64, got {cmd.bars:g}")
    if not 1 <= cmd.takes <= MAX_LOOP_TAKES:
        raise SongBridgeError(f"takes must be 1..{MAX_LOOP_TAKES}, got {cmd.takes}")
    why = admission(bridge, env, cmd.takes)
    if why is not None:
        refuse_busy(bridge, env, why)
        return
    bpm = cmd.bpm if cmd.bpm is not None else bridge.bpm()
    if not 20 <= bpm <= 400:
        raise SongBridgeError(f"bpm must be 20..400, got {bpm:g}")
    if cmd.at_bar is not None:
        if not 1 <= cmd.at_bar <= 100_000:
            raise SongBridgeError(f"at_bar must be 1..100000, got {cmd.at_bar:g}")
        at_bar = float(cmd.at_bar)
    else:
        at_bar = float(math.floor(song.tempo.seconds_to_bars(bridge.position_s())))
    beats = song.tempo.meter.numerator
    seconds = loop_seconds(cmd.bars, bpm, beats)
    models = models_dir()[0]
    name = loop_backend(models, seconds)
    window = window_s(models, name)
    if seconds > window + 1e-9:
        per_bar = beats * 60.0 / bpm
        raise SongBridgeError(f"{cmd.bars:g} bars at {bpm:g} bpm is {seconds:.2f} s; the installed Stable Audio model "
                              f"makes at most {window:.2f} s ({math.floor(window / per_bar)} bars at this tempo)")
    params = registry.check_request_params(name, {"prompt": prompt, "bars": cmd.bars, "bpm": bpm, "at_bar": at_bar},
                                           "{name}")
    job_id = bridge.session.generate(name, cmd.takes, None, params=params, duration_s=seconds,
                                     label=f"loop: {prompt[:40]}", origin="daw",
                                     purpose={**purpose_of(env, cmd.takes), "loop": True, "land_at": at_bar})
    bridge.reply(env, f"{ROOT}/job/queued", job_id, f"loop: {prompt[:40]}")
