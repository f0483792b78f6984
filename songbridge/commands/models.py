"""``songbridge models``: what is in the model folder, the tiny random test model, and the parity check."""

from __future__ import annotations

import argparse
from pathlib import Path


def status(args: argparse.Namespace) -> int:
    """Every file the DiffRhythm backend needs: ok (with its size), broken (why) or missing. Exit 1 if broken."""
    from engine.backends.diffrhythm.files import VARIANT_DIRS, WHERE, file_problem, installed
    from engine.settings import models_dir

    folder, origin = models_dir(args.models)
    print(f"model folder: {folder} ({origin})")
    if not folder.is_dir():
        print(f"  the folder does not exist: only the guide renderer is available; {WHERE}")
        return 0
    wanted = [folder / d / "cfm_model.pt" for d in VARIANT_DIRS.values()]
    wanted = [next((p.with_name(n) for n in ("cfm_model.pt", "cfm_model.safetensors", "model.safetensors")
                    if p.with_name(n).exists()), p) for p in wanted]
    wanted += [folder / "DiffRhythm-vae" / "vae_model.pt", folder / "vocab.json", folder / "vocal.npy"]
    broken = usable_weights = 0
    for path in wanted:
        if not path.exists():
            optional = path.parent.name in VARIANT_DIRS.values()
            print(f"  [missing] {path}" + ("  (one of the two model variants is enough)" if optional else ""))
            continue
        why = file_problem(path)
        if why:
            broken += 1
            print(f"  [broken]  {path}: {why}")
        else:
            usable_weights += path.parent.name in VARIANT_DIRS.values()
            print(f"  [ok]      {path} ({path.stat().st_size / 2**20:,.1f} MiB)")
    muq = folder / "MuQ-MuLan-large"
    print(f"  [{'ok' if muq.is_dir() else 'absent'}]{' ' * (7 if muq.is_dir() else 3)}{muq} (optional style encoder)")
    if not installed(folder):
        print(f"  no DiffRhythm weights: {WHERE}")
    elif broken or not usable_weights:
        print("  the diffrhythm backend cannot run until the files above are complete; generate drafts with the "
              "guide renderer meanwhile")
    return 1 if broken else 0


def create_tiny(args: argparse.Namespace) -> int:
    from engine.backends.diffrhythm.tiny import MODEL_ID, create_tiny_model

    root = create_tiny_model(Path(args.dir), variant=args.variant, seed=args.seed,
                             vocab=Path(args.vocab) if args.vocab else None)
    print(f"{MODEL_ID} ({args.variant}) written to {root}; use it with --backend diffrhythm --models {root}")
    return 0


#: parity kinds this version implements -> the module whose main() runs them
PARITY = {"diffrhythm": "engine.backends.diffrhythm.parity"}
PLANNED = ("muq-mulan", "stable-audio", "beat-this")


def parity(args: argparse.Namespace) -> int:
    import importlib

    from engine.errors import SongBridgeError

    kind, folder = (args.kind, args.fixture_dir) if args.fixture_dir else ("diffrhythm", args.kind)
    if kind not in PARITY:
        if kind in PLANNED:
            raise SongBridgeError(f"models parity {kind}: this version has no {kind} implementation to check yet; "
                                  f"kinds: {', '.join(PARITY)}")
        raise SongBridgeError(f"models parity {kind}: unknown kind; kinds: {', '.join(PARITY)}")
    if not Path(folder).is_dir():
        raise SongBridgeError(f"models parity {kind}: {folder}: no such fixture folder")
    main = importlib.import_module(PARITY[kind]).main
    return main([str(folder), *(["--vocab", args.vocab] if args.vocab else [])])
