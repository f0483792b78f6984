"""``songbridge doctor``: what this machine can do, one line per item, each OK or what to do."""

from __future__ import annotations

import argparse
import importlib.util
import platform
import shutil
import sys
from collections.abc import Callable

OK, WARN, FAIL = "ok", "warn", "FAIL"


def _python() -> tuple[str, str]:
    v = sys.version_info
    if v < (3, 11):
        return FAIL, f"Python {platform.python_version()}: SongBridge needs 3.11 or newer"
    return OK, f"Python {platform.python_version()} ({sys.executable})"


def _torch() -> tuple[str, str]:
    try:
        import torch
    except Exception as exc:  # noqa: BLE001
        return FAIL, f"torch cannot be imported ({exc}); pip install 'torch>=2.4,<2.14'"
    if torch.cuda.is_available():
        names = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
        return OK, f"torch {torch.__version__}, CUDA {torch.version.cuda}: {names}"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return OK, f"torch {torch.__version__}, Apple MPS"
    return WARN, (f"torch {torch.__version__}, CPU only: the neural backend runs slowly; the guide renderer is "
                  "unaffected. For a GPU, install the CUDA build of torch first (see README)")


def _precision() -> tuple[str, str]:
    """The CPU precision of the neural engines (measured once per machine, cached; overridable)."""
    from engine.precision import cpu_precision

    choice = cpu_precision()
    return OK, (f"neural engines on the CPU compute in {choice.describe()}; override with --precision, "
                "SONGBRIDGE_PRECISION or cpu_precision in engine.toml")


def _flash_attn() -> tuple[str, str]:
    if importlib.util.find_spec("flash_attn") is None:
        return OK, "flash-attn not installed: torch SDPA attention is used (pip install 'songbridge[gpu]' on CUDA)"
    return OK, "flash-attn installed"


def _audio() -> tuple[str, str]:
    try:
        import sounddevice as sd
    except OSError as exc:
        return WARN, f"no PortAudio library ({exc}); install it: apt-get install libportaudio2"
    apis = [a["name"] for a in sd.query_hostapis()]
    outs = [d["name"] for d in sd.query_devices() if d["max_output_channels"] > 0]
    if not outs:
        return WARN, f"audio host APIs {', '.join(apis) or 'none'} but no output device: audition is unavailable"
    return OK, f"audio: {', '.join(apis)}; {len(outs)} output devices (first: {outs[0]})"


def _midi() -> tuple[str, str]:
    try:
        import rtmidi
    except Exception as exc:  # noqa: BLE001
        return WARN, f"python-rtmidi cannot be imported ({exc})"
    names = {rtmidi.API_LINUX_ALSA: "ALSA", rtmidi.API_UNIX_JACK: "JACK", rtmidi.API_MACOSX_CORE: "CoreMIDI",
             rtmidi.API_WINDOWS_MM: "WinMM"}
    apis = [names.get(a, str(a)) for a in rtmidi.get_compiled_api()]
    return OK, f"MIDI backends compiled in: {', '.join(apis) or 'none'}"


def _g2p() -> tuple[str, str]:
    try:
        from engine.lyrics.g2p import default_g2p

        g = default_g2p()
        syl = g.syllables("hello world")
    except Exception as exc:  # noqa: BLE001
        return FAIL, f"G2P data unavailable: {exc}"
    tagger = "NLTK tagger" if g.has_tagger else "no NLTK tagger (homographs by rule)"
    return OK, f"G2P offline: CMU dictionary + g2p_en model, {tagger}; 'hello world' = {syl} syllables"


def _espeak() -> tuple[str, str]:
    exe = shutil.which("espeak-ng")
    if exe is None:
        return OK, ("espeak-ng not installed: lyrics use the g2p_en tokens (default). For the reference tokens: "
                    "apt-get install espeak-ng && pip install 'songbridge[espeak]'")
    has_phonemizer = importlib.util.find_spec("phonemizer") is not None
    if not has_phonemizer:
        return OK, f"espeak-ng at {exe}; pip install phonemizer to use the espeak G2P mode"
    return OK, f"espeak-ng at {exe} with phonemizer: espeak G2P mode available"


def _models(explicit: str | None) -> Callable[[], tuple[str, str]]:
    def check() -> tuple[str, str]:
        from engine.backends.diffrhythm.files import ModelFilesError, installed, locate
        from engine.settings import models_dir

        folder, origin = models_dir(explicit)
        if not folder.exists():
            return OK, (f"model folder {folder} ({origin}) does not exist: only the guide renderer is available. "
                        "Put DiffRhythm files there or point --models / SONGBRIDGE_MODELS at them")
        if not installed(folder):
            return OK, f"model folder {folder} ({origin}) holds no DiffRhythm weights: the guide renderer is used"
        try:
            files = locate(folder)
        except ModelFilesError as exc:
            return WARN, f"{exc} (songbridge models status lists each file)"
        problems = files.problems()
        if problems:
            return FAIL, "; ".join(problems) + " (the guide renderer is used until they are fixed)"
        return OK, f"model folder {folder} ({origin}): {files.model_id} ({files.variant}) complete"

    return check


def run(args: argparse.Namespace) -> int:
    checks: list[tuple[str, Callable[[], tuple[str, str]]]] = [
        ("python", _python), ("torch", _torch), ("precision", _precision), ("attention", _flash_attn),
        ("audio", _audio), ("midi", _midi),
        ("g2p", _g2p), ("espeak", _espeak), ("models", _models(args.models)),
    ]
    failed = False
    for name, check in checks:
        try:
            status, text = check()
        except Exception as exc:  # noqa: BLE001 - a broken check must not hide the others
            status, text = FAIL, f"check failed: {type(exc).__name__}: {exc}"
        failed |= status == FAIL
        print(f"[{status:>4}] {name:<9} {text}")
    print("songbridge doctor: " + ("problems found (FAIL lines above)" if failed else "ready"))
    return 1 if failed else 0
