"""Per-step cost of each sampler against a hand-written two-operation update.

    python benchmarks/step_cost.py --threads 1 --json step_cost.json

The model is trivial (ε̂ = 0.1·x), so the time measured is the sampler's own
bookkeeping plus a fixed amount of elementwise work. Every step of every
implementation does the same model work: ε̂ = 0.1·x and x̂0 = (x − b·ε̂)/a.

* **baseline**: that model work and x′ = a′·x̂0 + b′·ε̂ with (a, b, a′, b′)
  precomputed as Python floats: the least any DDIM-like step can cost.
* **gdf**: ``gdf_core.integrate.solve`` with each sampler, on a VP Karras grid
  ending at λ = +∞; the denoiser gets λ of shape (batch,) and forms x̂0 from ε̂
  with per-sample (a, b) (what ``GDF.sample``'s denoiser does).
* **diffusers** (when importable): each scheduler's ``scale_model_input`` and
  ``step`` with ε̂ = 0.1·x as the model output (its x̂0 is formed inside step).

All on a (4, 4, 64, 64) float32 latent on CPU. Each run is ``--steps`` steps;
time per step = run time / steps (per model call for Heun: / NFE). The
implementations are interleaved over ``--repeats`` runs and the median is
reported, with its ratio to the baseline's median from the same run.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import time
from pathlib import Path
from typing import Any, Callable

import torch

from _setup import ROOT  # noqa: E402,F401  (gdf from the checkout when it is not installed)

from gdf_core.integrate import solve  # noqa: E402
from gdf_plugins.samplers import (  # noqa: E402
    DDIMSampler,
    DEISSampler,
    DPMPP2MSampler,
    DPMPP3MSampler,
    EulerSampler,
    HeunSampler,
    IPNDMSampler,
    LMSSampler,
    UniPCSampler,
)
from gdf_plugins.scalers import VPScaler  # noqa: E402
from gdf_plugins.schedules.grids import KarrasSchedule  # noqa: E402

SHAPE = (4, 4, 64, 64)
SIGMA_MIN, SIGMA_MAX = 0.0292, 14.61

GDF_SAMPLERS: dict[str, Callable[[], Any]] = {
    "ddim": DDIMSampler,
    "euler": EulerSampler,
    "heun": HeunSampler,
    "dpmpp_2m": DPMPP2MSampler,
    "dpmpp_3m": DPMPP3MSampler,
    "unipc": UniPCSampler,
    "deis": DEISSampler,
    "ipndm": IPNDMSampler,
    "lms": LMSSampler,
}


class Denoise:
    """ε̂ = 0.1·x, x̂0 = (x − b·ε̂)/a with per-sample (a, b) of the VP scaler; counts calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, x: torch.Tensor, logsnr: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.calls += 1
        a = torch.sigmoid(logsnr).sqrt().to(x.dtype).view(-1, 1, 1, 1)
        b = torch.sigmoid(-logsnr).sqrt().to(x.dtype).view(-1, 1, 1, 1)
        eps = 0.1 * x
        return (x - b * eps) / a, eps


def baseline_run(x: torch.Tensor, coeffs: list[tuple[float, float, float, float]]) -> torch.Tensor:
    """The two-operation update with precomputed scalars (and the same model work)."""
    for a, b, a_next, b_next in coeffs:
        eps = 0.1 * x
        x0 = (x - b * eps) / a
        x = a_next * x0 + b_next * eps
    return x


