"""What the convergence tests share: a model shaped like a trained denoiser, and the check that an error falls.

The check (``doubling_failures``) is the issue's: a sampler's error to a reference
solution falls at every doubling of steps from 12 to 100, until it is within 4×
the reference's own accuracy (its distance to a run of half its steps).
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import Tensor

from gdf_core import GDF

#: The step counts of the convergence checks: doublings from 12 to 100.
CONVERGENCE_STEPS = (12, 25, 50, 100)


def doubling_failures(steps: Sequence[int], errors: Sequence[float], floor: float) -> list[str]:
    """The doublings where the relative error did not fall (and is above 4× ``floor``), and a run still far at the end."""
    failures = [
        f"{n0} → {n1} steps, relative error {e0:.3g} → {e1:.3g} (floor {floor:.2g})"
        for (n0, e0), (n1, e1) in zip(zip(steps, errors), list(zip(steps, errors))[1:])
        if not (e1 < e0 or e1 <= 4 * floor)
    ]
    if not errors[-1] < 0.05:  # NaN too
        failures.append(f"still {errors[-1]:.3g} from the reference at {steps[-1]} steps")
    return failures


def relative_error(x: Tensor, reference: Tensor) -> float:
    """max |x − reference| / max |reference|."""
    return ((x - reference).abs().max() / reference.abs().max()).item()


def denoiser_shaped_model(gdf: GDF, sigma_data: float = 0.5) -> Any:
    """A smooth stand-in for a trained network, in the preset's own target and noise condition.

    It is shaped as trained denoisers are (Karras et al. 2022, §5 preconditioning), not the
    oracle of any data: with σ = b/a, x̂0 = c_skip·x/a + c_out·F(c_in·x/a, λ), c_skip =
    σ_d²/(σ² + σ_d²), c_out = σ·σ_d/√(σ² + σ_d²), c_in = 1/√(σ² + σ_d²) and
    F(u, λ) = 0.5·tanh(u) + 0.1·g·u + 0.05·g, g = tanh(λ/2) = (1 − σ²)/(1 + σ²) for vp.
    So x̂0 → x at the clean end and stays bounded at pure noise (a = 0), and it is smooth in σ²
    at both ends, as a real network's is. The model reads λ back from the condition it is given
    (a monotone table of the preset's noise condition), then answers in the preset's target.
    ``smooth_model`` cannot serve here: as an ε-prediction its x̂0 = (x − b·ε̂)/a grows like 1/a
    at the noisy end, and as a velocity its x̂0 ≠ x at t = 0, which makes the ODE singular there.
    """
    lam = torch.linspace(-30, 30, 200_001, dtype=torch.float64)
    conds = gdf.noise_cond(lam).double()
    order = torch.argsort(conds, stable=True)
    c_sorted, lam_sorted = conds[order], lam[order]

    def logsnr_of(cond: Tensor) -> Tensor:
        c = cond.double().contiguous()
        i = torch.searchsorted(c_sorted, c).clamp(1, len(c_sorted) - 1)
        c0, c1 = c_sorted[i - 1], c_sorted[i]
        w = ((c - c0) / (c1 - c0).clamp_min(1e-300)).clamp(0, 1)
        return lam_sorted[i - 1] + w * (lam_sorted[i] - lam_sorted[i - 1])

    def model(x: Tensor, cond: Tensor, **_: Any) -> Tensor:
        logsnr = logsnr_of(cond).to(x.dtype)
        view = (-1, *([1] * (x.dim() - 1)))
        a, b = (v.to(x.dtype).view(view) for v in gdf.input_scaler(logsnr))
        r = torch.sqrt(b * b + sigma_data**2 * a * a)  # a·√(σ² + σ_d²), finite at a = 0 and at b = 0
        g = torch.tanh(logsnr / 2).view(view)
        u = x / r
        features = 0.5 * torch.tanh(u) + 0.1 * g * u + 0.05 * g
        x0 = sigma_data**2 * a * x / (r * r) + sigma_data * b / r * features
        return gdf.target(x0, (x - a * x0) / b, logsnr, a, b)

    return model


__all__ = ["CONVERGENCE_STEPS", "denoiser_shaped_model", "doubling_failures", "relative_error"]
