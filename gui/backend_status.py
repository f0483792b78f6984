"""One line per backend for the Generate and Loops panels: ready, or what is missing and where it goes in the models
folder ("Stable Audio Open Small: put model.ckpt in <dir>/stable-audio-open-small"), with the backend's own full
report as the details a click away. Checking touches only the file system (``backend.available()``: no model is
loaded); :class:`BackendChecker` runs it off the GUI thread and says when a models folder has been checked.
:class:`Estimator` says how long a take would take without the app importing torch (``estimate_text``)."""

from __future__ import annotations

import sys
import threading
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

LABELS = {"guide": "Guide renderer", "diffrhythm": "DiffRhythm", "stable-audio": "Stable Audio Open 1.0",
          "stable-audio-small": "Stable Audio Open Small", "ace-step": "ACE-Step 1.5"}


@dataclass(frozen=True)
class BackendLine:
    name: str
    ok: bool
    line: str  # one sentence: ready, or what is missing and where it goes
    details: str  # the backend's own report (every file it looked for)


def _missing(folder: Path, groups: list[tuple[str, ...]]) -> str | None:
    """The files missing from ``folder``, each group of alternatives named by its first choice ("model_config.json
    and model.ckpt"), or None."""
    gone = [names[0] for names in groups if not any((folder / n).is_file() for n in names)]
    return " and ".join(gone) or None


def _stable_audio(models: Path, name: str) -> str | None:
    from engine.backends.stable_audio.catalog import FOLDERS

    folder = models / FOLDERS[name]
    weights = ("model.ckpt", "model.safetensors") if name.endswith("small") else ("model.safetensors", "model.ckpt")
    missing = _missing(folder, [("model_config.json",), weights])
    if missing:
        return f"put {missing} in {folder}"
    t5 = [folder / "t5", models / "t5-base"]
    if not any((p / "config.json").is_file() for p in t5):
        return f"put t5-base (config.json, model.safetensors, tokenizer.json) in {models / 't5-base'}"
    return None


def _diffrhythm(models: Path) -> str | None:
    from engine.backends.diffrhythm.files import VARIANT_DIRS

    names = ("cfm_model.pt", "cfm_model.safetensors", "model.safetensors")
    if not any((models / d / n).is_file() for d in VARIANT_DIRS.values() for n in names):
        return f"put cfm_model.pt in {models / VARIANT_DIRS['full']} (or {VARIANT_DIRS['base']})"
    for path in (models / "DiffRhythm-vae" / "vae_model.pt", models / "vocab.json", models / "vocal.npy"):
        if not path.is_file():
            return f"put {path.name} in {path.parent}"
    return None


def backend_line(name: str, models: Path) -> BackendLine:
    """``name``'s line for the models folder ``models``."""
    from engine.backends import registry

    label = LABELS.get(name, name)
    try:
        ok, why = registry.create(name, models_dir=str(models)).available()
    except Exception as exc:  # noqa: BLE001 - a backend that cannot even be asked is reported, not raised
        ok, why = False, f"{type(exc).__name__}: {exc}"
    if ok:
        return BackendLine(name, True, f"{label}: ready", why)
    missing = None
    if name.startswith("stable-audio"):
        missing = _stable_audio(models, name)
    elif name == "diffrhythm":
        missing = _diffrhythm(models)
    if missing is None:  # the files are there but something in them is wrong: the report's first sentence
        missing = why.split("; ")[0]
    return BackendLine(name, False, f"{label}: {missing}", why)


def backend_lines(models: Path, names: list[str] | None = None) -> list[BackendLine]:
    from engine.backends import registry

    return [backend_line(n, models) for n in (names or registry.names())]


class BackendChecker(QObject):
    """Checks every backend against a models folder in a thread; ``checked`` carries (folder, lines) on the GUI
    thread (a queued signal). A newer check supersedes an older one still running."""

    checked = Signal(str, list)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.lines: dict[str, BackendLine] = {}
        self.folder: Path | None = None
        self._generation = 0
        self._lock = threading.Lock()
        self.checked.connect(self._store)

    def check(self, models: Path) -> threading.Thread:
        with self._lock:
            self._generation += 1
            generation = self._generation

        def work() -> None:
            lines = backend_lines(models)
            with self._lock:
                if generation != self._generation:
                    return
            self.checked.emit(str(models), lines)

        t = threading.Thread(target=work, name="songbridge-backend-check", daemon=True)
        t.start()
        return t

    def _store(self, folder: str, lines: list) -> None:
        self.folder = Path(folder)
        self.lines = {ln.name: ln for ln in lines}


#: backends whose estimate imports nothing heavy (the neural ones import torch to ask for a GPU)
LIGHT_ESTIMATES = frozenset({"guide"})


def estimate_text(name: str, models: Path, folder: Path, style: Any, duration_s: float,
                  params: dict[str, Any] | None = None) -> str:
    """"about 12.3 s, 640 MiB per take" for a take of ``duration_s`` with backend ``name`` (models in ``models``)
    and the parameters the Generate panel would send (``params``: those the backend declares)."""
    from engine.backends import registry
    from engine.backends.base import GenerationRequest
    from engine.estimates import estimate_seconds

    backend = registry.create(name, models_dir=str(models))
    declared = getattr(backend, "params", {})
    req = GenerationRequest("est", folder / "takes" / "est", (), style, max(1.0, duration_s), 0,
                            params={k: v for k, v in (params or {}).items() if k in declared})
    seconds, mem = backend.estimate(req)
    seconds = estimate_seconds(backend.name, req.duration_s, seconds)
    return f"about {seconds:.1f} s, {mem / 2**20:.0f} MiB per take"


class Estimator:
    """Runs ``estimate_text`` for a worker thread. A neural backend's estimate imports torch, and importing torch
    holds the interpreter's lock for a few hundred milliseconds (the GUI thread would stall even with the import on
    a worker thread), so while this process has not imported torch those run in one child process (started at the
    first such estimate, kept for the next ones); once torch is here (a job ran in-process) they run in the thread."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def __call__(self, name: str, models: Path, folder: Path, style: Any, duration_s: float,
                 params: dict[str, Any] | None = None) -> str:
        args = (name, models, folder, style, duration_s, params)
        if name in LIGHT_ESTIMATES or "torch" in sys.modules:
            return estimate_text(*args)
        with self._lock:
            if self._pool is None:
                import multiprocessing

                self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
            pool = self._pool
        return pool.submit(estimate_text, *args).result(timeout=300)

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
