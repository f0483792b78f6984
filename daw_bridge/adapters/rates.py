"""Sample rates on the DAW side: the rate the running audio engine (JACK) runs at, for a new Ardour session, and
stems converted to a session's rate once, before Ardour sees them.

Ardour opens a session whose rate is not its engine's behind a blocking "sample rate mismatch" dialog (and then its
MIDI clock sends no ticks), so ``daw link --create`` makes the session at the engine's rate. A stem at another rate
than the session's is converted here (soxr, very high quality) into ``<session>/songbridge/rates/``, named after the
stem's content and the rate, so the same take lands again without converting again; the closed route needs it
(Ardour plays a Source at the session's rate whatever the file says) and the live route is faster with it (Ardour's
own conversion on import took 4.7 s for four stems at 48 kHz, against 1.4 s for files already at the rate).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

RATES_DIR = "rates"


def jack_rate(timeout_s: float = 3.0) -> int | None:
    """The sample rate of the JACK server this process would connect to (``JACK_DEFAULT_SERVER``), or None when
    none runs; never starts one."""
    exe = shutil.which("jack_samplerate")
    if exe is not None:
        try:
            out = subprocess.run([exe], capture_output=True, text=True, timeout=timeout_s,
                                 env={**os.environ, "JACK_NO_START_SERVER": "1"})
        except (OSError, subprocess.TimeoutExpired):
            out = None
        if out is not None and out.returncode == 0 and out.stdout.strip().isdigit():
            return int(out.stdout.strip())
    return _jackd_rate_from_command_line()


def _jackd_rate_from_command_line() -> int | None:
    """A running jackd's ``-r``/``--rate`` (48000 when it gives none: jackd's default), read from /proc."""
    server = os.environ.get("JACK_DEFAULT_SERVER", "default")
    for pid in filter(str.isdigit, os.listdir("/proc") if os.path.isdir("/proc") else []):
        try:
            args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        argv = [a.decode(errors="replace") for a in args if a]
        if not argv or os.path.basename(argv[0]) != "jackd":
            continue
        name = next((argv[i + 1] for i, a in enumerate(argv[:-1]) if a in ("-n", "--name")), "default")
        if name != server:
            continue
        for i, a in enumerate(argv):
            if a in ("-r", "--rate") and i + 1 < len(argv) and argv[i + 1].isdigit():
                return int(argv[i + 1])
            m = re.fullmatch(r"-r(\d+)", a)
            if m:
                return int(m.group(1))
        return 48000
    return None


def engine_rate(song_rate: int) -> tuple[int, str]:
    """(rate, where it came from) for a new session: the running JACK server's, else the song's."""
    rate = jack_rate()
    if rate:
        return rate, f"the running JACK server's rate ({os.environ.get('JACK_DEFAULT_SERVER', 'default')})"
    return song_rate, "the song's rate (no JACK server is running)"


def at_rate(stems: dict[str, Path], rate: int, cache: Path) -> tuple[dict[str, Path], int]:
    """The stems (track -> WAV) at ``rate``: files already at it as they are, others converted into ``cache`` once
    (named by content and rate; a later landing of the same audio reuses the file). Returns (stems, converted now)."""
    import soundfile as sf

    out, converted = {}, 0
    for track, wav in stems.items():
        info = sf.info(str(wav))
        if info.samplerate == rate:
            out[track] = wav
            continue
        digest = hashlib.sha256()
        with open(wav, "rb") as fh:
            while block := fh.read(1 << 20):
                digest.update(block)
        target = cache / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', Path(wav).stem)}-{digest.hexdigest()[:12]}-{rate}.wav"
        if not target.is_file():
            import soxr

            audio, sr = sf.read(str(wav), dtype="float32", always_2d=True)
            cache.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.tmp")
            sf.write(str(tmp), soxr.resample(audio, sr, rate, quality="VHQ"), rate, subtype="FLOAT", format="WAV")
            os.replace(tmp, target)
            converted += 1
        out[track] = target
    return out, converted
