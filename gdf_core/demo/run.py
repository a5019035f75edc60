"""The main job end to end: spec → trained denoiser → samples → PNG, JSON and a table."""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence

import torch
from rich.console import Console
from rich.table import Table

from gdf_core.demo.data import DATASETS, draw
from gdf_core.demo.figure import draw_demo
from gdf_core.demo.model import MLPDenoiser, NoiseCondEmbedding
from gdf_core.demo.precondition import Preconditioned
from gdf_core.demo.exact import exact_denoiser
from gdf_core.demo.quality import floor_swd, mean_swd, sliced_wasserstein
from gdf_core.demo.reference import ODESolution, ode_solution, rms_distance, solve
from gdf_core.demo.train import TrainResult, train
from gdf_core.gdf import GDF
from gdf_core.kinds import GDF_PARTS
from gdf_core.registry import registry

#: Samplers the demo shows by default, best-known first; those not installed are skipped.
PREFERRED_SAMPLERS: tuple[str, ...] = ("ddim", "dpmpp_2m", "unipc", "ddpm", "heun", "euler")
DEFAULT_NFES: tuple[int, ...] = (5, 10, 25)


@dataclass
class DemoResult:
    """Everything the demo produced; ``rows`` holds one dict per sampler × NFE.

    ``reference_swd`` is the floor: the mean SWD between two independent draws of
    the data over ``data_draws`` pairs (``reference_sd`` their standard deviation);
    ``ode`` the model's own ODE solution from the samples' noise and ``ode_swd`` its
    mean SWD to the same fresh draws of the data as the floor's. Where the data
    set has an exact denoiser (``exact.py``), ``exact`` is its ODE solution from
    the same noise (a perfect model's), ``exact_swd`` its mean SWD to the data and
    ``model_error`` the SWD from the model's ODE solution to it: the model's error
    alone, free of the sampling noise both distances to the data carry.
    """

    gdf: GDF
    train: TrainResult
    rows: list[dict[str, Any]] = field(default_factory=list)
    reference_swd: float = 0.0
    reference_sd: float = 0.0
    data_draws: int = 1
    ode: Optional[ODESolution] = None
    ode_swd: float = 0.0
    exact: Optional[torch.Tensor] = None
    exact_swd: Optional[float] = None
    model_error: Optional[float] = None
    png: Optional[Path] = None
    json: Optional[Path] = None


def default_samplers(limit: int = 4) -> list[str]:
    """The preferred samplers that are installed (any installed ones if none of those is)."""
    installed = registry.names("sampler")
    chosen = [s for s in PREFERRED_SAMPLERS if s in installed][:limit]
    return chosen or installed[:limit]


