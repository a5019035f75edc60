"""gdf's sampling loop around a real small network, against a hand-written loop with the same calls.

    python benchmarks/unet_overhead.py --threads 1 --repeats 7

A diffusers ``UNet2DModel`` (about 2 M parameters, random weights) on a
(2, 3, 32, 32) float32 batch on CPU; 20 steps of DDIM and of DPM++(2M) on the
``stable_cascade`` recipe (cosine schedule, ε-prediction, noise condition
``cosine_t``), with and without cfg. The hand-written loops call the network
on the same inputs and compute the same updates with precomputed floats; the
ratio is gdf's whole ``sample`` run over the hand-written one (interleaved
repeats, medians).

On a shared machine the network's own time varies by more than 1 % between
runs, so the ratio of totals cannot resolve a 1 % difference. The second table
times every network call and subtracts it: "machinery" is a run's time outside
the network, and (gdf machinery − hand machinery)/hand total is gdf's cost over
the hand-written loop with the network's noise taken out (medians over the
same interleaved repeats).
"""

from __future__ import annotations

import argparse
import math
import time

import torch

from _setup import median_iqr  # noqa: E402
from gdf_core import GDF  # noqa: E402

SHAPE = (2, 3, 32, 32)
STEPS = 20


def make_unet() -> torch.nn.Module:
    from diffusers import UNet2DModel

    torch.manual_seed(0)
    return UNet2DModel(sample_size=32, in_channels=3, out_channels=3, layers_per_block=1,
                       block_out_channels=(32, 64, 128), norm_num_groups=16,
                       down_block_types=("DownBlock2D", "DownBlock2D", "DownBlock2D"),
                       up_block_types=("UpBlock2D", "UpBlock2D", "UpBlock2D")).eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    unet = make_unet()
    params = sum(p.numel() for p in unet.parameters())

    spent = [0.0]  # seconds inside the network in the current run

    def model(x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        start = time.perf_counter()
        out = unet(x, cond * 1000).sample
        spent[0] += time.perf_counter() - start
        return out

    gdf = GDF.from_spec("stable_cascade")
    x_init = torch.randn(SHAPE, generator=torch.Generator().manual_seed(0))
    t = torch.linspace(1, 0, STEPS + 1, dtype=torch.float64)
    lam = gdf.schedule(t)
    a = torch.sigmoid(lam).sqrt().tolist()
    b = torch.sigmoid(-lam).sqrt().tolist()
    conds = gdf.noise_cond(lam.float()).tolist()

    def eps_of(x: torch.Tensor, i: int, cfg: float | None) -> torch.Tensor:
        c = torch.full((x.shape[0],), conds[i])
        if cfg is None:
            return model(x, c)
        cond, uncond = model(torch.cat([x, x]), torch.cat([c, c])).chunk(2)
        return uncond.lerp(cond, cfg)

    def hand_ddim(cfg: float | None) -> torch.Tensor:
        x = x_init
        for i in range(STEPS):
            eps = eps_of(x, i, cfg)
            x0 = (x - b[i] * eps) / a[i]
            x = a[i + 1] * x0 + b[i + 1] * eps
        return x

    def hand_dpmpp_2m(cfg: float | None) -> torch.Tensor:
        x, prev, h_prev = x_init, None, None
        for i in range(STEPS):
            eps = eps_of(x, i, cfg)
            x0 = (x - b[i] * eps) / a[i]
            h = (lam[i + 1] - lam[i]).item() / 2
            if prev is None:
                d = x0
            else:
                r = h_prev / h
                d = (1 + 1 / (2 * r)) * x0 - (1 / (2 * r)) * prev
            x = (b[i + 1] / b[i]) * x + a[i + 1] * (-math.expm1(-h)) * d
            prev, h_prev = x0, h
        return x

    def gdf_run(sampler: object, cfg: float | None) -> torch.Tensor:
        out = x_init
        for _, out, _ in gdf.sample(model, {}, SHAPE, sampler=sampler, timesteps=STEPS, x_init=x_init, cfg=cfg, cfg_rho=0.0):
            pass
        return out

    midpoint = {"name": "dpmpp_2m", "solver_type": "midpoint", "interpolation": "logsnr", "warmup_corrector": False}
    runs = {}
    with torch.no_grad():
        for cfg in (None, 3.0):
            tag = "off" if cfg is None else "on"
            runs[f"hand ddim cfg={tag}"] = lambda c=cfg: hand_ddim(c)
            runs[f"gdf ddim cfg={tag}"] = lambda c=cfg: gdf_run("ddim", c)
            runs[f"hand dpmpp_2m cfg={tag}"] = lambda c=cfg: hand_dpmpp_2m(c)
            runs[f"gdf dpmpp_2m cfg={tag}"] = lambda c=cfg: gdf_run(midpoint, c)
        diff = (gdf_run(midpoint, None) - hand_dpmpp_2m(None)).abs().max().item()
        totals: dict[str, list[float]] = {k: [] for k in runs}
        outside: dict[str, list[float]] = {k: [] for k in runs}
        for repeat in range(args.repeats + 1):
            for name, run in runs.items():
                spent[0] = 0.0
                start = time.perf_counter()
                run()
                total = time.perf_counter() - start
                if repeat:  # the first round warms up
                    totals[name].append(total)
                    outside[name].append(total - spent[0])
    med = {k: median_iqr(v)[0] for k, v in totals.items()}
    mech = {k: median_iqr(v)[0] for k, v in outside.items()}
    print(f"UNet2DModel, {params / 1e6:.2f} M parameters, {SHAPE}, {STEPS} steps, {args.threads} thread(s), "
          f"median of {args.repeats}; max |gdf − hand| for dpmpp_2m: {diff:.2e}")
    print(f"{'run':24s} {'hand s':>8s} {'gdf s':>8s} {'gdf/hand':>9s}")
    for name in ("ddim", "dpmpp_2m"):
        for tag in ("off", "on"):
            h, g = med[f"hand {name} cfg={tag}"], med[f"gdf {name} cfg={tag}"]
            print(f"{name + ' cfg=' + tag:24s} {h:8.3f} {g:8.3f} {g / h:9.4f}")
    print(f"\n{'run':24s} {'hand machinery ms':>18s} {'gdf machinery ms':>17s} {'(gdf − hand)/hand total':>24s}")
    for name in ("ddim", "dpmpp_2m"):
        for tag in ("off", "on"):
            key = f"{name} cfg={tag}"
            h, g = mech[f"hand {key}"], mech[f"gdf {key}"]
            print(f"{key:24s} {1e3 * h:18.2f} {1e3 * g:17.2f} {100 * (g - h) / med[f'hand {key}']:23.3f}%")


if __name__ == "__main__":
    main()
