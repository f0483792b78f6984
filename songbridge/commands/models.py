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
            continue
        refused = _checkpoint_refusal(path) if path.parent.name in VARIANT_DIRS.values() else None
        if refused:  # what generate would refuse when it loads the weights
            broken += 1
            print(f"  [refused] {refused}")
        else:
            usable_weights += path.parent.name in VARIANT_DIRS.values()
            print(f"  [ok]      {path} ({path.stat().st_size / 2**20:,.1f} MiB)")
    broken += _encoder_status(folder)
    broken += _analysis_status(folder)
    broken += _stable_audio_status(folder)
    broken += _ace_step_status(folder)
    if not installed(folder):
        print(f"  no DiffRhythm weights: {WHERE}")
    elif broken or not usable_weights:
        print("  the diffrhythm backend cannot run until the files above are complete; generate drafts with the "
              "guide renderer meanwhile")
    return 1 if broken else 0


def _checkpoint_refusal(path: Path) -> str | None:
    """The loader's own safety check on a DiffRhythm checkpoint, its weights memory-mapped, not read."""
    from engine.checkpoints import unsafe_reason

    return unsafe_reason(path)


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


def _stable_audio_status(folder: Path) -> int:
    """Stable Audio Open 1.0 and Small (loops and beds); optional. Returns 1 when present but broken."""
    from engine.backends.stable_audio.catalog import FOLDERS, LICENCE, WHERE
    from engine.backends.stable_audio.files import StableAudioFilesError, find
    from engine.nn.sao.config import ConfigError, read

    broken = 0
    for kind, sub in FOLDERS.items():
        try:
            files = find(folder, kind)
            if files is None:
                print(f"  [absent]  {folder / sub}: {kind} loops and beds are unavailable")
                continue
            cfg = read(files.config)
            print(f"  [ok]      {files.weights} ({kind}: up to {cfg.max_seconds:.1f} s; T5 from {files.t5}); "
                  f"licence: {LICENCE}")
        except (StableAudioFilesError, ConfigError) as exc:
            broken = 1
            print(f"  [broken]  {exc}")
    if not any((folder / sub).is_dir() for sub in FOLDERS.values()):
        print(f"            {WHERE}")
    return broken


def _ace_step_status(folder: Path) -> int:
    """ACE-Step 1.5 (optional): every file, its configs and key layout, and the licences. Returns 1 when broken."""
    from engine.backends.ace_step.catalog import LICENCE, TEXT_LICENCE, VARIANTS, WHERE
    from engine.backends.ace_step.files import AceStepFilesError, installed, limits, locate

    if not installed(folder):
        print(f"  [absent]  {folder / VARIANTS['turbo']}: the ace-step backend is unavailable; {WHERE}")
        return 0
    broken = 0
    for variant, sub in VARIANTS.items():
        if not (folder / sub).is_dir():
            continue
        try:
            files = locate(folder, variant)
        except AceStepFilesError as exc:
            print(f"  [missing] {exc}")
            broken = 1
            continue
        bad = files.problems()
        for why in bad:
            print(f"  [broken]  {why}")
        if bad:
            broken = 1
            continue
        size = sum(p.stat().st_size for _, p, _ in files.weights()) / 2**20
        print(f"  [ok]      {files.dit_dir} (ACE-Step 1.5 {variant}: {files.model_id}, with {files.vae_dir.name}/ "
              f"and {files.text_dir.name}/, {size:,.1f} MiB); licence: ACE-Step {LICENCE}, Qwen3-Embedding "
              f"{TEXT_LICENCE}")
        for note in limits(files):
            print(f"            {note}")
    return broken


def _analysis_status(folder: Path) -> int:
    """Stem separation (HTDemucs) and the beat tracker (Beat This!); both optional. Returns 1 when broken."""
    from engine.grid.beat_this import LICENCE as BT_LICENCE
    from engine.grid.beat_this import WHERE as BT_WHERE
    from engine.grid.beat_this import BeatModelError, find_checkpoint, load_checkpoint
    from engine.stems.files import LICENCE, WHERE, SeparationModelError, find_model
    from engine.stems.models import load

    broken = 0
    path = find_model(folder)
    if path is None:
        print(f"  [absent]  stem separation (HTDemucs): split is unavailable; {WHERE}")
    else:
        try:
            sep = load(path)
            print(f"  [ok]      {path} (stem separation: {', '.join(sep.sources)}); licence: {LICENCE}")
        except SeparationModelError as exc:
            broken = 1
            print(f"  [broken]  {exc}")
    ckpt = find_checkpoint(folder)
    if ckpt is None:
        print(f"  [absent]  beat tracker (Beat This!): the DSP tracker finds the grid; {BT_WHERE}")
    else:
        try:
            load_checkpoint(ckpt)
            print(f"  [ok]      {ckpt} (beat tracker); licence: {BT_LICENCE}")
        except BeatModelError as exc:
            broken = 1
            print(f"  [broken]  {exc}")
    return broken


def create_tiny(args: argparse.Namespace) -> int:
    if args.kind == "htdemucs":
        from engine.stems.tiny import create_tiny_separator

        path = create_tiny_separator(Path(args.dir), seed=args.seed)
        print(f"tiny random HTDemucs written to {path.parent}; use it with songbridge split --models {args.dir}")
        return 0
    if args.kind == "stable-audio":
        from engine.backends.stable_audio.tiny import create_tiny_stable_audio

        folders = create_tiny_stable_audio(Path(args.dir), seed=args.seed)
        print(f"tiny random Stable Audio Open models written to {', '.join(str(f) for f in folders)} (and t5-base); "
              f"use them with songbridge loop ... --models {args.dir}")
        return 0
    if args.kind == "ace-step":
        from engine.backends.ace_step.tiny import create_tiny_ace_step

        folders = create_tiny_ace_step(Path(args.dir), seed=args.seed)
        print(f"tiny random ACE-Step 1.5 models written to {', '.join(str(f) for f in folders)} (and vae, "
              f"Qwen3-Embedding-0.6B); use them with --backend ace-step --models {args.dir}")
        return 0
    if args.kind == "beat-this":
        from engine.grid.tiny import create_tiny_tracker

        path = create_tiny_tracker(Path(args.dir), seed=args.seed)
        print(f"tiny random Beat This! written to {path}; use it with songbridge grid --models {args.dir}")
        return 0
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
          "beat-this": "engine.grid.parity", "stable-audio": "engine.backends.stable_audio.parity",
          "ace-step": "engine.backends.ace_step.parity"}
PLANNED = ("htdemucs",)


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
