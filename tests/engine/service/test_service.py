"""The engine service in process mode (and thread mode where noted): events, cancel, priorities, crashes, remote."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from engine.generation import SongChoices, plan_takes, prepare_song
from engine.lyrics import parse
from engine.service import (
    PRIORITY_BATCH,
    PRIORITY_SECTION,
    Cancelled,
    EngineService,
    Failed,
    Finished,
    GenerateJob,
    Progress,
    Queued,
    SleepJob,
    Started,
)
from engine.song import Project, Song
from engine.song.document import save_song


@pytest.fixture(scope="module")
def service():
    with EngineService("process") as svc:
        yield svc


def project(tmp: Path, bars: int = 4) -> Project:
    p = Project(tmp / "s.songbridge", Song())
    p.song = prepare_song(p.song, parse("hold the line\nkeep it steady\n"),
                          SongChoices(style="rock", bpm=120, sections=f"verse:{bars}"), first_time=True)
    save_song(p.song, p.folder)
    return p


def kinds(events) -> list[str]:
    return [type(e).__name__ for e in events]


def test_guide_job_events_in_order(service: EngineService, tmp_path: Path) -> None:
    p = project(tmp_path)
    req = plan_takes(p, 1, 7)[0]
    job_id = service.submit(GenerateJob("guide", (req,), label="guide"))
    events = list(service.follow(job_id, timeout=120))
    names = kinds(events)
    assert names[0] == "Queued" and names[1] == "Started" and names[-1] == "Finished", names
    assert set(names[2:-1]) == {"Progress"}
    steps = [e.step for e in events if isinstance(e, Progress)]
    assert steps == sorted(steps) and events[-2].step == events[-2].total
    take = events[-1].take
    assert take.id == req.take_id and (req.out_dir / "mix.wav").exists()
    assert any(i.id == job_id and i.state == "finished" for i in service.jobs())


@pytest.mark.slow
def test_tiny_neural_job_and_cancel_mid_job(service: EngineService, tmp_path: Path) -> None:
    from engine.backends.diffrhythm.tiny import create_tiny_model

    models = create_tiny_model(tmp_path / "models")
    p = project(tmp_path)
    settings = {"models_dir": str(models)}
    ok = service.submit(GenerateJob("diffrhythm", tuple(plan_takes(p, 1, 1, params={"steps": 4})), settings))
    done = list(service.follow(ok, timeout=300))[-1]
    assert isinstance(done, Finished) and done.take.backend == "diffrhythm"
    # A long job cancelled after its first step stops at the next step and leaves no take behind.
    req = plan_takes(p.__class__(p.folder, p.song.with_take(done.take)), 1, 2, params={"steps": 400})[0]
    job = service.submit(GenerateJob("diffrhythm", (req,), settings))
    t_cancel = None
    for ev in service.follow(job, timeout=300):
        if isinstance(ev, Progress) and t_cancel is None:
            service.cancel(job)
            t_cancel = time.monotonic()
        last = ev
    assert isinstance(last, Cancelled)
    assert time.monotonic() - t_cancel < 10
    assert not req.out_dir.exists() and not list(req.out_dir.parent.glob(".*partial"))


def test_priorities_with_twenty_queued_jobs(service: EngineService) -> None:
    blocker = service.submit(SleepJob(steps=20, step_s=0.05, label="blocker"))
    while not isinstance(ev := service.wait(30), Started) or ev.job_id != blocker:
        assert ev is not None
    ids = {}
    for i in range(20):
        prio = PRIORITY_SECTION if i % 5 == 4 else PRIORITY_BATCH
        ids[service.submit(SleepJob(steps=1, step_s=0.0, priority=prio, label=f"j{i}"))] = (prio, i)
    started = []
    deadline = time.monotonic() + 120
    while len(started) < 20 and time.monotonic() < deadline:
        ev = service.wait(1.0)
        if isinstance(ev, Started) and ev.job_id in ids:
            started.append(ids[ev.job_id])
    expected = sorted(ids.values(), key=lambda pi: (-pi[0], pi[1]))
    assert started == expected  # the four DAW sections first, then the batch, each in submission order


def test_killed_worker_fails_its_job_and_the_next_succeeds(tmp_path: Path) -> None:
    with EngineService("process") as svc:
        victim = svc.submit(SleepJob(steps=100, step_s=0.05))
        nxt = svc.submit(SleepJob(steps=2, step_s=0.01))
        for ev in svc.follow(victim, timeout=60):
            if isinstance(ev, Progress):
                os.kill(svc.worker_pid, signal.SIGKILL)
            last = ev
        assert isinstance(last, Failed)
        assert "SIGKILL" in last.error and "restarted" in last.error
        assert isinstance(list(svc.follow(nxt, timeout=120))[-1], Finished)
        assert svc.restarts == 1


def test_a_raising_job_fails_cleanly_and_the_worker_lives_on(service: EngineService) -> None:
    pid = service.worker_pid
    bad = service.submit(SleepJob(steps=4, step_s=0.01, crash="raise"))
    last = list(service.follow(bad, timeout=60))[-1]
    assert isinstance(last, Failed) and last.error == "RuntimeError: deliberate failure" and "Traceback" in last.detail
    good = service.submit(SleepJob(steps=2, step_s=0.01))
    assert isinstance(list(service.follow(good, timeout=60))[-1], Finished)
    assert service.worker_pid == pid


def test_worker_exit_mid_job_is_reported(tmp_path: Path) -> None:
    with EngineService("process") as svc:
        job = svc.submit(SleepJob(steps=10, step_s=0.01, crash="exit"))
        last = list(svc.follow(job, timeout=60))[-1]
        assert isinstance(last, Failed) and "exited with status 3" in last.error


def test_cancel_a_queued_job_and_events_never_block() -> None:
    with EngineService("thread") as svc:
        a = svc.submit(SleepJob(steps=10, step_s=0.02))
        b = svc.submit(SleepJob(steps=10, step_s=0.02))
        assert svc.cancel(b) is True
        t0 = time.perf_counter()
        svc.events()
        assert time.perf_counter() - t0 < 0.05
        assert isinstance(list(svc.follow(a, timeout=30))[-1], Finished)
        assert [i.state for i in svc.jobs() if i.id == b] == ["cancelled"]
        assert svc.cancel(b) is False


def test_queued_event_reports_position_and_estimate() -> None:
    with EngineService("thread") as svc:
        svc.submit(SleepJob(steps=5, step_s=0.05))
        second = svc.submit(SleepJob(steps=3, step_s=0.1))
        queued = [e for e in svc.events() if isinstance(e, Queued) and e.job_id == second]
        assert queued and queued[0].estimate_s == pytest.approx(0.3)
        list(svc.follow(second, timeout=30))
