"""Time grids from noise (t = 0) to data (t = 1)."""

from __future__ import annotations

import math

import torch
from torch import Tensor


def linear_grid(steps: int, dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu") -> Tensor:
    """The reference grid: ``torch.linspace(0, 1, steps)`` - ``steps`` points, ``steps - 1`` solver steps."""
    if steps < 2:
        raise ValueError(f"a grid needs at least 2 points, got {steps}")
    return torch.linspace(0, 1, steps, dtype=dtype, device=device)


def sway_grid(steps: int, coef: float = -1.0, dtype: torch.dtype = torch.float32,
              device: torch.device | str = "cpu") -> Tensor:
    """F5-TTS sway sampling: t + coef (cos(pi/2 t) - 1 + t); coef < 0 spends more steps near the noise end."""
    t = linear_grid(steps, dtype, device)
    return t + coef * (torch.cos(math.pi / 2 * t) - 1 + t)


def few_step_grid(steps: int = 9, dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu") -> Tensor:
    """A short grid (default 8 solver steps) that front-loads steps where the velocity changes fastest (a strong
    sway); pair it with Heun for quality at a quarter of the reference's model calls."""
    return sway_grid(steps, -1.0, dtype, device)


GRIDS = {"linear": linear_grid, "sway": sway_grid, "few-step": few_step_grid}
