"""The accuracy table: every sampler × grid family × NFE on an ``OracleProblem``, with fitted orders.

Each row is one implementation's sampler on one grid family; each cell the
RMS error against the exact ODE solution at an NFE and the model calls
actually used. ``order`` is the convergence order fitted by least squares to
log error against log NFE over the row's largest NFEs (those ≥ 10, or all):
error ∝ NFE^(−order).

Grid ``tuned`` tunes a grid for each sampler and NFE with ``gdf_core.tuning``
on other noise than the table's (seed ``problem.seed + 1000``: no peeking)
and measures it on the table's noise. A grid given as a ``tabulated``
schedule spec (``{"name": "tabulated", ...}``, or a spec file whose
``sample_schedule`` is one) is walked as ``levels(steps)`` at every NFE.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Optional, Sequence

import torch

from gdf_core.accuracy.grids import GRID_FAMILIES
from gdf_core.accuracy.problem import OracleProblem
from gdf_core.errors import SpecError
from gdf_core.spec import build

NFES = (5, 8, 10, 15, 20, 50)


@dataclass
class Row:
    """One implementation's sampler on one grid: NFE → (model calls used, RMS error)."""

    impl: str
    sampler: str
    grid: str
    errors: dict[int, tuple[int, float]] = field(default_factory=dict)
    order: Optional[float] = None
    grids: dict[int, list[float]] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["errors"] = {str(k): {"nfe": v[0], "error": v[1]} for k, v in self.errors.items()}
        data["grids"] = {str(k): v for k, v in self.grids.items()}
        return data


def fit_order(errors: dict[int, tuple[int, float]]) -> Optional[float]:
    """−slope of log error against log NFE (used calls) over the NFEs ≥ 10 (all if fewer than 2)."""
    points = [(n, e) for n, e in errors.values() if math.isfinite(e) and e > 0]
    high = [p for p in points if p[0] >= 10]
    points = high if len(high) >= 2 else points
    if len(points) < 2 or len({n for n, _ in points}) < 2:
        return None
    x = torch.tensor([math.log(n) for n, _ in points], dtype=torch.float64)
    y = torch.tensor([math.log(e) for _, e in points], dtype=torch.float64)
    xc = x - x.mean()
    return float(-(xc * (y - y.mean())).sum() / (xc * xc).sum())


def sampler_label(spec: Any) -> str:
    if isinstance(spec, str):
        return spec
    if isinstance(spec, dict):
        extra = ",".join(f"{k}={v}" for k, v in spec.items() if k != "name")
        return f"{spec.get('name', '?')}({extra})" if extra else str(spec.get("name", "?"))
    return getattr(type(spec), "name", type(spec).__name__)


def grid_levels(problem: OracleProblem, grid: Any, steps: int) -> list[float]:
    """The λ grid of ``steps`` steps of a family name or a tabulated schedule (spec or instance)."""
    if isinstance(grid, str) and grid in GRID_FAMILIES:
        return GRID_FAMILIES[grid](steps, problem.sigma_min, problem.sigma_max)
    schedule = build("schedule", grid, path="grid")
    return schedule(torch.linspace(1, 0, steps + 1, dtype=torch.float64)).tolist()


def gdf_rows(
    problem: OracleProblem,
    samplers: Sequence[Any],
    grids: Sequence[Any],
    nfes: Sequence[int] = NFES,
    *,
    tune_options: Optional[dict[str, Any]] = None,
    on_run: Callable[[], None] = lambda: None,
) -> list[Row]:
    """gdf's samplers (names, specs or instances) on each grid (family name, ``"tuned"`` or a tabulated spec)."""
    from gdf_core.tuning import steps_for_nfe, tune

    rows = []
    steps_of: dict[tuple[str, int], int] = {}
    for grid in grids:
        label = grid if isinstance(grid, str) else "tabulated"
        for sampler in samplers:
            row = Row("gdf", sampler_label(sampler), label)
            for nfe in nfes:
                key = (repr(sampler), nfe)
                try:
                    steps = steps_of[key] = steps_of.get(key) or steps_for_nfe(sampler, nfe)
                    levels, run = _gdf_cell(problem, sampler, grid, nfe, steps, tune, tune_options)
                except SpecError:
                    raise
                except Exception as exc:  # a sampler that fails on this problem: a NaN cell and a warning
                    warnings.warn(f"gdf bench: sampler {row.sampler!r} on grid {label!r} at NFE {nfe} failed: "
                                  f"{type(exc).__name__}: {exc}", RuntimeWarning, stacklevel=2)
                    row.errors[nfe] = (nfe, float("nan"))
                    on_run()
                    continue
                row.errors[nfe] = (run.nfe, run.error)
                row.grids[nfe] = levels
                on_run()
            row.order = fit_order(row.errors)
            rows.append(row)
    return rows


def _gdf_cell(problem: OracleProblem, sampler: Any, grid: Any, nfe: int, steps: int, tune: Callable[..., Any],
              tune_options: Optional[dict[str, Any]]) -> tuple[list[float], Any]:
    """(levels, run) of one cell; a ``tuned`` grid is tuned on other noise than the table's."""
    if grid == "tuned":
        tuned = tune(problem.gdf, problem.model(), sampler=sampler, nfe=nfe,
                     x_init=problem.noise(problem.samples, problem.seed + 1000),
                     logsnr_range=(problem.logsnr_start, -2 * math.log(problem.sigma_min), math.inf),
                     **(tune_options or {}))
        levels = tuned.logsnrs
    else:
        levels = grid_levels(problem, grid, steps)
    return levels, problem.run(sampler, levels)


