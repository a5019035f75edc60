"""The picture of docs/guidance.md: CFG and APG side by side at a high scale, on class-conditional two moons.

    python benchmarks/guidance_figure.py --out docs/img/guidance.png

The data are two moons, each class a chain of small Gaussians (so that the
conditional and unconditional denoisers are exact: ``gdf_core.testing.oracle
.ClassConditionalMixture``; no trained model, no training noise). Samples are
drawn with dpmpp_2m (40 steps, Karras grid from σ = 80 to 0, a VP ε-model),
from the same noise for every panel. Printed (and in the titles): the share of
samples off their class's moon (further than 2 component stds from every
centre of its chain; 5 % of the data themselves are) and the share of the
moon's length its samples cover (a component with a sample of its class
within 2 stds).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
try:
    import gdf_plugins  # noqa: F401
except ImportError:
    import importlib

    sys.modules["gdf_plugins"] = importlib.import_module("plugins")

from gdf_core import build  # noqa: E402
from gdf_core.integrate import solve  # noqa: E402
from gdf_core.testing.oracle import ClassConditionalMixture, GuidedDenoiser  # noqa: E402
from gdf_plugins.guidance import APG, CFG  # noqa: E402
from gdf_plugins.targets import EpsilonTarget  # noqa: E402

STD, PER_MOON = 0.06, 32


def two_moons() -> ClassConditionalMixture:
    """Two interleaved half circles (radius 1), centred on the origin, each a chain of Gaussians."""
    theta = torch.linspace(0, math.pi, PER_MOON, dtype=torch.float64)
    upper = torch.stack([torch.cos(theta), torch.sin(theta)], 1)
    lower = torch.stack([1 - torch.cos(theta), 0.5 - torch.sin(theta)], 1)
    means = torch.cat([upper, lower]) - torch.tensor([0.5, 0.25], dtype=torch.float64)
    classes = torch.arange(2).repeat_interleave(PER_MOON)
    return ClassConditionalMixture(means, torch.full((2 * PER_MOON,), STD), torch.ones(2 * PER_MOON), classes)


def distance_to_moon(x: torch.Tensor, labels: torch.Tensor, mixture: ClassConditionalMixture) -> torch.Tensor:
    """Each sample's distance to the nearest component centre of its own class, in component stds."""
    d = torch.cdist(x, mixture.means)
    return d.masked_fill(mixture.classes[None] != labels[:, None], math.inf).min(1).values / STD


def coverage(x: torch.Tensor, labels: torch.Tensor, mixture: ClassConditionalMixture) -> float:
    """Share of the components whose own class put a sample within 2 stds of their centre."""
    d = torch.cdist(mixture.means, x).masked_fill(mixture.classes[:, None] != labels[None], math.inf)
    return float((d.min(1).values < 2 * STD).double().mean())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img" / "guidance.png")
    parser.add_argument("--scale", type=float, default=8.0)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mixture = two_moons()
    labels = torch.arange(args.samples) % 2
    g = torch.Generator().manual_seed(args.seed)
    data = mixture.sample_class(labels, g)
    scaler, target = build("input_scaler", "vp"), EpsilonTarget()
    levels = build("schedule", {"name": "karras", "sigma_min": 0.002, "sigma_max": 80.0, "rho": 7.0}).levels(40)
    a0, b0 = scaler(levels[:1])
    x_start = torch.randn(args.samples, 2, generator=g, dtype=torch.float64) * float(b0[0])
    w = args.scale
    panels: list[tuple[str, Any]] = [
        ("data", None),
        ("no guidance (cfg w = 1)", CFG(scale=1.0)),
        (f"cfg w = {w:g}", CFG(scale=w)),
        (f"apg w = {w:g} (η = 0)", APG(scale=w)),
    ]
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 4.3), sharex=True, sharey=True)
    colors = ["#1f77b4", "#d62728"]
    for ax, (title, guidance) in zip(axes, panels):
        if guidance is None:
            x = data
        else:
            den = GuidedDenoiser(mixture, guidance, scaler, target, labels)
            x = solve(build("sampler", "dpmpp_2m"), den, x_start.clone(), levels, scaler=scaler)
        off = float((distance_to_moon(x, labels, mixture) > 2).double().mean())
        title += f"\noff the moon (> 2σ) {100 * off:.0f} %, moon covered {100 * coverage(x, labels, mixture):.0f} %"
        print(title.replace("\n", ": "))
        for c in (0, 1):
            pts = x[labels == c].numpy()
            ax.scatter(pts[:, 0], pts[:, 1], s=3, alpha=0.6, color=colors[c], label=f"class {c}")
        ax.plot(*mixture.means[:PER_MOON].T.numpy(), color="k", lw=0.6, alpha=0.5)
        ax.plot(*mixture.means[PER_MOON:].T.numpy(), color="k", lw=0.6, alpha=0.5)
        ax.set_title(title, fontsize=10)
        ax.set_aspect("equal")
        ax.set_xlim(-2.6, 2.6)
        ax.set_ylim(-2.2, 2.2)
        ax.grid(alpha=0.2)
    axes[0].legend(loc="lower left", fontsize=8, markerscale=3)
    fig.suptitle("Class-conditional two moons, exact denoisers, dpmpp_2m 40 steps, same noise in every panel", fontsize=11)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
