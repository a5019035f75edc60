"""Tuned grids on a real trained model: distance to the model's own ODE solution at few model calls.

    python benchmarks/tuned_grid_real_model.py --json tuned_real.json

Trains the demo's MLP denoiser (``gdf_core.demo``: 2-D two moons, the
``stable_cascade`` recipe, ε-prediction) for ``--steps``, then, from the same
noise, compares each sampler at NFE 5 and 10 on the Karras, exponential and
tuned grids (all over σ ∈ [σmin, σmax], then σ = 0). The reference is the
model's own probability-flow ODE solution from that noise (``unipc`` on 400
steps, checked against 800). The grid is tuned with ``gdf_core.tuning.tune``
on other noise (seed + 1) than the noise it is measured on (seed + 2).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from gdf_core import GDF  # noqa: E402
from gdf_core.accuracy.grids import exponential, karras  # noqa: E402
from gdf_core.accuracy.problem import sample_on_grid  # noqa: E402
from gdf_core.demo.data import two_moons  # noqa: E402
from gdf_core.demo.model import MLPDenoiser  # noqa: E402
from gdf_core.demo.train import train  # noqa: E402
from gdf_core.tuning import steps_for_nfe, tune  # noqa: E402

SAMPLERS = ["ipndm", {"name": "ipndm", "order": 3}, "deis", "unipc", "dpmpp_3m", "dpmpp_2m"]


def label(s) -> str:
    return s if isinstance(s, str) else s["name"] + "(" + ",".join(f"{k}={v}" for k, v in s.items() if k != "name") + ")"


def rms(x: torch.Tensor, y: torch.Tensor) -> float:
    return float(((x.double() - y.double()) ** 2).mean().sqrt())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=1500, help="training steps")
    parser.add_argument("--spec", default="stable_cascade")
    parser.add_argument("--sigma-min", type=float, default=0.0292, help="last level (Stable Diffusion's)")
    parser.add_argument("--sigma-max", type=float, default=14.61, help="first level (Stable Diffusion's)")
    parser.add_argument("--samples", type=int, default=1000, help="noise samples measured")
    parser.add_argument("--tune-samples", type=int, default=256, help="noise samples tuned on")
    parser.add_argument("--nfe", type=int, nargs="+", default=[5, 10])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    gdf = GDF.from_spec(args.spec)
    t0 = time.perf_counter()
    result = train(gdf, MLPDenoiser(), lambda n, g: two_moons(n, g), steps=args.steps,
                   seed=args.seed, progress=False)
    model = result.model.eval().double()  # float64: the reference must converge well below the errors measured
    print(f"trained {result.steps} steps in {result.seconds:.0f} s on two moons ({args.spec})")
    start, last = -2 * math.log(args.sigma_max), -2 * math.log(args.sigma_min)
    x_eval = torch.randn(args.samples, 2, generator=torch.Generator().manual_seed(args.seed + 2), dtype=torch.float64)
    x_tune = torch.randn(args.tune_samples, 2, generator=torch.Generator().manual_seed(args.seed + 1), dtype=torch.float64)
    with torch.no_grad():
        fine = exponential(400, args.sigma_min, args.sigma_max)
        reference, _ = sample_on_grid(gdf, model, "unipc", fine, x_eval)
        finer, _ = sample_on_grid(gdf, model, "unipc", exponential(800, args.sigma_min, args.sigma_max), x_eval)
        ref_err = rms(reference, finer)
        print(f"reference: unipc, 400 steps; its distance to 800 steps: {ref_err:.1e}")
        rows = []
        for sampler in SAMPLERS:
            for nfe in args.nfe:
                steps = steps_for_nfe(sampler, nfe)
                tuned = tune(gdf, model, sampler=sampler, nfe=nfe, x_init=x_tune,
                             logsnr_range=(start, last, math.inf))
                grids = {"karras": karras(steps, args.sigma_min, args.sigma_max),
                         "exponential": exponential(steps, args.sigma_min, args.sigma_max), "tuned": tuned.logsnrs}
                errs = {name: rms(sample_on_grid(gdf, model, sampler, g, x_eval)[0], reference) for name, g in grids.items()}
                rows.append({"sampler": label(sampler), "nfe": nfe, "errors": errs, "tuned_grid": tuned.logsnrs})
                print(f"{label(sampler):<20} NFE {nfe:>3}: " + "  ".join(f"{k} {v:.2e}" for k, v in errs.items())
                      + f"  (tuned/best standard = {errs['tuned'] / min(errs['karras'], errs['exponential']):.2f})",
                      flush=True)
    print(f"({time.perf_counter() - t0:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps({"spec": args.spec, "train_steps": result.steps, "reference_error": ref_err,
                                         "sigma_min": args.sigma_min, "sigma_max": args.sigma_max, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
