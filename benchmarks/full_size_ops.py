"""Full-size tensor operations of a whole ``sample_final`` run, per sampler: the loop's cost, counted.

    python benchmarks/full_size_ops.py --steps 20

Each sampler's 20-step run (stable_cascade, a trivial model x ↦ 0.1·x, a
(4, 4, 64, 64) float32 latent) is made once to fill the GDF's run-plan cache,
then again under a ``TorchFunctionMode`` that counts every torch call whose
result has at least a latent's elements: the elementwise work of the loop
(the model's one operation per call included), independent of the machine's
speed. ``--cfg`` guides (the doubled batch counts as full-size too); ``--invert`` runs
from t = 0 to 1 instead (an inversion: the samplers that can, e.g. ddim,dpmpp_2m,dpmpp_3m).
"""

from __future__ import annotations

import argparse
import math

import torch
from torch.overrides import TorchFunctionMode

from _setup import ROOT  # noqa: E402,F401  (puts gdf on the path)
from gdf_core import GDF  # noqa: E402

SHAPE = (4, 4, 64, 64)
SAMPLERS = "ddim,euler,heun,dpmpp_2m,dpmpp_3m,unipc,deis,ipndm,lms"


class FullSizeOps(TorchFunctionMode):
    """Counts the torch calls whose result has at least ``size`` elements."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size, self.calls = size, 0

    def __torch_function__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        out = func(*args, **(kwargs or {}))
        if isinstance(out, torch.Tensor) and out.numel() >= self.size:
            self.calls += 1
        return out


def count(sampler: str, steps: int, cfg: float | None, invert: bool = False) -> int:
    gdf = GDF.from_spec("stable_cascade")
    x = torch.randn(SHAPE, generator=torch.Generator().manual_seed(0))
    model = lambda x, cond: 0.1 * x  # noqa: E731
    call = dict(sampler=sampler, timesteps=steps, x_init=x, cfg=cfg, cfg_rho=0.0, **({"t_start": 0.0, "t_end": 1.0} if invert else {}))
    gdf.sample_final(model, {}, SHAPE, **call)  # fills the caches: the counted run is a repeated one
    with FullSizeOps(math.prod(SHAPE)) as mode:
        gdf.sample_final(model, {}, SHAPE, **call)
    return mode.calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--samplers", default=SAMPLERS)
    parser.add_argument("--cfg", type=float, default=None)
    parser.add_argument("--invert", action="store_true", help="an inversion, t = 0 → 1")
    args = parser.parse_args()
    what = "inversion" if args.invert else "run"
    print(f"full-size operations of a whole {args.steps}-step {what} (stable_cascade, {SHAPE}, cfg={args.cfg}):")
    for name in args.samplers.split(","):
        print(f"  {name:20s} {count(name, args.steps, args.cfg, args.invert)}")


if __name__ == "__main__":
    main()
