"""The Beat This! tracker: an official checkpoint from the models folder -> beats and downbeats of any audio.

Files: ``MODELS/beat_this/final0.ckpt`` (or ``small0.ckpt``, any ``*.ckpt`` there), the stripped Lightning
checkpoints CPJKU publishes (MIT, code and weights; docs/reference/fixtures/beat-this.md §2-3). They are read with
``weights_only=True``; ``model.`` (and any ``_orig_mod.``) is stripped from the keys, the training hyper-parameters
are dropped, and every key and shape is checked with a readable report; ``num_batches_tracked`` is optional.

Audio follows the reference exactly (§4.1): channels averaged in the input's dtype, soxr HQ to 22.05 kHz, float32.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.errors import SongBridgeError

FOLDER = "beat_this"
PREFERRED = ("final0.ckpt", "final1.ckpt", "final2.ckpt", "small0.ckpt", "small1.ckpt", "small2.ckpt")
LICENCE = "MIT (Beat This!, CPJKU; code and weights)"
WHERE = ("download final0.ckpt (or the smaller small0.ckpt), the checkpoints the CPJKU/beat_this README links, "
         "into MODELS/beat_this/; without one the DSP tracker finds the beats")


class BeatModelError(SongBridgeError):
    """A Beat This! checkpoint is missing, unreadable or does not fit; the message names the file and why."""


def find_checkpoint(models: Path) -> Path | None:
    folder = models / FOLDER
    if not folder.is_dir():
        return None
    for name in PREFERRED:
        if (folder / name).is_file():
            return folder / name
    found = sorted(folder.glob("*.ckpt"))
    return found[0] if found else None


@dataclass
class Loaded:
    model: object  # engine.nn.beat_this.BeatThis, eval mode, float32 on the CPU
    path: Path
    sha256: str
    config: dict


def load_checkpoint(path: str | os.PathLike[str]) -> Loaded:
    import torch

    from engine.checkpoints import mismatch_report, sha256_file
    from engine.nn.beat_this import BeatThis, config_from

    p = Path(path)
    if not p.is_file():
        raise BeatModelError(f"{p}: not found; {WHERE}")
    try:
        raw = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - pickles with code, truncated files, not a checkpoint at all
        raise BeatModelError(f"{p}: not a readable Beat This! checkpoint ({str(exc).splitlines()[0][:160]})") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("state_dict"), dict):
        raise BeatModelError(f"{p}: not a Beat This! checkpoint (no 'state_dict'); {WHERE}")
    hyper = raw.get("hyper_parameters") if isinstance(raw.get("hyper_parameters"), dict) else {}
    config = dict(config_from(hyper))
    try:
        model = BeatThis(**config)
    except (TypeError, ValueError) as exc:
        raise BeatModelError(f"{p}: hyper_parameters do not describe a Beat This! model: {exc}") from None
    sd = {k.replace("model.", "", 1).replace("_orig_mod.", ""): v for k, v in raw["state_dict"].items()
          if isinstance(v, torch.Tensor)}
    expected = model.state_dict()
    optional = {k for k in expected if k.endswith("num_batches_tracked")}
    missing = [k for k in expected if k not in sd and k not in optional]
    unexpected = [k for k in sd if k not in expected]
    shapes = [(k, tuple(sd[k].shape), tuple(v.shape)) for k, v in expected.items()
              if k in sd and tuple(sd[k].shape) != tuple(v.shape)]
    if missing or unexpected or shapes:
        raise BeatModelError(mismatch_report(f"{p}: does not fit a Beat This! model {config}", missing, unexpected,
                                             shapes))
    model.load_state_dict({k: sd.get(k, v).to(v.dtype) for k, v in expected.items()}, strict=True)
    model.eval()
    return Loaded(model, p, sha256_file(p), config)


def to_model_rate(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """audio [frames] or [frames, channels] -> float32 mono at 22.05 kHz, as the reference prepares it."""
    from engine.nn.beat_this.frontend import SAMPLE_RATE

    x = np.asarray(audio)
    if x.ndim == 2:
        x = x.mean(axis=1)
    if sample_rate != SAMPLE_RATE:
        import soxr

        x = soxr.resample(x, sample_rate, SAMPLE_RATE)
    return np.asarray(x, dtype=np.float32)


class BeatTracker:
    """One loaded model; ``frames`` gives the framewise logits, ``beats`` the times. Not shared across threads."""

    name = "beat-this"

    def __init__(self, loaded: Loaded):
        from engine.nn.beat_this import LogMel

        self.loaded = loaded
        self.mel = LogMel()

    @classmethod
    def from_models(cls, models: Path) -> BeatTracker:
        path = find_checkpoint(models)
        if path is None:
            raise BeatModelError(f"no Beat This! checkpoint in {models / FOLDER}; {WHERE}")
        return cls(load_checkpoint(path))

    def spectrogram(self, audio: np.ndarray, sample_rate: int) -> object:
        import torch

        wav = torch.from_numpy(to_model_rate(audio, sample_rate))
        with torch.inference_mode():
            return self.mel(wav)

    def frames(self, spect: object, should_stop: Callable[[], bool] | None = None) -> tuple[np.ndarray, np.ndarray]:
        import torch

        from engine.errors import Cancelled
        from engine.nn.beat_this import predict_chunked

        try:
            with torch.inference_mode():
                beat, down = predict_chunked(self.loaded.model, spect, should_stop=should_stop)  # type: ignore[arg-type]
        except InterruptedError:
            raise Cancelled("cancelled") from None
        return beat.numpy(), down.numpy()

    def beats(self, audio: np.ndarray, sample_rate: int,
              should_stop: Callable[[], bool] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(beat times, downbeat times) in seconds."""
        from .peaks import beats_from_logits

        if len(audio) * 22050 / sample_rate <= 512:
            raise BeatModelError(f"{len(audio) / sample_rate * 1000:.0f} ms of audio is too short to find beats in")
        beat, down = self.frames(self.spectrogram(audio, sample_rate), should_stop)
        return beats_from_logits(beat, down)
