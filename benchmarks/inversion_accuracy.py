"""How accurately each ``Reversible`` multistep sampler inverts Gaussian data, with and without its warm-up redo.

    python benchmarks/inversion_accuracy.py --t0 0,1e-3,0.02,0.3

Data N(0.3, 0.5²) under the lerp (rectified-flow) scaler, 16 samples drawn at
λ = 30 (clean), run from t0 to t = 0.99 on a grid uniform in t; the error is
max |x − the exact flow map| (``gdf_core.testing.gaussian``), in float64. The
local order is log2 of the ratio of errors at successive step counts. The
figures in docs/samplers.md ("The warm-up towards noise") come from it.
"""

from __future__ import annotations

import argparse
import math

import torch

import _setup  # noqa: F401  (puts gdf on the path)
from gdf_core.integrate import solve  # noqa: E402
from gdf_core.testing.gaussian import ClosedFormScaler, Gaussian  # noqa: E402
from gdf_plugins.samplers.deis import DEISSampler  # noqa: E402
from gdf_plugins.samplers.dpmpp import DPMPP2MSampler, DPMPP3MSampler  # noqa: E402
from gdf_plugins.samplers.first_order import DDIMSampler  # noqa: E402

SAMPLERS = {
    "ddim": lambda warm: DDIMSampler(),
    "dpmpp_2m": lambda warm: DPMPP2MSampler(warmup_corrector=warm),
    "dpmpp_3m": lambda warm: DPMPP3MSampler(warmup_corrector=warm),
    "deis (t)": lambda warm: DEISSampler(interpolation="t", warmup_corrector=warm),
}


def error(sampler, data: Gaussian, x: torch.Tensor, t0: float, steps: int) -> float:
    t = torch.linspace(t0, 0.99, steps + 1, dtype=torch.float64)
    logsnrs = 2 * torch.log((1 - t) / t)
    out = solve(sampler, data.denoise, x, logsnrs, scaler=data.scaler).double()
    return (out - data.flow(x, float(logsnrs[0]), float(logsnrs[-1]))).abs().max().item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--t0", default="0,1e-3,0.02,0.3", help="comma-separated start times")
    parser.add_argument("--steps", default="8,16,32,64,128")
    args = parser.parse_args()
    steps = [int(s) for s in args.steps.split(",")]
    data = Gaussian(0.3, 0.5, ClosedFormScaler("sum"))
    x = data.sample((16, 1), 30.0, torch.Generator().manual_seed(0)).double()
    print(f"max |error| at {steps} steps, then local orders; Gaussian N(0.3, 0.5²), lerp scaler, t0 → 0.99")
    for t0 in (float(v) for v in args.t0.split(",")):
        print(f"t0 = {t0:g}")
        for name, make in SAMPLERS.items():
            for warm in (True, False) if name != "ddim" else (True,):
                errs = [error(make(warm), data, x, t0, n) for n in steps]
                orders = [math.log2(a / b) if a > 0 and b > 0 else float("nan") for a, b in zip(errs, errs[1:])]
                label = name + ("" if warm or name == "ddim" else " no redo")
                print(f"  {label:20s}" + " ".join(f"{e:9.2e}" for e in errs) + "   " + " ".join(f"{o:5.2f}" for o in orders))


if __name__ == "__main__":
    main()
