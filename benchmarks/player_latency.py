"""Player latency and robustness on JACK's dummy backend.

Method: start a private JACK server (``jackd -n songbridge-bench -r -d dummy -r 44100 -p 256``; PortAudio reaches it
through ``JACK_DEFAULT_SERVER``), open the player on it, and record its output with a JACK client.
1. Trigger latency: ``play()`` is called at JACK frame ``t0`` (``client.frame_time``); the first non-zero frame the
   recorder receives has frame time ``t1``; latency = t1 - t0, over ``--triggers`` trials (stop, seek 0, play).
2. Load: play a take on a loop for ``--seconds`` (default 600, as the issue asks) while a guide render (another
   process, in a loop) and a heavy effect chain (reverb + chorus + compressor on every stem, in the feeder) run,
   then print the callback duration percentiles, xruns reported by PortAudio and ring underruns.

Run: ``python benchmarks/player_latency.py [--seconds 600] [--triggers 20]`` (needs jackd2)
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

SERVER = "songbridge-bench"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=600.0)
    ap.add_argument("--triggers", type=int, default=20)
    ap.add_argument("--period", type=int, default=256)
    args = ap.parse_args()
    if shutil.which("jackd") is None:
        sys.exit("needs jackd (apt-get install jackd2)")
    env = {**os.environ, "JACK_NO_AUDIO_RESERVATION": "1"}
    jackd = subprocess.Popen(["jackd", "-n", SERVER, "-r", "-t", "5000", "-d", "dummy", "-r", "44100", "-p",
                              str(args.period)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.environ["JACK_DEFAULT_SERVER"] = SERVER
    load = None
    try:
        time.sleep(2.0)
        import jack
        import soundfile as sf

        from engine.audio.fx import load_board
        from engine.audio.player import Player

        tmp = Path(tempfile.mkdtemp())
        take = tmp / "take"
        (take / "stems").mkdir(parents=True)
        rng = np.random.default_rng(0)
        for stem in ("drums", "bass", "keys", "vocal"):
            sf.write(str(take / "stems" / f"{stem}.wav"), (rng.uniform(-0.1, 0.1, (44100 * 20, 2))).astype(np.float32),
                     44100, subtype="FLOAT")

        rec = jack.Client("sb-bench-rec", servername=SERVER, no_start_server=True)
        ins = [rec.inports.register(f"in_{i}") for i in range(2)]
        first_hit: list[int] = []
        armed = threading.Event()

        @rec.set_process_callback
        def process(frames):
            if armed.is_set() and not first_hit:
                a = ins[0].get_array()
                nz = np.flatnonzero(a)
                if len(nz):
                    first_hit.append(rec.last_frame_time + int(nz[0]))

        rec.activate()
        player = Player().open()
        for src, dst in zip(sorted(p.name for p in rec.get_ports("PortAudio", is_audio=True, is_output=True))[-2:],
                            ins, strict=True):
            rec.connect(src, dst)
        player.load(take)
        lat = []
        for _ in range(args.triggers):
            player.stop()
            time.sleep(0.15)
            first_hit.clear()
            armed.set()
            t0 = rec.frame_time
            player.play()
            deadline = time.monotonic() + 2
            while not first_hit and time.monotonic() < deadline:
                time.sleep(0.001)
            armed.clear()
            if first_hit:
                lat.append((first_hit[0] - t0) / 44100 * 1000)
        player.stop()
        lat_a = np.array(lat)
        print(f"JACK dummy, period {args.period} frames ({args.period / 44.1:.1f} ms), PortAudio reports "
              f"{player.latency_s * 1000:.1f} ms output latency")
        print(f"trigger -> first non-zero sample: median {np.median(lat_a):.1f} ms, p90 {np.percentile(lat_a, 90):.1f} ms, "
              f"max {lat_a.max():.1f} ms over {len(lat_a)} triggers")

        heavy = {s: load_board("vocal-space") for s in ("drums", "bass", "keys", "vocal")}
        player.load(take, chains=heavy, master=load_board("master-loud"))
        player.set_loop(0.0, 19.5)
        player.counters[:] = 0
        player.callback_hist[:] = 0
        player.callback_max[:] = 0
        player.play()
        load = subprocess.Popen([sys.executable, "-c", (
            "from benchmarks.guide_render import main; import sys; sys.argv=['x','--runs','1000000','--seconds','180']; main()")],
            cwd=Path(__file__).resolve().parents[1], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        t_end = time.monotonic() + args.seconds
        while time.monotonic() < t_end:
            time.sleep(1.0)
        stats = player.stats()
        player.close()
        rec.deactivate()
        print(f"{args.seconds:.0f} s of looped playback with heavy chains on 4 stems + master while guide renders run: "
              f"{stats['callbacks']} callbacks, duration p50 {stats['callback_us_p50']:.0f} us, "
              f"p99 {stats['callback_us_p99']:.0f} us, p99.9 {stats['callback_us_p999']:.0f} us, "
              f"max {stats['callback_us_max']:.0f} us (10 us bins over every callback); "
              f"PortAudio xruns {stats['xruns']}, ring underruns {stats['underruns']}")
    finally:
        if load is not None:
            load.kill()
        if "sounddevice" in sys.modules:
            sys.modules["sounddevice"]._terminate()  # before the server goes, or PortAudio's JACK host asserts
        jackd.terminate()
        jackd.wait(10)


if __name__ == "__main__":
    main()
