"""Peak memory of loading a real-size DiffRhythm checkpoint: the engine's loader against the old path.

Method: write a random-weight checkpoint with the official full model's shapes (dim 2048, depth 16, 6144
frames) in the official form (``{"model_state_dict": ...}``, fp16, ``torch.save``) once into ``--dir``; then, in a
fresh process per case, load it as the engine does (``read_checkpoint``, a model built on the meta device,
``load_into`` the target dtype) and report that process's peak RSS (``ru_maxrss``) and the time. ``old`` is the
previous path: an fp32 model, ``load_strict`` (a converted copy of every tensor), then ``.to(dtype)``. ``mulan``
loads a random MuQ-MuLan-large (the real shapes, float32, 2.6 GB) through the style encoder's loader.
Goal: <= 4.5 GiB (the reference's figure) for the fp16 target.

Run: ``python benchmarks/load_memory.py --dir /tmp/sb-load`` (needs ~2.2 GB of disk and ~12 GB of RAM for "old").
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

DIMS = dict(dim=2048, depth=16, ff_mult=4, text_dim=512, conv_layers=4, mel_dim=64, text_num_embeds=363)


def write(path: Path) -> None:
    import torch

    from engine.nn import CFM, DiT, DiTConfig

    with torch.device("meta"):
        model = CFM(DiT.from_config(DiTConfig(**DIMS, max_frames=6144)))
    g = torch.Generator().manual_seed(0)
    sd = {}
    for k, v in model.state_dict().items():
        sd[k] = (torch.randn(v.shape, generator=g, dtype=torch.float32) * 0.02).half() if v.is_floating_point() \
            else torch.zeros(v.shape, dtype=v.dtype)
    torch.save({"model_state_dict": sd}, path)


def write_mulan(path: Path) -> None:
    """A random MuQ-MuLan-large state dict (the real default configuration), float32, as the official file."""
    import torch

    from engine.nn.mulan import MuQMuLan, MuQMuLanConfig

    with torch.device("meta"):
        model = MuQMuLan(MuQMuLanConfig())
    g = torch.Generator().manual_seed(0)
    sd = {k: (torch.randn(v.shape, generator=g) * 0.02 if v.is_floating_point() else torch.zeros(v.shape,
                                                                                              dtype=v.dtype))
          for k, v in model.state_dict().items()}
    torch.save(sd, path)


def child(path: str, mode: str, dtype: str) -> None:
    import resource
    import time

    import torch

    from engine.checkpoints import load_into, load_strict, read_checkpoint
    from engine.nn import CFM, DiT, DiTConfig

    dt = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[dtype]
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    if mode == "mulan":
        from engine.nn.mulan import MuQMuLan, MuQMuLanConfig
        from engine.style.encoder import _read_weights, load_state

        with torch.device("meta"):
            model = MuQMuLan(MuQMuLanConfig())
        load_state(model, _read_weights(Path(path)), Path(path))
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps({"mode": mode, "dtype": "fp32", "peak_rss_gib": peak / 2**20, "before_gib": base / 2**20,
                          "seconds": time.perf_counter() - t0,
                          "params": sum(p.numel() for p in model.parameters())}))
        return
    ckpt = read_checkpoint(path)
    cfg = DiTConfig(**DIMS, max_frames=ckpt.max_frames)
    if mode == "engine":
        with torch.device("meta"):
            model = CFM(DiT.from_config(cfg))
        load_into(model, ckpt, torch.device("cpu"), dt)
    else:
        model = CFM(DiT.from_config(cfg))
        load_strict(model, ckpt)
        model = model.to(dt)
    secs = time.perf_counter() - t0
    params = sum(p.numel() for p in model.parameters())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"mode": mode, "dtype": dtype, "peak_rss_gib": peak / 2**20, "before_gib": base / 2**20,
                      "seconds": secs, "params": params}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", default="/tmp/songbridge-load-memory")
    ap.add_argument("--cases", default="engine:fp16,engine:fp32,old:fp16,mulan:fp32")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    folder = Path(args.dir)
    folder.mkdir(parents=True, exist_ok=True)
    ckpt = folder / "cfm_model.pt"
    if not ckpt.exists():
        print(f"writing a real-size random checkpoint to {ckpt} ...", flush=True)
        write(ckpt)
    print(f"checkpoint {ckpt} ({ckpt.stat().st_size / 2**30:.2f} GiB, fp16)")
    mulan = folder / "muq_mulan_pytorch_model.bin"
    if "mulan" in args.cases and not mulan.exists():
        print(f"writing a real-size random MuQ-MuLan to {mulan} ...", flush=True)
        write_mulan(mulan)
    for case in args.cases.split(","):
        mode, dtype = case.split(":")
        target = mulan if mode == "mulan" else ckpt
        r = subprocess.run([sys.executable, __file__, "--child", str(target), mode, dtype], capture_output=True,
                           text=True)
        if r.returncode:
            print(f"  {mode:<6} -> {dtype}: failed: {r.stderr.strip().splitlines()[-1:]}")
            continue
        d = json.loads(r.stdout.strip().splitlines()[-1])
        print(f"  {mode:<6} -> {dtype}: peak RSS {d['peak_rss_gib']:.2f} GiB ({d['params'] / 1e9:.2f} B parameters,"
              f" {d['seconds']:.1f} s)")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
