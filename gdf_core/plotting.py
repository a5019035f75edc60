"""``gdf plot``: one figure that shows what a GDF spec does, all against λ (logSNR).

Panels: λ(t) of the training and sampling schedules; a and b; the noise
condition; the effective loss weight in ε-MSE units (the loss weight times the
target's ε-MSE scale, ``gdf_core.loss_units``, so that recipes with different
targets compare); the histogram of the training draw of λ (and the same draw
weighted by the effective weight, i.e. where the training effort goes); the spec.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import torch

from gdf_core.gdf import GDF
from gdf_core.loss_units import effective_weight

#: Number of training draws behind the histogram.
DRAWS = 200_000


def _as_numpy(x: torch.Tensor) -> Any:
    return x.detach().double().cpu().numpy()


def training_draw(gdf: GDF, n: int = DRAWS, seed: int = 0) -> torch.Tensor:
    """``n`` training draws of λ from the GDF's schedule (reproducible from ``seed``)."""
    return gdf.schedule(n, generator=torch.Generator().manual_seed(seed)).double()


def logsnr_range(gdf: GDF, draws: Optional[torch.Tensor] = None) -> tuple[float, float]:
    """A λ range covering the schedules' ends and the bulk of the training draw, within [−20, 20]."""
    values = [] if draws is None else [float(torch.quantile(draws.float(), 0.001)), float(torch.quantile(draws.float(), 0.999))]
    for schedule in (gdf.schedule, gdf.sample_schedule):
        if schedule is not None and getattr(schedule, "supports_t", True):
            ends = schedule(torch.tensor([0.0, 1.0], dtype=torch.float64))
            values += [float(ends.min()), float(ends.max())]
    lo, hi = (min(values), max(values)) if values else (-10.0, 10.0)
    lo, hi = max(lo, -20.0), min(hi, 20.0)
    if hi - lo < 1:
        lo, hi = lo - 1, hi + 1
    return lo, hi


def plot_gdf(gdf: GDF, path: str | Path, *, title: Optional[str] = None, dpi: int = 110) -> Path:
    """Draw the six panels of a GDF into a PNG at ``path`` and return the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import yaml

    draws = training_draw(gdf)
    lo, hi = logsnr_range(gdf, draws)
    lam = torch.linspace(lo, hi, 401, dtype=torch.float64)
    t = torch.linspace(0, 1, 401, dtype=torch.float64)
    fig, axes = plt.subplots(2, 3, figsize=(14, 8))
    (ax_sched, ax_ab, ax_cond), (ax_weight, ax_hist, ax_text) = axes

    # λ(t) of both schedules
    shown = False
    for label, schedule, style in (("training", gdf.schedule, "-"), ("sampling", gdf.sample_schedule, "--")):
        if schedule is None:
            continue
        if getattr(schedule, "supports_t", True):
            ax_sched.plot(_as_numpy(t), _as_numpy(schedule(t)), style, label=f"{label}: {schedule.name}")
            shown = True
        else:
            ax_sched.plot([], [], " ", label=f"{label}: {schedule.name} (draws only, see histogram)")
    if gdf.sample_schedule is None and getattr(gdf.schedule, "supports_t", True):
        ax_sched.plot([], [], " ", label="sampling: the training schedule")
    if not shown:
        ax_sched.text(0.5, 0.5, "no schedule of t\n(training draws only)", ha="center", va="center", transform=ax_sched.transAxes)
    ax_sched.set(xlabel="t (0 = data, 1 = noise)", ylabel="λ = logSNR", title="schedules λ(t)")
    ax_sched.legend(fontsize=8)

    # a and b
    a, b = gdf.input_scaler(lam)
    ax_ab.plot(_as_numpy(lam), _as_numpy(a), label="a (signal)")
    ax_ab.plot(_as_numpy(lam), _as_numpy(b), label="b (noise)")
    ax_ab.set(xlabel="λ", title=f"input scaler {gdf.input_scaler.name}: x = a·x0 + b·ε")
    ax_ab.legend(fontsize=8)

    # noise condition
    cond = gdf.noise_cond(lam)
    ax_cond.plot(_as_numpy(lam), _as_numpy(cond.double()))
    ax_cond.set(xlabel="λ", ylabel="model input", title=f"noise condition {gdf.noise_cond.name}")

    # effective loss weight, in ε-MSE units
    weight = effective_weight(gdf.loss_weight, gdf.target, gdf.input_scaler, lam).double()
    ax_weight.plot(_as_numpy(lam), _as_numpy(weight))
    if bool((weight > 0).all()) and float(weight.max() / weight.min()) > 50:
        ax_weight.set_yscale("log")
    ax_weight.set(
        xlabel="λ", ylabel="weight × MSE(target)/MSE(ε)",
        title=f"loss weight {gdf.loss_weight.name} on {gdf.target.name}, in ε-MSE units",
    )

    # training draw of λ, plain and weighted by the loss weight
    d = draws.clamp(lo, hi)
    bins = torch.linspace(lo, hi, 81, dtype=torch.float64)
    ax_hist.hist(_as_numpy(d), bins=_as_numpy(bins), density=True, alpha=0.6, label="p(λ) of the training draw")
    w = effective_weight(gdf.loss_weight, gdf.target, gdf.input_scaler, draws).double()
    if bool(torch.isfinite(w).all()) and float(w.sum()) > 0:
        ax_hist.hist(
            _as_numpy(d), bins=_as_numpy(bins), weights=_as_numpy(w), density=True, histtype="step", lw=1.5,
            label="weighted by the effective loss weight",
        )
    ax_hist.set(xlabel="λ", ylabel="density", title=f"training draw of λ ({len(draws):,} draws)")
    ax_hist.legend(fontsize=8)

    # the spec
    ax_text.axis("off")
    ax_text.text(0.0, 1.0, yaml.safe_dump(gdf.to_spec(), sort_keys=False), family="monospace", fontsize=9, va="top", transform=ax_text.transAxes)
    ax_text.set_title("spec")

    for ax in (ax_sched, ax_ab, ax_cond, ax_weight, ax_hist):
        ax.grid(alpha=0.3)
    fig.suptitle(title or "gdf plot", fontsize=13)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


__all__ = ["logsnr_range", "plot_gdf", "training_draw"]
