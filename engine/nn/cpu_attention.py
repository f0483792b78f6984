"""Float32 attention on the CPU as oneDNN matrix products, a block of query rows at a time, heads split between
the cores.

torch's CPU flash-attention kernel ran DiffRhythm's real shape (2 x 32 heads x 2048 frames x 64) at 55-130
GFLOP/s on the 2-core AMD VM, in float32 and in bfloat16 alike: a third of a draft song's time. The same arithmetic
as plain products, per head and per block of :data:`ROWS` query rows (scores ``q k^T`` in float32 through
oneDNN's matmul, a float32 softmax, then ``p v``), keeps the block's scores (512 x 2048 float32, 4 MiB) in the
cache between the three steps: 175-185 GFLOP/s with the VM quiet. Run as thousands of small two-thread products
it collapsed under load (8.3 s instead of 0.37 s with four other jobs on the two cores: every product waits for
both threads), so each core takes half the heads on a thread of its own and runs its products single-threaded,
with no synchronisation until the end: 120-210 GFLOP/s at load 4-5 where the flash kernel ran 55-130. Float32
throughout (relative error 1.05e-6 against float64, the flash kernel's 9.4e-7), so it changes no precision choice
and no parity. Blocks of 64-128 rows fell to oneDNN kernels 10-20x slower and 1024 spilled the cache, so
sequences shorter than :data:`ROWS`, other dtypes and machines without oneDNN keep torch's kernel.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import torch
import torch.nn.functional as F
from torch import Tensor

ROWS = 512


def _linear(x: Tensor, w: Tensor) -> Tensor:
    # x: [m, k], w: [n, k] -> x w^T [m, n], float32 through oneDNN
    return torch.ops.mkldnn._linear_pointwise(x, w, None, "none", [], "")


def blocked_attention(q: Tensor, k: Tensor, v: Tensor) -> Tensor:
    """Non-causal softmax attention, q, k, v: [b, h, n, hd] float32 (any strides) -> [b, h, n, hd] float32, the
    same as ``F.scaled_dot_product_attention(q, k, v)``. The result is a view of a [b, n, h, hd] buffer, so the
    usual ``transpose(1, 2).reshape(b, n, h * hd)`` that follows costs nothing."""
    b, h, n, hd = q.shape
    if n < ROWS or not all(t.dtype == torch.float32 for t in (q, k, v)) or q.device.type != "cpu" \
            or not _onednn():
        return F.scaled_dot_product_attention(q, k, v, is_causal=False)
    scale = hd ** -0.5
    vt = v.transpose(-1, -2).contiguous()  # [b, h, hd, n]: the second product's weight
    out = q.new_empty(b, n, h, hd)
    starts = list(range(0, n - ROWS + 1, ROWS))
    if starts[-1] + ROWS < n:
        starts.append(n - ROWS)  # the last block overlaps the one before: recomputed rows come out identical

    def heads(pairs: list[tuple[int, int]]) -> None:
        with torch.inference_mode():
            for bi, hi in pairs:
                kh = (k[bi, hi] * scale).contiguous()  # [n, hd]: the scale folded into the keys (n x 64, not n x n)
                vh = vt[bi, hi]
                for r in starts:
                    s = _linear(q[bi, hi, r:r + ROWS].contiguous(), kh)  # [ROWS, n] scores
                    out[bi, r:r + ROWS, hi] = _linear(torch.softmax(s, -1), vh)

    pairs = [(bi, hi) for bi in range(b) for hi in range(h)]
    workers = max(1, min(torch.get_num_threads(), len(pairs)))
    if workers == 1:
        heads(pairs)
    else:
        list(_pool(workers).map(heads, [pairs[i::workers] for i in range(workers)]))
    return out.transpose(1, 2)


_POOLS: dict[int, ThreadPoolExecutor] = {}
_LOCK = threading.Lock()


def _pool(workers: int) -> ThreadPoolExecutor:
    """One single-threaded torch worker per core (``torch.set_num_threads(1)`` in each applies to that thread only;
    the caller's threads are unchanged)."""
    with _LOCK:
        if workers not in _POOLS:
            _POOLS[workers] = ThreadPoolExecutor(workers, thread_name_prefix="sb-attention",
                                                 initializer=torch.set_num_threads, initargs=(1,))
        return _POOLS[workers]


def _onednn() -> bool:
    from .lowp import onednn_available

    return onednn_available()
