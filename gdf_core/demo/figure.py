"""The demo's picture: ground truth beside the samples of every sampler × NFE."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

from torch import Tensor


def _scatter(ax, points: Tensor, color: str, lim: float) -> None:  # type: ignore[no-untyped-def]
    p = points.detach().cpu().numpy()
    ax.scatter(p[:, 0], p[:, 1], s=1.5, alpha=0.35, color=color, linewidths=0, rasterized=True)
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])


def draw_demo(
    path: str | Path,
    *,
    data: Tensor,
    samples: dict[tuple[str, int], Tensor],
    swd: dict[tuple[str, int], float],
    swd_ode: dict[tuple[str, int], float],
    ode: Tensor,
    ode_swd: float,
    steps: dict[tuple[str, int], int],
    samplers: Sequence[str],
    nfes: Sequence[int],
    losses: Sequence[float],
    title: str,
    reference_swd: float,
    exact_swd: Optional[float] = None,
) -> Path:
    """Write a PNG: one row per sampler, a column per NFE; on the left the data, the model's ODE
    solution from the samples' noise, the loss curve and each sampler's distance to that solution."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows, cols = max(len(samplers), 4), len(nfes) + 1
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 2.6 * rows + 0.6), squeeze=False)
    lim = float(data.abs().max()) * 1.15
    _scatter(axes[0][0], data, "black", lim)
    axes[0][0].set_title(f"data ({len(data)} points)", fontsize=10)
    _scatter(axes[1][0], ode, "0.3", lim)
    perfect = "" if exact_swd is None else f"\na perfect model's: {exact_swd:.3f} ({exact_swd / reference_swd:.2f}×)"
    axes[1][0].set_title(f"the model's ODE solution\nSWD {ode_swd:.3f} ({ode_swd / reference_swd:.2f}× floor){perfect}", fontsize=9)
    loss_ax = axes[2][0]
    if losses:
        smooth = [sum(losses[max(0, i - 49) : i + 1]) / len(losses[max(0, i - 49) : i + 1]) for i in range(len(losses))]
        loss_ax.plot(losses, color="0.8", lw=0.5)
        loss_ax.plot(smooth, color="C0", lw=1.2)
        loss_ax.set_yscale("log")
    loss_ax.set_title("training loss", fontsize=10)
    loss_ax.set_xlabel("step", fontsize=8)
    loss_ax.tick_params(labelsize=7)
    err_ax = axes[3][0]
    for r, sampler in enumerate(samplers):
        points = [(nfe, swd_ode[(sampler, nfe)]) for nfe in nfes if (sampler, nfe) in swd_ode]
        if points:
            err_ax.plot(*zip(*points), marker="o", ms=3, lw=1, color=f"C{r % 10}", label=sampler)
    err_ax.set_xscale("log")
    err_ax.set_yscale("log")
    err_ax.set_xticks(list(nfes), [str(n) for n in nfes])
    err_ax.minorticks_off()
    err_ax.set_title("SWD to the ODE solution", fontsize=10)
    err_ax.set_xlabel("NFE", fontsize=8)
    err_ax.tick_params(labelsize=7)
    err_ax.legend(fontsize=6, frameon=False)
    for r in range(4, rows):
        axes[r][0].axis("off")
    for r, sampler in enumerate(samplers):
        for c, nfe in enumerate(nfes, start=1):
            ax = axes[r][c]
            key = (sampler, nfe)
            if key not in samples:
                ax.axis("off")
                continue
            _scatter(ax, samples[key], f"C{r % 10}", lim)
            label = f"{sampler}, NFE {nfe}" + (f" ({steps[key]} steps)" if steps[key] != nfe else "")
            ax.set_title(f"{label}\nSWD {swd[key]:.3f}, to ODE {swd_ode[key]:.3f}", fontsize=9)
    for r in range(len(samplers), rows):
        for c in range(1, cols):
            axes[r][c].axis("off")
    fig.suptitle(f"{title}   (floor, the mean SWD of two draws of the data: {reference_swd:.3f})", fontsize=11)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


__all__ = ["draw_demo"]
