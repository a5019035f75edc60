"""``gdf bench``: the accuracy table of every installed sampler on an exact oracle."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Optional

import click

from gdf_core.accuracy.grids import GRID_FAMILIES


def _ints(ctx: click.Context, param: click.Parameter, value: str) -> list[int]:
    try:
        numbers = [int(v) for v in value.replace(",", " ").split()]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers, got {value!r}") from None
    if not numbers or any(n < 1 for n in numbers):
        raise click.BadParameter(f"expected positive integers, got {value!r}")
    return numbers


def _component(text: str) -> Any:
    """A name, inline JSON/YAML (``{"name": ..., ...}``) or a spec file."""
    from gdf_core.spec import load_spec

    stripped = text.strip()
    if stripped.startswith("{"):
        import yaml

        return yaml.safe_load(stripped)
    path = Path(stripped)
    if stripped.lower().endswith((".json", ".yaml", ".yml", ".toml")):
        data = load_spec(path)
        return data.get("sample_schedule", data) if isinstance(data, dict) else data
    return stripped


def default_samplers() -> list[str]:
    """Every registered deterministic sampler (third-party ones included)."""
    from gdf_core.registry import registry

    names = []
    for name, regs in sorted(registry.registrations("sampler").items()):
        for reg in regs:
            try:  # ``stochastic`` may be a property of the parameters (ddim's eta): ask an instance
                stochastic = bool(getattr(reg.cls(), "stochastic", False))
            except Exception:  # needs parameters: run it as it is and let the table show it
                stochastic = False
            if not stochastic:
                names.append(reg.qualified_name if len(regs) > 1 else name)
    return names


@click.command("bench", short_help="Accuracy table of the installed samplers on an exact oracle.")
@click.option("--spec", default="ddpm", show_default=True, help="Recipe giving the input scaler and target (preset, file or inline).")
@click.option("--sampler", "-s", "samplers", multiple=True,
              help="Sampler name or inline spec (repeatable) [default: every registered deterministic sampler].")
@click.option("--grid", "-g", "grids", multiple=True,
              help=f"Grid family ({', '.join(GRID_FAMILIES)}), 'tuned' (gdf tune per sampler and NFE), or a "
                   "tabulated schedule (inline spec or spec file); repeatable [default: karras, exponential].")
@click.option("--nfe", default="5,8,10,15,20,50", show_default=True, callback=_ints, help="Model calls per sample.")
@click.option("--dim", default=64, show_default=True, type=click.IntRange(min=1), help="Dimensions of the mixture.")
@click.option("--components", default=8, show_default=True, type=click.IntRange(min=1), help="Mixture components.")
@click.option("--samples", default=128, show_default=True, type=click.IntRange(min=1), help="Samples per run.")
@click.option("--seed", default=0, show_default=True, help="Seed of the mixture and the noise.")
@click.option("--spread", default=0.25, show_default=True, type=click.FloatRange(min=0), help="Std of the component means.")
@click.option("--stds", default=(0.2, 0.6), show_default=True, nargs=2, type=click.FloatRange(min=0, min_open=True),
              help="Range of the component stds.")
@click.option("--sigma-min", default=None, type=click.FloatRange(min=0, min_open=True), help="Last level before data [SD's 0.0292].")
@click.option("--sigma-max", default=None, type=click.FloatRange(min=0, min_open=True), help="Start level [SD's 14.61].")
@click.option("--peers/--no-peers", default=True, show_default=True, help="Also run diffusers and k-diffusion when installed.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Write the results as JSON here.")
@click.option("--progress/--no-progress", default=True, show_default=True, help="Show a progress bar.")
def bench(spec: str, samplers: tuple[str, ...], grids: tuple[str, ...], nfe: list[int], dim: int, components: int,
          samples: int, seed: int, spread: float, stds: tuple[float, float], sigma_min: Optional[float],
          sigma_max: Optional[float], peers: bool, json_path: Optional[str], progress: bool) -> None:
    """Error of every sampler against the exact ODE solution, per NFE, with fitted convergence orders.

    The model is a Gaussian mixture's exact denoiser (gdf_core.testing.oracle),
    given to each sampler as the recipe's own prediction; the reference is the
    probability-flow ODE solved to 1e-12. With diffusers or k-diffusion
    installed their samplers run on the same problem, noise and grids.
    """
    import torch
    from rich.console import Console
    from rich.progress import Progress

    from gdf_core.accuracy.problem import SD_SIGMA_MAX, SD_SIGMA_MIN, OracleProblem
    from gdf_core.accuracy.table import best_lines, diffusers_rows, format_table, gdf_rows, kdiffusion_rows
    from gdf_core.cli import load_spec_argument
    from gdf_core.errors import SpecError

    torch.set_num_threads(1)
    t0 = time.perf_counter()
    problem = OracleProblem(load_spec_argument(spec), dim=dim, components=components, samples=samples, seed=seed,
                            spread=spread, stds=(stds[0], stds[1]), sigma_max=sigma_max or SD_SIGMA_MAX,
                            sigma_min=sigma_min or SD_SIGMA_MIN)
    sampler_specs = [_component(s) for s in samples_or_default(samplers)]
    grid_specs = [g if g in (*GRID_FAMILIES, "tuned") else _component(g) for g in (grids or ("karras", "exponential"))]
    for g in grid_specs:
        if isinstance(g, str) and g not in (*GRID_FAMILIES, "tuned"):
            raise SpecError(f"unknown grid {g!r}: use one of {', '.join((*GRID_FAMILIES, 'tuned'))} or a tabulated schedule spec")
    console = Console(highlight=False, soft_wrap=True, stderr=False)
    total = len(grid_specs) * len(sampler_specs) * len(nfe)
    with Progress(console=Console(stderr=True), disable=not progress, transient=True) as bar:
        task = bar.add_task("gdf samplers", total=total)
        rows = gdf_rows(problem, sampler_specs, grid_specs, nfe, on_run=lambda: bar.advance(task))
        if peers:
            task = bar.add_task("peers", total=None)
            rows += kdiffusion_rows(problem, grid_specs, nfe, on_run=lambda: bar.advance(task))
            rows += diffusers_rows(problem, nfe, on_run=lambda: bar.advance(task))
    console.print(
        f"Gaussian mixture: {dim} dims, {components} components, {samples} samples; recipe {spec}; start σ = "
        f"{problem.sigma_max:.4g}, grids σ ∈ [{problem.sigma_min:.4g}, {problem.sigma_max:.4g}] then 0. RMS error vs "
        f"the exact ODE solution (reference {problem.reference_seconds:.1f} s). (k) = NFE actually used; order fitted "
        "over NFE ≥ 10.", markup=False,
    )
    console.print(format_table(rows, nfe), markup=False)
    console.print()
    console.print(best_lines(rows, nfe), markup=False)
    console.print(f"({time.perf_counter() - t0:.0f} s)", markup=False)
    if json_path:
        payload = {
            "problem": {"spec": spec, "dim": dim, "components": components, "samples": samples, "seed": seed,
                        "spread": spread, "stds": list(stds), "sigma_max": problem.sigma_max,
                        "sigma_min": problem.sigma_min,
                        "metric": "RMS error vs float64 DOP853 solution of the probability-flow ODE"},
            "nfes": list(nfe),
            "results": [r.as_json() for r in rows],
        }
        Path(json_path).write_text(json.dumps(payload, indent=1))
        console.print(f"wrote {json_path}", markup=False)


def samples_or_default(samplers: tuple[str, ...]) -> list[str]:
    return list(samplers) if samplers else default_samplers()


__all__ = ["bench", "default_samplers"]
