"""``gdf tune``: tune a sampling grid for a recipe, a sampler and an NFE budget; write the spec."""

from __future__ import annotations

import importlib
import importlib.util
import math
from pathlib import Path
from typing import Any, Callable, Optional

import click
import yaml


def load_model(reference: str) -> Callable[..., Any]:
    """``MODULE:ATTR`` or ``FILE.py:ATTR``: a model, or a function of no arguments that returns one."""
    from gdf_core.errors import SpecError

    where, sep, attr = reference.rpartition(":")
    if not sep or not where or not attr:
        raise SpecError(f"--model: expected MODULE:ATTR or FILE.py:ATTR, got {reference!r}")
    if where.endswith(".py"):
        path = Path(where)
        if not path.is_file():
            raise FileNotFoundError(2, "No such file", where)
        spec = importlib.util.spec_from_file_location(f"_gdf_tune_model_{path.stem}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    else:
        try:
            module = importlib.import_module(where)
        except ImportError as exc:
            raise SpecError(f"--model: cannot import {where!r}: {exc}") from None
    if not hasattr(module, attr):
        raise SpecError(f"--model: {where!r} has no attribute {attr!r}")
    obj = getattr(module, attr)
    import torch

    if isinstance(obj, torch.nn.Module):
        return obj.eval()
    if callable(obj):
        made = obj()
        if not callable(made):
            raise SpecError(f"--model: {reference} returned {type(made).__name__}, not a model")
        return made.eval() if isinstance(made, torch.nn.Module) else made
    raise SpecError(f"--model: {reference} is {type(obj).__name__}, not a model")


def _shape(ctx: click.Context, param: click.Parameter, value: Optional[str]) -> Optional[tuple[int, ...]]:
    if value is None:
        return None
    try:
        dims = tuple(int(v) for v in value.replace("x", ",").split(",") if v.strip())
    except ValueError:
        raise click.BadParameter(f"expected comma-separated sizes, got {value!r}") from None
    if not dims or any(d < 1 for d in dims):
        raise click.BadParameter(f"expected positive sizes, got {value!r}")
    return dims


@click.command("tune", short_help="Tune a sampling grid (GITS + refinement) and write it as a spec.")
@click.argument("spec")
@click.option("--sampler", "-s", required=True, help="Sampler name or inline spec.")
@click.option("--nfe", required=True, type=click.IntRange(min=1), help="Model calls per sample.")
@click.option("--model", "model_ref", default=None, help="MODULE:ATTR or FILE.py:ATTR: the model, or a function returning it.")
@click.option("--oracle", is_flag=True, help="Tune on an exact Gaussian-mixture model of the recipe instead of --model.")
@click.option("--shape", callback=_shape, default=None, help="Shape of one sample, e.g. 2 or 3,32,32 (required with --model).")
@click.option("--dim", default=64, show_default=True, type=click.IntRange(min=1), help="Dimensions of the oracle's mixture.")
@click.option("--components", default=8, show_default=True, type=click.IntRange(min=1), help="Components of the oracle's mixture.")
@click.option("--samples", default=64, show_default=True, type=click.IntRange(min=1), help="Noise samples to tune on.")
@click.option("--seed", default=0, show_default=True, help="Seed of the noise (and of the oracle's mixture).")
@click.option("--candidates", default=48, show_default=True, type=click.IntRange(min=3), help="Levels of GITS' fine grid.")
@click.option("--teacher", default="unipc", show_default=True, help="Sampler of the teacher trajectory.")
@click.option("--teacher-substeps", default=4, show_default=True, type=click.IntRange(min=1), help="Teacher steps between candidates.")
@click.option("--sweeps", default=4, show_default=True, type=click.IntRange(min=0), help="Refinement sweeps over the levels.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the tuned spec here (YAML) [default: print it].")
@click.option("--progress/--no-progress", default=True, show_default=True, help="Show progress bars.")
def tune(spec: str, sampler: str, nfe: int, model_ref: Optional[str], oracle: bool, shape: Optional[tuple[int, ...]],
         dim: int, components: int, samples: int, seed: int, candidates: int, teacher: str, teacher_substeps: int,
         sweeps: int, output: Optional[str], progress: bool) -> None:
    """Find the grid of NFE model calls on which SAMPLER is closest to SPEC's model's own ODE solution.

    The teacher is the same model's ODE solved finely from the same noise; the
    grid is found by GITS' dynamic programming and refined on the whole run's
    error. Writes SPEC with a `tabulated` sample_schedule and the sampler: sample
    it with `timesteps` = the number of steps printed.
    """
    import torch

    from gdf_core.accuracy.problem import oracle_model, with_logsnr_condition
    from gdf_core.cli import load_spec_argument
    from gdf_core.errors import SpecError
    from gdf_core.gdf import GDF
    from gdf_core.spec import load_spec
    from gdf_core.testing.oracle import GaussianMixture
    from gdf_core.tuning import tune as tune_grid

    if oracle == (model_ref is not None):
        raise SpecError("give exactly one of --model (your model) and --oracle (an exact Gaussian-mixture model)")
    recipe = load_spec(load_spec_argument(spec))
    sampler_spec: Any = yaml.safe_load(sampler) if sampler.strip().startswith("{") else sampler
    if oracle:
        gdf = with_logsnr_condition(recipe)
        mixture = GaussianMixture.random(dim=dim, components=components, seed=seed, spread=0.25, std_range=(0.2, 0.6))
        model = oracle_model(mixture, gdf)
        x_init = torch.randn(samples, dim, generator=torch.Generator().manual_seed(seed + 1), dtype=torch.float64)
    else:
        if shape is None:
            raise SpecError("--shape is required with --model (the shape of one sample, e.g. 2 or 3,32,32)")
        gdf = GDF.from_spec(recipe)
        model = load_model(model_ref)  # type: ignore[arg-type]
        x_init = torch.randn((samples, *shape), generator=torch.Generator().manual_seed(seed + 1))
    with torch.no_grad():
        result = tune_grid(gdf, model, sampler=sampler_spec, nfe=nfe, x_init=x_init, candidates=candidates,
                           teacher=teacher, teacher_substeps=teacher_substeps, sweeps=sweeps, progress=progress)
    result.recipe = recipe
    click.echo(f"sampler {result.sampler}, {result.steps} steps ({nfe} model calls); RMS error to the teacher "
               f"on {samples} noise samples:", err=True)
    for name, err in sorted(result.baselines.items(), key=lambda kv: kv[1]):
        click.echo(f"  {name:<12} {err:.3e}", err=True)
    click.echo(f"  {'gits':<12} {result.gits_error:.3e}", err=True)
    click.echo(f"  {'tuned':<12} {result.error:.3e}", err=True)
    text = yaml.safe_dump(result.spec(), sort_keys=False)
    if output:
        Path(output).write_text(text)
        click.echo(f"wrote {output}: sample with timesteps={result.steps}", err=True)
    else:
        click.echo(text.rstrip())
    if not math.isfinite(result.error):
        raise SpecError("the tuned grid's error is not finite: the sampler fails on this recipe")


__all__ = ["load_model", "tune"]
