"""``songbridge style``: saved style presets (a MuQ-MuLan vector with its source and the encoder's sha256)."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def save(args: argparse.Namespace) -> int:
    from engine.settings import models_dir
    from engine.style import presets
    from engine.style.embedding import ENCODER_NAME, encode, file_sha256
    from engine.style.files import LICENCE

    presets.check_name(args.name)
    target = presets.styles_dir() / presets.file_name(args.name)
    if target.exists() and not args.force:  # refused before the encoder loads
        raise presets.PresetError(f"{target}: a style preset {args.name!r} exists; pass --force to replace it")
    folder, _ = models_dir(args.models)
    audio = Path(args.audio) if args.audio else None
    if args.prompt is not None and not args.prompt.strip():
        raise presets.PresetError("--prompt is empty: give style words, e.g. \"dreamy synth pop, female vocal\"")
    print(f"embedding with {ENCODER_NAME} from {folder} (licence: {LICENCE}) ...", flush=True)
    vec, rec = encode(folder, prompt=args.prompt, audio=audio)
    preset = presets.StylePreset(
        args.name, "audio" if audio else "prompt", vec, prompt=args.prompt or "",
        audio=audio.name if audio else "", audio_sha256=file_sha256(audio) if audio else "",
        encoder=rec["encoder"], encoder_sha256=rec["encoder_sha256"])
    path = presets.save(preset, overwrite=args.force)
    print(f"saved style {args.name!r} to {path}; use it with generate --style-preset {_quote(args.name)}")
    return 0


def _quote(name: str) -> str:
    return name if all(c.isalnum() or c in "-_." for c in name) else f'"{name}"'


def list_(args: argparse.Namespace) -> int:
    from engine.style import presets

    good, bad = presets.list_presets()
    print(f"style presets in {presets.styles_dir()}:")
    for s in good:
        print(f"  {s.describe()}")
    for msg in bad:
        print(f"  [unreadable] {msg}")
    if not good and not bad:
        print("  none yet: songbridge style save NAME --prompt \"...\" (or --audio FILE)")
    return 1 if bad else 0


def show(args: argparse.Namespace) -> int:
    from engine.style import presets

    s = presets.find(args.name)
    v = s.vector.reshape(-1)
    print(f"name:     {s.name}\nfile:     {s.path}\nsource:   {s.source}")
    if s.prompt:
        print(f"prompt:   {s.prompt}")
    if s.audio:
        print(f"audio:    {s.audio} (sha256 {s.audio_sha256})")
    print(f"encoder:  {s.encoder} (sha256 {s.encoder_sha256})\ncreated:  {s.created}")
    print(f"vector:   {v.size} values, norm {float(np.linalg.norm(v)):.6f}, first {np.round(v[:4], 4).tolist()}")
    return 0


def delete(args: argparse.Namespace) -> int:
    from engine.style import presets

    path = presets.delete(args.name)
    print(f"deleted {path}")
    return 0
