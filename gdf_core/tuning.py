"""Grid tuning: the λ grid of an NFE budget that minimises a sampler's error on the user's own model.

The error is measured against a teacher: a high-accuracy solution of the same
model's probability-flow ODE from the same noise (a high-order sampler on a
fine grid), so tuning needs no data, only the model. Two stages, both in λ,
so any scaler and target work:

1. **GITS** (Chen et al. 2024, "On the Trajectory Regularity of ODE-based
   Diffusion Sampling", §4): on a fine grid of candidate levels, the teacher
   gives the exact state at every candidate; the cost of a step i → j is the
   RMS error of one step of the sampler from the teacher's state at i against
   the teacher's state at j; dynamic programming finds the path of exactly
   ``steps`` steps from the first to the last candidate with the least total
   cost.
2. **Refinement** of the whole run's error (the sampler's own multistep
   history included), one level at a time between its neighbours, as Align
   Your Steps (Sabour et al. 2024, §3.3) refines its levels, but on the
   error against the teacher rather than a KL bound. It starts from the best
   of the GITS grid and the standard grids (Karras ρ = 7, uniform in λ, the
   recipe's own), and accepts only improvements.
3. **Selection on held-out noise.** Stages 1–2 fit one part of the noise
   (half by default); the other part chooses among every grid the
   refinement accepted, the GITS grid and the standard grids. At many steps a
   grid can fit the error of a few hard samples (in 64 dimensions at NFE 20,
   3e-4 on the noise tuned on and 4.8e-3 on fresh noise, where Karras has
   2e-3); the held-out choice keeps that out, and the result is never worse
   than the best standard grid on the held-out noise.

The ends of the run (λ at t = 1 and t = 0 of the recipe's sampling schedule,
and its last finite level before a λ = +∞ end) are kept, so the tuned grid
differs from the standard ones only where the steps fall. Deterministic for a
seed. The result is a ``tabulated`` schedule: ``TunedGrid.spec()`` is the
recipe with it as ``sample_schedule``, and ``gdf.sample(..., timesteps=steps)``
walks exactly the tuned levels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

import torch
from torch import Tensor
from tqdm.auto import tqdm

from gdf_core.gdf import GDF
from gdf_core.spec import build


def _rms(x: Tensor, y: Tensor) -> float:
    return float(((x.to(torch.float64) - y.to(torch.float64)) ** 2).mean().sqrt())


@dataclass
class TunedGrid:
    """A tuned grid and what it was measured against (errors are RMS against the teacher, on the tuning noise)."""

    logsnrs: list[float]
    sampler: Any
    nfe: int
    steps: int
    error: float
    gits_logsnrs: list[float]
    gits_error: float
    baselines: dict[str, float] = field(default_factory=dict)
    baseline_grids: dict[str, list[float]] = field(default_factory=dict, repr=False)
    recipe: Optional[dict[str, Any]] = field(default=None, repr=False)

    def schedule_spec(self) -> dict[str, Any]:
        """The tuned grid as a ``tabulated`` schedule spec."""
        return {"name": "tabulated", "logsnrs": list(self.logsnrs)}

    def spec(self) -> dict[str, Any]:
        """The recipe with the tuned grid as ``sample_schedule`` and the tuned sampler as ``sampler``."""
        base = dict(self.recipe or {})
        base["sample_schedule"] = self.schedule_spec()
        base["sampler"] = self.sampler
        return base


def steps_for_nfe(sampler: Any, nfe: int) -> int:
    """The most steps of ``sampler`` whose run costs at most ``nfe`` model calls (measured on a tiny run)."""
    gdf = GDF.from_spec({"preset": "ddpm", "noise_cond": "logsnr"})
    for steps in range(nfe, 0, -1):
        calls = [0]

        def model(x: Tensor, cond: Tensor) -> Tensor:
            calls[0] += 1
            return 0.1 * x

        grid = torch.linspace(-6, 6, steps + 1).tolist()
        from gdf_plugins.schedules.tabulated import TabulatedSchedule

        for _ in gdf.sample(model, {}, (2, 2), sampler=sampler, schedule=TabulatedSchedule(logsnrs=grid),
                            timesteps=steps, x_init=torch.zeros(2, 2, dtype=torch.float64), cfg=None):
            pass
        if calls[0] <= nfe:
            return steps
    raise ValueError(f"sampler {sampler!r} needs more than {nfe} model calls for a single step")


class _Runner:
    """Runs ``sampler`` on a λ grid through ``GDF.sample`` from given states; counts model calls."""

    def __init__(self, gdf: GDF, model: Callable[..., Tensor], model_inputs: Optional[dict[str, Any]]) -> None:
        self.gdf, self.model, self.model_inputs = gdf, model, model_inputs or {}
        self.calls = 0

    def run(self, sampler: Any, grid: Sequence[float], x: Tensor, *, keep_every: int = 0) -> list[Tensor]:
        """[final x] or, with ``keep_every`` = k, x at every k-th level after the first."""
        from gdf_plugins.schedules.tabulated import TabulatedSchedule

        def counted(xx: Tensor, cond: Tensor, **inputs: Any) -> Tensor:
            self.calls += 1
            return self.model(xx, cond, **inputs)

        kept, out = [], x
        steps = len(grid) - 1
        for i, (_, out, _) in enumerate(self.gdf.sample(
            counted, self.model_inputs, tuple(x.shape), sampler=sampler, schedule=TabulatedSchedule(logsnrs=list(grid)),
            timesteps=steps, x_init=x, cfg=None,
        )):
            if keep_every and (i + 1) % keep_every == 0:
                kept.append(out)
        return kept if keep_every else [out]


def candidate_levels(logsnr_start: float, logsnr_last: float, logsnr_end: float, count: int) -> list[float]:
    """``count`` levels uniform in λ from the start to the last finite level, then the end if it is +∞."""
    lo = logsnr_start if math.isfinite(logsnr_start) else logsnr_last - 40.0
    finite = torch.linspace(lo, logsnr_last, count - (0 if math.isfinite(logsnr_end) else 1), dtype=torch.float64).tolist()
    if not math.isfinite(logsnr_start):
        finite[0] = logsnr_start
    return finite if math.isfinite(logsnr_end) else [*finite, logsnr_end]


def gits_path(costs: Tensor, steps: int) -> list[int]:
    """Indices 0 = i_0 < … < i_steps = n − 1 minimising Σ costs[i_k, i_(k+1)] (dynamic programming)."""
    n = costs.shape[0]
    if not 1 <= steps <= n - 1:
        raise ValueError(f"a path of {steps} steps needs between 2 and {n} candidates, got {n}")
    best = torch.full((steps + 1, n), math.inf, dtype=torch.float64)
    back = torch.zeros((steps + 1, n), dtype=torch.long)
    best[0, 0] = 0.0
    for k in range(1, steps + 1):
        total = best[k - 1][:, None] + costs  # (from, to)
        best[k], back[k] = total.min(dim=0)
    path = [n - 1]
    for k in range(steps, 0, -1):
        path.append(int(back[k, path[-1]]))
    return path[::-1]


def _standard_grids(steps: int, start: float, last: float, end: float, own: Optional[list[float]]) -> dict[str, list[float]]:
    """Karras (ρ = 7) and uniform-λ grids over the same levels and ends, and the recipe's own grid."""
    from gdf_core.accuracy.grids import exponential, karras

    grids: dict[str, list[float]] = {}
    if math.isfinite(start) and math.isinf(end):
        sigma_max, sigma_min = math.exp(-start / 2), math.exp(-last / 2)
        grids["karras"] = karras(steps, sigma_min, sigma_max)
        grids["exponential"] = exponential(steps, sigma_min, sigma_max)
    elif math.isfinite(start):
        grids["exponential"] = torch.linspace(start, end, steps + 1, dtype=torch.float64).tolist()
    if own is not None:
        grids["recipe"] = own
    return grids