def calls_per_run(gdf: GDF, sampler: str, steps: int) -> int:
    """How many model calls (NFE) ``sampler`` makes in a run of ``steps`` steps."""
    calls = 0

    def count(x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        nonlocal calls
        calls += 1
        return torch.zeros_like(x)

    for _ in gdf.sample(count, {}, (1, 2), sampler=sampler, timesteps=steps, cfg=None, generator=torch.Generator().manual_seed(0)):
        pass
    return calls


def steps_for_nfe(gdf: GDF, sampler: str, nfe: int) -> int:
    """The most steps whose run costs at most ``nfe`` model calls (at least one step)."""
    best = 1
    for steps in range(1, nfe + 1):
        if calls_per_run(gdf, sampler, steps) > nfe:
            break
        best = steps
    return best


def data_scale(data: str, seed: int = 0, n: int = 100_000) -> float:
    """σ_d of a data set: the root mean square over coordinates of its standard deviation."""
    return float(draw(data, n, seed=seed).std(dim=0).pow(2).mean().sqrt())


def noise_cond_scale(gdf: GDF, logsnr_range: tuple[float, float] = (-20.0, 20.0)) -> float:
    """1 / the span of ``gdf``'s noise condition over λ ∈ ``logsnr_range`` where it spans more than 10 units
    (a discrete timestep, 0 … 3999), else 1: the embedding's frequencies are made for conditions a few units wide."""
    probe = GDF.from_spec({**gdf.to_spec(), "schedule": {"name": "linear", "logsnr_range": list(logsnr_range)}})
    ends = torch.tensor([0.0, 1.0], dtype=torch.float64)
    cond = probe.diffuse(torch.zeros(2, 1, dtype=torch.float64), torch.zeros(2, 1, dtype=torch.float64), t=ends)[4]
    span = float((cond.reshape(-1)[1] - cond.reshape(-1)[0]).abs().to(torch.float64))
    return 1.0 / span if span > 10 else 1.0


def demo_model(gdf: GDF, sigma_data: float = 1.0, *, precondition: bool = False) -> tuple[torch.nn.Module, str]:
    """The demo's denoiser for ``gdf`` and a line saying how it is conditioned.

    By default the MLP on the recipe's own noise condition, predicting the
    recipe's target. With ``precondition``, the MLP behind recipe-independent
    preconditioning (``Preconditioned``, σ_d = ``sigma_data``), or the bare MLP
    where the recipe cannot be preconditioned (a noise condition that does not
    determine λ). docs/demo.md has the measurements behind the default.
    """
    scale = noise_cond_scale(gdf)
    plain = MLPDenoiser(embedding=NoiseCondEmbedding(scale=scale))
    how = "the recipe's noise condition" + (f" (× {scale:.3g})" if scale != 1 else "") + " and target"
    if not precondition:
        return plain, how
    try:
        net = MLPDenoiser(embedding=NoiseCondEmbedding(16, 0.5, 50.0))
        return Preconditioned(net, gdf, sigma_data=sigma_data), f"preconditioned, σ_d = {sigma_data:.3f}"
    except ValueError as exc:
        return plain, f"not preconditioned ({exc}); {how}"


@contextlib.contextmanager
def torch_threads(threads: Optional[int]) -> Iterator[None]:
    """torch's intra-op CPU threads set to ``threads`` (None: unchanged) inside the block."""
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def run_demo(
    spec: Any = "stable_cascade",
    *,
    data: str = "two_moons",
    samplers: Optional[Sequence[str]] = None,
    nfes: Sequence[int] = DEFAULT_NFES,
    steps: int = 3000,
    seconds: Optional[float] = None,
    batch_size: int = 512,
    n_samples: int = 2000,
    seed: int = 0,
    out: str | Path = "out",
    progress: bool = True,
    console: Optional[Console] = None,
    threads: Optional[int] = 1,
    reference_steps: int = 2000,
    precondition: bool = False,
    data_draws: int = 32,
) -> DemoResult:
    """Train on ``data`` with the GDF of ``spec``, sample with each sampler × NFE, write the results.

    Writes ``<out>/demo_<name>.png`` and ``.json`` (name from the preset or
    file), prints a table of the sliced Wasserstein distance (SWD) of each
    sample set to fresh draws of the data (the mean over ``data_draws`` draws:
    one draw's distance is too noisy to compare models) and to the model's own ODE
    solution from the same noise (DDIM at ``reference_steps`` steps, checked
    against half as many), and returns a ``DemoResult``. ``precondition``
    trains the preconditioned model (see ``demo_model``).
    Runs on ``threads`` torch threads (None: torch's setting); with a fixed
    count, the same arguments give the same model, samples and figures.
    """
    with torch_threads(threads), torch.random.fork_rng(devices=[]):  # the caller's global RNG is left as it was
        torch.manual_seed(seed)  # the model's initial weights
        console = console or Console()
        if data not in DATASETS:
            raise ValueError(f"unknown data set {data!r}; choose one of {', '.join(DATASETS)}")
        if data_draws < 1:
            raise ValueError(f"data_draws must be at least 1, got {data_draws!r}")
        gdf = GDF.from_spec(spec)
        samplers = list(samplers) if samplers else default_samplers()
        if not samplers:
            raise ValueError("no sampler is installed (`gdf list sampler` is empty)")
        for name in samplers:
            registry.get("sampler", name, path="sampler")  # unknown names fail before training
        label = _label(spec)
        console.print(f"[bold]gdf demo[/]: spec [cyan]{label}[/] on [cyan]{data}[/]: {_summary(gdf)}")

        model, how = demo_model(gdf, data_scale(data, seed=seed + 4), precondition=precondition)
        console.print(f"model: {how}")
        result = train(
            gdf,
            model,
            lambda n, g: DATASETS[data](n, g),
            steps=steps,
            seconds=seconds,
            batch_size=batch_size,
            seed=seed,
            progress=progress,
        )
        console.print(f"trained {result.steps} steps in {result.seconds:.1f} s, final loss {_tail_mean(result.losses):.4f}")

        truths = [draw(data, n_samples, seed=seed + 1 + 1000 * k) for k in range(data_draws)]
        truth = truths[0]
        reference, reference_sd = floor_swd(truths, [draw(data, n_samples, seed=seed + 2 + 1000 * k) for k in range(data_draws)])
        x_init = torch.randn(n_samples, 2, generator=torch.Generator().manual_seed(seed + 3))
        ode = ode_solution(gdf, result.model, x_init, steps=reference_steps)
        demo = DemoResult(gdf=gdf, train=result, reference_swd=reference, reference_sd=reference_sd, data_draws=data_draws, ode=ode,
                          ode_swd=mean_swd(ode.x, truths))
        exact = exact_denoiser(gdf, data)
        if exact is not None:  # what a perfect model gets from the same noise, and how far the model is from it
            demo.exact = solve(gdf, exact, x_init, sampler="ddim", steps=max(1, reference_steps // 4))
            demo.exact_swd, demo.model_error = mean_swd(demo.exact, truths), sliced_wasserstein(ode.x, demo.exact)
        samples, swd, swd_ode, used_steps = {}, {}, {}, {}
        for name in samplers:
            for nfe in nfes:
                n_steps = steps_for_nfe(gdf, name, nfe)
                start = time.perf_counter()
                x = solve(gdf, result.model, x_init, sampler=name, steps=n_steps,
                          generator=torch.Generator().manual_seed(seed + 5))
                elapsed = time.perf_counter() - start
                key = (name, nfe)
                samples[key], used_steps[key] = x, n_steps
                swd[key], swd_ode[key] = mean_swd(x, truths), sliced_wasserstein(x, ode.x)
                demo.rows.append(
                    {"sampler": name, "nfe": nfe, "steps": n_steps, "swd": swd[key], "swd_ode": swd_ode[key],
                     "rms_ode": rms_distance(x, ode.x), "seconds": round(elapsed, 4)}
                )

        console.print(_table(demo, samplers, nfes, label, data))
        out = Path(out)
        stem = f"demo_{_slug(label)}"
        demo.png = draw_demo(
            out / f"{stem}.png",
            data=truth,
            samples=samples,
            swd=swd,
            swd_ode=swd_ode,
            ode=ode.x,
            ode_swd=demo.ode_swd,
            steps=used_steps,
            samplers=samplers,
            nfes=nfes,
            losses=result.losses,
            title=f"gdf demo: {label} on {data}, {result.steps} training steps",
            reference_swd=reference,
            exact_swd=demo.exact_swd,
        )
        demo.json = out / f"{stem}.json"
        demo.json.write_text(
            json.dumps(
                {
                    "spec": label,
                    "gdf": gdf.to_spec(),
                    "data": data,
                    "train": {"steps": result.steps, "seconds": round(result.seconds, 2), "final_loss": _tail_mean(result.losses)},
                    "reference_swd": reference,
                    "reference_sd": reference_sd,
                    "data_draws": data_draws,
                    "ode": {"sampler": "ddim", "steps": ode.steps, "swd": demo.ode_swd, "check_steps": ode.check_steps,
                            "check_gap_swd": ode.gap_swd, "check_gap_rms": ode.gap_rms},
                    "exact": None if demo.exact is None else {
                        "sampler": "ddim", "steps": max(1, reference_steps // 4), "swd": demo.exact_swd,
                        "model_error_swd": demo.model_error, "model_error_rms": rms_distance(ode.x, demo.exact)},
                    "results": demo.rows,
                },
                indent=2,
            )
        )
        console.print(f"wrote {demo.png} and {demo.json}")
        return demo


def _table(demo: DemoResult, samplers: Sequence[str], nfes: Sequence[int], label: str, data: str) -> Table:
    assert demo.ode is not None
    table = Table(
        title=f"sliced Wasserstein distance to the data | to the model's ODE solution ({label}, {data}; lower is better)",
        caption=(
            f"floor: two independent draws of the data are {demo.reference_swd:.3f} apart (mean of {demo.data_draws} pairs, "
            f"sd {demo.reference_sd:.3f}); "
            f"the model's ODE solution (DDIM, {demo.ode.steps} steps, same noise) is {demo.ode_swd:.3f} from the data "
            f"({demo.ode_swd / demo.reference_swd:.2f}× the floor) and {demo.ode.gap_swd:.1e} from DDIM at "
            f"{demo.ode.check_steps} steps"
            + ("" if demo.exact_swd is None or demo.model_error is None else
               f"; a perfect model's (the data's exact denoiser) from the same noise is {demo.exact_swd:.3f} from the data "
               f"({demo.exact_swd / demo.reference_swd:.2f}× the floor) and {demo.model_error:.3f} from the model's")
        ),
    )
    table.add_column("sampler")
    for nfe in nfes:
        table.add_column(f"NFE {nfe}", justify="right")
    by_key = {(r["sampler"], r["nfe"]): r for r in demo.rows}
    for name in samplers:
        cells = []
        for nfe in nfes:
            r = by_key[(name, nfe)]
            cells.append(f"{r['swd']:.3f} | {r['swd_ode']:.3f}" + (f" ({r['steps']} st)" if r["steps"] != nfe else ""))
        table.add_row(name, *cells)
    return table


def _label(spec: Any) -> str:
    if isinstance(spec, (str, Path)):
        text = str(spec)
        return Path(text).stem if Path(text).is_file() else text if "\n" not in text else "spec"
    if isinstance(spec, dict) and isinstance(spec.get("preset"), str):
        return f"{spec['preset']}+overrides" if len(spec) > 1 else spec["preset"]
    return "spec"


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in text)


def _summary(gdf: GDF) -> str:
    spec = gdf.to_spec()
    return ", ".join(
        f"{kind}={v if isinstance(v, str) else v['name']}"
        for kind, v in spec.items()
        if kind in GDF_PARTS
    )


def _tail_mean(values: Sequence[float], n: int = 100) -> float:
    tail = list(values[-n:])
    return sum(tail) / len(tail) if tail else float("nan")


__all__ = ["DEFAULT_NFES", "DemoResult", "PREFERRED_SAMPLERS", "data_scale", "default_samplers", "demo_model", "run_demo",
           "steps_for_nfe"]
