"""A whole song at GPU speed: the full DiffRhythm DiT (random weights, the 6144-frame variant) making a 285 s song
with the default 32-point grid and batched CFG, then the chunked decode by a VAE of the real Oobleck shape, timed
per stage; then Stable Audio Open Small and HTDemucs at their real shapes. One command, figures to a JSON.

Method:
- Stages, each synchronised: prep (tokens and style vectors onto the device), every sampler step (one batched
  conditional + unconditional DiT pass, 31 steps, Euler on ``linspace(0, 1, 32)``; the unconditional half gets the
  same inputs instead of zeroed ones, which is the same compute), decode (Oobleck: 128 channels,
  strides 2-4-4-8-8, latent 64, chunks of 128 latents with 32 of overlap, as stable-audio-tools decodes), write
  (the WAV to disk).
- The DiT's analytic FLOP count per guided step (2 x multiply-adds of every linear layer and both attention
  products, both passes; about 30 TFLOP at 6144 frames) over the measured step time gives its achieved TFLOP/s.
- Peak VRAM: ``torch.cuda.max_memory_allocated`` per variant (reset before each).
- Variants (``--variants``): ``fp16`` and ``bf16`` with SDPA's default choice (RoPE angles, the text position table
  and the ODE state in fp32 in both), ``fp16-math|efficient|flash|cudnn`` (one SDPA backend forced),
  ``fp16-flashattn`` (the flash-attn package, when importable), ``fp16-compile`` (``torch.compile`` of the DiT,
  its warm-up timed apart), ``fp16-graphs`` (the step captured in a CUDA graph after a warm-up).
- ``--size tiny`` runs the same code at a tiny size (fp32 on the CPU by default) to check the script itself.

Run on a GPU: ``python benchmarks/gpu_song.py --json gpu.json`` (about 5 minutes on an H100/H200);
on a CPU: ``python benchmarks/gpu_song.py --size tiny --device cpu --variants fp32``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

SIZES = {
    "full": {"dit": dict(dim=2048, depth=16, ff_mult=4, text_dim=512, conv_layers=4, mel_dim=64, text_num_embeds=363),
             "frames": 6144, "vae": dict(channels=128, c_mults=(1, 2, 4, 8, 16), strides=(2, 4, 4, 8, 8))},
    "tiny": {"dit": dict(dim=64, depth=2, ff_mult=2, text_dim=512, conv_layers=1, mel_dim=64, text_num_embeds=363),
             "frames": 256, "vae": dict(channels=4, c_mults=(1, 2, 4, 8, 16), strides=(2, 4, 4, 8, 8))},
}
STEPS = 32


def dit_flops_per_step(dim: int, depth: int, ff_mult: int, frames: int, passes: int = 2) -> float:
    """FLOPs of one guided step: per token and block 4 d^2 (qkv, out) + 2 ff_mult d^2 (feed-forward) multiply-adds,
    plus 2 n d for the two attention products; times 2, times tokens, blocks and passes."""
    per_token = (4 + 2 * ff_mult) * dim * dim + 2 * frames * dim
    return 2.0 * per_token * depth * frames * passes


def sdpa_context(name: str) -> Any:
    if name in ("", "default", "flashattn", "compile", "graphs"):
        return contextlib.nullcontext()
    from torch.nn.attention import SDPBackend, sdpa_kernel

    kind = {"math": SDPBackend.MATH, "efficient": SDPBackend.EFFICIENT_ATTENTION, "flash": SDPBackend.FLASH_ATTENTION,
            "cudnn": SDPBackend.CUDNN_ATTENTION}[name]
    return sdpa_kernel(kind)


def song(size: str, device: str, variant: str, out_dir: Path) -> dict[str, Any]:
    import numpy as np
    import soundfile as sf
    import torch

    from engine.backends.diffrhythm.pipeline import attention_for, sdpa
    from engine.nn import DiT, DiTConfig
    from engine.nn.sao.config import OobleckConfig
    from engine.nn.sao.vae import Decoder

    dtype_name, _, mode = variant.partition("-")
    dt = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[dtype_name]
    spec = SIZES[size]
    frames = spec["frames"]
    dev = torch.device(device)

    def sync() -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize()

    torch.manual_seed(0)
    dit = DiT.from_config(DiTConfig(**spec["dit"], max_frames=frames)).eval().to(device=dev, dtype=dt)
    vc = spec["vae"]
    decoder = Decoder(OobleckConfig(vc["channels"], vc["c_mults"], vc["strides"], 64)).eval().to(dev, dt)
    attn = sdpa
    if mode == "flashattn":
        attn, _name = attention_for(dev, dt, "flash")
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    row: dict[str, Any] = {"size": size, "variant": variant, "device": str(dev), "frames": frames,
                           "song_s": round(frames * 2048 / 44100, 1)}
    with torch.inference_mode():
        t0 = time.perf_counter()
        text = torch.randint(0, 364, (2, frames), device=dev)
        style = torch.randn(2, 512, device=dev, dtype=dt)
        start = torch.zeros(2, device=dev, dtype=dt)
        dur = torch.ones(2, device=dev, dtype=dt)
        cond = torch.zeros(2, frames, 64, device=dev, dtype=dt)
        x = torch.randn(1, frames, 64, device=dev, dtype=torch.float32)  # the ODE state stays fp32
        text_embed = dit.embed_text(text)
        sync()
        row["prep_s"] = round(time.perf_counter() - t0, 4)

        def velocity(state: Any, t: Any) -> Any:
            out = fn(torch.cat([state, state]).to(dt), cond, text, t.to(dt).expand(1), style, start, dur,
                     text_embed=text_embed, attn=attn)
            c, u = out.float().chunk(2)
            return c + (c - u) * 4.0

        fn = dit
        if mode == "compile":
            fn = torch.compile(dit)
            t0 = time.perf_counter()
            velocity(x, torch.tensor(0.0, device=dev))
            sync()
            row["compile_warmup_s"] = round(time.perf_counter() - t0, 2)
        graph = None
        if mode == "graphs" and dev.type == "cuda":
            static_x, static_t = x.clone(), torch.tensor(0.0, device=dev)
            stream = torch.cuda.Stream()
            stream.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(stream):
                for _ in range(2):
                    velocity(static_x, static_t)
            torch.cuda.current_stream().wait_stream(stream)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                static_out = velocity(static_x, static_t)
        ts = torch.linspace(0, 1, STEPS, device=dev)
        step_times = []
        with sdpa_context(mode):
            for i in range(STEPS - 1):
                sync()
                t0 = time.perf_counter()
                if graph is not None:
                    static_x.copy_(x)
                    static_t.copy_(ts[i])
                    graph.replay()
                    v = static_out
                else:
                    v = velocity(x, ts[i])
                x = x + (ts[i + 1] - ts[i]) * v
                sync()
                step_times.append(time.perf_counter() - t0)
        latent = x.transpose(1, 2).to(dt)  # [1, 64, frames]
        t0 = time.perf_counter()
        chunk, overlap = 128, 32
        pieces = []
        for s0 in range(0, frames, chunk - 2 * overlap):
            a, b = max(0, s0 - overlap), min(frames, s0 + chunk - overlap)
            y = decoder(latent[..., a:b])
            lo = (s0 - a) * 2048
            pieces.append(y[..., lo:lo + (min(frames, s0 + chunk - 2 * overlap) - s0) * 2048])
            if s0 + chunk - 2 * overlap >= frames:
                break
        audio = torch.cat(pieces, dim=-1)[0].float().cpu().numpy().T
        sync()
        row["decode_s"] = round(time.perf_counter() - t0, 3)
    t0 = time.perf_counter()
    sf.write(out_dir / f"song-{size}-{variant}.wav", np.clip(audio, -1, 1), 44100, subtype="PCM_16")
    row["write_s"] = round(time.perf_counter() - t0, 3)
    flops = dit_flops_per_step(spec["dit"]["dim"], spec["dit"]["depth"], spec["dit"]["ff_mult"], frames)
    steps_s = sum(step_times)
    row.update({"steps": STEPS - 1, "step_s": [round(t, 4) for t in step_times], "steps_total_s": round(steps_s, 3),
                "dit_tflop_per_step": round(flops / 1e12, 2), "dit_tflops_per_s": round(flops * (STEPS - 1) / steps_s
                                                                                          / 1e12, 2),
                "audio_samples": int(audio.shape[0]), "finite": bool(np.isfinite(audio).all())})
    row["end_to_end_s"] = round(row["prep_s"] + steps_s + row["decode_s"] + row["write_s"], 3)
    if dev.type == "cuda":
        row["peak_vram_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
        row["gpu"] = torch.cuda.get_device_name(0)
    return row


def main() -> None:
    import torch

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", choices=SIZES, default="full")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--variants", nargs="*", default=None)
    ap.add_argument("--skip-others", action="store_true", help="only the DiffRhythm song (no SAO Small, HTDemucs)")
    ap.add_argument("--out", type=Path, default=Path("gpu-song-out"))
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("no GPU visible to torch; run with --size tiny --device cpu --variants fp32 to check the script")
    variants = args.variants or (["fp16", "bf16", "fp16-math", "fp16-efficient", "fp16-flash", "fp16-cudnn",
                                  "fp16-flashattn", "fp16-compile", "fp16-graphs"] if args.device == "cuda"
                                 else ["fp32"])
    args.out.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    for v in variants:
        try:
            row = song(args.size, args.device, v, args.out)
        except Exception as exc:  # noqa: BLE001 - a variant this GPU or build cannot run is reported, not fatal
            row = {"variant": v, "error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"}
        rows.append(row)
        if "error" in row:
            print(f"{v:16s} not run: {row['error']}")
        else:
            print(f"{v:16s} {row['song_s']} s song: prep {row['prep_s']} s, 31 steps {row['steps_total_s']} s "
                  f"({row['dit_tflops_per_s']} TFLOP/s of {row['dit_tflop_per_step']} TFLOP a step), decode "
                  f"{row['decode_s']} s, write {row['write_s']} s = {row['end_to_end_s']} s end to end"
                  + (f"; peak VRAM {row['peak_vram_gib']} GiB" if "peak_vram_gib" in row else ""))
    others: list[dict[str, Any]] = []
    if args.device == "cuda" and not args.skip_others:
        import stable_audio_speed

        for dt in (torch.float16, torch.bfloat16):
            try:
                others.append({"model": "SAO Small", **stable_audio_speed.run("cuda", dt, 8)})
            except Exception as exc:  # noqa: BLE001
                others.append({"model": "SAO Small", "error": str(exc)[:200]})
        print(json.dumps(others, indent=1))
    if args.json:
        args.json.write_text(json.dumps({"song": rows, "others": others}, indent=1))


if __name__ == "__main__":
    main()
