"""What ``sample(callback=..., progress=True)`` costs per step, against plain ``sample``.

Runs the same sampling loop (DDIM, the demo's MLP) with no callback, with a
callback that keeps every step's values, and with a tqdm progress bar, and
prints the median time per step of each and its ratio to the baseline
measured in the same run. Usage: ``python benchmarks/callback_overhead.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import time
from typing import Any

import torch

from gdf_core import GDF, SampleStep
from gdf_core.demo.model import MLPDenoiser


def time_per_step(gdf: GDF, model: Any, batch: int, steps: int, repeats: int, **options: Any) -> float:
    """Median seconds per sampling step over ``repeats`` runs of ``steps`` steps."""
    runs = []
    for r in range(repeats):
        start = time.perf_counter()
        for _ in gdf.sample(model, {}, (batch, 2), sampler="ddim", timesteps=steps, cfg=None,
                            generator=torch.Generator().manual_seed(r), **options):
            pass
        runs.append((time.perf_counter() - start) / steps)
    return statistics.median(runs)


def measure(batch: int = 256, steps: int = 50, repeats: int = 15) -> dict[str, float]:
    """Median seconds per step: baseline, with callback, with progress bar, with both."""
    torch.manual_seed(0)
    gdf = GDF.from_spec("stable_cascade")
    model = MLPDenoiser().requires_grad_(False)
    kept: list[SampleStep] = []
    variants = {
        "baseline": {},
        "callback": {"callback": kept.append},
        "progress": {"progress": True},
        "callback + progress": {"callback": kept.append, "progress": True},
    }
    results: dict[str, float] = {}
    with torch.no_grad(), contextlib.redirect_stderr(io.StringIO()):
        time_per_step(gdf, model, batch, steps, 2)  # warm-up
        # Interleave the variants so that drifts in machine load hit each alike.
        samples: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(repeats):
            for name, options in variants.items():
                samples[name].append(time_per_step(gdf, model, batch, steps, 1, **options))
                kept.clear()
    for name, values in samples.items():
        results[name] = statistics.median(values)
    return results


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args(argv)
    results = measure(args.batch, args.steps, args.repeats)
    base = results["baseline"]
    print(f"per-step time, DDIM, MLP denoiser, batch {args.batch}, {args.steps} steps, median of {args.repeats}")
    print(f"{'variant':<22}{'µs/step':>10}{'ratio':>8}")
    for name, value in results.items():
        print(f"{name:<22}{value * 1e6:>10.1f}{value / base:>8.3f}")
    return results


if __name__ == "__main__":
    main()
