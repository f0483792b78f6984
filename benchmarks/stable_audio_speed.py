"""Stable Audio Open Small at its real size on this machine: one 8-step 11.9 s loop, DiT and VAE time apart.

Method: the model is built from the reconstructed SAO Small config (docs/reference/fixtures/stable-audio.md §2: DiT 1024
wide, 16 blocks, 8 heads, qk LayerNorm, T5 width 768; Oobleck VAE 128 channels, strides 2-4-4-8-8) with random
weights in float32, so the compute is the real one; the T5 is left out (a fixed random conditioning stands in:
the text encoder runs once per prompt and is not the loop's cost). One warm-up step, then 8 pingpong steps without
guidance (as the model card samples), timed, then the VAE decode of the 256 latents to 524,288 samples, timed.
Reported: seconds per stage, the DiT's achieved GFLOP/s against its analytic count (2 x multiply-adds of every
linear layer and the attention products, per step), a plain float32 matmul's GFLOP/s on the same machine for
comparison, and the peak RSS. On CUDA too (fp16 and bf16) when torch sees a GPU.

Run: ``python benchmarks/stable_audio_speed.py [--steps 8] [--json out.json]`` (needs about 4 GB of RAM).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SMALL = {"model_type": "diffusion_cond", "sample_size": 524288, "sample_rate": 44100, "audio_channels": 2,
         "model": {"pretransform": {"type": "autoencoder", "iterate_batch": True, "config": {
             "encoder": {"type": "oobleck", "config": {"in_channels": 2, "channels": 128, "c_mults": [1, 2, 4, 8, 16],
                                                       "strides": [2, 4, 4, 8, 8], "latent_dim": 128,
                                                       "use_snake": True}},
             "decoder": {"type": "oobleck", "config": {"out_channels": 2, "channels": 128, "c_mults": [1, 2, 4, 8, 16],
                                                       "strides": [2, 4, 4, 8, 8], "latent_dim": 64, "use_snake": True,
                                                       "final_tanh": False}},
             "bottleneck": {"type": "vae"}, "latent_dim": 64, "downsampling_ratio": 2048, "io_channels": 2}},
             "conditioning": {"configs": [
                 {"id": "prompt", "type": "t5", "config": {"t5_model_name": "t5-base", "max_length": 64}},
                 {"id": "seconds_total", "type": "number", "config": {"min_val": 0, "max_val": 256}}],
                 "cond_dim": 768},
             "diffusion": {"cross_attention_cond_ids": ["prompt", "seconds_total"], "global_cond_ids": ["seconds_total"],
                           "diffusion_objective": "rf_denoiser", "type": "dit",
                           "config": {"io_channels": 64, "embed_dim": 1024, "depth": 16, "num_heads": 8,
                                      "cond_token_dim": 768, "global_cond_dim": 768,
                                      "transformer_type": "continuous_transformer",
                                      "attn_kwargs": {"qk_norm": "ln"}}},
             "io_channels": 64}}


def dit_flops(cfg, tokens: int, cross: int) -> float:
    """Multiply-adds x 2 of one DiT pass: the blocks' linear layers and attention products, plus the projections."""
    d, e = cfg.embed_dim, cfg.cond_width
    n = tokens + 1
    per_block = (3 * d * d + d * d) * n  # self-attention qkv and out
    per_block += 2 * n * n * d  # q k^T and attn v
    per_block += d * d * n + 2 * e * e * cross + d * d * n  # cross q, kv (on the cross tokens), out
    per_block += 2 * n * cross * d
    per_block += (d * 8 * d + 4 * d * d) * n  # GLU feed-forward
    total = per_block * cfg.depth + 2 * cfg.io_channels * d * n + e * e * 2 * cross
    return 2.0 * total


def matmul_gflops(device: str, dtype) -> float:
    import torch

    a = torch.randn(2048, 2048, device=device, dtype=dtype)
    b = torch.randn(2048, 2048, device=device, dtype=dtype)
    for _ in range(2):
        a @ b
    if device == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(5):
        a @ b
    if device == "cuda":
        torch.cuda.synchronize()
    return 5 * 2 * 2048**3 / (time.perf_counter() - t0) / 1e9


def run(device: str, dtype, steps: int) -> dict:
    import torch

    from engine.nn.sao.config import parse
    from engine.nn.sao.model import StableAudio
    from engine.sampling.stable_audio import pingpong, pingpong_schedule

    cfg = parse(SMALL, "SAO Small (reconstructed)")
    torch.manual_seed(0)
    with torch.device("meta"):
        model = StableAudio(cfg)
    model = model.to_empty(device=device)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.02)
        inv = 1.0 / (10000 ** (torch.arange(0, cfg.dit.rope_dim, 2, device=device).float() / cfg.dit.rope_dim))
        model.dit.transformer.rotary_pos_emb.inv_freq.copy_(inv)
        for name, buf in model.named_buffers():
            if name.endswith("beta"):
                buf.zero_()
    model = model.to(dtype).eval()
    cross = torch.randn(1, 65, 768, device=device, dtype=dtype)
    glob = torch.randn(1, 768, device=device, dtype=dtype)
    x = torch.randn(1, 64, cfg.latent_length, device=device, dtype=dtype)

    def net(xx, tt):
        return model.dit(xx, tt.to(dtype), cross, glob)

    def sync() -> None:
        if device == "cuda":
            torch.cuda.synchronize()

    with torch.no_grad():
        net(x, torch.ones(1, device=device))  # warm-up
        sync()
        t0 = time.perf_counter()
        latent = pingpong(net, x, pingpong_schedule(steps).to(device), noise=lambda _i, like: torch.randn_like(like))
        sync()
        t_dit = time.perf_counter() - t0
        t0 = time.perf_counter()
        audio = model.vae.decode(latent)
        sync()
        t_vae = time.perf_counter() - t0
    flops = dit_flops(cfg.dit, cfg.latent_length, 65) * steps
    out = {"device": device, "dtype": str(dtype).split(".")[-1], "steps": steps, "audio_s": audio.shape[-1] / 44100,
           "dit_s": round(t_dit, 2), "dit_step_s": round(t_dit / steps, 3), "vae_s": round(t_vae, 2),
           "dit_gflop": round(flops / 1e9, 1), "dit_gflops_per_s": round(flops / t_dit / 1e9, 1),
           "matmul_gflops_per_s": round(matmul_gflops(device, dtype), 1),
           "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)}
    if device == "cuda":
        out["peak_vram_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
        out["gpu"] = torch.cuda.get_device_name(0)
    return out


def main() -> None:
    import torch

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    runs = [(("cpu", torch.float32))]
    if torch.cuda.is_available():
        runs += [("cuda", torch.float16), ("cuda", torch.bfloat16)]
    rows = []
    for device, dtype in runs:
        row = run(device, dtype, args.steps)
        rows.append(row)
        print(f"{device} {row['dtype']}: {row['audio_s']:.1f} s of audio; DiT {row['dit_s']} s ({row['dit_step_s']} s a "
              f"step, {row['dit_gflops_per_s']} GFLOP/s of {row['dit_gflop']} GFLOP; a plain matmul does "
              f"{row['matmul_gflops_per_s']} GFLOP/s), VAE decode {row['vae_s']} s; peak RSS {row['peak_rss_gib']} GiB"
              + (f", peak VRAM {row['peak_vram_gib']} GiB on {row['gpu']}" if device == "cuda" else ""))
    if not torch.cuda.is_available():
        print("no GPU visible to torch: the fp16/bf16 figures were not measured")
    print(f"threads: {torch.get_num_threads()}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
