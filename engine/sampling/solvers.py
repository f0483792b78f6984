"""ODE solvers with one signature (k-diffusion style):

``integrate(velocity, x0, ts, *, method="euler", on_step=None, should_stop=None, keep_trajectory=False)``

``velocity(t, x)`` returns dx/dt with ``t`` a 0-dim tensor; ``ts`` is the time grid (first point = ``x0``'s time).
Every solver calls ``on_step(done, total)`` after each step and checks ``should_stop()`` before each one, raising
:class:`Cancelled`. Euler on the grid reproduces ``torchdiffeq.odeint(method="euler")`` exactly.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from engine.errors import Cancelled

Velocity = Callable[[Tensor, Tensor], Tensor]
StepFn = Callable[[int, int], None]


def _check(should_stop: Callable[[], bool] | None) -> None:
    if should_stop is not None and should_stop():
        raise Cancelled("cancelled")


def euler(velocity: Velocity, x: Tensor, t0: Tensor, t1: Tensor) -> tuple[Tensor, int]:
    return x + (t1 - t0) * velocity(t0, x), 1


def midpoint(velocity: Velocity, x: Tensor, t0: Tensor, t1: Tensor) -> tuple[Tensor, int]:
    dt = t1 - t0
    half = t0 + dt / 2
    return x + dt * velocity(half, x + dt / 2 * velocity(t0, x)), 2


def heun(velocity: Velocity, x: Tensor, t0: Tensor, t1: Tensor) -> tuple[Tensor, int]:
    dt = t1 - t0
    v0 = velocity(t0, x)
    x1 = x + dt * v0
    return x + dt / 2 * (v0 + velocity(t1, x1)), 2


SOLVERS = {"euler": euler, "midpoint": midpoint, "heun": heun}


def integrate(
    velocity: Velocity,
    x0: Tensor,
    ts: Tensor,
    *,
    method: str = "euler",
    on_step: StepFn | None = None,
    should_stop: Callable[[], bool] | None = None,
    keep_trajectory: bool = False,
) -> tuple[Tensor, Tensor | None]:
    """Solve from ``x0`` at ``ts[0]`` to ``ts[-1]``. Returns (final x, trajectory [len(ts), ...] or None)."""
    step = SOLVERS.get(method)
    if step is None:
        raise ValueError(f"unknown solver {method!r}; choose one of {', '.join(SOLVERS)}")
    total = len(ts) - 1
    x = x0
    traj = [x0] if keep_trajectory else None
    for i in range(total):
        _check(should_stop)
        x, _ = step(velocity, x, ts[i], ts[i + 1])
        if traj is not None:
            traj.append(x)
        if on_step is not None:
            on_step(i + 1, total)
    return x, (torch.stack(traj) if traj is not None else None)
