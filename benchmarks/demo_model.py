"""Ablation of the demo's denoiser: each change → the ODE solution's distance to the data, per preset.

For every preset and every variant (interleaved: preset by preset, the variants
in turn, so that a busy machine slows them alike) it trains the demo's model
for the same number of steps on one thread, solves the model's ODE from fixed
noise (DDIM at ``--ode-steps``) and prints the sliced Wasserstein distance of
that solution to the data, its ratio to the floor (two draws of the data) and
the training time relative to the old model's in the same run.

    .venv/bin/python benchmarks/demo_model.py --steps 4000
    .venv/bin/python benchmarks/demo_model.py --variants old,new --presets edm
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
from torch import nn

from gdf_core import GDF, registry
from gdf_core.demo.data import DATASETS, draw
from gdf_core.demo.model import MLPDenoiser, NoiseCondEmbedding
from gdf_core.demo.precondition import Preconditioned
from gdf_core.demo.quality import sliced_wasserstein
from gdf_core.demo.reference import solve
from gdf_core.demo.train import train


def old(gdf, scale):  # the demo's model before issue 15: the recipe's own cond and target
    return MLPDenoiser(embedding=NoiseCondEmbedding(16, 0.05, 200.0)), {"betas": (0.9, 0.999)}


def fourier(gdf, scale):  # the recipe's target, but the noise level recovered and embedded as −λ/8
    from gdf_core.demo.precondition import RecipeTable

    class LevelOnly(nn.Module):
        def __init__(self):
            super().__init__()
            self.net, self.table = MLPDenoiser(embedding=NoiseCondEmbedding(16, 0.5, 50.0)), RecipeTable(gdf)

        def forward(self, x, cond):
            cond = cond.expand(x.shape[0]) if cond.dim() == 0 else cond
            return self.net(x, -self.table(cond)[0] / 8)

    return LevelOnly(), {"betas": (0.9, 0.999)}


def precond(gdf, scale):  # + input/output preconditioning with σ_d = 1
    return Preconditioned(MLPDenoiser(embedding=NoiseCondEmbedding(16, 0.5, 50.0)), gdf, sigma_data=1.0), {"betas": (0.9, 0.999)}


def precond_sd(gdf, scale):  # + σ_d = the data's measured scale
    return Preconditioned(MLPDenoiser(embedding=NoiseCondEmbedding(16, 0.5, 50.0)), gdf, sigma_data=scale), {"betas": (0.9, 0.999)}


def betas(gdf, scale):  # + Adam β₂ = 0.99
    return Preconditioned(MLPDenoiser(embedding=NoiseCondEmbedding(16, 0.5, 50.0)), gdf, sigma_data=scale), {"betas": (0.9, 0.99)}


def ema999(gdf, scale):  # + EMA decay 0.999
    return Preconditioned(MLPDenoiser(embedding=NoiseCondEmbedding(16, 0.5, 50.0)), gdf, sigma_data=scale), {"betas": (0.9, 0.99), "ema_decay": 0.999}


def wide(gdf, scale):  # + width 192
    return Preconditioned(MLPDenoiser(embedding=NoiseCondEmbedding(16, 0.5, 50.0), hidden=192), gdf, sigma_data=scale), {"betas": (0.9, 0.99)}


def gelu(gdf, scale):  # + GELU
    return Preconditioned(MLPDenoiser(embedding=NoiseCondEmbedding(16, 0.5, 50.0), activation=nn.GELU), gdf, sigma_data=scale), {"betas": (0.9, 0.99)}


def lr3(gdf, scale):  # + lr 3e-3
    return Preconditioned(MLPDenoiser(embedding=NoiseCondEmbedding(16, 0.5, 50.0)), gdf, sigma_data=scale), {"betas": (0.9, 0.99), "lr": 3e-3}


def xfourier(gdf, scale):  # + Fourier features of the point (8 frequencies per coordinate)
    return Preconditioned(MLPDenoiser(embedding=NoiseCondEmbedding(16, 0.5, 50.0), point_features=8), gdf, sigma_data=scale), {"betas": (0.9, 0.99)}


def xfourier_ema(gdf, scale):  # + EMA decay 0.998
    return Preconditioned(MLPDenoiser(embedding=NoiseCondEmbedding(16, 0.5, 50.0), point_features=8), gdf, sigma_data=scale), {"betas": (0.9, 0.99), "ema_decay": 0.998}


def old_xfourier(gdf, scale):  # the old model + Fourier features of the point only
    return MLPDenoiser(embedding=NoiseCondEmbedding(16, 0.05, 200.0), point_features=8), {"betas": (0.9, 0.999)}


VARIANTS = {f.__name__: f for f in (old, fourier, precond, precond_sd, betas, ema999, wide, gelu, lr3, xfourier, xfourier_ema, old_xfourier)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--presets", default=",".join(sorted(registry.presets())))
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--data", default="two_moons")
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--ode-steps", type=int, default=1000)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    data, n = args.data, args.samples
    truth, other = draw(data, n, seed=1), draw(data, n, seed=2)
    floor = sliced_wasserstein(truth, other)
    scale = float(draw(data, 100_000, seed=4).std(dim=0).pow(2).mean().sqrt())
    x_init = torch.randn(n, 2, generator=torch.Generator().manual_seed(3))
    rows = []
    print(f"floor (two draws of {data}, {n} points): {floor:.4f}; data scale σ_d = {scale:.3f}", flush=True)
    for preset in args.presets.split(","):
        gdf = GDF.from_spec(preset)
        for variant in args.variants.split(","):
            torch.manual_seed(0)
            model, options = VARIANTS[variant](gdf, scale)
            result = train(gdf, model, lambda k, g: DATASETS[data](k, g), steps=args.steps, batch_size=512,
                           progress=False, **options)
            start = time.perf_counter()
            x = solve(gdf, result.model, x_init, sampler="ddim", steps=args.ode_steps)
            swd = sliced_wasserstein(x, truth)
            row = {"preset": preset, "variant": variant, "ode_swd": swd, "ratio": swd / floor,
                   "train_s": result.seconds, "loss": statistics.fmean(result.losses[-200:]),
                   "solve_s": time.perf_counter() - start}
            rows.append(row)
            print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"floor": floor, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
