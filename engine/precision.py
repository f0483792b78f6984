"""The precision the neural engines compute in on this CPU, chosen by measurement.

Most producers have no CUDA GPU. A CPU with bfloat16 (AVX-512 BF16, AMX, Arm BF16) or float16 (AVX-512 FP16,
Arm FP16) matrix instructions multiplies 2-8x faster in that format than in float32; one without them is far
slower (float16 on a CPU with no FP16 units ran at 0.6 GFLOP/s against 290 in float32). So the choice is made
by timing, once per machine: a 1024-wide matrix product in each format (a fraction of a second), cached with the
CPU's name, the torch version and the thread count. A low-precision format is chosen when it multiplies at least
:data:`MIN_GAIN` times faster than float32; float16 (the smaller rounding error) wins over bfloat16 when it is
at least as fast. The choice applies to the matrix products of the repeated transformer blocks and the VAE's
convolutions; what carries the signal in and out, the norms, RoPE and the ODE state stay float32
(``engine.nn.lowp``). ``benchmarks/cpu_inference.py`` prints the drift this costs.

Override, first match wins: ``--precision`` (a backend setting), ``SONGBRIDGE_PRECISION``, ``cpu_precision``
in the settings file ``engine.toml`` in the user's config folder, then the measurement. Values: ``auto``,
``fp32``, ``bf16``, ``fp16``. Nothing here imports torch until a measurement or a dtype is asked for.
"""

from __future__ import annotations

import json
import os
import platform
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import SongBridgeError
from engine.safe_fs import write_atomic

NAMES = ("fp32", "bf16", "fp16")
ENV = "SONGBRIDGE_PRECISION"
SETTINGS_FILE = "engine.toml"
SETTINGS_KEYS = ("cpu_precision",)
CACHE_FILE = "cpu-precision.json"
#: a low-precision format must multiply this much faster than float32 to be worth its rounding
MIN_GAIN = 1.3
PROBE = 1024  # matrix size of the probe: large enough to reach the kernels' rate, small enough to take < 1 s
_SMALL = 512  # the first, small product (0.27 GFLOP): it tells a format with fast kernels from one without
_SLOW_GFLOPS = 10.0  # any CPU's float32 does ten times this: below it a format has no fast kernels
_REPEATS = 8
PROBE_VERSION = 2  # in the cache key: 2 = the one-thread rate too (rates cached by the first probe re-measured)


@dataclass(frozen=True)
class Choice:
    """What the engines compute in: ``name`` (fp32, bf16 or fp16), where the choice came from, and the measured
    matrix-product rates in GFLOP/s per format (empty when the choice was not measured)."""

    name: str
    source: str
    rates: dict[str, float] = field(default_factory=dict)

    @property
    def dtype(self) -> Any:
        import torch

        return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[self.name]

    @property
    def low(self) -> bool:
        return self.name != "fp32"

    def describe(self) -> str:
        rates = ", ".join(f"{k} {v:.0f}" for k, v in self.rates.items())
        return f"{self.name} ({self.source}{'; GFLOP/s: ' + rates if rates else ''})"


def check_name(value: str, where: str) -> str:
    v = str(value).strip().lower()
    aliases = {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16", "half": "fp16"}
    v = aliases.get(v, v)
    if v not in (*NAMES, "auto"):
        raise SongBridgeError(f"{where}: precision must be auto, {', '.join(NAMES)}; got {value!r}")
    return v


def read_setting(path: Path | None = None) -> str | None:
    """``cpu_precision`` from ``engine.toml`` in the config folder, or None; unknown keys are errors."""
    if path is None:
        from engine.settings import config_dir

        path = config_dir() / SETTINGS_FILE
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SongBridgeError(f"{path}: not a readable settings file ({exc})") from None
    extra = sorted(set(data) - set(SETTINGS_KEYS))
    if extra:
        raise SongBridgeError(f"{path}: unknown key {extra[0]!r} (known: {', '.join(SETTINGS_KEYS)})")
    value = data.get("cpu_precision")
    return None if value is None else check_name(value, f"{path}: cpu_precision")


def cache_path() -> Path:
    env = os.environ.get("SONGBRIDGE_CACHE")
    if env:
        return Path(env).expanduser() / CACHE_FILE
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("songbridge", appauthor=False)) / CACHE_FILE


def machine_key(threads: int) -> str:
    """What the measurement depends on: the CPU model and its matrix extensions, torch's version, the threads."""
    import torch

    model, flags = platform.processor() or platform.machine(), ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and model in ("", platform.machine(), platform.processor()):
                model = line.split(":", 1)[1].strip()
            elif line.startswith(("flags", "Features")) and not flags:
                words = line.split(":", 1)[1].split()
                flags = " ".join(sorted(w for w in words if "bf16" in w or "fp16" in w or w.startswith("amx")
                                        or w in ("avx512f", "asimdhp", "sve")))
    except OSError:
        pass
    return f"{model} | {flags} | torch {torch.__version__} | {threads} threads | probe {PROBE_VERSION}"


