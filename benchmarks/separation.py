"""Stem separation speed: seconds of compute per minute of audio.

Method: random stereo noise at 44.1 kHz (``--seconds`` long) through ``engine.stems.split.separate`` (demucs'
``apply_model``: segments with 25 % overlap, no shifts), once to warm up on a short clip, then timed. Models:
the tiny random HTDemucs CI uses, and one of the full HTDemucs shape (demucs' default HTDemucs arguments, 4 sources,
random weights: the same compute as the released htdemucs). On the CPU always; on CUDA too when torch sees a GPU.

Run: ``python benchmarks/separation.py [--seconds 30] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    import torch
    from demucs.htdemucs import HTDemucs

    from engine.stems.models import Separator, from_models
    from engine.stems.split import separate
    from engine.stems.tiny import create_tiny_separator

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    import dataclasses

    tiny = dataclasses.replace(from_models(create_tiny_separator(Path(tempfile.mkdtemp())).parents[1]),
                               name="tiny HTDemucs (random)")
    torch.manual_seed(0)
    full = HTDemucs(sources=["drums", "bass", "other", "vocals"], segment=Fraction(39, 5)).eval()
    full_sep = Separator(full, "htdemucs-shape (random)", (), "")
    audio = (np.random.default_rng(0).standard_normal((int(args.seconds * 44100), 2)) * 0.1).astype(np.float32)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    rows = []
    for sep, params in ((tiny, sum(p.numel() for p in tiny.model.parameters())),
                        (full_sep, sum(p.numel() for p in full.parameters()))):
        for device in devices:
            sep.model.to(device)
            separate(sep, audio[:44100 * 2], 44100, device=device)  # warm-up
            if device == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            separate(sep, audio, 44100, device=device)
            if device == "cuda":
                torch.cuda.synchronize()
            took = time.perf_counter() - t0
            row = {"model": sep.name, "parameters": params, "device": device,
                   "gpu": torch.cuda.get_device_name(0) if device == "cuda" else "",
                   "threads": torch.get_num_threads(), "audio_s": args.seconds,
                   "seconds_per_minute": round(took / args.seconds * 60, 2)}
            rows.append(row)
            print(f"{sep.name:28s} {params / 1e6:6.2f} M params  {device:4s} {row['seconds_per_minute']:8.2f} s per "
                  f"minute of audio ({took:.1f} s for {args.seconds:g} s)")
    if "cuda" not in devices:
        print("no GPU visible to torch: CUDA figures not measured")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
