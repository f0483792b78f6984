"""The flow-matching wrapper (docs/reference/diffrhythm-spec.md §2): noise, masks, guidance and editing around the DiT.

It owns no parameters (its state dict is the DiT's under ``transformer.``). ``sample`` follows the reference
``CFM.sample``: the reference latent survives bit-exactly outside the regenerated segments; guidance is
``v_c + (v_c - v_u) * cfg`` where the unconditional branch drops the reference audio and the lyrics and swaps the
style for the negative style embedding (it keeps time, start and duration). The conditional and unconditional
branches run as one batch, and the text branch and its fusion projections (constant over a run) are computed
once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from engine.sampling.grids import linear_grid
from engine.sampling.solvers import integrate

from .dit import DiT


@dataclass
class SampleResult:
    out: Tensor  # [B, n, mel]
    trajectory: Tensor | None  # [steps, B, n, mel] when asked for
    noise: Tensor  # [B, n, mel], the initial state


def segment_mask(segments: Sequence[tuple[int, int]], n: int, device: torch.device | str = "cpu") -> Tensor:
    """[1, n, 1] bool: True on frames to regenerate (union of [start, end) segments)."""
    k = torch.arange(n, device=device)
    mask = torch.zeros(n, dtype=torch.bool, device=device)
    for s, e in segments:
        mask |= (k >= s) & (k < e)
    return mask[None, :, None]


class CFM(nn.Module):
    def __init__(self, transformer: DiT, num_channels: int = 64):
        super().__init__()
        self.transformer = transformer
        self.num_channels = num_channels

    @property
    def dtype(self) -> torch.dtype:
        return self.transformer.proj_out.weight.dtype

    @torch.inference_mode()
    def sample(
        self,
        *,
        cond: Tensor,
        text: Tensor,
        duration: int,
        style_prompt: Tensor,
        negative_style_prompt: Tensor,
        start_time: Tensor,
        song_duration: Tensor | None,
        latent_pred_segments: Sequence[tuple[int, int]],
        batch: int = 1,
        steps: int = 32,
        cfg_strength: float = 4.0,
        noise: Tensor | None = None,
        generator: torch.Generator | None = None,
        grid: Tensor | None = None,
        method: str = "euler",
        on_step: Callable[[int, int], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        keep_trajectory: bool = False,
        attn: Callable[[Tensor, Tensor, Tensor], Tensor] | None = None,
    ) -> SampleResult:
        """Generate ``batch`` latents of ``duration`` frames.

        cond: [1, m, mel] reference latent (zeros for plain generation); m >= duration is truncated, m < duration
        is zero-padded, which is allowed only inside regenerated segments (continuation). text: [1, duration]
        tokens. style_prompt, negative_style_prompt: [1, 512]. start_time, song_duration: [1].
        noise: [batch, duration, mel] initial state; otherwise drawn per item with ``torch.randn`` (the reference's
        draw order). grid: the time grid (default ``linspace(0, 1, steps)``).
        """
        device, dtype, n = cond.device, self.dtype, duration
        cond = cond.to(dtype)
        if cond.shape[1] > n:
            cond = cond[:, :n]
        mask = segment_mask(latent_pred_segments, n, device)
        if cond.shape[1] < n:
            if not bool(mask[0, cond.shape[1]:, 0].all()):
                raise ValueError(f"the reference latent has {cond.shape[1]} frames but {n} are kept; frames past its "
                                 "end must be regenerated")
            cond = torch.nn.functional.pad(cond, (0, 0, 0, n - cond.shape[1]))
        if text.shape[1] != n:
            raise ValueError(f"lyric tokens ({text.shape[1]}) must have one slot per latent frame ({n})")
        step_cond = torch.where(mask, torch.zeros_like(cond), cond)
        rep = lambda t: t.repeat(batch, *([1] * (t.ndim - 1)))  # noqa: E731
        cond_b, step_cond_b, mask_b = rep(cond), rep(step_cond), rep(mask)
        text_b = rep(text)
        style = rep(style_prompt.to(dtype))
        neg = rep(negative_style_prompt.to(dtype))
        start = rep(start_time.to(dtype))
        dur = rep(song_duration.to(dtype)) if song_duration is not None else None
        if noise is None:
            noise = torch.stack([torch.randn(n, self.num_channels, dtype=dtype, generator=generator,
                                             device="cpu" if generator is None else generator.device)
                                 for _ in range(batch)]).to(device)
        # The ODE state and the time grid stay float32 whatever the DiT computes in; only its inputs are cast.
        y0 = noise.to(device=device, dtype=torch.float32)
        ts = grid.to(device=device, dtype=torch.float32) if grid is not None else \
            linear_grid(steps, torch.float32, device)
        dit = self.transformer
        extra = {"attn": attn} if attn is not None else {}
        guided = cfg_strength >= 1e-5
        te = dit.embed_text(text_b)
        if guided:
            te2 = torch.cat((te, dit.embed_text(text_b, drop_text=True)))
            cond2 = torch.cat((step_cond_b, torch.zeros_like(step_cond_b)))
            style2, start2 = torch.cat((style, neg)), torch.cat((start, start))
            dur2 = torch.cat((dur, dur)) if dur is not None else None
        fusion = dit.text_fusion(te2 if guided else te)

        def velocity(t: Tensor, x: Tensor) -> Tensor:
            xd = x.to(dtype)
            if not guided:
                return dit(xd, step_cond_b, text_b, t, style, start, dur, text_embed=te, text_fusion=fusion,
                           **extra).float()
            v = dit(torch.cat((xd, xd)), cond2, text_b, t, style2, start2, dur2, text_embed=te2, text_fusion=fusion,
                    **extra).float()
            v_c, v_u = v.chunk(2)
            return v_c + (v_c - v_u) * cfg_strength

        final, traj = integrate(velocity, y0, ts, method=method, on_step=on_step, should_stop=should_stop,
                                keep_trajectory=keep_trajectory)
        out = torch.where(mask_b, final, cond_b.float())
        return SampleResult(out, traj, y0)
