"""Engine service overhead in process mode: submit -> Started, and last step -> Finished.

Method: start an ``EngineService("process")`` (the spawn is timed separately), run ``--runs`` jobs of two kinds
one after another on the warm worker: a ``SleepJob`` (10 steps of 10 ms: pure service cost) and a 16-second guide
take. For each job we record the monotonic time of ``submit``, of the ``Started`` event, of the last ``Progress``
event and of ``Finished`` as seen by the client, and print medians and maxima.

Run: ``python benchmarks/service_overhead.py [--runs 10]``
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from engine.song.document import save_song


def measure(svc, job) -> tuple[float, float]:
    from engine.service import Finished, Progress, Started

    t_submit = time.monotonic()
    job_id = svc.submit(job)
    t_started = t_last = t_done = None
    for ev in svc.follow(job_id, timeout=300):
        now = time.monotonic()
        if isinstance(ev, Started):
            t_started = now
        elif isinstance(ev, Progress) and ev.step == ev.total:
            t_last = now
        elif isinstance(ev, Finished):
            t_done = now
    assert t_started and t_done
    return t_started - t_submit, t_done - (t_last or t_done)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()

    from engine.generation import SongChoices, plan_takes, prepare_song
    from engine.lyrics import parse
    from engine.service import EngineService, GenerateJob, SleepJob
    from engine.song import Project, Song

    t0 = time.monotonic()
    svc = EngineService("process").start()
    measure(svc, SleepJob(steps=1, step_s=0.0))
    print(f"worker spawn + first job: {(time.monotonic() - t0) * 1000:.0f} ms")
    with tempfile.TemporaryDirectory() as tmp:
        p = Project(Path(tmp) / "b.songbridge", Song())
        p.song = prepare_song(p.song, parse("one two three\nfour five six\n"),
                              SongChoices(style="pop", bpm=120, sections="verse:8"), first_time=True)
        save_song(p.song, p.folder)
        requests = plan_takes(p, args.runs, 1)  # distinct take ids, one job each
        for name, make in (("sleep job", lambda i: SleepJob(steps=10, step_s=0.01)),
                           ("guide take (16 s)", lambda i: GenerateJob("guide", (requests[i],)))):
            starts, ends = [], []
            for i in range(args.runs):
                s, e = measure(svc, make(i))
                starts.append(s)
                ends.append(e)
            print(f"{name}: submit->Started median {statistics.median(starts) * 1000:.1f} ms "
                  f"(max {max(starts) * 1000:.1f}); last step->Finished median {statistics.median(ends) * 1000:.1f} ms "
                  f"(max {max(ends) * 1000:.1f}) over {args.runs} runs")
    svc.close()


if __name__ == "__main__":
    main()
