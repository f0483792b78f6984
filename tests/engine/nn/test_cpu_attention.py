"""The CPU's blocked float32 attention computes what torch's attention does, at any length and stride, on the
caller's threads or its own; and the DiT's RoPE with the sign folded into sin is the reference formula."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from engine.nn.blocks import RotaryEmbedding, rope, rotate_half, signed_sin
from engine.nn.cpu_attention import ROWS, blocked_attention


def _qkv(n: int, seed: int = 0) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    # laid out [b, n, h, hd] and viewed [b, h, n, hd], as the DiT's projections give them
    return tuple(torch.randn(2, n, 3, 64, generator=g).mul(2).transpose(1, 2) for _ in range(3))


@pytest.mark.parametrize("n", [ROWS, ROWS + 77, 2 * ROWS + 1])
def test_blocked_attention_matches_torch(n: int) -> None:
    q, k, v = _qkv(n)
    want = F.scaled_dot_product_attention(q.double(), k.double(), v.double()).float()
    with torch.inference_mode():
        got = blocked_attention(q, k, v)
    assert got.shape == q.shape and got.dtype == torch.float32
    assert float((got - want).norm() / want.norm()) < 5e-6
    # the last block overlaps the one before: its rows are the same whichever block computed them
    assert torch.equal(got, blocked_attention(q, k, v))


def test_blocked_attention_on_one_thread_is_the_same() -> None:
    q, k, v = _qkv(ROWS + 5, seed=1)
    before = torch.get_num_threads()
    both = blocked_attention(q, k, v)
    torch.set_num_threads(1)
    try:
        one = blocked_attention(q, k, v)
    finally:
        torch.set_num_threads(before)
    assert torch.equal(one, both)
    assert torch.get_num_threads() == before  # the workers' single thread is theirs alone


def test_short_or_low_precision_inputs_keep_torchs_kernel() -> None:
    q, k, v = _qkv(ROWS - 1)
    assert torch.equal(blocked_attention(q, k, v), F.scaled_dot_product_attention(q, k, v))
    q, k, v = (t.bfloat16() for t in _qkv(ROWS))
    assert torch.equal(blocked_attention(q, k, v), F.scaled_dot_product_attention(q, k, v))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_rope_with_the_sign_in_sin_is_the_reference_formula(dtype: torch.dtype) -> None:
    cos, sin = RotaryEmbedding(64)(300, torch.float32, torch.device("cpu"))
    x = torch.randn(2, 300, 3, 64).transpose(1, 2).to(dtype)
    want = x.float() * cos + rotate_half(x.float()) * sin
    got = rope(x, cos, signed_sin(sin))
    assert got.dtype == torch.float32  # a low-precision q is promoted exactly, in the same pass
    torch.testing.assert_close(got, want, rtol=0, atol=2e-6)
