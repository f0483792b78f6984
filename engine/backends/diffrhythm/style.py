"""Style embeddings (spec §5): 512-d, L2-normalised MuQ-MuLan vectors from a text prompt or >= 10 s of reference
audio (its middle 10 s at 24 kHz). The encoder is loaded only when an embedding is not cached, and released right
after; embeddings are cached in the project (``cache/style/``) so a saved style needs no encoder.
"""

from __future__ import annotations

import gc
import hashlib
from pathlib import Path

import numpy as np

from engine.errors import SongBridgeError


class StyleError(SongBridgeError):
    """No style embedding can be made; the message says what to install or provide."""


def cache_key(prompt: str, audio: Path | None) -> str:
    h = hashlib.sha256()
    h.update(prompt.strip().lower().encode())
    if audio is not None:
        h.update(b"\0" + hashlib.sha256(Path(audio).read_bytes()).digest())
    return h.hexdigest()[:24]


def _normalise(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32).reshape(1, -1)
    return v / max(float(np.linalg.norm(v)), 1e-12)


def load_vector(path: Path) -> np.ndarray:
    try:
        v = np.load(path)
    except (OSError, ValueError) as exc:
        raise StyleError(f"{path}: not a .npy style vector: {exc}") from None
    if v.size != 512:
        raise StyleError(f"{path}: a style vector has 512 values, this one has {v.size}")
    return _normalise(v)


def random_style(prompt: str) -> np.ndarray:
    """For the tiny random model only: a deterministic unit vector per prompt (the model is random anyway)."""
    seed = int(hashlib.sha256(prompt.encode()).hexdigest()[:8], 16)
    return _normalise(np.random.default_rng(seed).standard_normal(512))


def encode_with_muq(muq_dir: Path, prompt: str, audio: Path | None, device: str = "cpu") -> np.ndarray:
    """MuQ-MuLan embedding; the model is freed before returning."""
    try:
        import torch  # noqa: PLC0415
        from muq import MuQMuLan  # noqa: PLC0415
    except ImportError:
        raise StyleError("style from text or audio needs MuQ-MuLan: pip install muq and put MuQ-MuLan-large in the "
                         "model folder; or choose a style preset with a saved embedding") from None
    model = MuQMuLan.from_pretrained(str(muq_dir)).to(device).eval()
    try:
        with torch.inference_mode():
            if audio is not None:
                from engine.audio.io import read_audio  # noqa: PLC0415

                wav, sr = read_audio(audio)
                if len(wav) < 10 * sr:
                    raise StyleError(f"{audio}: reference audio must be at least 10 s long")
                mid = len(wav) // 2
                clip = wav[mid - 5 * sr: mid + 5 * sr].mean(axis=1)
                import pedalboard  # noqa: PLC0415

                clip24 = pedalboard.Resample(target_sample_rate=24000)(clip[None, :], sr)[0] if sr != 24000 else clip
                emb = model(wavs=torch.tensor(clip24[None, :], device=device))
            else:
                emb = model(texts=prompt)
        return _normalise(emb.detach().float().cpu().numpy())
    finally:
        del model
        gc.collect()


def style_embedding(prompt: str, audio: Path | None, *, cache_dir: Path | None, muq_dir: Path | None,
                    tiny: bool, device: str = "cpu") -> tuple[np.ndarray, str]:
    """(vector [1, 512], where it came from)."""
    key = cache_key(prompt, audio)
    cached = cache_dir / f"{key}.npy" if cache_dir is not None else None
    if cached is not None and cached.exists():
        return load_vector(cached), f"cache {cached.name}"
    if tiny:
        return random_style(prompt), "tiny model: prompt hash"
    if muq_dir is None:
        raise StyleError("no MuQ-MuLan-large folder in the model folder, so text or audio styles cannot be embedded; "
                         "add it (and pip install muq), or use a style preset with a saved embedding")
    vec = encode_with_muq(muq_dir, prompt, audio, device)
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        np.save(cached, vec)
    return vec, "MuQ-MuLan"
