"""``songbridge models``: what is in the model folder, the tiny random test model, and the parity check."""

from __future__ import annotations

import argparse
from pathlib import Path


def status(args: argparse.Namespace) -> int:
    from engine.backends.diffrhythm.files import ModelFilesError, expected_layout, locate
    from engine.settings import models_dir

    folder, origin = models_dir(args.models)
    print(f"model folder: {folder} ({origin})")
    found = False
    for variant in ("full", "base"):
        try:
            files = locate(folder, variant)
        except ModelFilesError:
            continue
        found = True
        size = files.cfm.stat().st_size / 2**30
        print(f"  {variant:<4} {files.model_id}: {files.cfm} ({size:.2f} GiB), VAE {files.vae.name}, "
              f"style encoder {'present' if files.muq else 'absent'}")
    if not found:
        print(f"  no DiffRhythm model: expected {expected_layout(folder)}")
    return 0


def create_tiny(args: argparse.Namespace) -> int:
    from engine.backends.diffrhythm.tiny import MODEL_ID, create_tiny_model

    root = create_tiny_model(Path(args.dir), variant=args.variant, seed=args.seed,
                             vocab=Path(args.vocab) if args.vocab else None)
    print(f"{MODEL_ID} ({args.variant}) written to {root}; use it with --backend diffrhythm --models {root}")
    return 0


def parity(args: argparse.Namespace) -> int:
    from engine.backends.diffrhythm.parity import main

    return main([str(args.fixture_dir), *(["--vocab", args.vocab] if args.vocab else [])])
