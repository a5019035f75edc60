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
in an extra row, with the default 0.7. gdf's ``unipc`` is run at order 2,
diffusers' default.

"steady": the median time of steps 5–19 of a gdf run (timestamps between
yields), times 20, against the whole 20-step run: what the first steps and
the plan cost on top of steady stepping. "whole" reuses the run plan a GDF
caches for a repeated run (``gdf_core.run_plans``: grid, sampler plan, level
tables); "cold" clears it first, so it builds them. The warm-up corrector of
``dpmpp_2m`` (a second-order redo of step 0 at step 1) is extra work of the
method itself: the last row turns it off.
"""

from __future__ import annotations

import argparse
import json
import time

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


def diffusers_run(make: object, cfg: float | None, x: torch.Tensor) -> torch.Tensor:
    scheduler = make()  # type: ignore[operator]
    scheduler.set_timesteps(STEPS)
    for t in scheduler.timesteps:
        if cfg is None:
            eps = 0.1 * x
        else:
            cond, uncond = (0.1 * torch.cat([x, x])).chunk(2)
            eps = uncond + cfg * (cond - uncond)
        x = scheduler.step(eps, t, x).prev_sample
    return x


def steady_ratio(gdf: GDF, sampler: object, cfg: float | None, x: torch.Tensor, repeats: int) -> tuple[float, float, float]:
    """(whole 20-step run with the run plan cached, the same with it cold, 20 × median steady step), medians.

    Cold and warm runs take turns; "cold" clears the GDF's run plans first
    (``gdf_core.run_plans``), so it also builds the grid, the plan and the level tables.
    """
    warm, cold, steadies = [], [], []
    for i in range(2 * repeats + 4):
        if i % 2:
            gdf._run_plans.clear()
        stamps = [time.perf_counter()]
        for _ in gdf.sample(model, {}, SHAPE, sampler=sampler, timesteps=STEPS, x_init=x, cfg=cfg, cfg_rho=0.0):
            stamps.append(time.perf_counter())
        steps = [b - a for a, b in zip(stamps[5:-1], stamps[6:])]
        (cold if i % 2 else warm).append(stamps[-1] - stamps[0])
        steadies.append(STEPS * sorted(steps)[len(steps) // 2])
    return median_iqr(warm[2:])[0], median_iqr(cold[2:])[0], median_iqr(steadies[4:])[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
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
        g, d = med[f"gdf {name} cfg=on rho=0.7"], med[f"diffusers {name} cfg=on"]
        rows.append({"sampler": name, "cfg": "on, cfg_rho=0.7", "gdf_ms": 1e3 * g, "diffusers_ms": 1e3 * d, "ratio": g / d})
        print(f"{name + ' cfg=on cfg_rho=0.7':34s} {1e3 * g:8.2f} {'':8s} {1e3 * d:13.2f} {g / d:14.2f}")
    print(f"\n{'run':34s} {'whole ms':>8s} {'cold ms':>8s} {'20 steady ms':>13s} {'whole/steady':>13s} {'cold/steady':>12s}")
    steady = []
    steady_runs = {**{name: sampler for name, (sampler, _) in pairs.items()},
                   "dpmpp_2m warmup_corrector=False": {"name": "dpmpp_2m", "warmup_corrector": False}}
    for name, sampler in steady_runs.items():
        whole, cold, st = steady_ratio(gdf, sampler, None, x, args.repeats)
        steady.append({"sampler": name, "whole_ms": 1e3 * whole, "cold_ms": 1e3 * cold, "steady_ms": 1e3 * st,
                       "ratio": whole / st, "cold_ratio": cold / st})
        print(f"{name:34s} {1e3 * whole:8.2f} {1e3 * cold:8.2f} {1e3 * st:13.2f} {whole / st:13.2f} {cold / st:12.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"torch": torch.__version__, "threads": args.threads, "versus_diffusers": rows, "steady": steady}, f, indent=2)


if __name__ == "__main__":
    main()
