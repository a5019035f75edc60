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
from gdf_core.demo.model import MLPDenoiser
from gdf_core.demo.quality import sliced_wasserstein
from gdf_core.demo.train import TrainResult, train
from gdf_core.gdf import GDF
from gdf_core.kinds import GDF_PARTS
from gdf_core.registry import registry

#: Samplers the demo shows by default, best-known first; those not installed are skipped.
PREFERRED_SAMPLERS: tuple[str, ...] = ("ddim", "dpmpp_2m", "unipc", "ddpm", "heun", "euler")
DEFAULT_NFES: tuple[int, ...] = (5, 10, 25)


@dataclass
class DemoResult:
    """Everything the demo produced; ``rows`` holds one dict per sampler × NFE."""

    gdf: GDF
    train: TrainResult
    rows: list[dict[str, Any]] = field(default_factory=list)
    reference_swd: float = 0.0
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
) -> DemoResult:
    """Train on ``data`` with the GDF of ``spec``, sample with each sampler × NFE, write the results.

    Writes ``<out>/demo_<name>.png`` and ``.json`` (name from the preset or
    file), prints a table of the sliced Wasserstein distance (SWD) of each
    sample set to a fresh draw of the data, and returns a ``DemoResult``.
    Runs on ``threads`` torch threads (None: torch's setting); with a fixed
    count, the same arguments give the same model, samples and figures.
    """
    with torch_threads(threads), torch.random.fork_rng(devices=[]):  # the caller's global RNG is left as it was
        torch.manual_seed(seed)  # the model's initial weights
        console = console or Console()
        if data not in DATASETS:
            raise ValueError(f"unknown data set {data!r}; choose one of {', '.join(DATASETS)}")
        gdf = GDF.from_spec(spec)
        samplers = list(samplers) if samplers else default_samplers()
        if not samplers:
            raise ValueError("no sampler is installed (`gdf list sampler` is empty)")
        for name in samplers:
            registry.get("sampler", name, path="sampler")  # unknown names fail before training
        label = _label(spec)
        console.print(f"[bold]gdf demo[/]: spec [cyan]{label}[/] on [cyan]{data}[/]: {_summary(gdf)}")

        model = MLPDenoiser()
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

        truth = draw(data, n_samples, seed=seed + 1)
        reference = sliced_wasserstein(truth, draw(data, n_samples, seed=seed + 2))
        demo = DemoResult(gdf=gdf, train=result, reference_swd=reference)
        samples, swd, used_steps = {}, {}, {}
        with torch.no_grad():
            for name in samplers:
                for nfe in nfes:
                    n_steps = steps_for_nfe(gdf, name, nfe)
                    start = time.perf_counter()
                    x = None
                    for _, x, _ in gdf.sample(
                        result.model,
                        {},
                        (n_samples, 2),
                        sampler=name,
                        timesteps=n_steps,
                        cfg=None,
                        generator=torch.Generator().manual_seed(seed + 3),
                    ):
                        pass
                    elapsed = time.perf_counter() - start
                    assert x is not None
                    key = (name, nfe)
                    samples[key], used_steps[key] = x, n_steps
                    swd[key] = sliced_wasserstein(x, truth)
                    demo.rows.append(
                        {"sampler": name, "nfe": nfe, "steps": n_steps, "swd": swd[key], "seconds": round(elapsed, 4)}
                    )

        console.print(_table(demo.rows, samplers, nfes, reference, label, data))
        out = Path(out)
        stem = f"demo_{_slug(label)}"
        demo.png = draw_demo(
            out / f"{stem}.png",
            data=truth,
            samples=samples,
            swd=swd,
            steps=used_steps,
            samplers=samplers,
            nfes=nfes,
            losses=result.losses,
            title=f"gdf demo: {label} on {data}, {result.steps} training steps",
            reference_swd=reference,
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
                    "results": demo.rows,
                },
                indent=2,
            )
        )
        console.print(f"wrote {demo.png} and {demo.json}")
        return demo


def _table(rows: list[dict[str, Any]], samplers: Sequence[str], nfes: Sequence[int], reference: float, label: str, data: str) -> Table:
    table = Table(
        title=f"sliced Wasserstein distance to the data ({label}, {data}; lower is better)",
        caption=f"two independent draws of the data are {reference:.3f} apart",
    )
    table.add_column("sampler")
    for nfe in nfes:
        table.add_column(f"NFE {nfe}", justify="right")
    by_key = {(r["sampler"], r["nfe"]): r for r in rows}
    for name in samplers:
        cells = []
        for nfe in nfes:
            r = by_key[(name, nfe)]
            cells.append(f"{r['swd']:.3f}" + (f" ({r['steps']} st)" if r["steps"] != nfe else ""))
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


__all__ = ["DEFAULT_NFES", "DemoResult", "PREFERRED_SAMPLERS", "default_samplers", "run_demo", "steps_for_nfe"]
