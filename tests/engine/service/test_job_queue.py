"""The one job queue both engine facades use: priority order, cancelling a waiting job, a bounded table."""

from __future__ import annotations

from dataclasses import dataclass

from engine.service.events import Cancelled, Failed, Finished
from engine.service.job_queue import JobQueue


@dataclass
class _Job:
    label: str
    priority: int = 0


def test_higher_priority_first_then_first_come() -> None:
    q = JobQueue()
    a, qa = q.add(_Job("batch a"), 1.0, 0)
    b, _ = q.add(_Job("batch b"), 0.0, 0)
    c, qc = q.add(_Job("section", priority=10), 0.0, 0)
    assert qa.position == 0 and qc.position == 0  # the section jumps the two batch jobs
    order = [q.next(0)[0] for _ in range(3)]
    assert order == [c, a, b]
    assert not q.has_waiting()
    assert {i.id: i.state for i in q.infos()} == {a: "running", b: "running", c: "running"}


def test_cancelling_a_waiting_job_takes_it_out_and_a_running_one_is_left_to_its_worker() -> None:
    q = JobQueue()
    a, _ = q.add(_Job("a"), 0.0, 0)
    b, _ = q.add(_Job("b"), 0.0, 0)
    running, _ = q.next(0)
    assert running == a
    assert q.cancel_waiting(a) is None  # running: the facade tells the worker instead
    event = q.cancel_waiting(b)
    assert isinstance(event, Cancelled) and event.job_id == b
    assert q.state(b) == "cancelled" and not q.has_waiting()
    assert q.cancel_waiting(b) is None  # ended: nothing more to cancel


def test_ended_jobs_are_recorded_and_the_oldest_forgotten() -> None:
    q = JobQueue(keep_ended=3)
    ids = []
    for n in range(5):
        job_id, _ = q.add(_Job(f"job {n}"), 0.0, 0)
        q.next(0)
        q.end(Failed(job_id, "no weights") if n == 4 else Finished(job_id, ()))
        ids.append(job_id)
    live, _ = q.add(_Job("still waiting"), 0.0, 0)
    states = {i.id: (i.state, i.error) for i in q.infos()}
    assert set(states) == {*ids[2:], live}  # two oldest ended jobs forgotten, the waiting one kept
    assert states[ids[4]] == ("failed", "no weights") and states[ids[3]][0] == "finished"
    assert q.drain() == [live] and not q.has_waiting()
