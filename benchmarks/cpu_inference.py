"""CPU inference, today's float32 path against the chosen precision, side by side in one process: Stable Audio
Open Small (one 8-step 11.9 s loop) and DiffRhythm-1.2 (a 95 s song with the draft preset).

Method. The machine first: a fresh ``engine.precision.measure()`` (1024-wide matrix products per format, not the
cache) gives the matmul rates and the automatic choice (``--precision`` overrides it). Every model has its real
shapes and random weights drawn once (seeded), written to a temporary file first (untimed), so that "model built"
is what the backends do: read the weights and build the model.

- SAO Small (reconstructed config, ``stable_audio_speed.SMALL``; the T5 is left out, a fixed random conditioning
  stands in: it runs once per prompt). Today's path: ``StableAudio(cfg)`` built with its initial weights and
  ``load_strict`` (as the loader did), 8 pingpong steps in float32, the plain Oobleck decoder. The chosen path:
  ``files.build`` (meta device, weights assigned), ``pipeline.prepare_for_cpu`` (DiT blocks in the chosen format,
  the VAE in its inference form), the same 8 steps with the same noise, the inference decoder. End to end =
  build + DiT + VAE, no warm-up on either side (first-call costs are part of a one-shot loop).
- DiffRhythm-1.2 (dim 2048, depth 16, 2048 frames; weights saved as an official fp16 checkpoint; the VAE is the
  Oobleck decoder at DiffRhythm-vae's shape). The chosen path, timed end to end: ``read_checkpoint`` +
  ``load_into`` (float32) + ``lowp.lower`` of the blocks, the draft preset (Euler, 9-point sway grid, CFG 4: 8
  guided calls) through ``CFM.sample``, then the chunked decode (128 frames, overlap 32, as the reference) with
  the inference decoder. Float32 is extrapolated (it would take most of an hour): the same build without
  lowering, 8 guided float32 steps each timed in parts (the DiT without its blocks, the fastest of ``--fp32-steps``
  blocks x 16, the text fusion today's loop recomputes every step x 8), one timed 128-frame chunk of the plain
  decoder x the chunks. The CPU estimate the backend prints before a song (``diffrhythm/cost.py``) is shown beside it.
- Drift = relative L2 of the final latent against float32 from the same noise. SAO Small: the whole 8-step loop.
  DiffRhythm: the draft sample at ``--drift-frames`` (float32 at 2048 frames is extrapolated, so not sampled).
  float16 for comparison: on a CPU without float16 kernels (0.6 GFLOP/s here) float16 is emulated as a GPU computes
  it: the model stored in float16 as the engine would run it (RoPE and ODE state float32), every matrix product,
  convolution and attention upcast to float32 and rounded back to float16. The audio's drift is printed too.

GFLOP/s are analytic (every matrix product and convolution, multiply-adds x 2) over the stage's time, against the
measured matmul rate of the format; peak RSS is sampled every 0.2 s per run. Load average is printed with every
figure: on the shared 2-core VM other processes change timings by 2-4x.

Run: ``python benchmarks/cpu_inference.py [--json FILE] [--only sao|diffrhythm]`` (SAO about 2 minutes,
DiffRhythm about 8, 16 GB of RAM; ``--only`` runs one model and merges into an existing ``--json`` file).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))


# -- measurement helpers ---------------------------------------------------------------------------------------
class PeakRSS:
    """Peak resident memory of this process while the block runs, sampled every 0.2 s (a sampler waking every
    10 ms preempted torch's two OpenMP threads often enough to double the DiT's time on the 2-core VM)."""

    def __enter__(self) -> PeakRSS:
        self.peak, self._stop = self._now(), threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()
        return self

    @staticmethod
    def _now() -> int:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self.peak = max(self.peak, self._now())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, self._now())

    @property
    def gib(self) -> float:
        return round(self.peak / 2**30, 2)


def load() -> float:
    return round(os.getloadavg()[0], 2)


def rel(a: Any, b: Any) -> float:
    return float((a.float() - b.float()).norm() / b.float().norm())


class Timer:
    def __init__(self) -> None:
        self.t: dict[str, float] = {}

    def __call__(self, name: str) -> _Span:
        return _Span(self, name)


class _Span:
    def __init__(self, timer: Timer, name: str):
        self.timer, self.name = timer, name

    def __enter__(self) -> None:
        self.t0 = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self.timer.t[self.name] = self.timer.t.get(self.name, 0.0) + time.perf_counter() - self.t0


def fp16_emulation() -> Any:
    """A dispatch mode that runs every float16 matrix product, convolution and attention in float32 and rounds
    the result to float16: float16 storage with float32 accumulation, what a GPU's float16 path computes."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    aten = torch.ops.aten
    heavy = {aten.mm.default, aten.addmm.default, aten.bmm.default, aten.baddbmm.default, aten.linear.default,
             aten.matmul.default, aten.convolution.default, aten.conv1d.default, aten.conv2d.default,
             aten.conv_transpose1d.default, aten.scaled_dot_product_attention.default,
             aten._scaled_dot_product_flash_attention_for_cpu.default}
    def up(a: Any) -> Any:
        return a.float() if isinstance(a, torch.Tensor) and a.dtype == torch.float16 else a

    def down(t: Any) -> Any:
        return t.half() if isinstance(t, torch.Tensor) and t.dtype == torch.float32 else t

    class F16(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            if func in heavy and any(isinstance(a, torch.Tensor) and a.dtype == torch.float16 for a in args):
                r = func(*[up(a) for a in args], **{k: up(v) for k, v in kwargs.items()})
                return tuple(down(t) for t in r) if isinstance(r, tuple) else down(r)
            return func(*args, **kwargs)

    return F16()


# -- SAO Small -----------------------------------------------------------------------------------------------------
def sao_small(dtype: Any, rates: dict[str, float], name: str, tmp: Path, size: str) -> dict[str, Any]:
    import torch
    from safetensors.torch import save_file
    from stable_audio_speed import SMALL, dit_flops

    from engine.backends.diffrhythm.cost import decoder_flops
    from engine.backends.stable_audio.files import build, load_strict, read_state_dict
    from engine.backends.stable_audio.pipeline import prepare_for_cpu
    from engine.nn.sao.config import parse
    from engine.nn.sao.model import StableAudio
    from engine.sampling.stable_audio import pingpong, pingpong_schedule

    if size == "tiny":
        from engine.backends.stable_audio.tiny import _config

        cfg = parse(_config(True, 65536), "SAO Small (tiny)")
    else:
        cfg = parse(SMALL, "SAO Small (reconstructed)")
    steps = 8
    g = torch.Generator().manual_seed(0)
    with torch.device("meta"):
        shapes = StableAudio(cfg).state_dict()
    sd = {}
    for k, v in shapes.items():  # 1/sqrt(fan-in) weights, unit weight-norm gains, zero biases, LayerNorm gains 1
        if k.endswith("weight_g"):
            sd[k] = torch.ones(v.shape)
        elif k.endswith(("gamma", "norm.weight")) or v.ndim == 0:
            sd[k] = torch.ones(v.shape)
        elif v.ndim >= 2:
            sd[k] = torch.randn(v.shape, generator=g) / math.sqrt(v[0].numel())
        else:
            sd[k] = torch.zeros(v.shape)
    inv = 1.0 / (10000 ** (torch.arange(0, cfg.dit.rope_dim, 2).float() / cfg.dit.rope_dim))
    sd["model.model.transformer.rotary_pos_emb.inv_freq"] = inv
    for k in sd:
        if k.endswith("weight_v"):  # the weight norm starts as the identity: g = ||v||
            sd[k[:-1] + "g"] = torch.linalg.vector_norm(sd[k], dim=tuple(range(1, sd[k].ndim)), keepdim=True)
    path = tmp / "sao-small.safetensors"
    save_file({k: v.contiguous() for k, v in sd.items()}, str(path))
    del sd
    io, width = cfg.dit.io_channels, cfg.cond_dim
    cross = torch.randn(1, 65, width, generator=g)
    glob = torch.randn(1, cfg.dit.global_cond_dim, generator=g)
    x0 = torch.randn(1, io, cfg.latent_length, generator=g)
    eps = [torch.randn(1, io, cfg.latent_length, generator=g) for _ in range(steps)]
    ts = pingpong_schedule(steps)
    dit_gflop = dit_flops(cfg.dit, cfg.latent_length, 65) * steps / 1e9
    d = cfg.decoder
    vae_gflop = decoder_flops(cfg.latent_length, {"channels": d.channels, "c_mults": d.c_mults, "strides": d.strides,
                                                  "latent": d.latent_dim, "audio": d.audio_channels}) / 1e9
    audio_s = cfg.sample_size / cfg.sample_rate

    def sample(dit: Any, cast: Any = None) -> Any:
        def net(x: Any, t: Any) -> Any:
            if cast is None:
                return dit(x, t, cross, glob)
            return dit(x.to(cast), t.to(cast), cross.to(cast), glob.to(cast)).float()
        return pingpong(net, x0, ts, noise=lambda i, _like: eps[i])

    rows: dict[str, dict[str, Any]] = {}
    out: dict[str, Any] = {}
    for label in ("fp32", "chosen"):
        tm = Timer()
        with PeakRSS() as mem, torch.inference_mode():
            with tm("build"):
                if label == "fp32":  # the loader as it was: built with initial weights, then copied over
                    model = StableAudio(cfg)
                    load_strict(model, read_state_dict(path), path, "SAO Small")
                else:
                    model = build(cfg, read_state_dict(path), path, "SAO Small")
                    prepare_for_cpu(model, dtype)
                model.eval()
            with tm("dit"):
                latent = sample(model.dit)
            with tm("vae"):
                audio = model.vae.decode(latent)
        out[label] = (latent, audio)
        fmt = "fp32" if label == "fp32" else name
        rows[label] = {"build_s": tm.t["build"], "dit_s": tm.t["dit"], "vae_s": tm.t["vae"],
                       "total_s": sum(tm.t.values()), "dit_gflops": dit_gflop / tm.t["dit"],
                       "vae_gflops": vae_gflop / tm.t["vae"], "matmul_gflops": rates[fmt], "peak_rss_gib": mem.gib,
                       "load": load()}
        if label == "chosen":
            chosen_vae = model.vae
        del model
    ref_lat, ref_audio = out["fp32"]
    # float16 as a GPU would run it, from the float32 weights, for the drift comparison (not timed against anything);
    # the VAE alone too: both decoders given the float32 latent
    with torch.inference_mode():
        m16 = build(cfg, read_state_dict(path), path, "SAO Small")
        f16 = m16.dit.half()
        f16.transformer.rotary_pos_emb.inv_freq = inv  # RoPE angles in float32, as the engine keeps them
        t0 = time.perf_counter()
        with fp16_emulation():
            lat16 = sample(f16, torch.float16)
            audio16 = m16.vae.half().decode(ref_lat.half()).float()
        t16 = time.perf_counter() - t0
        vae_chosen = chosen_vae.decode(ref_lat)
        del m16, f16, chosen_vae
    drift = {"chosen": rel(out["chosen"][0], ref_lat), "fp16": rel(lat16, ref_lat),
             "audio_chosen": rel(out["chosen"][1], ref_audio), "audio_vae_chosen": rel(vae_chosen, ref_audio),
             "audio_vae_fp16": rel(audio16, ref_audio)}
    return {"audio_s": audio_s, "steps": steps, "dit_gflop": dit_gflop, "vae_gflop": vae_gflop, "rows": rows,
            "drift": drift, "fp16_emulated_s": t16}


# -- DiffRhythm-1.2 --------------------------------------------------------------------------------------------------
def diffrhythm(dtype: Any, rates: dict[str, float], name: str, tmp: Path, fp32_steps: int,
               drift_frames: int, size: str) -> dict[str, Any]:
    import torch

    from engine.backends.diffrhythm.backend import QUALITY, dit_calls, sampler_params
    from engine.backends.diffrhythm.cost import (
        VAE_SHAPE,
        cpu_seconds,
        decoded_frames,
        decoder_flops,
        dit_flops,
    )
    from engine.backends.diffrhythm.pipeline import attention_for
    from engine.checkpoints import load_into, read_checkpoint
    from engine.nn import CFM, DiT, DiTConfig
    from engine.nn.blocks import sdpa
    from engine.nn.lowp import lower
    from engine.nn.sao.config import OobleckConfig
    from engine.nn.sao.vae import Decoder
    from engine.nn.sao.vae_inference import InferenceCoder
    from engine.nn.vae import HOP, chunked
    from engine.sampling import GRIDS

    dims = dict(dim=2048, depth=16, ff_mult=4, text_dim=512, conv_layers=4, mel_dim=64, text_num_embeds=363)
    vae_shape = dict(VAE_SHAPE)
    frames = 2048
    if size == "tiny":
        dims.update(dim=128, depth=2, conv_layers=1)
        vae_shape.update(channels=4, c_mults=(1, 2, 2, 4, 4))
    params = sampler_params({"quality": "draft"})
    steps, calls = int(params["steps"]), dit_calls(params)
    g = torch.Generator().manual_seed(1)
    cfg = DiTConfig(**dims, max_frames=frames)
    with torch.device("meta"):
        shapes = CFM(DiT.from_config(cfg)).state_dict()
    ckpt_path = tmp / "cfm_model.pt"
    sd = {}
    for k, v in shapes.items():
        if v.ndim >= 2:
            sd[k] = (torch.randn(v.shape, generator=g) / math.sqrt(v[0].numel())).half()
        elif k.endswith("weight") and "norm" in k:
            sd[k] = torch.ones(v.shape, dtype=torch.float16)
        else:
            sd[k] = torch.zeros(v.shape, dtype=torch.float16)
    torch.save({"model_state_dict": sd}, ckpt_path)
    del sd
    vcfg = OobleckConfig(channels=vae_shape["channels"], c_mults=vae_shape["c_mults"], strides=vae_shape["strides"],
                         latent_dim=vae_shape["latent"], audio_channels=vae_shape["audio"])
    dec = Decoder(vcfg).eval()
    with torch.no_grad():
        for k, p in dec.named_parameters():
            if k.endswith("weight_v"):
                p.copy_(torch.randn(p.shape, generator=g) / math.sqrt(p[0].numel()))
        for k, p in dec.named_parameters():
            if k.endswith("weight_g"):
                v = dict(dec.named_parameters())[k[:-1] + "v"]
                p.copy_(torch.linalg.vector_norm(v, dim=(1, 2), keepdim=True))
            elif k.endswith(("alpha", "beta", "bias")):
                p.zero_()
    vae_path = tmp / "vae.pt"
    torch.save(dec.state_dict(), vae_path)
    del dec

    def inputs(n: int) -> dict[str, Any]:
        gi = torch.Generator().manual_seed(2)
        text = torch.randint(1, 364, (1, n), generator=gi)
        text[:, ::3] = 0
        style = torch.nn.functional.normalize(torch.randn(1, 512, generator=gi), dim=-1)
        neg = torch.nn.functional.normalize(torch.randn(1, 512, generator=gi), dim=-1)
        return dict(cond=torch.zeros(1, n, 64), text=text, duration=n, style_prompt=style, negative_style_prompt=neg,
                    start_time=torch.zeros(1), song_duration=torch.tensor([n / frames]),
                    latent_pred_segments=[(0, n)], steps=steps, cfg_strength=float(params["cfg"]),
                    noise=torch.randn(1, n, 64, generator=gi), grid=GRIDS[params["grid"]](steps),
                    method=str(params["solver"]))

    tm = Timer()
    res: dict[str, Any] = {"frames": frames, "preset": "draft", "dit_calls": calls, "guided": True}
    with torch.inference_mode():
        with tm("read+load fp32"):
            ckpt = read_checkpoint(ckpt_path)
            with torch.device("meta"):
                cfm = CFM(DiT.from_config(cfg)).eval()
            load_into(cfm, ckpt, torch.device("cpu"), torch.float32)
        # float32: timed guided steps at 2048 frames, and the drift reference at drift_frames
        kw = inputs(frames)
        dit = cfm.transformer
        te = torch.cat((dit.embed_text(kw["text"]), dit.embed_text(kw["text"], drop_text=True)))
        x2 = torch.cat((kw["noise"], kw["noise"]))
        cond2, style2 = torch.zeros(2, frames, 64), torch.cat((kw["style_prompt"], kw["negative_style_prompt"]))
        start2, dur2 = torch.zeros(2), torch.cat((kw["song_duration"], kw["song_duration"]))
        # a float32 step as today's code runs it, timed in parts (a whole one took 150 s on the busy VM): the DiT
        # without its blocks, one block (x depth), and the text fusion the old loop recomputed every step (x depth/2)
        blocks = dit.transformer_blocks
        dit.transformer_blocks = torch.nn.ModuleList()
        t0 = time.perf_counter()
        dit(x2, cond2, kw["text"], torch.tensor(0.5), style2, start2, dur2, text_embed=te)
        outer = time.perf_counter() - t0
        dit.transformer_blocks = blocks
        h = torch.randn(2, frames, dims["dim"], generator=g)
        cos, sin = dit.rotary_emb(frames, torch.float32, h.device)
        block_s = []
        for _ in range(fp32_steps):
            t0 = time.perf_counter()
            blocks[0](h, cos, sin, sdpa)
            block_s.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        dit.text_fusion_linears[0](te)
        fusion = time.perf_counter() - t0
        step = outer + dims["depth"] * min(block_s) + dims["depth"] // 2 * fusion
        res["fp32_step_s"] = [step]
        res["fp32_step_parts"] = {"outer_s": outer, "block_s": block_s, "fusion_s": fusion}
        res["fp32_step_load"] = load()
        small = inputs(drift_frames)
        t0 = time.perf_counter()
        ref = cfm.sample(**small).out
        res["fp32_drift_sample_s"] = time.perf_counter() - t0
        f16 = copy.deepcopy(cfm).half()
        t0 = time.perf_counter()
        with fp16_emulation():
            lat16 = f16.sample(**small).out
        res["fp16_emulated_s"] = time.perf_counter() - t0
        del f16
        with tm("lower"):
            if dtype != torch.float32:
                lower(cfm.transformer.transformer_blocks, dtype)
        attn, attn_name = attention_for(torch.device("cpu"), torch.float32)  # what the backend runs on the CPU
        low_small = cfm.sample(**small, attn=attn).out
    res["drift"] = {"chosen": rel(low_small, ref), "fp16": rel(lat16, ref), "frames": drift_frames}
    # the float32 decoder as it runs today (weight norm on every call, [b, c, t] layout), one chunk
    with torch.inference_mode():
        plain = Decoder(vcfg).eval()
        plain.load_state_dict(torch.load(vae_path, weights_only=True))
        z = torch.randn(1, 64, 128, generator=g)
        t0 = time.perf_counter()
        plain(z)
        res["fp32_vae_chunk_s"] = time.perf_counter() - t0
        del plain
    n_chunks = decoded_frames(frames) // 128
    # the chosen path, end to end
    with PeakRSS() as mem, torch.inference_mode():
        with tm("vae build"):
            dec = Decoder(vcfg).eval()
            dec.load_state_dict(torch.load(vae_path, weights_only=True))
            native = InferenceCoder(dec, dtype).eval()
        kw = inputs(frames)
        step_marks: list[float] = []
        t0 = time.perf_counter()
        with tm("sample"):
            latent = cfm.sample(**kw, on_step=lambda d, t: step_marks.append(time.perf_counter() - t0),
                                attn=attn).out
        with tm("decode"):
            audio = chunked(native, latent.transpose(1, 2), 1, HOP, frames)
    lin, att = dit_flops(dim=dims["dim"], depth=dims["depth"], ff_mult=dims["ff_mult"], frames=frames)
    dit_gflop = calls * 2 * (lin + att) / 1e9
    vae_gflop = decoder_flops(decoded_frames(frames), vae_shape) / 1e9
    build_s = tm.t["read+load fp32"] + tm.t["lower"] + tm.t["vae build"]
    chosen_s = build_s + tm.t["sample"] + tm.t["decode"]
    fp32_step = res["fp32_step_s"][0]
    fp32_s = tm.t["read+load fp32"] + tm.t["vae build"] + calls * fp32_step + n_chunks * res["fp32_vae_chunk_s"]
    gb = ckpt_path.stat().st_size / 1e9
    estimate = cpu_seconds(frames=frames, calls=calls, guided=True, batch=1, rates=rates, precision=name,
                           dim=dims["dim"], depth=dims["depth"], ff_mult=dims["ff_mult"], checkpoint_gb=gb,
                           vae=size != "tiny")
    res.update({"audio_s": audio.shape[-1] / 44100, "build_s": build_s, "sample_s": tm.t["sample"],
                "decode_s": tm.t["decode"], "chosen_s": chosen_s, "fp32_s": fp32_s,
                "fp32_how": f"extrapolated: build timed, {calls} guided fp32 steps at {frames} frames (each = the DiT "
                            f"without blocks + {dims['depth']} x the fastest of {fp32_steps} timed block(s) + "
                            f"{dims['depth'] // 2} text fusions, all timed), {n_chunks} x one timed 128-frame chunk "
                            "of today's decoder",
                "step_s": [b - a for a, b in zip([0.0, *step_marks], step_marks, strict=False)],
                "dit_gflops": dit_gflop / tm.t["sample"], "fp32_dit_gflops": 2 * (lin + att) / 1e9 / fp32_step,
                "vae_gflops": vae_gflop / tm.t["decode"], "peak_rss_gib": mem.gib,
                "estimate_s": estimate, "checkpoint_gb": gb, "load": load(), "quality_preset": QUALITY["draft"],
                "attention": attn_name})
    return res


# -- report ------------------------------------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, help="write the summary here (merged when --only runs one model)")
    ap.add_argument("--only", choices=("sao", "diffrhythm"))
    ap.add_argument("--precision", choices=("fp32", "bf16", "fp16"), help="instead of the measured choice")
    ap.add_argument("--fp32-steps", type=int, default=2, help="DiffRhythm: timed float32 blocks (default 2)")
    ap.add_argument("--drift-frames", type=int, default=128, help="DiffRhythm: length of the drift samples")
    ap.add_argument("--size", choices=("real", "tiny"), default="real",
                    help="tiny: small models through the same code, to check the script (figures meaningless)")
    args = ap.parse_args()

    import torch

    from engine.precision import choose, machine_key, measure

    rates = measure()
    name = args.precision or choose(rates)
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[name]
    print(f"machine: {machine_key(torch.get_num_threads())}")
    print(f"matmul GFLOP/s (1024^3): {', '.join(f'{k} {v:g}' for k, v in rates.items())} -> chosen {name}"
          f"{' (--precision)' if args.precision else ' (automatic)'}; load average {load()}")
    summary: dict[str, Any] = json.loads(args.json.read_text()) if args.json and args.only and args.json.exists() \
        else {}
    summary["machine"] = {"key": machine_key(torch.get_num_threads()), "matmul_gflops": rates, "chosen": name}
    drifts = dict(summary.get("drift", {}).get("per_model", {}))
    with tempfile.TemporaryDirectory(prefix="sb-cpu-bench.") as tmp:
        if args.only in (None, "sao"):
            r = sao_small(dtype, rates, name, Path(tmp), args.size)
            print(f"\nStable Audio Open Small: one {r['steps']}-step {r['audio_s']:.1f} s loop (DiT {r['dit_gflop']:.0f} "
                  f"GFLOP, VAE decode {r['vae_gflop']:.0f} GFLOP)")
            for label, row in r["rows"].items():
                fmt = "fp32" if label == "fp32" else name
                print(f"  {'today fp32' if label == 'fp32' else 'chosen ' + name:>11}: built {row['build_s']:.2f} s, "
                      f"DiT {row['dit_s']:.2f} s ({row['dit_gflops']:.0f} GFLOP/s = "
                      f"{100 * row['dit_gflops'] / row['matmul_gflops']:.0f} % of {fmt} matmul "
                      f"{row['matmul_gflops']:.0f}), VAE {row['vae_s']:.2f} s ({row['vae_gflops']:.0f} GFLOP/s), "
                      f"end to end {row['total_s']:.2f} s = {r['audio_s'] / row['total_s']:.2f}x real time; "
                      f"peak RSS {row['peak_rss_gib']} GiB; load {row['load']}")
            f, c = r["rows"]["fp32"]["total_s"], r["rows"]["chosen"]["total_s"]
            d = r["drift"]
            print(f"  speed-up {f / c:.2f}x; drift of the latent: {name} {d['chosen']:.2e}, fp16 (emulated, "
                  f"{r['fp16_emulated_s']:.0f} s) {d['fp16']:.2e} = {d['chosen'] / d['fp16']:.2f}x fp16's; of the "
                  f"audio {d['audio_chosen']:.2e}; the VAE alone on the fp32 latent: {name} {d['audio_vae_chosen']:.2e}, "
                  f"fp16 {d['audio_vae_fp16']:.2e} = {d['audio_vae_chosen'] / d['audio_vae_fp16']:.2f}x")
            summary["sao_small"] = {"audio_s": round(r["audio_s"], 2), "fp32_s": round(f, 2), "chosen_s": round(c, 2),
                                    "precision": name, "stages": r["rows"]}
            drifts["sao_small"] = d
        if args.only in (None, "diffrhythm"):
            r = diffrhythm(dtype, rates, name, Path(tmp), args.fp32_steps, args.drift_frames, args.size)
            d = r["drift"]
            print(f"\nDiffRhythm-1.2: a {r['audio_s']:.1f} s song ({r['frames']} frames), draft preset "
                  f"({r['dit_calls']} guided DiT calls), real-size DiT and VAE, random weights")
            print(f"  chosen {name} (attention {r['attention']}): built {r['build_s']:.1f} s, sampled {r['sample_s']:.1f} s "
                  f"({r['dit_gflops']:.0f} GFLOP/s; steps {', '.join(f'{s:.1f}' for s in r['step_s'])} s), decoded "
                  f"{r['decode_s']:.1f} s ({r['vae_gflops']:.0f} GFLOP/s), end to end {r['chosen_s']:.1f} s = "
                  f"{r['chosen_s'] / 60:.2f} min; peak RSS {r['peak_rss_gib']} GiB; load {r['load']}")
            print(f"  today fp32: {r['fp32_s']:.0f} s = {r['fp32_s'] / 60:.1f} min ({r['fp32_how']}; a guided step "
                  f"{min(r['fp32_step_s']):.1f} s = {r['fp32_dit_gflops']:.0f} GFLOP/s; load {r['fp32_step_load']})")
            print(f"  speed-up {r['fp32_s'] / r['chosen_s']:.2f}x; estimate shown before the song "
                  f"{r['estimate_s']:.0f} s = {100 * (r['estimate_s'] / r['chosen_s'] - 1):+.0f} % of the measured")
            print(f"  drift of the latent at {d['frames']} frames: {name} {d['chosen']:.2e}, fp16 (emulated) "
                  f"{d['fp16']:.2e} = {d['chosen'] / d['fp16']:.2f}x fp16's")
            summary["diffrhythm_95s"] = {"fp32_s": round(r["fp32_s"], 1), "fp32_how": r["fp32_how"],
                                         "chosen_s": round(r["chosen_s"], 1), "preset": "draft", "precision": name,
                                         "estimate_s": round(r["estimate_s"], 1),
                                         **{k: r[k] for k in ("build_s", "sample_s", "decode_s", "step_s", "dit_gflops",
                                                              "vae_gflops", "peak_rss_gib", "load")}}
            drifts["diffrhythm"] = d
    worst = max(drifts, key=lambda k: drifts[k]["chosen"] / drifts[k]["fp16"])
    summary["drift"] = {"chosen": drifts[worst]["chosen"], "fp16": drifts[worst]["fp16"], "model": worst,
                        "per_model": drifts}
    print(f"\ndrift (worst of the models, {worst}): {name} {drifts[worst]['chosen']:.2e} vs fp16 "
          f"{drifts[worst]['fp16']:.2e} ({drifts[worst]['chosen'] / drifts[worst]['fp16']:.2f}x); load {load()}")
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1, default=float))


if __name__ == "__main__":
    main()