def tune(
    gdf: GDF | Any,
    model: Callable[..., Tensor],
    *,
    sampler: Any,
    nfe: int,
    x_init: Optional[Tensor] = None,
    shape: Optional[Sequence[int]] = None,
    samples: int = 64,
    seed: int = 0,
    model_inputs: Optional[dict[str, Any]] = None,
    logsnr_range: Optional[tuple[float, float, float]] = None,
    candidates: int = 48,
    teacher: Any = "unipc",
    teacher_substeps: int = 4,
    sweeps: int = 4,
    validation: float = 0.5,
    progress: bool = False,
    dtype: torch.dtype = torch.float32,
) -> TunedGrid:
    """The grid of ``nfe`` model calls that minimises ``sampler``'s error on ``model`` (GITS + refinement).

    ``gdf`` is a GDF or a spec; ``model(x, noise_cond, **model_inputs)`` as for
    ``GDF.sample``. The noise is ``x_init`` or standard normal of ``shape``
    (``(samples, *shape[1:])``) from ``seed``. ``logsnr_range`` = (λ at the
    start, last finite λ, λ at the end) overrides the recipe's sampling
    schedule's. ``candidates`` levels make the fine grid of GITS; the teacher
    is ``teacher`` with ``teacher_substeps`` steps between candidates.
    ``validation``: the share of the noise held out; GITS and the refinement
    fit the rest, the held-out part chooses among the grids found and the
    standard ones (its errors are the ones reported).
    """
    if not 0 <= validation < 1:
        raise ValueError(f"validation must be in [0, 1), got {validation!r}")
    recipe = gdf if not isinstance(gdf, GDF) else None
    gdf = gdf if isinstance(gdf, GDF) else GDF.from_spec(gdf)
    sampler_obj = build("sampler", sampler, path="sampler")
    sampler_spec = sampler_obj.to_spec() if hasattr(sampler_obj, "to_spec") else sampler
    if getattr(sampler_obj, "stochastic", False):
        raise ValueError(f"sampler {sampler_spec!r} is stochastic: a grid is tuned against the ODE solution, use a deterministic sampler")
    if not isinstance(nfe, int) or nfe < 1:
        raise ValueError(f"nfe must be a positive int, got {nfe!r}")
    if candidates < 3 or teacher_substeps < 1:
        raise ValueError(f"need candidates ≥ 3 and teacher_substeps ≥ 1, got {candidates}, {teacher_substeps}")
    steps = steps_for_nfe(sampler_obj, nfe)
    schedule = gdf.sample_schedule or gdf.schedule
    own = schedule(torch.linspace(1, 0, steps + 1, dtype=torch.float64)).tolist()
    if logsnr_range is None:
        start, end = own[0], own[-1]
        last = float(schedule(torch.tensor([1e-4], dtype=torch.float64))[0]) if math.isinf(end) else end
    else:
        start, last, end = (float(v) for v in logsnr_range)
    if not (start < last <= end) or math.isnan(last) or math.isinf(last):
        raise ValueError(f"the levels to tune between must satisfy start < last ≤ end, last finite; got {(start, last, end)}")
    own = own if (own[0] == start and own[-1] == end) else None
    candidates = max(candidates, steps + 1)

    if x_init is None:
        if shape is None:
            raise ValueError("give x_init (the noise to tune on) or shape")
        g = torch.Generator().manual_seed(seed)
        x_init = torch.randn((samples, *tuple(shape)[1:]), generator=g, dtype=dtype)
    runner = _Runner(gdf, model, model_inputs)
    levels = candidate_levels(start, last, end, candidates)
    n = len(levels)
    bar = tqdm(total=n - 1 + 1, disable=not progress, desc="tune: teacher + costs", leave=False)
    from gdf_plugins.schedules.tabulated import TabulatedSchedule

    fine = TabulatedSchedule(logsnrs=levels).levels((n - 1) * teacher_substeps).tolist()
    states = [x_init, *runner.run(teacher, fine, x_init, keep_every=teacher_substeps)]
    bar.update(1)
    # GITS' costs and the refinement use the first part of the noise; the choice among the
    # grids found (and the errors reported) use the held-out rest, so that a grid that only
    # fits the tuning noise is not chosen.
    fit = max(1, x_init.shape[0] - int(round(validation * x_init.shape[0]))) if x_init.shape[0] > 1 else 1
    held_out = slice(fit, None) if fit < x_init.shape[0] else slice(0, None)
    costs = torch.full((n, n), math.inf, dtype=torch.float64)
    for i in range(n - 1):
        for j in range(i + 1, n):
            costs[i, j] = _rms(runner.run(sampler_obj, [levels[i], levels[j]], states[i][:fit])[0], states[j][:fit])
        bar.update(1)
    bar.close()
    path = gits_path(costs, steps)
    gits = [levels[i] for i in path]
    target = states[-1]

    def error(grid: Sequence[float], part: slice = slice(0, fit)) -> float:
        return _rms(runner.run(sampler_obj, grid, x_init[part])[0], target[part])

    baseline_grids = _standard_grids(steps, start, last, end, own)
    fitted = {name: error(grid) for name, grid in baseline_grids.items()}
    start_name = min(fitted, key=fitted.__getitem__) if fitted else None
    grid, best = list(gits), error(gits)
    if start_name is not None and fitted[start_name] < best:
        grid, best = list(baseline_grids[start_name]), fitted[start_name]
    path_grids = _refine(grid, best, error, last, sweeps=sweeps, progress=progress)
    # the held-out noise picks among the refinement's path, GITS' grid and the standard grids
    baselines = {name: error(g, held_out) for name, g in baseline_grids.items()}
    gits_error = error(gits, held_out)
    scored = [(error(g, held_out), g) for g in path_grids] + [(gits_error, gits)]
    scored += [(baselines[name], list(g)) for name, g in baseline_grids.items()]
    best, grid = min(scored, key=lambda item: item[0])
    return TunedGrid(
        logsnrs=[float(v) for v in grid], sampler=sampler_spec, nfe=nfe, steps=steps, error=best,
        gits_logsnrs=gits, gits_error=gits_error, baselines=baselines, baseline_grids=baseline_grids,
        recipe=recipe if isinstance(recipe, dict) else (gdf.to_spec() if recipe is None else {"preset": recipe} if isinstance(recipe, str) else None),
    )


