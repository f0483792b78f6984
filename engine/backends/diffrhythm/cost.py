"""What a DiffRhythm song costs before it starts: FLOPs from the model's shape, seconds from this machine.

On a GPU the estimate is a rate guess (the engine then learns from finished jobs, ``engine.estimates``). On the CPU,
where a song takes minutes, it is computed from the matrix-product rates ``engine.precision`` measured on this
machine and the fraction of them each part of the work reaches, calibrated by ``benchmarks/cpu_inference.py``
(real-size DiT and VAE, random weights):

- the transformer blocks' products run in the chosen precision at :data:`DIT_EFFICIENCY` of its measured rate
  (the float32 work between them, norms, RoPE, casts, is counted in that efficiency);
- attention runs in float32 (``engine.nn.cpu_attention``: oneDNN products a block of rows at a time, a core each)
  at :data:`ATTENTION_EFFICIENCY` of the float32 rate;
- the Oobleck decoder (chunks of 128 latent frames overlapping by 32, as the reference decodes) at
  :data:`VAE_EFFICIENCY` of the chosen rate; loading the checkpoint at :data:`LOAD_S_PER_GB`.
"""

from __future__ import annotations

from collections.abc import Mapping

#: DiffRhythm-vae: Stable Audio's Oobleck decoder, 128 channels x (1, 2, 4, 8, 16), strides 2, 4, 4, 8, 8
VAE_SHAPE = {"channels": 128, "c_mults": (1, 2, 4, 8, 16), "strides": (2, 4, 4, 8, 8), "latent": 64, "audio": 2}
# Calibrated on the 2-core AVX-512 BF16 VM (README, Performance); see the module docstring.
# The rates are the probe's (engine.precision.measure: fp32 183-196, bf16 836-892 GFLOP/s on that VM whatever its
# load); the efficiencies are what a real-size block reached there with the VM's load at 1-2 (a block 1.4-2.1 s).
DIT_EFFICIENCY = 0.5  # the blocks' products and what runs between them: 445 GFLOP/s of bf16's 890
ATTENTION_EFFICIENCY = 0.6  # blocked float32 attention 100-150 GFLOP/s (0.45-0.76 s a block) of float32's 190
VAE_EFFICIENCY = 0.41  # 364 GFLOP/s of 890
LOAD_S_PER_GB = 3.0


def dit_flops(*, dim: int, depth: int, ff_mult: int, frames: int) -> tuple[float, float]:
    """(FLOPs of the transformer blocks' products, FLOPs of attention) for one DiT pass over one item."""
    linear = 2.0 * frames * depth * (4 * dim * dim + 3 * dim * ff_mult * dim)
    attention = 4.0 * frames * frames * dim * depth
    return linear, attention


def decoder_flops(frames: int, shape: Mapping[str, object] = VAE_SHAPE) -> float:
    """FLOPs of the Oobleck decoder on ``frames`` latent frames (every convolution, multiply-adds x 2)."""
    ch, mults, strides = int(shape["channels"]), tuple(shape["c_mults"]), tuple(shape["strides"])  # type: ignore[arg-type]
    m = (1, *mults)
    n = len(strides)
    length = frames
    total = 2.0 * shape["latent"] * m[n] * ch * 7 * length  # type: ignore[operator]
    for k in range(1, n + 1):
        cin, cout, s = m[n - k + 1] * ch, m[n - k] * ch, strides[n - k]
        total += 2.0 * cin * cout * 2 * s * length  # transposed conv, on its input length
        length *= s
        total += 3 * (2.0 * cout * cout * 7 * length + 2.0 * cout * cout * length)  # residual units
    total += 2.0 * ch * shape["audio"] * 7 * length  # type: ignore[operator]
    return total


def decoded_frames(frames: int, chunk: int = 128, overlap: int = 32) -> int:
    """Latent frames the chunked decode runs through the decoder (overlaps counted twice)."""
    if frames <= chunk:
        return frames
    hop = chunk - overlap
    starts = len(range(0, frames - chunk + 1, hop))
    if (starts - 1) * hop + chunk != frames:
        starts += 1
    return starts * chunk


def cpu_seconds(*, frames: int, calls: int, guided: bool, batch: int, rates: Mapping[str, float], precision: str,
                dim: int = 2048, depth: int = 16, ff_mult: int = 4, checkpoint_gb: float = 0.0,
                vae: bool = True) -> float:
    """Seconds for ``batch`` takes of ``frames`` latent frames with ``calls`` DiT passes each (``guided``: the
    conditional and unconditional branches together, twice the items), decoded (``vae``: by the real-size
    decoder), on this CPU."""
    linear, attention = dit_flops(dim=dim, depth=depth, ff_mult=ff_mult, frames=frames)
    items = batch * (2 if guided else 1)
    low = max(rates.get(precision, 0.0), 1.0) * 1e9
    fp32 = max(rates.get("fp32", 0.0), 1.0) * 1e9
    dit = calls * items * (linear / (low * DIT_EFFICIENCY) + attention / (fp32 * ATTENTION_EFFICIENCY))
    decode = batch * decoder_flops(decoded_frames(frames)) / (low * VAE_EFFICIENCY) if vae else 0.0
    return dit + decode + checkpoint_gb * LOAD_S_PER_GB

