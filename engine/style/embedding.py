"""Where a take's style vector comes from: a saved preset, a reference clip, or the text prompt (in that order of
precedence), embedded by MuQ-MuLan in the worker and unloaded right after. Vectors are cached in the project
(``cache/style/``) under a key made of what was embedded (the prompt's exact text or the clip's sha256) and the
encoder's sha256, so changing either makes a new vector and an unchanged style needs no encoder at all.

The DiT receives ``vector.half()`` as DiffRhythm gives it (:func:`dit_input`); the vector itself is stored as
the encoder's float32 output, not re-normalised (a multi-clip average has a norm below 1).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .encoder import StyleError
from .files import FOLDER, LICENCE, EncoderFilesError, locate, present, weights_digest

ENCODER_NAME = "MuQ-MuLan-large"


@dataclass(frozen=True)
class StyleVector:
    vector: np.ndarray  # float32 [1, 512]
    record: dict[str, Any] = field(default_factory=dict)

    @property
    def source(self) -> str:
        return str(self.record.get("source", ""))


def dit_input(vector: np.ndarray) -> np.ndarray:
    """The style vector as the DiT gets it in DiffRhythm: rounded to float16 (returned as float32)."""
    return np.asarray(vector, dtype=np.float32).astype(np.float16).astype(np.float32).reshape(1, -1)


def random_style(seed_text: str) -> np.ndarray:
    """For the tiny random DiT without an encoder only: a deterministic unit vector."""
    seed = int(hashlib.sha256(seed_text.encode()).hexdigest()[:8], 16)
    v = np.random.default_rng(seed).standard_normal((1, 512)).astype(np.float32)
    return v / np.linalg.norm(v)


def file_sha256(path: Path) -> str:
    from engine.checkpoints import sha256_file

    return sha256_file(path)


def load_cached(path: Path) -> np.ndarray | None:
    try:
        v = np.load(path, allow_pickle=False)
    except (OSError, ValueError):
        return None
    if v.size != 512 or not np.isfinite(v).all():
        return None
    return np.asarray(v, dtype=np.float32).reshape(1, 512)


def reference_path(reference: str, project_dir: Path | None) -> Path:
    p = Path(reference).expanduser()
    if not p.is_absolute() and project_dir is not None:
        p = project_dir / p
    return p


def encode(models_dir: Path, *, prompt: str | None = None, audio: Path | None = None,
           device: str = "cpu") -> tuple[np.ndarray, dict[str, Any]]:
    """Load the encoder, embed one prompt or one clip, unload. Returns (vector, record)."""
    from .encoder import StyleEncoder
    from .reference import prepare

    files = locate(models_dir)
    prepared = prepare(audio) if audio is not None else None  # a bad clip is refused before the model loads
    enc = StyleEncoder(files, device)
    try:
        if prepared is not None:
            vec = enc.wave(prepared.wav)
            record = {"excerpt_start_s": prepared.start_s, "clip_seconds": len(prepared.wav) / 24000}
        else:
            vec = enc.text(prompt or "")
            record = {}
    finally:
        enc.close()
    return vec, {**record, "encoder": ENCODER_NAME, "encoder_sha256": weights_digest(files.weights),
                 "encoder_licence": LICENCE}


def style_vector(style: Any, *, project_dir: Path | None, models_dir: Path, tiny_dit: bool,
                 device: str = "cpu") -> StyleVector:
    """The vector for ``style`` (an ``engine.song.model.Style``) and a record of its source for the take."""
    if style.preset:
        from .presets import find

        s = find(style.preset)
        return StyleVector(s.vector, {"source": "preset", "preset": s.name, "preset_source": s.source,
                                      "prompt": s.prompt, "audio": s.audio, "audio_sha256": s.audio_sha256,
                                      "encoder": s.encoder, "encoder_sha256": s.encoder_sha256})
    audio = reference_path(style.reference_audio, project_dir) if style.reference_audio else None
    if audio is not None:
        if not audio.is_file():
            raise StyleError(f"reference audio {audio}: no such file")
        what = {"source": "audio", "audio": audio.name, "audio_sha256": file_sha256(audio)}
        content = f"audio\0{what['audio_sha256']}"
    else:
        what = {"source": "prompt", "prompt": style.prompt}
        content = f"text\0{style.prompt}"
    if not present(models_dir):
        if tiny_dit:
            return StyleVector(random_style(content), {**what, "encoder": "none (tiny random model: a vector "
                                                                          "from the style's hash)"})
        raise StyleError(f"no MuQ-MuLan style encoder in {models_dir} ({FOLDER}/ is missing), so a "
                         f"{'reference clip' if audio else 'text style'} cannot be embedded: add the encoder "
                         "(`songbridge models status` lists its files), or choose a saved style preset")
    try:
        files = locate(models_dir)
    except EncoderFilesError as exc:
        raise StyleError(str(exc)) from None
    enc_sha = weights_digest(files.weights)
    key = hashlib.sha256(f"{content}\0{enc_sha}".encode()).hexdigest()[:32]
    cached = project_dir / "cache" / "style" / f"{key}.npy" if project_dir is not None else None
    if cached is not None and cached.exists():
        vec = load_cached(cached)
        if vec is not None:
            return StyleVector(vec, {**what, "encoder": ENCODER_NAME, "encoder_sha256": enc_sha,
                                     "encoder_licence": LICENCE, "cached": cached.name})
    vec, rec = encode(models_dir, prompt=style.prompt, audio=audio, device=device)
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(".tmp.npy")
        np.save(tmp, vec)
        tmp.replace(cached)
    return StyleVector(vec, {**what, **rec})
