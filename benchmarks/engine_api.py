"""The engine service's own overhead, on one machine: local workers, the HTTP/WebSocket API, and Ray Serve.

Method: the same job (a ``SleepJob`` of ``--steps`` steps of ``--step-ms`` ms, so the work itself is known and no
model is involved) runs ``--runs`` times through each path. For each run we time, at the client, submit ->
``Started`` (queueing, dispatch, the network and the event stream) and last ``Progress`` -> ``Finished`` (how fast
the end of a job reaches the client). Then the throughput of 20 small jobs (10 steps of 50 ms each, 0.5 s of work)
on 1 worker and on 2 workers (local processes; and Ray replicas with logical GPUs when ``--ray``). Medians and the
worst are printed; a JSON copy goes to ``--json``.

Run: ``python benchmarks/engine_api.py [--ray] [--json out.json]`` (``--ray`` needs ``pip install ".[cluster]"``).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.service import EngineService, Finished, Progress, SleepJob, Started

KEY = b"benchmark-key-0123456789abcdef01"
# the benchmark's SleepJobs are test jobs: an engine refuses them unless this is set (engine/service/api/wire.py)
os.environ["SONGBRIDGE_ENGINE_TEST_JOBS"] = "1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def latencies(engine, runs: int, steps: int, step_s: float) -> dict[str, float]:
    start, end = [], []
    for _ in range(runs):
        t_submit = time.perf_counter()
        job = engine.submit(SleepJob(steps=steps, step_s=step_s))
        t_last = None
        for ev in engine.follow(job, timeout=120):
            now = time.perf_counter()
            if isinstance(ev, Started):
                start.append(now - t_submit)
            elif isinstance(ev, Progress):
                t_last = now
            elif isinstance(ev, Finished) and t_last is not None:
                end.append(now - t_last)
    ms = lambda xs: round(1000 * statistics.median(xs), 2)  # noqa: E731
    return {"submit_to_started_ms": ms(start), "submit_to_started_worst_ms": round(1000 * max(start), 2),
            "last_step_to_finished_ms": ms(end), "last_step_to_finished_worst_ms": round(1000 * max(end), 2)}


def throughput(engine, jobs: int = 20) -> float:
    t0 = time.perf_counter()
    ids = {engine.submit(SleepJob(steps=10, step_s=0.05)) for _ in range(jobs)}
    done: set[str] = set()
    while done != ids:
        ev = engine.wait(60)
        if ev is None:
            raise SystemExit("the engine stopped answering")
        if isinstance(ev, Finished) and ev.job_id in ids:
            done.add(ev.job_id)
    return round(time.perf_counter() - t0, 2)


def http_engine(devices: list[str | None]):
    from engine.service.api.client import HttpEngine
    from engine.service.api.server import serve

    service = EngineService("process", devices=devices).start()
    port = free_port()
    server = serve(service, KEY, "127.0.0.1", port, Path(tempfile.mkdtemp(prefix="bench-engine-")))
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    while not server.started:
        time.sleep(0.02)

    def stop() -> None:
        server.should_exit = True
        t.join(10)
        service.close()

    return HttpEngine(f"http://127.0.0.1:{port}", KEY), stop


def ray_engine(replicas: int):
    from engine.service.api.client import HttpEngine

    port = free_port()
    env = {**os.environ, "SONGBRIDGE_ENGINE_KEY": KEY.decode(), "RAY_USAGE_STATS_ENABLED": "0"}
    gpus = ",".join(str(i) for i in range(replicas))
    proc = subprocess.Popen([sys.executable, "-m", "songbridge", "serve", "--engine", "--ray", "local", "--gpus",
                             gpus, "--listen", f"127.0.0.1:{port}"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    for line in proc.stderr:
        if "engine API on" in line:
            break
    client = HttpEngine(f"http://127.0.0.1:{port}", KEY, timeout_s=30)

    def stop() -> None:
        client.close()
        proc.send_signal(signal.SIGINT)
        proc.wait(60)

    return client, stop


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--step-ms", type=float, default=20.0)
    ap.add_argument("--ray", action="store_true", help="also through Ray Serve on a local Ray")
    ap.add_argument("--json", metavar="FILE")
    a = ap.parse_args()
    out: dict[str, dict] = {}
    step_s = a.step_ms / 1000

    with EngineService("process") as local:
        out["local"] = latencies(local, a.runs, a.steps, step_s)
        out["local"]["20_jobs_1_worker_s"] = throughput(local)
    with EngineService("process", devices=[None, None]) as two:
        out["local"]["20_jobs_2_workers_s"] = throughput(two)
    for n in (1, 2):
        client, stop = http_engine([None] * n)
        try:
            if n == 1:
                out["http"] = latencies(client, a.runs, a.steps, step_s)
            out["http"][f"20_jobs_{n}_worker{'s' if n > 1 else ''}_s"] = throughput(client)
        finally:
            client.close()
            stop()
    if a.ray:
        for n in (1, 2):
            client, stop = ray_engine(n)
            try:
                if n == 1:
                    out["ray"] = latencies(client, a.runs, a.steps, step_s)
                out["ray"][f"20_jobs_{n}_worker{'s' if n > 1 else ''}_s"] = throughput(client)
            finally:
                stop()
    print(f"job: {a.steps} steps x {a.step_ms:g} ms, {a.runs} runs; 20 jobs of 10 x 50 ms (0.5 s of work each)")
    for path, figures in out.items():
        print(f"{path:6s} " + "  ".join(f"{k}={v}" for k, v in figures.items()))
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