def make_runs(steps: int) -> dict[str, tuple[Callable[[], Any], int]]:
    """name → (one run, NFE of the run)."""
    schedule = KarrasSchedule(sigma_min=SIGMA_MIN, sigma_max=SIGMA_MAX, rho=7.0)
    scaler = VPScaler()
    g = torch.Generator().manual_seed(0)
    x_start = torch.randn(SHAPE, generator=g)
    runs: dict[str, tuple[Callable[[], Any], int]] = {}

    levels = schedule.levels(steps).to(torch.float64)
    coeffs = []
    for i in range(steps):
        lam, lam_next = float(levels[i]), float(levels[i + 1])
        a, b = math.sqrt(1 / (1 + math.exp(-lam))), math.sqrt(1 / (1 + math.exp(lam)))
        if math.isinf(lam_next):
            a_next, b_next = 1.0, 0.0
        else:
            a_next, b_next = math.sqrt(1 / (1 + math.exp(-lam_next))), math.sqrt(1 / (1 + math.exp(lam_next)))
        coeffs.append((a, b, a_next, b_next))
    runs["baseline"] = (lambda: baseline_run(x_start, coeffs), steps)

    for name, factory in GDF_SAMPLERS.items():
        sampler = factory()
        n = (steps + 1) // 2 if name == "heun" else steps
        grid = schedule.levels(n)
        nfe = 2 * n - 1 if name == "heun" else n

        def run(sampler=sampler, grid=grid) -> torch.Tensor:
            return solve(sampler, Denoise(), x_start, grid, scaler=scaler)

        runs[f"gdf {name}"] = (run, nfe)

    try:
        import diffusers
    except ImportError:
        return runs
    common = dict(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", num_train_timesteps=1000)
    configs = {
        "DDIM": (diffusers.DDIMScheduler, dict(timestep_spacing="trailing", clip_sample=False), 1),
        "Euler": (diffusers.EulerDiscreteScheduler, dict(use_karras_sigmas=True), 1),
        "Heun": (diffusers.HeunDiscreteScheduler, dict(use_karras_sigmas=True), 2),
        "DPM++2M": (diffusers.DPMSolverMultistepScheduler, dict(solver_order=2, use_karras_sigmas=True), 1),
        "DPM++3M": (diffusers.DPMSolverMultistepScheduler, dict(solver_order=3, use_karras_sigmas=True), 1),
        "UniPC": (diffusers.UniPCMultistepScheduler, dict(use_karras_sigmas=True), 1),
        "DEIS": (diffusers.DEISMultistepScheduler, dict(use_karras_sigmas=True), 1),
        "LMS": (diffusers.LMSDiscreteScheduler, dict(use_karras_sigmas=True), 1),
    }
    for name, (cls, extra, calls) in configs.items():
        n = (steps + 1) // 2 if calls == 2 else steps
        sched = cls(**common, **extra)

        def run(sched=sched, n=n) -> torch.Tensor:
            sched.set_timesteps(n)  # resets the scheduler's history (as a pipeline does per image)
            latents = x_start * float(sched.init_noise_sigma)
            for t in sched.timesteps:
                model_in = sched.scale_model_input(latents, t)
                latents = sched.step(0.1 * model_in, t, latents).prev_sample
            return latents

        sched.set_timesteps(n)
        runs[f"diffusers {name}"] = (run, len(sched.timesteps))
    return runs


def measure(steps: int, repeats: int) -> dict[str, dict[str, float]]:
    runs = make_runs(steps)
    samples: dict[str, list[float]] = {name: [] for name in runs}
    with torch.no_grad():
        for run, _ in runs.values():  # warm-up
            run()
        for _ in range(repeats):  # interleaved, so that load drifts hit every row alike
            for name, (run, nfe) in runs.items():
                start = time.perf_counter()
                run()
                samples[name].append((time.perf_counter() - start) / nfe)
    base = statistics.median(samples["baseline"])
    out = {}
    for name, values in samples.items():
        med = statistics.median(values)
        out[name] = {
            "seconds_per_call": med,
            "ratio": med / base,
            "iqr_low": statistics.quantiles(values, n=4)[0] / base if len(values) > 1 else med / base,
            "iqr_high": statistics.quantiles(values, n=4)[2] / base if len(values) > 1 else med / base,
            "nfe": runs[name][1],
        }
    return out


def format_table(results: dict[str, dict[str, float]]) -> str:
    head = f"{'implementation':<22}{'NFE':>5}{'µs/call':>11}{'× baseline':>12}{'IQR (×)':>15}"
    lines = [head, "-" * len(head)]
    for name, r in results.items():
        iqr = f"{r['iqr_low']:.2f}–{r['iqr_high']:.2f}"
        lines.append(
            f"{name:<22}{r['nfe']:>5}{r['seconds_per_call'] * 1e6:>11.0f}{r['ratio']:>12.2f}{iqr:>15}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    results = measure(args.steps, args.repeats)
    try:
        import diffusers

        dver = diffusers.__version__
    except ImportError:
        dver = None
    print(
        f"latent {SHAPE} float32, CPU, {torch.get_num_threads()} thread(s), torch {torch.__version__}, "
        f"diffusers {dver}, {args.steps} steps, median of {args.repeats}"
    )
    print(format_table(results))
    if args.json is not None:
        meta = dict(
            shape=SHAPE, threads=torch.get_num_threads(), torch=torch.__version__, diffusers=dver,
            steps=args.steps, repeats=args.repeats, machine=platform.platform(), processor=platform.processor(),
        )
        args.json.write_text(json.dumps({"meta": meta, "results": results}, indent=2))


if __name__ == "__main__":
    main()