def kdiffusion_rows(problem: OracleProblem, grids: Sequence[Any], nfes: Sequence[int] = NFES,
                    on_run: Callable[[], None] = lambda: None) -> list[Row]:
    """k-diffusion's deterministic samplers on the same grid families (``tuned`` grids are gdf's: skipped)."""
    from gdf_core.accuracy.peers import KDIFFUSION_SAMPLERS, kdiffusion_sampling, kdiffusion_version, run_kdiffusion

    module = kdiffusion_sampling()
    if module is None:
        return []
    impl = f"k-diffusion {kdiffusion_version() or ''}".strip()
    rows = []
    for grid in grids:
        if grid == "tuned":
            continue
        label = grid if isinstance(grid, str) else "tabulated"
        for name, (function, kwargs) in KDIFFUSION_SAMPLERS.items():
            calls = 2 if name in ("heun", "dpm_2") else 1
            row = Row(impl, name, label)
            for nfe in nfes:
                steps = nfe if calls == 1 else (nfe + 1) // 2
                levels = grid_levels(problem, grid, steps)
                used, err = run_kdiffusion(problem, getattr(module, function), kwargs, levels)
                row.errors[nfe] = (used, err)
                on_run()
            row.order = fit_order(row.errors)
            rows.append(row)
    return rows


def diffusers_rows(problem: OracleProblem, nfes: Sequence[int] = NFES, on_run: Callable[[], None] = lambda: None) -> list[Row]:
    """diffusers' schedulers, default grids and Karras sigmas (Stable Diffusion's problem only)."""
    try:
        import diffusers
    except ImportError:
        return []
    from gdf_core.accuracy.peers import diffusers_configs, run_diffusers
    from gdf_core.accuracy.problem import SD_SIGMA_MAX, SD_SIGMA_MIN

    sd_recipe = (type(problem.gdf.input_scaler).__name__, type(problem.gdf.target).__name__) == ("VPScaler", "EpsilonTarget")
    if not (sd_recipe and math.isclose(problem.sigma_max, SD_SIGMA_MAX) and math.isclose(problem.sigma_min, SD_SIGMA_MIN)):
        return []
    common = dict(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", num_train_timesteps=1000)
    rows = []
    for name, (cls, extra, calls) in diffusers_configs().items():
        for grid in ("default", "karras"):
            if grid == "karras" and name == "DDIM":
                continue
            kwargs = dict(common, **extra, **({"use_karras_sigmas": True} if grid == "karras" else {}))
            row = Row(f"diffusers {diffusers.__version__}", name, grid)
            for nfe in nfes:
                steps = nfe if calls == 1 else (nfe + 1) // 2
                try:
                    row.errors[nfe] = run_diffusers(problem, cls(**kwargs), steps)
                except Exception:  # a scheduler/version that does not support this setting
                    row.errors[nfe] = (nfe, float("nan"))
                on_run()
            row.order = fit_order(row.errors)
            rows.append(row)
    return rows


def format_table(rows: Sequence[Row], nfes: Sequence[int]) -> str:
    """A fixed-width text table: one line per row, (k) marks the NFE actually used where it differs."""
    width = max([len(r.impl) for r in rows] + [14]) + 1
    sw = max([len(r.sampler) for r in rows] + [7]) + 1
    head = f"{'implementation':<{width}}{'sampler':<{sw}}{'grid':<12}" + "".join(f"{'NFE ' + str(n):>12}" for n in nfes) + f"{'order':>7}"
    lines = [head, "-" * len(head)]
    for r in rows:
        cells = []
        for n in nfes:
            used, err = r.errors.get(n, (n, float("nan")))
            mark = "" if used == n else f"({used})"
            cells.append(f"{mark}{err:.2e}".rjust(12))
        order = f"{r.order:7.2f}" if r.order is not None else f"{'-':>7}"
        lines.append(f"{r.impl:<{width}}{r.sampler:<{sw}}{r.grid:<12}" + "".join(cells) + order)
    return "\n".join(lines)


def best_lines(rows: Sequence[Row], nfes: Sequence[int]) -> str:
    """Per NFE: the best row of each implementation, and each peer's best / gdf's best."""
    out = []
    for n in nfes:
        best: dict[str, tuple[float, str]] = {}
        for r in rows:
            used, e = r.errors.get(n, (n, float("nan")))
            kind = r.impl.split()[0] + (" (tuned)" if r.grid == "tuned" else "")
            if used <= n and math.isfinite(e) and (kind not in best or e < best[kind][0]):
                best[kind] = (e, f"{r.sampler}@{r.grid}")
        parts = [f"{k} {v[1]} {v[0]:.2e}" for k, v in sorted(best.items())]
        peers = [v[0] for k, v in best.items() if not k.startswith("gdf")]
        ratios = []
        if peers:
            for k in ("gdf", "gdf (tuned)"):
                if k in best:
                    ratios.append(f"{k}/best peer = {best[k][0] / min(peers):.2f}")
        out.append(f"NFE {n:>3}: " + "; ".join(parts) + (f"  ({', '.join(ratios)})" if ratios else ""))
    return "\n".join(out)


__all__ = ["NFES", "Row", "best_lines", "diffusers_rows", "fit_order", "format_table", "gdf_rows", "grid_levels", "kdiffusion_rows"]
