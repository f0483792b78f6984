"""Splitting audio into stems: ``separate`` for any audio, ``split_take`` for a take (its stems become the split
ones; the mix is kept; ``record.json`` names the model and its sha256).

The mix is normalised as demucs' own ``Separator`` does (minus the mean, over the standard deviation of the mono
mix, and back after), run through ``demucs.apply.apply_model`` (segments with 25 % overlap, no shifts), with
progress and cancel between segments.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import Cancelled, SongBridgeError

#: demucs' source names -> the names stems have in a SongBridge take
NAMES = {"vocals": "vocal", "drums": "drums", "bass": "bass", "other": "other"}


class _Stop(Exception):
    """Raised from demucs' segment callback to stop it between segments."""


def separate(sep: Any, audio: np.ndarray, sample_rate: int, *, two: bool = False,
             on_progress: Callable[[int, int], None] | None = None,
             should_stop: Callable[[], bool] | None = None, device: str | None = None) -> dict[str, np.ndarray]:
    """audio [n, ch] -> {stem: [n, 2] float32} at ``sample_rate``; ``two``: {"vocal", "instrumental"}."""
    import torch
    from demucs.apply import apply_model

    x = np.asarray(audio, dtype=np.float32)
    x = x[:, None] if x.ndim == 1 else x
    x = np.repeat(x, 2, axis=1) if x.shape[1] == 1 else x[:, :2]
    n = len(x)
    if n < sample_rate // 10:
        raise SongBridgeError(f"{n / sample_rate:.2f} s of audio is too short to split into stems")
    if sample_rate != sep.samplerate:
        import soxr

        x = soxr.resample(x, sample_rate, sep.samplerate).astype(np.float32)
    wav = torch.from_numpy(np.ascontiguousarray(x.T))
    ref = wav.mean(0)
    mean, std = ref.mean(), ref.std()
    std = std if float(std) > 1e-8 else torch.tensor(1.0)
    parts = list(getattr(sep.model, "models", [sep.model]))  # a bag runs each of its models over every segment
    segment = min(float(getattr(m, "segment", 8.0) or 8.0) for m in parts)
    stride = int(0.75 * segment * sep.samplerate)
    models = len(parts)
    total = max(1, -(-wav.shape[-1] // max(1, stride)) * models)
    done = [0]

    def tick(d: dict) -> None:
        if should_stop is not None and should_stop():
            raise _Stop
        if d.get("state") == "end":
            done[0] += 1
            if on_progress is not None:
                on_progress(min(done[0], total), total)

    try:
        with torch.inference_mode():
            out = apply_model(sep.model, ((wav - mean) / std)[None], shifts=0, split=True, overlap=0.25,
                              progress=False, device=device or "cpu", callback=tick)[0]
    except _Stop:
        raise Cancelled("cancelled") from None
    out = out * std + mean
    stems = {NAMES.get(name, name): out[i].numpy().T for i, name in enumerate(sep.sources)}
    if sample_rate != sep.samplerate:
        import soxr

        stems = {k: soxr.resample(v, sep.samplerate, sample_rate)[:n].astype(np.float32) for k, v in stems.items()}
    if two:
        vocal = stems.pop("vocal")
        return {"vocal": vocal, "instrumental": sum(stems.values()).astype(np.float32)}
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in stems.items()}


def split_take(folder: Path, take: Any, *, models: Path | None = None, two: bool = False,
               on_progress: Callable[[int, int], None] | None = None,
               should_stop: Callable[[], bool] | None = None) -> Any:
    """Split ``takes/<id>/mix.wav`` into stems written as ``takes/<id>/stems/<stem>.wav`` (whole files renamed
    into place; the take's previous stems move to ``stems.before-split/``); returns the take with its new stems
    and ``analysis.separation`` (and without a grid lock made from the old stems)."""
    from engine.audio.io import read_audio, write_wav
    from engine.backends.takes import update_record
    from engine.safe_fs import make_dirs
    from engine.settings import models_dir
    from engine.song.model import check_stem

    from .files import LICENCE
    from .models import from_models

    take_dir = folder / "takes" / take.id
    sep = from_models(models or models_dir()[0])
    audio, sr = read_audio(take_dir / "mix.wav")
    stems = separate(sep, audio, sr, two=two, on_progress=on_progress, should_stop=should_stop)
    stem_dir = make_dirs(take_dir / "stems", folder)
    before = take_dir / "stems.before-split"  # the take's own stems are kept, out of the way, never deleted
    for old in take.stems:
        if old not in stems and (stem_dir / f"{old}.wav").is_file():
            make_dirs(before, folder)
            os.replace(stem_dir / f"{old}.wav", before / f"{old}.wav")
    staged = []
    try:
        for name, data in stems.items():
            tmp = stem_dir / f".{check_stem(name)}.wav.partial"
            write_wav(tmp, data, root=folder)
            staged.append((tmp, stem_dir / f"{name}.wav"))
        for tmp, final in staged:
            os.replace(tmp, final)
    finally:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
    record = {"model": sep.name, "files": [p.name for p in sep.files], "sha256": sep.sha256, "licence": LICENCE,
              "stems": list(stems), "previous_stems": list(take.stems)}
    # a grid-locked copy was made from the old stems: it no longer matches (lock again after splitting)
    analysis = {k: v for k, v in take.analysis.items() if k != "lock"}
    new = dataclasses.replace(take, stems=tuple(stems), analysis={**analysis, "separation": record})
    update_record(take_dir, new)
    return new