def measure(names: tuple[str, ...] = NAMES, size: int = PROBE) -> dict[str, float]:
    """GFLOP/s of a ``size`` x ``size`` matrix product in each format on this CPU, the best of :data:`_REPEATS`
    (one preempted product on a busy machine must not decide). A format whose small product is slower than
    :data:`_SLOW_GFLOPS` (no fast kernels: float16 on this VM ran at 0.6-2.5 GFLOP/s) is timed on that product
    alone, so the probe stays around a second.

    With several threads a fast format is also timed on one thread, and the rate is the larger of the two and
    the one-thread rate times the threads: a product on all threads needs every core at once, which a busy
    machine rarely gives (on the shared 2-core VM at load 2-3 two threads measured fp32 60-99 and bf16 270-846
    GFLOP/s from one probe to the next, one thread 96-98 and 445-447, its quiet two-thread rates being 194 and
    836-840); cached, a probe taken in a busy moment would have made every later estimate twice too long."""
    import torch

    dtypes = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
    out: dict[str, float] = {}
    g = torch.Generator().manual_seed(0)

    def rate(n: int, dtype: Any, reps: int) -> float:
        a = torch.randn(n, n, generator=g).to(dtype)
        b = torch.randn(n, n, generator=g).to(dtype)
        a @ b  # warm-up: kernel selection, packing, the thread pool
        t = float("inf")
        for _ in range(reps):
            t0 = time.perf_counter()
            a @ b
            t = min(t, time.perf_counter() - t0)
        return 2.0 * n**3 / t / 1e9

    with torch.inference_mode():
        for name in names:
            small = rate(_SMALL, dtypes[name], 3)
            if small < _SLOW_GFLOPS:
                out[name] = round(small, 2)
                continue
            best = rate(size, dtypes[name], _REPEATS)
            threads = torch.get_num_threads()
            if threads > 1:
                torch.set_num_threads(1)
                try:
                    best = max(best, threads * rate(size, dtypes[name], _REPEATS))
                finally:
                    torch.set_num_threads(threads)
            out[name] = round(best, 1)
    return out


def choose(rates: dict[str, float]) -> str:
    """The format for these measured rates: float32 unless a low-precision one is :data:`MIN_GAIN` x faster;
    float16 over bfloat16 when it is at least as fast (its rounding error is eight times smaller)."""
    base = rates.get("fp32", 0.0)
    fast = [n for n in ("fp16", "bf16") if base > 0 and rates.get(n, 0.0) >= MIN_GAIN * base]
    if not fast:
        return "fp32"
    if "fp16" in fast and "bf16" in fast:
        return "fp16" if rates["fp16"] >= rates["bf16"] else "bf16"
    return fast[0]


def measured_rates(*, refresh: bool = False, path: Path | None = None) -> dict[str, float]:
    """The cached rates for this machine, measured (and cached) when missing or when ``refresh``."""
    import torch

    path = path or cache_path()
    key = machine_key(torch.get_num_threads())
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, dict):
            data = {}
    except (OSError, ValueError):
        data = {}
    entry = data.get(key)
    if not refresh and isinstance(entry, dict) and all(isinstance(entry.get(n), float | int) for n in NAMES):
        return {n: float(entry[n]) for n in NAMES}
    rates = measure()
    data[key] = rates
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps(data, indent=1))
    except (OSError, SongBridgeError):
        pass  # an unwritable cache costs a re-measurement next time, nothing else
    return rates


#: a model narrower than this (its transformer's width) computes in float32 on one thread: see :func:`small_model`
SMALL_WIDTH = 256


def small_model(width: int) -> bool:
    """Whether a model of this transformer width is too small for low precision and two threads to pay.

    Measured with the tiny Stable Audio Open Small test model (width 64, a 4-bar loop per call) on the 2-core VM
    while other test runs kept its load at 6-8: a loop took 0.6-1.3 s on one thread in float32, 0.7-1.7 s on one
    thread in bf16, 2.8-11.7 s on two threads (every small product waits for both threads, and one is often
    descheduled); its bf16 channels-last decoder ran 2x slower than float32 even idle (4-32 channels). The real
    models are 1024-2048 wide, where both threads and bf16 pay (``benchmarks/cpu_inference.py``). Small models
    also skip the precision probe."""
    return width < SMALL_WIDTH


@contextmanager
def threads_for(width: int) -> Iterator[None]:
    """Run the block on one torch thread when the model is :func:`small_model` (restored after); else as is."""
    if not small_model(width):
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def cpu_precision(explicit: str | None = None, *, settings_file: Path | None = None,
                  width: int | None = None) -> Choice:
    """The precision for CPU inference: ``explicit`` (``--precision``), ``SONGBRIDGE_PRECISION``, the settings
    file, then the cached measurement. ``auto`` anywhere means "measure", except for a :func:`small_model` of
    transformer ``width``: float32, unmeasured."""
    for value, source in ((explicit, "--precision"), (os.environ.get(ENV), ENV)):
        if value:
            name = check_name(value, source)
            if name != "auto":
                return Choice(name, source)
    setting = read_setting(settings_file)
    if setting and setting != "auto":
        return Choice(setting, f"{SETTINGS_FILE} setting")
    if width is not None and small_model(width):
        return Choice("fp32", f"a small model (width {width} < {SMALL_WIDTH})")
    rates = measured_rates()
    return Choice(choose(rates), "measured on this CPU", rates)
