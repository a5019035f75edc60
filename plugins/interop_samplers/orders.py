"""The plan of the diffusers_* samplers: the order of every step, fixed by the step count alone.

diffusers' multistep schedulers choose each step's order from the step index and
the number of steps (a plain lower-order warm-up, lower orders on the last steps),
never from values, so ``prepare`` fixes them once per run from the grid's shape
(no tensor value is read). A step driven by hand (``state.plan`` is ``None``)
takes the same rule from ``state.num_steps`` and ``state.step``.

Repeated levels (clamped schedules repeat their ends): a step from λ to λ′ = λ
returns x, and a history level equal to a newer one drops out of the
differences (``div0``), so the order falls instead of dividing by zero; on
distinct levels every number is diffusers' own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional

import torch
from torch import Tensor

from gdf_core.protocols import SamplingState

#: (step index, number of steps) -> the order of that step (before the history caps it).
OrderRule = Callable[[int, int], int]


@dataclass(frozen=True)
class OrderPlan:
    """``orders[i]``: the order of step i of the run (host ints, from the grid's shape)."""

    orders: tuple[int, ...]


def plan_orders(rule: OrderRule, logsnrs: Tensor) -> OrderPlan:
    steps = logsnrs.shape[0] - 1
    return OrderPlan(tuple(rule(i, steps) for i in range(steps)))


def infinite_ends(logsnrs: Tensor) -> Optional[tuple[bool, bool]]:
    """(starts at λ = −∞, ends at λ = +∞): diffusers' grids do neither, gdf's presets often do both. One host
    read of the grid's two ends, once per run before its loop; None while torch.compile traces (nothing is read)."""
    if torch.compiler.is_compiling():
        return None
    ends = torch.stack([logsnrs[0].reshape(-1)[0], logsnrs[-1].reshape(-1)[0]]).detach().to("cpu", torch.float64).tolist()
    return ends[0] == -math.inf, ends[1] == math.inf


def ratio(num: Tensor, h: Tensor) -> Tensor:
    """num/h, and +∞ where num is infinite (a level at λ = ±∞: its term drops out through ``div0``'s x/∞ = 0,
    also where h is infinite too, which would give ∞/∞ = NaN)."""
    return torch.where(torch.isinf(num), torch.full_like(num, math.inf), num / h)


def order_of(rule: OrderRule, state: SamplingState) -> int:
    """The order of the step being taken: from the plan, or (a step driven by hand) from the rule."""
    plan = state.plan
    if isinstance(plan, OrderPlan) and state.step < len(plan.orders):
        return plan.orders[state.step]
    return rule(state.step, state.num_steps)


def multistep_order(i: int, steps: int, solver_order: int, *, lower_order_final: bool, first_order_last: bool = False) -> int:
    """diffusers' order of step i of ``steps`` for DPM-Solver and DEIS multistep.

    A plain warm-up (step 0 order 1, step 1 ≤ 2); with ``lower_order_final`` below 15 steps
    the last step is order 1 and the one before it ≤ 2; ``first_order_last`` makes the last
    step order 1 at any step count (DPM-Solver's ``euler_at_final``, or a last step into σ = 0).
    """
    short = lower_order_final and steps < 15
    if solver_order == 1 or i < 1 or (i == steps - 1 and (short or first_order_last)):
        return 1
    if solver_order == 2 or i < 2 or (i == steps - 2 and short):
        return 2
    return 3


__all__ = ["OrderPlan", "OrderRule", "div0", "infinite_ends", "multistep_order", "nonzero", "order_of", "plan_orders", "ratio"]


def div0(num: Tensor, den: Tensor) -> Tensor:
    """num/den, with 0 where den is 0: the term of a history level that repeats a newer one drops out."""
    zero = den == 0
    return torch.where(zero, torch.zeros_like(num), num / torch.where(zero, torch.ones_like(den), den))


def nonzero(h: Tensor) -> Tensor:
    """h with 1 where it is 0 (a step across a repeated level, whose result is replaced by x)."""
    return torch.where(h == 0, torch.ones_like(h), h)
