"""Low-precision drift: how far a 31-step guided DiffRhythm sample in fp16 or bf16 lands from the same sample in
fp32, on the CPU, at a mid-size configuration.

Method: one random-weight DiT (``--dim``, ``--depth``, ``--frames``; weights drawn once, in fp32), the same noise,
lyric tokens, style vectors and the default 32-point linear grid with CFG 4.0; the model is cast to each dtype and
sampled with the engine's sampler (RoPE frequencies, the text position table and the ODE state stay float32 in
every dtype). Drift = ||x_dtype - x_fp32|| / ||x_fp32|| over the final latent. ``--legacy`` also runs the old
behaviour (everything, buffers and ODE state included, in the low dtype) for comparison.

Run: ``python benchmarks/precision.py`` (about a minute) or ``--dim 512 --depth 8 --frames 1024``.
"""

from __future__ import annotations

import argparse
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--depth", type=int, default=6)
    ap.add_argument("--frames", type=int, default=512)
    ap.add_argument("--steps", type=int, default=32, help="grid points (steps-1 sampler steps)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--legacy", action="store_true", help="also measure the pre-fix path (all in the low dtype)")
    args = ap.parse_args()

    import torch

    from engine.nn import CFM, DiT, DiTConfig
    from engine.nn.blocks import Float32Buffers
    from engine.sampling import linear_grid

    torch.manual_seed(args.seed)
    cfg = DiTConfig(dim=args.dim, depth=args.depth, ff_mult=4, text_dim=512, conv_layers=2, mel_dim=64,
                    text_num_embeds=363, max_frames=6144)
    base = CFM(DiT.from_config(cfg)).eval()
    g = torch.Generator().manual_seed(args.seed)
    with torch.no_grad():
        for p in base.parameters():
            p.copy_(torch.randn(p.shape, generator=g) / max(1, p.shape[-1]) ** 0.5)
    n = args.frames
    text = torch.randint(0, 364, (1, n), generator=g)
    text[:, ::3] = 0
    style = torch.nn.functional.normalize(torch.randn(1, 512, generator=g), dim=-1)
    neg = torch.nn.functional.normalize(torch.randn(1, 512, generator=g), dim=-1)
    noise = torch.randn(1, n, 64, generator=g)
    kw = dict(cond=torch.zeros(1, n, 64), text=text, duration=n, style_prompt=style, negative_style_prompt=neg,
              start_time=torch.zeros(1), song_duration=torch.tensor([n / 6144]), latent_pred_segments=[(0, n)],
              steps=args.steps, cfg_strength=4.0, noise=noise, grid=linear_grid(args.steps))

    def run(model: CFM) -> tuple[torch.Tensor, float]:
        t0 = time.perf_counter()
        out = model.sample(**kw).out.float()
        return out, time.perf_counter() - t0

    import copy

    ref, secs = run(base)
    print(f"config dim {args.dim}, depth {args.depth}, {n} frames, {args.steps - 1} guided steps (cfg 4.0), CPU, "
          f"torch {torch.__version__}")
    print(f"  fp32      reference ({secs:.1f} s)")
    rows = {}
    for name, dt in (("fp16", torch.float16), ("bf16", torch.bfloat16)):
        out, secs = run(copy.deepcopy(base).to(dt))
        rows[name] = float((out - ref).norm() / ref.norm())
        print(f"  {name}      drift {rows[name]:.2e} (rel. L2)   ({secs:.1f} s)")
        if args.legacy:
            legacy = copy.deepcopy(base)
            for m in legacy.modules():  # undo the fix: let .to(dtype) round the buffers too
                if isinstance(m, Float32Buffers):
                    m.fp32_buffers = ()
            legacy = legacy.to(dt)
            kw_l = dict(kw, noise=noise.to(dt), grid=linear_grid(args.steps).to(dt))
            t0 = time.perf_counter()
            out_l = _legacy_sample(legacy, kw_l, dt).float()
            print(f"  {name} old  drift {float((out_l - ref).norm() / ref.norm()):.2e} (buffers and ODE state in "
                  f"{name}; {time.perf_counter() - t0:.1f} s)")
    best = min(rows, key=rows.get)
    print(f"lower drift: {best}")


def _legacy_sample(model, kw, dt):
    """Euler with the state kept in the low dtype, as before the fix."""
    import torch

    dit = model.transformer
    n = kw["duration"]
    x = kw["noise"]
    ts = kw["grid"]
    text2 = kw["text"]
    te = torch.cat((dit.embed_text(text2), dit.embed_text(text2, drop_text=True)))
    cond2 = torch.zeros(2, n, 64, dtype=dt)
    style2 = torch.cat((kw["style_prompt"], kw["negative_style_prompt"])).to(dt)
    start2 = torch.zeros(2, dtype=dt)
    dur2 = torch.cat((kw["song_duration"], kw["song_duration"])).to(dt)
    with torch.inference_mode():
        for i in range(len(ts) - 1):
            v = dit(torch.cat((x, x)), cond2, text2, ts[i], style2, start2, dur2, text_embed=te)
            vc, vu = v.chunk(2)
            x = x + (ts[i + 1] - ts[i]) * (vc + (vc - vu) * 4.0)
    return x


if __name__ == "__main__":
    main()