def _refine(grid: list[float], best: float, error: Callable[[Sequence[float]], float], last: float, *,
            sweeps: int, progress: bool) -> list[list[float]]:
    """Move one interior level at a time towards a neighbour (fractions 1/2, 1/4, … of the gap) while the error falls.

    Returns the grids accepted along the way, the start first.
    """
    interior = range(1, len(grid) - 1)
    accepted = [list(grid)]
    bar = tqdm(total=sweeps, disable=not progress or not len(interior), desc="tune: refine", leave=False)
    delta = 0.5
    for _ in range(sweeps):
        improved = False
        for k in interior:
            upper = grid[k + 1] if math.isfinite(grid[k + 1]) else last
            for target in (upper, grid[k - 1]):
                if not math.isfinite(target):
                    continue
                trial = list(grid)
                trial[k] = grid[k] + delta * (target - grid[k])
                if not grid[k - 1] < trial[k] < grid[k + 1] or trial[k] > last:
                    continue
                e = error(trial)
                if e < best:
                    grid, best, improved = trial, e, True
                    accepted.append(list(trial))
                    break
        bar.update(1)
        if not improved:
            delta /= 2
    bar.close()
    return accepted


__all__ = ["TunedGrid", "candidate_levels", "gits_path", "steps_for_nfe", "tune"]
