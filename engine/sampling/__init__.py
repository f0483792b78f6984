"""Time grids and ODE solvers for flow matching: plain functions that report progress and check cancellation."""

from .grids import GRIDS, few_step_grid, linear_grid, sway_grid
from .solvers import SOLVERS, Cancelled, euler, heun, integrate, midpoint

__all__ = ["GRIDS", "SOLVERS", "Cancelled", "euler", "few_step_grid", "heun", "integrate", "linear_grid",
           "midpoint", "sway_grid"]
