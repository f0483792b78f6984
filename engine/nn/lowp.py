"""Low-precision matrix products on the CPU, with the numerics that need float32 kept there.

``lower(blocks, dtype)`` stores the weights of every ``nn.Linear`` (and 1-d convolution) inside ``blocks`` in
``dtype`` and makes each product cast its input to ``dtype`` and its output back to the input's dtype. Whatever
runs between the products stays float32: the residual stream, norms and their statistics, RoPE, softmax, the
activations, and, outside the blocks, the embeddings and the projections in and out, which carry the signal and
cost a few percent of the FLOPs. The samplers keep their ODE state in float32 regardless.

Why only the blocks, measured on a random DiffRhythm DiT (dim 256, depth 4, 256 frames, 8 guided Euler steps),
relative L2 drift of the final latent against float32 with bfloat16 rounding placed at one group of layers:
input embedding 6.7e-3, output projection 4.7e-3, time and text embeddings 0.9-1.7e-3, but every projection inside
the transformer blocks 1e-6 to 1e-4. The whole model in bfloat16 (the CUDA policy) drifts 2.0e-2; the blocks alone
in bfloat16 with float32 between them stay far below float16's drift (``benchmarks/cpu_inference.py`` prints the
figures for the real shapes). Attention is left to the caller, in float32 on the CPU: torch's CPU flash kernel ran
the real DiffRhythm shape (2 x 32 heads x 2048 x 64) at 74 GFLOP/s in float32 and 41 in bfloat16.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class LowPrecisionLinear(nn.Linear):
    """A Linear whose weight is stored in a low-precision dtype; input and output keep the caller's dtype."""

    def forward(self, x: Tensor) -> Tensor:
        # x: [..., in] -> [..., out]
        return F.linear(x.to(self.weight.dtype), self.weight, self.bias).to(x.dtype)


class LowPrecisionConv1d(nn.Conv1d):
    def forward(self, x: Tensor) -> Tensor:
        # x: [b, c, t] -> [b, c', t']
        return super().forward(x.to(self.weight.dtype)).to(x.dtype)


class LowPrecisionConvTranspose1d(nn.ConvTranspose1d):
    def forward(self, x: Tensor, output_size: list[int] | None = None) -> Tensor:
        # x: [b, c, t] -> [b, c', t * stride]
        return super().forward(x.to(self.weight.dtype), output_size).to(x.dtype)


class OneDnnLinear(nn.Linear):
    """A float32 Linear computed by oneDNN's matmul instead of the BLAS. Same float32 arithmetic (relative error
    4e-7 against float64, MKL's 2.5e-7), but on the AMD VM MKL's sgemm ran 160-180 GFLOP/s at the DiTs' shapes
    where oneDNN ran 345-440: the products a CPU keeps in float32 (attention projections, embeddings) are the
    ones that would otherwise dominate."""

    def forward(self, x: Tensor) -> Tensor:
        # x: [..., in] -> [..., out]
        return torch.ops.mkldnn._linear_pointwise(x, self.weight, self.bias, "none", [], "")


def onednn_available() -> bool:
    """Whether torch has oneDNN's linear (x86-64 and Arm builds do) and it computes what F.linear does."""
    global _ONEDNN
    if _ONEDNN is None:
        try:
            x, w = torch.randn(3, 8), torch.randn(4, 8)
            got = torch.ops.mkldnn._linear_pointwise(x, w, None, "none", [], "")
            _ONEDNN = torch.backends.mkldnn.is_available() and torch.allclose(got, F.linear(x, w), atol=1e-5)
        except (AttributeError, RuntimeError):
            _ONEDNN = False
    return _ONEDNN


_ONEDNN: bool | None = None


def float32_through_onednn(model: nn.Module) -> int:
    """Compute every plain float32 Linear of ``model`` with oneDNN (in place, keys unchanged); returns how many.
    Nothing changes where oneDNN is not available."""
    if not onednn_available():
        return 0
    count = 0
    for module in model.modules():
        if type(module) is nn.Linear and module.weight.dtype == torch.float32:
            module.__class__ = OneDnnLinear
            count += 1
    return count


_LOWER = {nn.Linear: LowPrecisionLinear, nn.Conv1d: LowPrecisionConv1d,
          nn.ConvTranspose1d: LowPrecisionConvTranspose1d}


def lower(blocks: Iterable[nn.Module], dtype: torch.dtype) -> int:
    """Run the products of every Linear/Conv1d/ConvTranspose1d inside ``blocks`` in ``dtype`` (in place: the
    module keeps its parameters and state-dict keys, re-typed). Returns how many layers were converted."""
    count = 0
    for block in blocks:
        for module in block.modules():
            target = _LOWER.get(type(module))
            if target is None:
                continue
            module.__class__ = target  # same attributes, another forward: no copy of the weights
            module.to(dtype)
            count += 1
    return count


def lowered_parameters(model: nn.Module) -> tuple[int, int]:
    """(parameters stored in a low-precision dtype, all parameters): what runs in low precision."""
    low = sum(p.numel() for p in model.parameters() if p.dtype in (torch.bfloat16, torch.float16))
    return low, sum(p.numel() for p in model.parameters())

