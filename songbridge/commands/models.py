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
    broken += _encoder_status(folder)
    if not installed(folder):
        print(f"  no DiffRhythm weights: {WHERE}")
    elif broken or not usable_weights:
        print("  the diffrhythm backend cannot run until the files above are complete; generate drafts with the "
              "guide renderer meanwhile")
    return 1 if broken else 0


def _encoder_status(folder: Path) -> int:
    """The MuQ-MuLan style encoder's files; returns 1 when present but broken."""
    from engine.style.files import FOLDER, LICENCE, WHERE, EncoderFilesError, locate, present, problems

    if not present(folder):
        print(f"  [absent]  {folder / FOLDER}: the style encoder; without it text and reference-audio styles "
              f"cannot be embedded (saved style presets still work); {WHERE}")
        return 0
    try:
        files = locate(folder)
    except EncoderFilesError as exc:
        print(f"  [missing] {exc}")
        return 1
    bad = problems(files)
    for why in bad:
        print(f"  [broken]  {why}")
    if not bad:
        size = files.weights.stat().st_size / 2**20
        print(f"  [ok]      {files.weights} ({size:,.1f} MiB), style encoder; licence: {LICENCE}")
        print(f"  [ok]      {files.muq_config.parent} (audio settings), {files.tokenizer.parent} (text tokenizer)")
    return 1 if bad else 0


def create_tiny(args: argparse.Namespace) -> int:
    from engine.backends.diffrhythm.tiny import MODEL_ID, create_tiny_model

    root = create_tiny_model(Path(args.dir), variant=args.variant, seed=args.seed,
                             vocab=Path(args.vocab) if args.vocab else None)
    extra = ""
    if not args.no_style_encoder:
        from engine.style.tiny import create_tiny_encoder

        create_tiny_encoder(root, seed=args.seed)
        extra = " with a tiny random MuQ-MuLan style encoder"
    print(f"{MODEL_ID} ({args.variant}){extra} written to {root}; use it with --backend diffrhythm --models {root}")
    return 0


#: parity kinds this version implements -> the module whose main() runs them
PARITY = {"diffrhythm": "engine.backends.diffrhythm.parity", "muq-mulan": "engine.style.parity",
          "beat-this": "engine.grid.parity"}
PLANNED = ("stable-audio", "htdemucs")


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
    if args.vocab and kind != "diffrhythm":
        raise SongBridgeError(f"models parity {kind}: --vocab is for the diffrhythm kind only")
    return main([str(folder), *(["--vocab", args.vocab] if args.vocab else [])])
