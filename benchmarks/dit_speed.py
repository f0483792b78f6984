"""DiT speed: time per sampler step, steps per second and peak memory for a chosen config.

Method: build the DiT with random weights for ``--config`` (tiny = the parity fixture's shape; base = the official
95 s model, 2048 frames; full = the official 285 s model, 6144 frames), move it to the device in ``--dtype``, and
time ``--steps`` guided Euler steps (each step is one batched forward of the conditional and unconditional
branches, as the backend runs them) after ``--warmup`` steps, synchronising the device around the timed region.
Peak memory is ``torch.cuda.max_memory_allocated`` on CUDA and the process's peak RSS on the CPU. Run it on a GPU
for the real configs; on a CPU only tiny is practical.

Run: ``python benchmarks/dit_speed.py --config tiny`` or
``python benchmarks/dit_speed.py --config full --device cuda --dtype bf16 --attention sdpa``
"""

from __future__ import annotations

import argparse
import resource
import time

CONFIGS = {
    "tiny": (dict(dim=64, depth=2, ff_mult=2, text_dim=512, conv_layers=1, mel_dim=64, text_num_embeds=363), 2048),
    "base": (dict(dim=2048, depth=16, ff_mult=4, text_dim=512, conv_layers=4, mel_dim=64, text_num_embeds=363), 2048),
    "full": (dict(dim=2048, depth=16, ff_mult=4, text_dim=512, conv_layers=4, mel_dim=64, text_num_embeds=363), 6144),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", choices=CONFIGS, default="tiny")
    ap.add_argument("--frames", type=int, help="sequence length (default: the config's max_frames)")
    ap.add_argument("--device", default=None)
    ap.add_argument("--dtype", default=None, choices=("fp32", "fp16", "bf16"))
    ap.add_argument("--attention", default="sdpa", choices=("sdpa", "flash"))
    ap.add_argument("--batch", type=int, default=1, help="takes per request")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    args = ap.parse_args()

    import torch

    from engine.backends.diffrhythm.pipeline import attention_for, pick_device
    from engine.nn import DiT, DiTConfig

    dims, max_frames = CONFIGS[args.config]
    dev, dt = pick_device(args.device, args.dtype)
    attn, attn_name = attention_for(dev, dt, "flash" if args.attention == "flash" else "sdpa")
    n = args.frames or max_frames
    torch.manual_seed(0)
    dit = DiT.from_config(DiTConfig(**dims, max_frames=max_frames)).eval().to(device=dev, dtype=dt)
    params = sum(p.numel() for p in dit.parameters())
    b = 2 * args.batch  # conditional + unconditional branches in one batch
    x = torch.randn(b, n, 64, device=dev, dtype=dt)
    cond = torch.zeros_like(x)
    text = torch.randint(0, 364, (b, n), device=dev)
    style = torch.randn(b, 512, device=dev, dtype=dt)
    start = torch.zeros(b, device=dev, dtype=dt)
    dur = torch.full((b,), n / max_frames, device=dev, dtype=dt) if max_frames == 6144 else None

    def sync() -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize()

    with torch.inference_mode():
        te = dit.embed_text(text)
        for i in range(args.warmup + args.steps):
            if i == args.warmup:
                sync()
                if dev.type == "cuda":
                    torch.cuda.reset_peak_memory_stats()
                t0 = time.perf_counter()
            dit(x, cond, text, torch.tensor(i / 32, device=dev, dtype=dt), style, start, dur, text_embed=te, attn=attn)
        sync()
        elapsed = time.perf_counter() - t0
    per_step = elapsed / args.steps
    if dev.type == "cuda":
        peak = torch.cuda.max_memory_allocated() / 2**30
        mem = f"peak {peak:.2f} GiB allocated on {torch.cuda.get_device_name(dev)}"
    else:
        mem = f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB"
    print(f"config {args.config} ({params / 1e6:.1f} M params), {n} frames, batch {args.batch} (x2 for guidance), "
          f"{dev.type} {str(dt).split('.')[-1]}, attention {attn_name}, threads {torch.get_num_threads()}")
    print(f"per step {per_step * 1000:.1f} ms, {1 / per_step:.2f} steps/s; 31 steps (the reference) "
          f"= {31 * per_step:.2f} s; {mem}")


if __name__ == "__main__":
    main()
