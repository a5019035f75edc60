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
same Karras sigmas and on a grid uniform in λ; so do k-diffusion's where it is
installed. The implementation is the package's (``gdf_core.accuracy``, the
engine of ``gdf bench``); this script is the fixed table of the docs.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Any

import torch

from _setup import ROOT  # noqa: E402,F401  (gdf from the checkout when it is not installed)

from gdf_core.accuracy.grids import karras  # noqa: E402
from gdf_core.accuracy.problem import OracleProblem  # noqa: E402
from gdf_core.accuracy.table import Row, best_lines, diffusers_rows, fit_order, format_table, gdf_rows, kdiffusion_rows  # noqa: E402
from gdf_core.testing.oracle import rms_error  # noqa: E402

NFES = (5, 8, 10, 15, 20, 50)

#: gdf's samplers of the table (names or specs), as ``gdf bench -s`` takes them.
GDF_SAMPLERS: list[Any] = [
    "ddim", "euler", "heun", "dpmpp_2m", "dpmpp_3m", "unipc", {"name": "unipc", "variant": "bh1"}, "deis", "ipndm", "lms",
]


def textbook_rows(problem: OracleProblem) -> list[Row]:
    """EDM's Euler and Heun (Karras et al. 2022, Alg. 1) written out in the VE variable y = x/a, float64.

    An independent check of the two simplest algorithms on the Karras grid: Heun's
    last step (into σ = 0) is Euler, as in Alg. 1 (gdf's heun extrapolates there).
    """

    def d(y: torch.Tensor, s: float) -> torch.Tensor:  # (y − x̂0)/σ at level σ
        return (y - problem.mixture.posterior_mean(y, 1.0, s)) / s

    rows = []
    for name, calls in (("Euler", 1), ("Heun", 2)):
        row = Row("textbook EDM Alg. 1", name, "karras")
        for nfe in NFES:
            steps = nfe if calls == 1 else (nfe + 1) // 2
            sig = [math.exp(-v / 2) for v in karras(steps, problem.sigma_min, problem.sigma_max)]
            y = problem.x_start.clone() * math.sqrt(sig[0] ** 2 + 1)
            used = 0
            for s, s_next in zip(sig[:-1], sig[1:]):
                dy = d(y, s)
                used += 1
                if calls == 1 or s_next == 0:
                    y = y + (s_next - s) * dy
                    continue
                dy_next = d(y + (s_next - s) * dy, s_next)
                used += 1
                y = y + (s_next - s) * (dy + dy_next) / 2
            row.errors[nfe] = (used, rms_error(y, problem.reference))
        row.order = fit_order(row.errors)
        rows.append(row)
    return rows


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
    parser.add_argument("--no-kdiffusion", action="store_true", help="skip k-diffusion even if installed")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    t0 = time.time()
    problem = OracleProblem(dim=args.dim, components=args.components, samples=args.samples, seed=args.seed,
                            spread=args.spread, stds=tuple(args.stds))
    rows = gdf_rows(problem, GDF_SAMPLERS, ["karras", "exponential"], NFES) + textbook_rows(problem)
    if not args.no_kdiffusion:
        rows += kdiffusion_rows(problem, ["karras", "exponential"], NFES)
    if not args.no_diffusers:
        rows += diffusers_rows(problem, NFES)
    print(
        f"Gaussian mixture: {args.dim} dims, {args.components} components, {args.samples} samples; "
        f"VP, SD betas, ε-model, start σ = {problem.sigma_max:.2f}; grids σ ∈ [{problem.sigma_min:.4f}, "
        f"{problem.sigma_max:.2f}] then 0. RMS error vs the exact ODE solution "
        f"(reference {problem.reference_seconds:.1f} s). (k) = NFE actually used."
    )
    print(format_table(rows, NFES))
    print()
    print(best_lines([r for r in rows if not r.impl.startswith("textbook")], NFES))
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
            "results": [r.as_json() for r in rows],
        }
        args.json.write_text(json.dumps(payload, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
