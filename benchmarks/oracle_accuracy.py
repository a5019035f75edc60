"""Sampler accuracy on an exact oracle: error against the exact ODE solution at NFE 5 … 50.

    python benchmarks/oracle_accuracy.py --json oracle_accuracy.json

The data are a Gaussian mixture whose ideal denoiser E[x0 | x_t] is known in
closed form (``gdf_core.testing.oracle``); the "model" is that denoiser, given
to each sampler as an ε-prediction of a VP model with Stable Diffusion's
betas, and every run starts from the same noise at σ = 14.6 (SD's largest).
The reference is the probability-flow ODE solved to ~1e-12 in float64
(DOP853), so each number is the sampler's own error: RMS over all coordinates
of all samples, at the NFE (model evaluations) given.

Where ``diffusers`` is importable (an optional extra, never a dependency of
gdf), its schedulers run on the same oracle, same start noise and same model,
with their default grids and with Karras sigmas; gdf's samplers run on the
same Karras sigmas and on a grid uniform in λ.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any, Callable

import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))
try:
    import gdf_plugins  # noqa: F401
except ImportError:  # not installed: the built-in plugins live in plugins/ of the checkout
    import importlib

    sys.modules["gdf_plugins"] = importlib.import_module("plugins")

from gdf_core.integrate import solve  # noqa: E402
from gdf_core.testing.oracle import GaussianMixture, denoiser, reference_solution, rms_error  # noqa: E402
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
from gdf_plugins.schedules.grids import ExponentialSchedule, KarrasSchedule, sd_alphas_cumprod  # noqa: E402
from gdf_plugins.targets import EpsilonTarget  # noqa: E402

NFES = (5, 8, 10, 15, 20, 50)

#: name → (sampler factory, model calls per step (2: heun, last step 1))
GDF_SAMPLERS: dict[str, tuple[Callable[[], Any], int]] = {
    "ddim": (DDIMSampler, 1),
    "euler": (EulerSampler, 1),
    "heun": (HeunSampler, 2),
    "dpmpp_2m": (DPMPP2MSampler, 1),
    "dpmpp_3m": (DPMPP3MSampler, 1),
    "unipc": (UniPCSampler, 1),
    "unipc_bh1": (lambda: UniPCSampler(variant="bh1"), 1),
    "deis": (DEISSampler, 1),
    "ipndm": (IPNDMSampler, 1),
    "lms": (LMSSampler, 1),
}


def steps_for(nfe: int, calls_per_step: int) -> int:
    return nfe if calls_per_step == 1 else (nfe + 1) // 2


class Problem:
    def __init__(self, dim: int, components: int, samples: int, seed: int, spread: float, stds: tuple) -> None:
        self.mixture = GaussianMixture.random(dim=dim, components=components, seed=seed, spread=spread, std_range=stds)
        ab = sd_alphas_cumprod(0.00085, 0.012, 1000)
        self.alphas_cumprod = ab
        self.sigma_max = float(((1 - ab[-1]) / ab[-1]).sqrt())
        self.sigma_min = float(((1 - ab[0]) / ab[0]).sqrt())
        self.logsnr_start = -2 * math.log(self.sigma_max)
        g = torch.Generator().manual_seed(seed + 1)
        self.x_start = torch.randn(samples, dim, generator=g, dtype=torch.float64)  # VP x at σmax
        self.scaler = VPScaler()
        t0 = time.time()
        self.reference = reference_solution(self.mixture, self.x_start, self.logsnr_start, math.inf, self.scaler)
        self.reference_seconds = time.time() - t0

    def gdf(self, sampler: Any, logsnrs: torch.Tensor) -> tuple[int, float]:
        den = denoiser(self.mixture, self.scaler, EpsilonTarget())
        x = solve(sampler, den, self.x_start.clone(), logsnrs, scaler=self.scaler)
        return den.calls, rms_error(x, self.reference)

    def eps_model(self, x_in: torch.Tensor, sigma: float) -> torch.Tensor:
        """The oracle as an ε-model of a VP x at VE level σ (what a perfect SD UNet returns)."""
        a = 1 / math.sqrt(1 + sigma * sigma)
        b = sigma * a
        x0 = self.mixture.posterior_mean(x_in.to(torch.float64), a, b)
        return (x_in.to(torch.float64) - a * x0) / b


def gdf_rows(problem: Problem) -> list[dict[str, Any]]:
    grids = {
        "karras": KarrasSchedule(sigma_min=problem.sigma_min, sigma_max=problem.sigma_max, rho=7.0),
        "exponential": ExponentialSchedule(sigma_min=problem.sigma_min, sigma_max=problem.sigma_max),
    }
    rows = []
    for grid_name, schedule in grids.items():
        for name, (factory, calls) in GDF_SAMPLERS.items():
            errors: dict[str, Any] = {}
            for nfe in NFES:
                used, err = problem.gdf(factory(), schedule.levels(steps_for(nfe, calls)))
                errors[str(nfe)] = {"nfe": used, "error": err}
            rows.append({"impl": "gdf", "sampler": name, "grid": grid_name, "errors": errors})
    return rows


def textbook_rows(problem: Problem) -> list[dict[str, Any]]:
    """EDM's Euler and Heun (Karras et al. 2022, Alg. 1) written out in the VE variable y = x/a, float64.

    An independent check of the two simplest algorithms on the Karras grid: Heun's
    last step (into σ = 0) is Euler, as in Alg. 1 (gdf's heun extrapolates there).
    """
    sigmas_of = KarrasSchedule(sigma_min=problem.sigma_min, sigma_max=problem.sigma_max, rho=7.0)
    rows = []
    for name, calls in (("Euler", 1), ("Heun", 2)):
        errors: dict[str, Any] = {}
        for nfe in NFES:
            sig = [float(s) for s in torch.exp(-sigmas_of.levels(steps_for(nfe, calls)) / 2)]
            y = problem.x_start.clone() * math.sqrt(sig[0] ** 2 + 1)
            used = 0
            for s, s_next in zip(sig[:-1], sig[1:]):
                d = problem.eps_model(y / math.sqrt(s * s + 1), s)
                used += 1
                if calls == 1 or s_next == 0:
                    y = y + (s_next - s) * d
                    continue
                d_next = problem.eps_model((y + (s_next - s) * d) / math.sqrt(s_next**2 + 1), s_next)
                used += 1
                y = y + (s_next - s) * (d + d_next) / 2
            errors[str(nfe)] = {"nfe": used, "error": rms_error(y, problem.reference)}
        rows.append({"impl": "textbook EDM Alg. 1", "sampler": name, "grid": "karras", "errors": errors})
    return rows


def diffusers_rows(problem: Problem) -> list[dict[str, Any]]:
    try:
        import diffusers
    except ImportError:
        return []
    common = dict(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", num_train_timesteps=1000)
    configs: dict[str, tuple[Callable[..., Any], dict[str, Any], int]] = {
        "DDIM": (diffusers.DDIMScheduler, dict(timestep_spacing="trailing", set_alpha_to_one=True, clip_sample=False), 1),
        "Euler": (diffusers.EulerDiscreteScheduler, {}, 1),
        "Heun": (diffusers.HeunDiscreteScheduler, {}, 2),
        "LMS": (diffusers.LMSDiscreteScheduler, {}, 1),
        "DPM++2M": (diffusers.DPMSolverMultistepScheduler, dict(solver_order=2), 1),
        "DPM++3M": (diffusers.DPMSolverMultistepScheduler, dict(solver_order=3), 1),
        "UniPC": (diffusers.UniPCMultistepScheduler, {}, 1),
        "DEIS": (diffusers.DEISMultistepScheduler, {}, 1),
    }
    rows = []
    for name, (cls, extra, calls) in configs.items():
        for grid in ("default", "karras"):
            kwargs = dict(common, **extra)
            if grid == "karras":
                if name == "DDIM":
                    continue
                kwargs["use_karras_sigmas"] = True
            errors: dict[str, Any] = {}
            for nfe in NFES:
                try:
                    used, err = run_diffusers(problem, cls(**kwargs), steps_for(nfe, calls))
                except Exception as exc:  # a scheduler/version that does not support this setting
                    used, err = nfe, float("nan")
                    print(f"  diffusers {name} ({grid}) NFE {nfe}: {type(exc).__name__}: {exc}", file=sys.stderr)
                errors[str(nfe)] = {"nfe": used, "error": err}
            rows.append(
                {"impl": f"diffusers {diffusers.__version__}", "sampler": name, "grid": grid, "errors": errors}
            )
    return rows


def run_diffusers(problem: Problem, sched: Any, steps: int) -> tuple[int, float]:
    sched.set_timesteps(steps)
    ab = problem.alphas_cumprod
    latents = problem.x_start.clone() * float(sched.init_noise_sigma)
    calls = 0
    for t in sched.timesteps:
        model_in = sched.scale_model_input(latents, t)
        sigmas = getattr(sched, "sigmas", None)
        if sigmas is not None and len(sigmas) > 1:
            index = sched.step_index if getattr(sched, "step_index", None) is not None else 0
            sigma = float(sigmas[index])  # the level the scheduler's own update assumes
        else:
            a2 = float(ab[int(t)])
            sigma = math.sqrt((1 - a2) / a2)
        eps = problem.eps_model(model_in, sigma)
        calls += 1
        latents = sched.step(eps.to(latents.dtype), t, latents).prev_sample
    return calls, rms_error(latents, problem.reference)


def format_table(rows: list[dict[str, Any]]) -> str:
    head = f"{'implementation':<20} {'sampler':<11} {'grid':<12}" + "".join(f"{'NFE ' + str(n):>11}" for n in NFES)
    lines = [head, "-" * len(head)]
    for r in rows:
        cells = []
        for n in NFES:
            e = r["errors"][str(n)]
            mark = "" if e["nfe"] == n else f"({e['nfe']})"
            cells.append(f"{mark}{e['error']:.2e}".rjust(11))
        lines.append(f"{r['impl']:<20} {r['sampler']:<11} {r['grid']:<12}" + "".join(cells))
    return "\n".join(lines)


def best_lines(rows: list[dict[str, Any]]) -> str:
    out = []
    for n in NFES:
        best: dict[str, tuple[float, str]] = {}
        for r in rows:
            kind = r["impl"].split()[0]
            if kind not in ("gdf", "diffusers"):
                continue
            e = r["errors"][str(n)]["error"]
            if math.isfinite(e) and (kind not in best or e < best[kind][0]):
                best[kind] = (e, f"{r['sampler']}@{r['grid']}")
        parts = [f"{k} {v[1]} {v[0]:.2e}" for k, v in sorted(best.items())]
        ratio = ""
        if "gdf" in best and "diffusers" in best:
            ratio = f"  (diffusers/gdf = {best['diffusers'][0] / best['gdf'][0]:.1f}×)"
        out.append(f"NFE {n:>3}: best " + "; best ".join(parts) + ratio)
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--components", type=int, default=8)
    parser.add_argument("--samples", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--spread", type=float, default=0.25, help="std of the component means")
    parser.add_argument("--stds", type=float, nargs=2, default=(0.2, 0.6), help="range of the component stds")
    parser.add_argument("--no-diffusers", action="store_true", help="skip diffusers even if installed")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    t0 = time.time()
    problem = Problem(args.dim, args.components, args.samples, args.seed, args.spread, tuple(args.stds))
    rows = gdf_rows(problem) + textbook_rows(problem)
    if not args.no_diffusers:
        rows += diffusers_rows(problem)
    print(
        f"Gaussian mixture: {args.dim} dims, {args.components} components, {args.samples} samples; "
        f"VP, SD betas, ε-model, start σ = {problem.sigma_max:.2f}; grids σ ∈ [{problem.sigma_min:.4f}, "
        f"{problem.sigma_max:.2f}] then 0. RMS error vs the exact ODE solution "
        f"(reference {problem.reference_seconds:.1f} s). (k) = NFE actually used."
    )
    print(format_table(rows))
    print()
    print(best_lines(rows))
    print(f"\n({time.time() - t0:.0f} s)")
    if args.json:
        payload = {
            "problem": {
                "dim": args.dim,
                "components": args.components,
                "samples": args.samples,
                "seed": args.seed,
                "spread": args.spread,
                "stds": list(args.stds),
                "sigma_max": problem.sigma_max,
                "sigma_min": problem.sigma_min,
                "metric": "RMS error vs float64 DOP853 solution of the probability-flow ODE",
            },
            "nfes": list(NFES),
            "results": rows,
        }
        args.json.write_text(json.dumps(payload, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
