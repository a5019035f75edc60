"""The base of multistep samplers: history, warm-up, order checks and the grid's coefficients.

A multistep step calls the model once at (x, λ), pushes the prediction to
``state.history`` (newest first, at most ``order`` levels) and takes

    x′ = c·lead + Σ_j c_j·v_j

over the history values v_j: x̂0 (``form = "data"``, lead x: DPM-Solver++, UniPC)
or ε̂ (``form = "noise"``, lead x̂0: LMS, DEIS, iPNDM). The coefficients depend
on the grid only; ``prepare`` computes those of every step of a run at once
(each sampler's ``coefficients`` is elementwise, so it runs on (steps, batch)
tensors at the cost of one step), and a step driven by hand (``state.plan`` is
``None``) computes its own from λ, λ′ and the history's levels: the same numbers.

Repeated levels (clamped schedules repeat their ends exactly): a step whose λ′
is its λ (``Levels.degenerate``) is a no-op, and a history level equal to a
newer one is dropped from the interpolation (``distinct_from_newer``), so the
order falls for a step instead of dividing by a zero distance.

A step from λ = +∞ (clean data, b = 0: the first step of an inversion from
t = 0, or the first moving one after repeats of it) is the DDIM step
x′ = a′·x̂0 + b′·ε̂, the limit of the first-order step: the data form's c = b′/b and
a′·w_0 are both infinite there (``from_clean_data``, ``eps_row``).

The first step is first order; its local error O(h²) would cap the global
order at 2. With ``warmup_corrector`` it is redone at the second level, once
x̂0 there is known (no extra model call), with x̂0 linear in t = σ/(1 + σ)
through both levels (UniPC's corrector UniC-1, Zhao et al. 2023, in the t
interpolation, exact at λ = −∞). Towards noise (an inversion) it starts near data,
where x̂0 − x̂0_0 is O(σ²) along the ODE: a line in t there over-corrects (from
λ = +∞ its integral ∫ t·d(1/σ) diverges), so the redo takes x̂0 linear in t². And
the x̂0_1 it uses is taken at the predicted x_1, whose error e feeds back as
x̂0_1 + e/a′ (∂x̂0/∂x → 1/a′ as σ → 0): as large as x̂0_1 − x̂0_0 itself near data.
Solving x_1 + k·(x̂0_1 − x̂0_0) for it gives the weight k/(1 − k/a′) (from λ = +∞:
−(a′ + b′)·a′/(2a′ + b′)), and x̂0_1 moves with x_1 for the later steps. Either way
the redo is an increment to the current x, x_1 + κ·(x̂0_1 − x̂0_0) (forward, κ = a′·w_1 of
x̂0 linear in t: the first step took a′·(w_0 + w_1)·x̂0_0), so an x sent to ``sample``
after step 0 is corrected, not replaced by a redo from x_0, and x_0 is not kept.

A run towards data (``state.direction`` = +1, set by the engine) skips what only an
inversion needs: the ε̂ term of a step from λ = +∞ (no such run has one: one full-size
operation per step) and the retaken x̂0_1 (s = 1 there: one operation and a latent).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, ClassVar, Literal, Optional

import torch
from torch import Tensor

from gdf_core.bases import SamplerBase
from gdf_core.protocols import Denoiser, InputScaler, SamplingState
from gdf_core.tensors import as_dtype
from gdf_plugins.samplers.maths.combine import combine_rows, compute
from gdf_plugins.samplers.maths.exponential import data_weights
from gdf_plugins.samplers.maths.lagrange import NODE_SEPARATION
from gdf_plugins.samplers.maths.levels import Levels, coeff_dtype, distinct_from_newer, half_logsnr, ratio

#: fn(etas, levels, active) -> the coefficients of one step, elementwise.
Coefficients = Any


@dataclass(frozen=True)
class Node:
    """One history level: its λ, its value (x̂0 or ε̂), and x̂0 there while the warm-up needs it."""

    logsnr: Tensor
    value: Tensor
    x0: Optional[Tensor] = None


@dataclass(frozen=True)
class MultistepPlan:
    """The coefficients of every step of a run, computed once by ``prepare``.

    ``rows`` (steps, 1 + order, batch): step i's [c, c_0, …], zero-padded;
    ``eps`` (steps, batch), data form: every step's c_ε on ε̂ (b′ from λ = +∞, else 0; not
    used in a run towards data); ``warmup`` (4, batch): the redo of step 0 at step 1, [κ, s, r_0, r_1]:
    x_1 + κ·d and x̂0_1 retaken as x̂0_0 + s·d, with d = x̂0_1 − x̂0_0, and (noise form)
    ε̂_1 = r_0·x_1 + r_1·x̂0_1 at the redone ones; ``extra``
    (steps, k, batch): a sampler's own per-step coefficients (noise scales, corrector rows).
    """

    rows: Tensor
    warmup: Optional[Tensor] = None
    extra: Optional[Tensor] = None
    eps: Optional[Tensor] = None


def check_order(name: str, order: int, highest: int) -> int:
    if isinstance(order, bool) or not isinstance(order, int) or not 1 <= order <= highest:
        raise ValueError(f"sampler {name!r}: order must be an int in 1..{highest}, got {order!r}")
    return order


def grid_rows(fn: Coefficients, logsnrs: Tensor, levels: Levels, order: int, width: int) -> Tensor:
    """(steps, width, batch): ``fn`` for every step, with min(step + 1, order) history levels.

    ``levels``: the ``Levels`` of all the grid's steps (``Levels(scaler, logsnrs[:-1], logsnrs[1:])``).
    """
    grid = logsnrs.to(coeff_dtype(logsnrs))
    steps = grid.shape[0] - 1
    eta = half_logsnr(grid)
    blocks = []
    for n in range(1, order + 1):
        lo, hi = n - 1, (n if n < order else steps)
        if lo >= steps:
            break
        lv = levels.part(slice(lo, hi))
        etas = [eta[lo - k : hi - k] for k in range(n)]
        c = torch.stack(torch.broadcast_tensors(*fn(etas, lv, distinct_from_newer(etas))), dim=1)
        blocks.append(torch.nn.functional.pad(c, (0, 0, 0, width - c.shape[1])))
    return torch.cat(blocks)


def no_op(lv: Levels, c: list[Tensor], identity: list[Tensor]) -> list[Tensor]:
    """``identity`` where the step is degenerate (λ′ = λ), ``c`` elsewhere."""
    zero = torch.zeros_like(lv.h)
    identity = identity + [zero] * (len(c) - len(identity))
    return [torch.where(lv.degenerate, i, v) for i, v in zip(identity, c)]


def clean_start(lv: Levels) -> Tensor:
    """The step moves from λ = +∞ (b = 0: clean data)."""
    return torch.isposinf(lv.eta) & ~lv.degenerate


def from_clean_data(lv: Levels, c: list[Tensor]) -> list[Tensor]:
    """Data-form [c, c_0, …] with, where the step starts at λ = +∞, [0, a′, 0, …] (and c_ε = b′, ``eps_row``).

    Every older history level of such a step is at λ = +∞ too on a monotone grid (a repeat, with no weight)."""
    start = clean_start(lv)
    zero = torch.zeros_like(lv.h)
    return [torch.where(start, zero, c[0]), torch.where(start, lv.a_next, c[1])] + [torch.where(start, zero, cj) for cj in c[2:]]


def noise_form(w: list[Tensor], lv: Levels) -> list[Tensor]:
    """[a′, b′ − a′·Σ_(j≥1) w_j, a′·w_1, …]: the coefficients of [x̂0, ε̂_0, ε̂_1, …] for AB weights w."""
    if len(w) == 1:
        return [lv.a_next, lv.b_next]
    rest = w[1:]
    return [lv.a_next, lv.b_next - lv.a_next * sum(rest)] + [lv.a_next * wj for wj in rest]  # type: ignore[operator]


class MultistepSampler(SamplerBase):
    """Adams-type multistep sampler; a subclass gives ``coefficients`` (its update formula)."""

    form: ClassVar[Literal["data", "noise"]] = "data"
    order: int
    warmup_corrector: bool = True
    #: The least distance between interpolation nodes, in units of the step (``maths.lagrange``).
    node_separation: ClassVar[float] = NODE_SEPARATION

    def coefficients(self, etas: list[Tensor], lv: Levels, active: list[Tensor]) -> list[Tensor]:
        """[c, c_0, …, c_(n−1)] of x′ = c·lead + Σ_j c_j·v_j (``etas`` newest first; ``active``: distinct)."""
        raise NotImplementedError

    def extra(self, lv: Levels) -> Optional[list[Tensor]]:
        """A sampler's own per-step coefficients (e.g. its noise scale), or None."""
        return None

    # -- the plan ------------------------------------------------------------------------
    def _row(self, etas: list[Tensor], lv: Levels, active: list[Tensor]) -> list[Tensor]:
        if self.form == "noise":
            return no_op(lv, self.coefficients(etas, lv, active), [lv.a, lv.b])
        c = self.coefficients(etas, lv, active)
        return no_op(lv, from_clean_data(lv, c), [torch.ones_like(lv.h)])

    def eps_row(self, lv: Levels) -> Tensor:
        """c_ε of a data-form step on ε̂: b′ where it starts at λ = +∞ (``from_clean_data``), else 0."""
        return torch.where(clean_start(lv), lv.b_next, torch.zeros_like(lv.h))

    def _uses_warmup(self) -> bool:
        return self.warmup_corrector and self.order > 1

    def _warmup(self, lv: Levels) -> Tensor:
        """(4, batch): step 0 (``lv``) redone at step 1, [κ, s, r_0, r_1] (``MultistepPlan.warmup``).

        Forward: κ = a′·w_1, x̂0 linear in t through both levels, and s = 1. Towards noise (h < 0),
        x̂0 linear in t²: k = b_1·∫(t² − t_0²)d(1/σ)/(t_1² − t_0²) = −(a_1 + b_1)·(t_1 − t_0)/(t_1 + t_0),
        solved for the x̂0_1 taken at the predicted x_1: κ = k/(1 − k/a_1), s = 1/(1 − k/a_1) (module
        docstring). A degenerate step 0 (λ_1 = λ_0): κ = 0, s = 1.
        """
        w = data_weights([lv.eta, lv.eta_next], lv.eta_next, interpolation="t")
        t0, t1 = torch.sigmoid(-lv.eta), torch.sigmoid(-lv.eta_next)
        raw = -(lv.a_next + lv.b_next) * (t1 - t0) / (t1 + t0)
        scale = 1 / (1 - ratio(raw, lv.a_next))  # x̂0_1 − x̂0_0 back at the redone x_1: (x̂0_1 − x̂0_0)·scale
        back = lv.h < 0
        one = torch.ones_like(lv.h)
        redo = no_op(lv, [torch.where(back, raw * scale, lv.a_next * w[1]), torch.where(back, scale, one)], [torch.zeros_like(lv.h), one])
        inv_b = ratio(one, lv.b_next)
        return torch.stack(torch.broadcast_tensors(*redo, inv_b, -lv.a_next * inv_b))

    def prepare(self, logsnrs: Tensor, scaler: InputScaler) -> MultistepPlan:
        if logsnrs.dim() == 1:
            logsnrs = logsnrs[:, None]
        lv = Levels(scaler, logsnrs[:-1], logsnrs[1:])  # every step's levels, once: the parts below are views
        rows = grid_rows(self._row, logsnrs, lv, self.order, 1 + self.order)
        warmup = self._warmup(lv.part(0)) if self._uses_warmup() and logsnrs.shape[0] > 2 else None
        eps = self.eps_row(lv) if self.form == "data" else None
        return MultistepPlan(rows, warmup, self.extra_rows(logsnrs, lv, rows), eps)

    def extra_rows(self, logsnrs: Tensor, lv: Levels, rows: Tensor) -> Optional[Tensor]:
        """The plan's ``extra`` (steps, k, batch): ``extra`` of every step, stacked (or None); ``rows``: the plan's."""
        extra = self.extra(lv)
        return None if extra is None else torch.stack(extra, dim=1)

    # -- the step -----------------------------------------------------------------------
    def push(self, state: SamplingState, node: Node) -> list[Node]:
        """``node`` as the newest history level; older ones keep only their value, at most ``order``."""
        history = state.history
        if state.step == 0:
            history.clear()
        if history:
            history[0] = replace(history[0], x0=None)
        history.insert(0, node)
        del history[self.order :]
        return history

    def step(
        self,
        denoise: Denoiser,
        x: Tensor,
        logsnr: Tensor,
        logsnr_next: Tensor,
        *,
        scaler: InputScaler,
        state: SamplingState,
        generator: Any = None,
    ) -> Tensor:
        return as_dtype(self.advance(denoise, x, logsnr, logsnr_next, scaler, state), x.dtype)

    def advance(
        self, denoise: Denoiser, x: Tensor, logsnr: Tensor, logsnr_next: Tensor, scaler: InputScaler, state: SamplingState
    ) -> Tensor:
        """The step's x′ in the compute dtype (at least float32)."""
        x0, eps = denoise(x, logsnr)
        plan: Optional[MultistepPlan] = state.plan
        xc, x0c = compute(x), compute(x0)
        value = x0c if self.form == "data" else compute(eps)
        if self._uses_warmup() and state.step == 1 and len(state.history) == 1:
            first = state.history[0]
            w = plan.warmup if plan is not None else self._warmup(Levels(scaler, first.logsnr, logsnr))
            assert w is not None and first.x0 is not None
            change = x0c - first.x0
            xc = combine_rows(w[:1], [change], base=xc)
            if state.direction <= 0:  # x̂0_1 moved with x_1 (towards noise; s = 1 towards data: not taken)
                x0c = combine_rows(w[1:2], [change], base=first.x0)
            del change  # freed before the update below, where a held one would raise the run's peak by a latent
            value = combine_rows(w[2:4], [xc, x0c]) if self.form == "noise" else x0c
        keep = self._uses_warmup() and state.step == 0
        history = self.push(state, Node(logsnr, value, x0=x0c if keep else None))
        n = len(history)
        lv = None
        if plan is not None:
            c = plan.rows[state.step, : 1 + n]
        else:
            lv = Levels(scaler, logsnr, logsnr_next)
            etas = [half_logsnr(node.logsnr) for node in history]
            c = torch.stack(torch.broadcast_tensors(*self._row(etas, lv, distinct_from_newer(etas))))
        if self.form == "noise":
            return combine_rows(c, [x0c] + [node.value for node in history])
        values = [xc] + [node.value for node in history]
        if state.direction > 0:  # towards data: no step starts at λ = +∞
            return combine_rows(c, values)
        c_eps = plan.eps[state.step] if plan is not None and plan.eps is not None else self.eps_row(lv or Levels(scaler, logsnr, logsnr_next))
        return combine_rows(torch.cat([c, c_eps[None]]), values + [compute(eps)])


__all__ = ["MultistepPlan", "MultistepSampler", "Node", "check_order", "grid_rows", "noise_form", "no_op"]
