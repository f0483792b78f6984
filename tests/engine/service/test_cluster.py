"""The engine as a Ray Serve application on a local Ray cluster (loopback, two logical GPUs): the same API, one
replica per GPU, a guide job and a tiny neural job at once, a replica killed mid-job, cancel."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.generation import SongChoices, plan_takes, prepare_song
from engine.lyrics import parse
from engine.service import Cancelled, Failed, Finished, GenerateJob, SleepJob, Started
from engine.service.api.client import HttpEngine
from engine.service.api.wire import TEST_JOBS_ENV
from engine.song import Project, Song
from engine.song.document import save_song
from engine.song.model import Style
from tests.conftest import REPO, tiny_neural_setup
from tests.engine.service.conftest import free_port

KEY = "a-cluster-key-for-the-tests-0123"
pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def ray_engine(tmp_path_factory):
    try:
        import ray  # noqa: F401
        from ray import serve  # noqa: F401
    except ImportError:
        pytest.fail('needs Ray Serve: pip install ".[cluster]" (the dev extra has it)')
    folder = tmp_path_factory.mktemp("cluster")
    with pytest.MonkeyPatch.context() as mp:
        tiny_neural_setup(folder / "models", mp, "Cluster Neon")
        env = {**os.environ, "SONGBRIDGE_ENGINE_KEY": KEY, "RAY_USAGE_STATS_ENABLED": "0",
               TEST_JOBS_ENV: "1"}  # the sleep jobs below (off in production)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "songbridge", "serve", "--engine", "--ray", "local", "--gpus",
                             "0,1", "--listen", f"127.0.0.1:{port}"], env=env, cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    deadline = time.monotonic() + 180
    lines = []
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        lines.append(line)
        if "songbridge engine API on" in line:
            break
    assert lines and "Ray Serve, 2 replicas, one GPU each" in lines[-1], "".join(lines[-20:])
    engine = HttpEngine(f"http://127.0.0.1:{port}", KEY.encode(), timeout_s=30)
    yield engine, folder
    engine.close()
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()


def _project(folder: Path, name: str) -> Project:
    p = Project(folder / f"{name}.songbridge", Song())
    p.song = prepare_song(p.song, parse("[verse]\nacross the racks\nand back again\n"),
                          SongChoices(title=name, style="synthwave", bpm=110, sections="verse:2"), first_time=True)
    p.song = dataclasses.replace(p.song, style=Style("synthwave", preset="Cluster Neon"))
    save_song(p.song, p.folder)
    return p


def _until(engine: HttpEngine, ids: set[str], kinds: tuple, timeout: float = 240) -> dict[str, object]:
    got: dict[str, object] = {}
    deadline = time.monotonic() + timeout
    while set(got) != ids and time.monotonic() < deadline:
        ev = engine.wait(0.5)
        if ev is not None and ev.job_id in ids and isinstance(ev, kinds):
            got.setdefault(ev.job_id, ev)
    return got


def test_a_guide_and_a_tiny_neural_job_run_at_once_on_two_replicas(ray_engine) -> None:
    engine, folder = ray_engine
    p = _project(folder, "both")
    guide = engine.submit(GenerateJob("guide", tuple(plan_takes(p, 1, 3)), label="guide"))
    neural_req = plan_takes(p, 1, 4, params={"steps": 4})[0]
    neural_req = dataclasses.replace(neural_req, take_id="take-002", out_dir=neural_req.out_dir.parent / "take-002")
    neural = engine.submit(GenerateJob("diffrhythm", (neural_req,), label="neural"))
    third = engine.submit(SleepJob(steps=400, step_s=0.02, label="waits"))
    ends = _until(engine, {guide, neural}, (Finished, Failed, Cancelled))
    assert all(isinstance(e, Finished) for e in ends.values()), ends
    assert (p.folder / "takes" / "take-001" / "mix.wav").exists()
    record = (p.folder / "takes" / "take-002" / "record.json").read_text()
    assert '"diffrhythm"' in record and (p.folder / "takes" / "take-002" / "mix.wav").stat().st_size > 1000
    assert ends[neural].takes[0].backend == "diffrhythm"  # type: ignore[attr-defined]
    states = {j.id: j.state for j in engine.engine_jobs()}
    assert states[third] in ("queued", "running")
    engine.cancel(third)
    assert isinstance(_until(engine, {third}, (Cancelled, Finished, Failed), 60)[third], Cancelled)


def test_two_jobs_use_two_replicas_a_third_queues_and_a_killed_replica_fails_only_its_job(ray_engine) -> None:
    engine, _ = ray_engine
    a, b, c = (engine.submit(SleepJob(steps=500, step_s=0.02, label=n)) for n in "abc")
    started = _until(engine, {a, b}, (Started,), 120)
    assert set(started) == {a, b}
    time.sleep(0.5)
    workers = engine.workers()
    busy = {w["running"]: w for w in workers if w["running"]}
    assert set(busy) == {a, b}, workers
    assert {busy[a]["device"], busy[b]["device"]} == {"0", "1"} and busy[a]["pid"] != busy[b]["pid"]
    assert {j.id: j.state for j in engine.engine_jobs()}[c] == "queued"
    os.kill(busy[b]["pid"], signal.SIGKILL)
    end = _until(engine, {b}, (Finished, Failed, Cancelled), 120)[b]
    assert isinstance(end, Failed) and "replica" in end.error, end
    states = {j.id: j.state for j in engine.engine_jobs()}
    assert states[a] == "running" and states[c] in ("queued", "running")
    t0 = time.monotonic()
    for job in (a, c):
        engine.cancel(job)
    ends = _until(engine, {a, c}, (Finished, Failed, Cancelled), 120)
    assert all(isinstance(e, Cancelled) for e in ends.values()), ends
    assert time.monotonic() - t0 < 10
    after = engine.engine_jobs()
    ok = engine.submit(SleepJob(steps=2, step_s=0.01))  # Ray restarted the replica: both places serve again
    assert isinstance(_until(engine, {ok}, (Finished, Failed, Cancelled), 120)[ok], Finished), after
