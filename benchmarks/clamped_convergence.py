"""Why an ε-model that is not ≈ x at high noise does not converge on the clamped cosine grid.

The convergence test uses ``denoiser_shaped_model`` (x̂0 bounded at pure noise), which
converges there; this script keeps the diagnosis for ``smooth_model``: per-step error contributions.

For a preset and a sampler, each step's contribution to the final error is
z_(i+1) − z_i, with z_i the exact flow (float64 DOP853, rtol 1e-13, scipy) of the
sampler's own x_i from λ_i to the grid's end; the contributions sum to the final
error. Also the reference itself: dpmpp_3m at 1000/500 steps and ddim at 4000 vs
the scipy solve of the same ODE (dy/dη = x̂0 − y, y = x/a, η = λ/2).

    # scipy: the bench/test extras
    python benchmarks/clamped_convergence.py --preset ddpm --sampler dpmpp_2m --steps 25,50,100
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_sampling_engine import DETERMINISTIC, smooth_model  # noqa: E402

from gdf_core import GDF  # noqa: E402


def x0_of(gdf: GDF, x: torch.Tensor, lam: float) -> torch.Tensor:
    lam_t = torch.full((x.shape[0],), lam, dtype=torch.float64)
    cond = gdf.noise_cond(lam_t)
    pred = smooth_model(x, cond.to(torch.float64) if cond.is_floating_point() else cond)
    a, b = (v.view(-1, 1).double() for v in gdf.input_scaler(lam_t))
    return gdf.target.x0(x, pred, lam_t, a, b)


def exact(gdf: GDF, x: torch.Tensor, lam0: float, lam1: float) -> torch.Tensor:
    from scipy.integrate import solve_ivp

    def a_at(lam: float) -> torch.Tensor:
        return gdf.input_scaler(torch.tensor([lam], dtype=torch.float64))[0]

    def rhs(eta: float, y):
        yt = torch.from_numpy(y).view(x.shape)
        return (x0_of(gdf, yt * a_at(2 * eta), 2 * eta) - yt).reshape(-1).numpy()

    sol = solve_ivp(rhs, (lam0 / 2, lam1 / 2), (x / a_at(lam0)).reshape(-1).numpy(), method="DOP853", rtol=1e-13, atol=1e-13)
    return torch.from_numpy(sol.y[:, -1]).view(x.shape) * a_at(lam1)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--preset", default="ddpm")
    p.add_argument("--sampler", default="dpmpp_2m")
    p.add_argument("--steps", default="25,50,100")
    args = p.parse_args()
    torch.set_num_threads(1)
    gdf = GDF.from_spec({"preset": args.preset, "sampler": None})
    x_init = torch.randn(8, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    sched = gdf.sample_schedule or gdf.schedule

    def run(name: str, n: int) -> torch.Tensor:
        return gdf.sample_final(smooth_model, {}, x_init.shape, sampler=name, timesteps=n, cfg=None, x_init=x_init)

    lam0, lam1 = sched(torch.tensor([1.0, 0.0], dtype=torch.float64)).tolist()
    truth = exact(gdf, x_init, lam0, lam1)
    scale = truth.abs().max().item()
    err = lambda y: (y - truth).abs().max().item() / scale  # noqa: E731
    print(f"{args.preset}: λ from {lam0:.3f} to {lam1:.3f}; vs scipy: dpmpp_3m@1000 {err(run('dpmpp_3m', 1000)):.2e}, "
          f"dpmpp_3m@500 {err(run('dpmpp_3m', 500)):.2e}, ddim@4000 {err(run('ddim', 4000)):.2e}")
    for name in DETERMINISTIC:
        print(f"  {name:9s} " + " ".join(f"{err(run(name, n)):.2e}" for n in (12, 25, 50, 100, 200)))
    for n in (int(v) for v in args.steps.split(",")):
        xs = [x_init] + [s[1] for s in gdf.sample(smooth_model, {}, x_init.shape, sampler=args.sampler, timesteps=n, cfg=None, x_init=x_init)]
        lams = sched(torch.linspace(1, 0, n + 1, dtype=torch.float64)).tolist()
        z = [exact(gdf, xs[i], lams[i], lams[-1]) for i in range(n)] + [xs[n]]
        c = [(z[i + 1] - z[i]).abs().max().item() / scale for i in range(n)]
        repeats = sum(lams[i] == lams[i + 1] for i in range(n))
        print(f"{args.sampler} n={n} ({repeats} repeated levels): final {err(xs[n]):.2e}; per-step contributions, first 4: "
              + " ".join(f"{v:.1e}" for v in c[:4]) + f"; sum of |contributions| {sum(c):.2e}")


if __name__ == "__main__":
    main()
