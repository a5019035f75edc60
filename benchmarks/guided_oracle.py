"""Guided sampling on an exact oracle: each guidance's sampler error against the guided ODE's exact solution.

    python benchmarks/guided_oracle.py --json guided_oracle.json

The data are a class-conditional Gaussian mixture (``gdf_core.testing.oracle
.ClassConditionalMixture``): the conditional denoiser E[x0 | x, c] and the
unconditional one E[x0 | x] are both exact, so every guided denoiser (each
guidance applied to them exactly as ``GDF.sample`` applies it) is known in
closed form, and so is the solution of its probability-flow ODE (float64
DOP853 at tolerance 1e-10). Autoguidance's guide is the same mixture with every
component 1.5× wider (a "bad version" of the model, Karras et al. 2024).
The "model" is a perfect ε-prediction VP model with Stable Diffusion's betas;
every run starts from the same noise at σ = 14.6 and ends on clean data, on a
Karras grid (ρ = 7). Each number is RMS(x − reference) over all coordinates
of all samples: the sampler's own error on the guided ODE.
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

from gdf_core import build  # noqa: E402
from gdf_core.integrate import solve  # noqa: E402
from gdf_core.testing.oracle import ClassConditionalMixture, GuidedDenoiser, reference_solution, rms_error  # noqa: E402
from gdf_plugins.guidance import APG, CFG, Autoguidance, CFGZeroStar  # noqa: E402
from gdf_plugins.targets import EpsilonTarget  # noqa: E402

NFES = (5, 10, 20, 50)

#: label → the guidance (no per-run state, no step dependence: the ODE then has one solution).
GUIDANCES: dict[str, Any] = {
    "none (w = 1)": CFG(scale=1.0),
    "cfg w=3": CFG(scale=3.0),
    "cfg w=7 rescale .7": CFG(scale=7.0, rescale=0.7),
    "apg w=7": APG(scale=7.0),
    "apg w=7 r=0.3": APG(scale=7.0, norm_threshold=0.3),
    "cfg_zero_star w=3": CFGZeroStar(scale=3.0, zero_init_steps=0),
    "autoguidance w=2": Autoguidance(scale=2.0),
}

#: sampler name → model calls per step
SAMPLERS: dict[str, int] = {"ddim": 1, "euler": 1, "heun": 2, "dpmpp_2m": 1, "unipc": 1}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--dim", type=int, default=16)
    parser.add_argument("--classes", type=int, default=3)
    parser.add_argument("--per-class", type=int, default=2)
    parser.add_argument("--samples", type=int, default=48)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    t0 = time.time()
    mixture = ClassConditionalMixture.random(args.dim, args.classes, args.per_class, seed=args.seed, spread=0.5, std_range=(0.2, 0.6))
    guide = mixture.widened(1.5)
    labels = torch.arange(args.samples) % args.classes
    scaler, target = build("input_scaler", "vp"), EpsilonTarget()
    betas = build("schedule", "stable_diffusion")  # SD's betas: the largest σ of the grid
    lam_max = float(betas(torch.ones(1, dtype=torch.float64))[0])
    lam_min = float(betas(torch.zeros(1, dtype=torch.float64))[0])
    sigma_max, sigma_min = math.exp(-lam_max / 2), math.exp(-lam_min / 2)
    grid = build("schedule", {"name": "karras", "sigma_min": sigma_min, "sigma_max": sigma_max, "rho": 7.0})
    x_start = torch.randn(args.samples, args.dim, generator=torch.Generator().manual_seed(args.seed + 1), dtype=torch.float64)
    rows = []
    for label, guidance in GUIDANCES.items():
        exact = GuidedDenoiser(mixture, guidance, scaler, target, labels, guide=guide)
        reference = reference_solution(exact, x_start, lam_max, math.inf, scaler, rtol=1e-10, atol=1e-10)
        for sampler_name, calls in SAMPLERS.items():
            errors = {}
            for nfe in NFES:
                steps = nfe if calls == 1 else (nfe + 1) // 2
                den = GuidedDenoiser(mixture, guidance, scaler, target, labels, guide=guide)
                x = solve(build("sampler", sampler_name), den, x_start.clone(), grid.levels(steps), scaler=scaler)
                errors[str(nfe)] = {"nfe": den.calls, "error": rms_error(x, reference)}
            rows.append({"guidance": label, "spec": guidance.to_spec(), "sampler": sampler_name, "errors": errors})
    head = f"{'guidance':<20} {'sampler':<10}" + "".join(f"{'NFE ' + str(n):>11}" for n in NFES)
    print(
        f"Class-conditional Gaussian mixture: {args.dim} dims, {args.classes} classes × {args.per_class} components, "
        f"{args.samples} samples; VP, SD betas, ε-model, Karras grid σ ∈ [{sigma_min:.4f}, {sigma_max:.2f}] then 0. "
        "RMS error vs the exact guided ODE solution. (k) = NFE actually used."
    )
    print(head + "\n" + "-" * len(head))
    for r in rows:
        cells = "".join(
            (("" if e["nfe"] == int(n) else f"({e['nfe']})") + f"{e['error']:.2e}").rjust(11) for n, e in r["errors"].items()
        )
        print(f"{r['guidance']:<20} {r['sampler']:<10}{cells}")
    print(f"\n({time.time() - t0:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps({"problem": vars(args) | {"json": str(args.json)}, "nfes": list(NFES), "results": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
