"""ACE-Step 1.5 turbo at real size on this CPU, with random weights: the backend's estimate (seconds, CPU memory,
GPU memory) for a song, and a measured figure extrapolated from one real-size DiT layer and one second of the
real-size VAE decoder (loading 9.6 GB of random float32 weights on a small machine is not needed for the rate).

    python benchmarks/ace_step_cpu.py [--seconds 60] [--no-measure]

The measured figure: a real-size DiT layer (2048 wide, 6144 MLP, 16/8 heads, the layer types of AceStepConfig())
run over the song's patch tokens, times 24 layers x 8 turbo steps, plus the decode of the whole song by the
real-size Oobleck decoder (128 channels x [1, 2, 4, 8, 16], hop 1920) timed on one second and scaled. The text
encoder (one pass of a 0.6B model over 256 tokens) is counted from FLOPs at the layer's measured rate.
"""

from __future__ import annotations

import argparse
import os
import time

REAL_DIT = {"hidden_size": 2048, "num_attention_heads": 16, "num_key_value_heads": 8, "head_dim": 128,
            "intermediate_size": 6144, "num_hidden_layers": 24}
REAL_VAE = {"encoder_hidden_size": 128, "downsampling_ratios": [2, 4, 4, 6, 10],
            "channel_multiples": [1, 2, 4, 8, 16], "decoder_channels": 128, "decoder_input_channels": 64,
            "audio_channels": 2, "sampling_rate": 48000}
REAL_QWEN = {"model_type": "qwen3", "vocab_size": 151669, "hidden_size": 1024, "intermediate_size": 3072,
             "num_hidden_layers": 28, "num_attention_heads": 16, "num_key_value_heads": 8, "head_dim": 128}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--no-measure", action="store_true", help="print the estimate only")
    args = ap.parse_args()
    from engine.backends.ace_step import cost
    from engine.backends.ace_step.jobs import frames_for
    from engine.nn.ace_step.config import parse_acestep, parse_qwen3, parse_vae
    from engine.precision import measured_rates

    dit, vae, text = parse_acestep(REAL_DIT, "real"), parse_vae(REAL_VAE, "real"), parse_qwen3(REAL_QWEN, "real")
    frames = frames_for(args.seconds, vae.sampling_rate, vae.hop)
    flops = cost.job_flops(dit, vae, text, frames, 8, False)
    rate = measured_rates().get("fp32", 100.0)
    print(f"load: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    print(f"{args.seconds:g} s song: {frames} latent frames, {frames // dit.patch_size} DiT tokens")
    print("FLOPs: " + ", ".join(f"{k} {v / 1e12:.2f} T" for k, v in flops.items()))
    from engine.precision import cpu_precision

    choice = cpu_precision(None, width=dit.dit.hidden_size)
    eff = cost.CPU_EFFICIENCY_LOW if choice.name != "fp32" else cost.CPU_EFFICIENCY
    est = cost.seconds(flops, rate_gflops=rate, efficiency=eff)
    chunk = min(frames, cost.DECODE_CHUNK)  # the decoder's window, as the backend decodes
    fp32 = cost.peak_bytes(dit, vae, text, frames, False, decode_chunk=chunk) / 2**30
    bf16 = cost.peak_bytes(dit, vae, text, frames, False, per=2, decode_chunk=chunk) / 2**30
    print(f"estimate (the backend's rule: measured fp32 {rate:.0f} GFLOP/s, {choice.name} chosen): {est:.0f} s "
          f"without loading; peak memory (CPU RAM, or VRAM on a GPU; float32 as the backend runs) {fp32:.1f} GiB; "
          f"in bfloat16 it would be {bf16:.1f} GiB")
    if args.no_measure:
        return
    import copy

    import torch

    from engine.nn.ace_step.dit import DiT
    from engine.nn.ace_step.vae import AceStepVae
    from engine.nn.lowp import lower
    from engine.nn.sao.vae_inference import for_inference
    from engine.precision import cpu_precision

    low = cpu_precision(None)
    torch.manual_seed(0)
    two = parse_acestep({**REAL_DIT, "num_hidden_layers": 2}, "two layers")  # one sliding, one full
    model = DiT(two).eval()
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.02)
    x = torch.randn(1, frames, 64)
    ctx = torch.randn(1, frames, 128)
    enc = torch.randn(1, cost.ENCODER_TOKENS, two.enc.hidden_size)
    t = torch.full((1,), 0.5)

    def timed(fn):  # (seconds of the second call, its output)
        fn()
        t0 = time.perf_counter()
        out = fn()
        return time.perf_counter() - t0, out

    with torch.no_grad():
        kv = model.cross_kv(enc)
        dit32, ref = timed(lambda: model(x, t, t, ctx, kv=kv))
        lowered = copy.deepcopy(model)
        if low.name != "fp32":
            lower([layer.mlp for layer in lowered.layers], low.dtype)
        ditlow, out = timed(lambda: lowered(x, t, t, ctx, kv=kv))
    drift = float((out - ref).norm() / ref.norm())
    vmodel = AceStepVae(vae).eval()
    for p in vmodel.parameters():
        torch.nn.init.normal_(p, std=0.02)
    lat = torch.randn(1, 25, 64)
    with torch.no_grad():
        vae_plain, wav_ref = timed(lambda: vmodel.decode(lat))
        fast = copy.deepcopy(vmodel)
        for_inference(fast.oobleck, low.dtype)
        vae_fast, wav = timed(lambda: fast.decode(lat))
    vdrift = float((wav - wav_ref).norm() / wav_ref.norm())
    per_song = frames / 25
    rate32 = cost.dit_flops(two, frames) / dit32 / 1e9
    print(f"measured, a real-size 2-layer DiT over {frames // dit.patch_size} tokens: fp32 {dit32:.2f} s "
          f"({rate32:.0f} GFLOP/s); feed-forward in {low.name} ({low.source}) {ditlow:.2f} s, drift {drift:.1e}")
    print(f"measured, one second of the real-size decoder: plain fp32 {vae_plain:.2f} s; inference form in "
          f"{low.name} {vae_fast:.2f} s, drift {vdrift:.1e}")
    for label, d, v in (("fp32, plain decoder", dit32, vae_plain), (f"{low.name} as the backend runs", ditlow,
                                                                     vae_fast)):
        total = d / 2 * dit.num_hidden_layers * 8 + v * per_song + flops["text"] / (rate32 * 1e9)
        print(f"turbo, {args.seconds:g} s song, {label}: about {total:.0f} s (DiT {d / 2 * 192:.0f} s, decode "
              f"{v * per_song:.0f} s; without loading 9.6 GB of weights)")

if __name__ == "__main__":
    main()
