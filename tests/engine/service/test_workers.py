"""Several workers on one queue (one per GPU): simulated on CPU with two worker processes and logical GPU ids."""

from __future__ import annotations

import os
import signal
import time

import pytest

from engine.errors import SongBridgeError
from engine.service import EngineService, Failed, Finished, SleepJob, Started
from engine.service.local import parse_gpus
from tests.waiting import wait_until


def test_gpu_lists_are_read_as_a_producer_writes_them(monkeypatch) -> None:
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert parse_gpus(None) == [None]
    assert parse_gpus("0,1") == ["0", "1"]
    assert parse_gpus(" 3 , 1 ") == ["3", "1"]
    assert parse_gpus("cpu:3") == [None, None, None]
    assert parse_gpus("all", visible=0) == [None]  # no GPU: one worker on the CPU
    assert parse_gpus("all", visible=2) == ["0", "1"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,6")
    assert parse_gpus("all", visible=2) == ["4", "6"]  # the ids the machine means, not 0 and 1
    for bad in ("0,0", "a", "1,,2", "cpu:0", "cpu:x", "-1"):
        with pytest.raises(SongBridgeError, match="--gpus"):
            parse_gpus(bad)


def _started(svc: EngineService, ids: set[str], n: int, timeout: float = 60) -> list[str]:
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while len(seen) < n and time.monotonic() < deadline:
        ev = svc.wait(0.5)
        if isinstance(ev, Started) and ev.job_id in ids:
            seen.append(ev.job_id)
    return seen


def test_two_workers_run_two_jobs_at_once_a_third_queues_and_a_killed_worker_fails_only_its_job() -> None:
    with EngineService("process", devices=["0", "1"]) as svc:
        a, b, c = (svc.submit(SleepJob(steps=400, step_s=0.02, label=f"job {n}")) for n in "abc")
        running = _started(svc, {a, b, c}, 2)
        assert sorted(running) == sorted([a, b]), running
        states = {j.id: j for j in svc.jobs()}
        assert states[a].state == states[b].state == "running" and states[c].state == "queued"
        assert {states[a].worker, states[b].worker} == {0, 1}
        workers = svc.workers()
        assert [w["device"] for w in workers] == ["0", "1"]
        assert {w["running"] for w in workers} == {a, b} and all(w["pid"] for w in workers)
        assert len({w["pid"] for w in workers}) == 2  # two processes
        victim = next(w for w in workers if w["running"] == b)
        other = next(w for w in workers if w["running"] == a)
        os.kill(victim["pid"], signal.SIGKILL)
        ends: dict[str, object] = {}
        deadline = time.monotonic() + 120
        while b not in ends and time.monotonic() < deadline:
            ev = svc.wait(0.5)
            if isinstance(ev, Failed | Finished):
                ends[ev.job_id] = ev
        assert isinstance(ends.get(b), Failed), ends
        assert "SIGKILL" in ends[b].error and f"worker {victim['id']}" in ends[b].error  # type: ignore[attr-defined]
        states = {j.id: j for j in svc.jobs()}
        assert states[a].state == "running"  # the other worker's job goes on
        assert states[c].state == "running"  # the restarted worker took the queued job
        after = {w["id"]: w for w in svc.workers()}
        assert after[victim["id"]]["restarts"] == 1 and after[victim["id"]]["pid"] != victim["pid"]
        assert after[other["id"]]["pid"] == other["pid"] and after[other["id"]]["restarts"] == 0
        for job in (a, c):
            svc.cancel(job)
        assert svc.restarts == 1


def test_a_job_runs_on_one_worker_and_both_are_used_for_a_batch() -> None:
    with EngineService("thread", devices=[None, None]) as svc:
        ids = [svc.submit(SleepJob(steps=5, step_s=0.02)) for _ in range(6)]
        wait_until(lambda: all(j.state == "finished" for j in svc.jobs()), 60, "all six jobs to finish")
        infos = {j.id: j for j in svc.jobs()}
        assert all(infos[j].state == "finished" for j in ids)
        assert {infos[j].worker for j in ids} == {0, 1}
