"""Whole 20-step runs of gdf against diffusers' scheduler loops, and against gdf's own steady steps.

    python benchmarks/whole_run.py --threads 1 --repeats 15

A trivial model (ε̂ = 0.1·x) on a (4, 4, 64, 64) float32 latent on CPU, so
the time is the sampling machinery's. Each run includes everything a user
pays for: gdf's ``GDF.sample`` consumed to the end (components, grid, the
sampler's ``prepare``, the loop), diffusers' scheduler construction,
``set_timesteps`` and its ``step`` loop. gdf's "cold" column clears its run
plans first (another GDF, so the warm runs stay warm): grid, plan and level
tables are built in every such run. With cfg (scale 3) both run the model on the doubled batch and
lerp; gdf with ``cfg_rho=0`` (diffusers' ``guidance_rescale`` default) and,
in extra rows, with the default 0.7, against diffusers' plain lerp and against its pipelines'
``rescale_noise_cfg`` with ``guidance_rescale=0.7`` (the same rescale, per sample). gdf's ``unipc`` is run at order 2,
diffusers' default.

"steady": the median time of steps 5–19 of a gdf run (timestamps between
yields), times 20, against the whole 20-step run: what the first steps and
the plan cost on top of steady stepping. "whole" runs repeat one setting back
to back, reusing the run plan the GDF caches (``gdf_core.run_plans``: grid,
sampler plan, level tables); "cold" clears it first, so it builds them.
"faults": minor page faults per whole run, memory the allocator returned to
the system at the end of the previous run and faults in again (glibc trims
its heap then; ``MALLOC_TRIM_THRESHOLD_=1000000000
MALLOC_MMAP_THRESHOLD_=1000000000`` in the environment, or jemalloc, keeps it).
Each sampler's whole-against-steady figures come from a fresh process, once
with glibc's defaults and once with those settings: whether glibc trims
depends on what the process allocated before (diffusers' runs in the same
process, for one, leave small allocations above the latents and prevent it). The warm-up corrector of
``dpmpp_2m`` (a second-order redo of step 0 at step 1) is extra work of the
method itself: the "warmup_corrector=False" row turns it off. The "hand-written" rows are DDIM and
DPM++(2M) loops of a few lines over precomputed host floats (``hand_steps``), timed the same way:
their whole/steady ratio is what the first step costs any loop (its data last touched a run ago),
against which gdf's own extra is read.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
from typing import Callable, Iterable, Iterator

import torch

from _setup import interleaved, median_iqr  # noqa: E402  (puts gdf on the path)
from gdf_core import GDF  # noqa: E402

SHAPE = (4, 4, 64, 64)
STEPS = 20


def model(x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
    return 0.1 * x


def gdf_run(gdf: GDF, sampler: object, cfg: float | None, rho: float, x: torch.Tensor) -> torch.Tensor:
    out = x
    for _, out, _ in gdf.sample(model, {}, SHAPE, sampler=sampler, timesteps=STEPS, x_init=x, cfg=cfg, cfg_rho=rho):
        pass
    return out


def diffusers_run(make: object, cfg: float | None, x: torch.Tensor, rescale: float = 0.0) -> torch.Tensor:
    """A diffusers pipeline's denoising loop; ``rescale`` > 0 applies diffusers' own ``rescale_noise_cfg``
    (``guidance_rescale``, the pipelines' counterpart of gdf's ``cfg_rho``)."""
    from diffusers.guiders.guider_utils import rescale_noise_cfg

    scheduler = make()  # type: ignore[operator]
    scheduler.set_timesteps(STEPS)
    for t in scheduler.timesteps:
        if cfg is None:
            eps = 0.1 * x
        else:
            cond, uncond = (0.1 * torch.cat([x, x])).chunk(2)
            eps = uncond + cfg * (cond - uncond)
            if rescale > 0:
                eps = rescale_noise_cfg(eps, cond, guidance_rescale=rescale)
        x = scheduler.step(eps, t, x).prev_sample
    return x


def hand_steps(gdf: GDF, name: str, x: torch.Tensor, tables: tuple[list[float], list[float], list[float]] | None) -> Iterator[torch.Tensor]:
    """A hand-written DDIM or DPM++(2M) loop over the schedule's 20-step grid, yielding x after each step.

    ``tables``: (λ, a, b) at the levels, computed beforehand (a warm run); None computes them in the run
    (a cold one, as diffusers' ``set_timesteps``). The first step of DPM++(2M) is first order, as diffusers'.
    """
    if tables is None:
        tables = hand_tables(gdf)
    lam, a, b = tables
    prev, h_prev = None, 0.0
    for i in range(STEPS):
        eps = model(x, None)  # type: ignore[arg-type]
        x0 = (x - b[i] * eps) / a[i]
        if name == "ddim":
            x = a[i + 1] * x0 + b[i + 1] * eps
        else:
            h = (lam[i + 1] - lam[i]) / 2
            d = x0 if prev is None else (1 + h / (2 * h_prev)) * x0 - (h / (2 * h_prev)) * prev
            x = (b[i + 1] / b[i]) * x + a[i + 1] * (-math.expm1(-h)) * d
            prev, h_prev = x0, h
        yield x


def hand_tables(gdf: GDF) -> tuple[list[float], list[float], list[float]]:
    """(λ, a, b) of the schedule's 20-step grid as host floats, from the last level to the first finite ones."""
    lam = gdf.schedule(torch.linspace(1, 0, STEPS + 1, dtype=torch.float64))
    return lam.tolist(), torch.sigmoid(lam).sqrt().tolist(), torch.sigmoid(-lam).sqrt().tolist()


def steady_ratio(
    run: Callable[[bool], Iterable[object]], clear: Callable[[], None], repeats: int
) -> tuple[float, float, float, float]:
    """(whole 20-step run with the run plan cached, the same with it cold, 20 × median steady step,
    minor page faults per warm run), medians.

    ``run(cold)`` iterates one run's steps. Warm runs follow each other (after two that are not
    counted), as a loop making many batches with one setting runs them; then as many cold runs,
    each after ``clear()`` (gdf: its run plans, ``gdf_core.run_plans``, so the run also builds the grid, the plan and
    the level tables; a hand-written loop computes its tables in the run). The page
    faults are memory the allocator gave back at the end of a run and takes again in the next.
    """
    def timed(cold: bool) -> tuple[list[float], int]:
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        stamps = [time.perf_counter()]
        for _ in run(cold):
            stamps.append(time.perf_counter())
        return stamps, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults

    warm, cold, steadies, faults = [], [], [], []
    for i in range(repeats + 2):
        stamps, n = timed(False)
        if i >= 2:
            warm.append(stamps[-1] - stamps[0])
            faults.append(n)
            steps = [b - a for a, b in zip(stamps[5:-1], stamps[6:])]
            steadies.append(STEPS * sorted(steps)[len(steps) // 2])
    for _ in range(repeats):
        clear()
        stamps, _ = timed(True)
        cold.append(stamps[-1] - stamps[0])
    return median_iqr(warm)[0], median_iqr(cold)[0], median_iqr(steadies)[0], float(sorted(faults)[len(faults) // 2])


#: The whole-against-steady runs, each in a fresh process (a process's earlier allocations decide
#: whether glibc trims its heap at the end of a run).
STEADY_RUNS = {
    "ddim": "ddim",
    "dpmpp_2m": "dpmpp_2m",
    "unipc": {"name": "unipc", "order": 2},
    "dpmpp_2m warmup_corrector=False": {"name": "dpmpp_2m", "warmup_corrector": False},
}
#: Hand-written loops measured the same way: what the first step costs any loop (data last touched
#: a run ago, code that ran once), against which gdf's own extra is read.
HAND_RUNS = ("hand-written ddim", "hand-written dpmpp_2m")
#: glibc's defaults, and settings under which it keeps freed memory (no trim, no per-latent mmap).
ALLOCATORS = {
    "glibc defaults": {},
    "MALLOC_TRIM_THRESHOLD_=MALLOC_MMAP_THRESHOLD_=1e9": {"MALLOC_TRIM_THRESHOLD_": "1000000000", "MALLOC_MMAP_THRESHOLD_": "1000000000"},
}


def steady_only(name: str, repeats: int) -> None:
    """One sampler's whole-against-steady figures, printed as a JSON line (run in a fresh process)."""
    gdf = GDF.from_spec("stable_cascade")
    x = torch.randn(SHAPE, generator=torch.Generator().manual_seed(0))
    if name in HAND_RUNS:
        method, tables = name.split()[-1], hand_tables(gdf)
        def run(cold: bool) -> Iterable[object]:
            return hand_steps(gdf, method, x, None if cold else tables)
        clear: Callable[[], None] = lambda: None
    else:
        sampler = STEADY_RUNS[name]
        def run(cold: bool) -> Iterable[object]:
            return gdf.sample(model, {}, SHAPE, sampler=sampler, timesteps=STEPS, x_init=x, cfg=None, cfg_rho=0.0)
        clear = gdf._run_plans.clear
    whole, cold, st, faults = steady_ratio(run, clear, 3 * repeats)
    print(json.dumps({"sampler": name, "whole_ms": 1e3 * whole, "cold_ms": 1e3 * cold, "steady_ms": 1e3 * st,
                      "ratio": whole / st, "cold_ratio": cold / st, "page_faults": faults}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--json", default=None)
    parser.add_argument("--steady-only", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.steady_only is not None:
        steady_only(args.steady_only, args.repeats)
        return
    from diffusers import DDIMScheduler, DPMSolverMultistepScheduler, UniPCMultistepScheduler

    gdf = GDF.from_spec("stable_cascade")
    cold_gdf = GDF.from_spec("stable_cascade")  # its run plans are cleared before each of its runs

    def cold_run(sampler: object, cfg: float | None) -> torch.Tensor:
        cold_gdf._run_plans.clear()
        return gdf_run(cold_gdf, sampler, cfg, 0.0, x)

    x = torch.randn(SHAPE, generator=torch.Generator().manual_seed(0))
    pairs = {
        "ddim": ("ddim", DDIMScheduler),
        "dpmpp_2m": ("dpmpp_2m", DPMSolverMultistepScheduler),
        "unipc": ({"name": "unipc", "order": 2}, UniPCMultistepScheduler),
    }
    runs = {}
    for name, (sampler, sched) in pairs.items():
        for cfg in (None, 3.0):
            tag = f"{name} cfg={'off' if cfg is None else 'on'}"
            runs[f"gdf {tag}"] = lambda s=sampler, c=cfg: gdf_run(gdf, s, c, 0.0, x)
            runs[f"gdf cold {tag}"] = lambda s=sampler, c=cfg: cold_run(s, c)
            runs[f"diffusers {tag}"] = lambda m=sched, c=cfg: diffusers_run(m, c, x)
        runs[f"gdf {name} cfg=on rho=0.7"] = lambda s=sampler: gdf_run(gdf, s, 3.0, 0.7, x)
        runs[f"diffusers {name} cfg=on rescale=0.7"] = lambda m=sched: diffusers_run(m, 3.0, x, 0.7)
    times = interleaved(runs, args.repeats)
    med = {k: median_iqr(v)[0] for k, v in times.items()}
    rows = []
    print(f"torch {torch.__version__}, {args.threads} thread(s), {SHAPE} float32, {STEPS} steps, median of {args.repeats}")
    print(f"{'run':34s} {'gdf ms':>8s} {'cold ms':>8s} {'diffusers ms':>13s} {'gdf/diffusers':>14s} {'cold/diffusers':>15s}")
    for name in pairs:
        for cfg in ("off", "on"):
            g, gc, d = med[f"gdf {name} cfg={cfg}"], med[f"gdf cold {name} cfg={cfg}"], med[f"diffusers {name} cfg={cfg}"]
            rows.append({"sampler": name, "cfg": cfg, "gdf_ms": 1e3 * g, "gdf_cold_ms": 1e3 * gc, "diffusers_ms": 1e3 * d,
                         "ratio": g / d, "cold_ratio": gc / d})
            print(f"{name + ' cfg=' + cfg:34s} {1e3 * g:8.2f} {1e3 * gc:8.2f} {1e3 * d:13.2f} {g / d:14.2f} {gc / d:15.2f}")
        g = med[f"gdf {name} cfg=on rho=0.7"]
        for peer, d in (("plain cfg", med[f"diffusers {name} cfg=on"]), ("rescale=0.7", med[f"diffusers {name} cfg=on rescale=0.7"])):
            rows.append({"sampler": name, "cfg": "on, cfg_rho=0.7", "diffusers": peer, "gdf_ms": 1e3 * g, "diffusers_ms": 1e3 * d,
                         "ratio": g / d})
            print(f"{name + ' cfg_rho=0.7 vs ' + peer:34s} {1e3 * g:8.2f} {'':8s} {1e3 * d:13.2f} {g / d:14.2f}")
    steady = []
    for label, env in ALLOCATORS.items():
        print(f"\nwhole runs against steady steps, each sampler in a fresh process; malloc: {label}")
        print(f"{'run':34s} {'whole ms':>8s} {'cold ms':>8s} {'20 steady ms':>13s} {'whole/steady':>13s} {'cold/steady':>12s} {'faults':>7s}")
        for name in (*STEADY_RUNS, *HAND_RUNS):
            out = subprocess.run([sys.executable, __file__, "--steady-only", name, "--threads", str(args.threads),
                                  "--repeats", str(args.repeats)], env={**os.environ, **env},
                                 capture_output=True, text=True, check=True)
            row = {"malloc": label, **json.loads(out.stdout.strip().splitlines()[-1])}
            steady.append(row)
            print(f"{name:34s} {row['whole_ms']:8.2f} {row['cold_ms']:8.2f} {row['steady_ms']:13.2f} {row['ratio']:13.2f} "
                  f"{row['cold_ratio']:12.2f} {row['page_faults']:7.0f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"torch": torch.__version__, "threads": args.threads, "versus_diffusers": rows, "steady": steady}, f, indent=2)


if __name__ == "__main__":
    main()
