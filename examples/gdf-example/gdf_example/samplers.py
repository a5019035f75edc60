"""A second-order sampler: the midpoint method in λ."""

from __future__ import annotations

from typing import Any

from torch import Tensor

from gdf_core import SamplerBase
from gdf_core.bases.sampler import scaled
from gdf_core.protocols import Denoiser, InputScaler, SamplingState
from gdf_core.tensors import compute_dtype

#: The midpoint is taken between λ and λ′ clamped to ±this, so it stays finite at the
#: ends of a grid; beyond it a VP sample is noise or data to float32 precision.
_LOGSNR_MAX = 40.0


def ddim_update(x: Tensor, x0: Tensor, logsnr: Tensor, logsnr_next: Tensor, scaler: InputScaler) -> Tensor:
    """The deterministic DDIM move of x from λ to λ′ given x̂0: x′ = (b′/b)·x + (a′ − a·b′/b)·x̂0."""
    a, b = scaled(scaler, logsnr, x)
    a_next, b_next = scaled(scaler, logsnr_next, x)
    ratio = b_next / b
    return ratio * x + (a_next - a * ratio) * x0


class LambdaMidpointSampler(SamplerBase):
    """Midpoint method in λ: DPM-Solver-2 (Lu et al. 2022, Alg. 1) in its data-prediction form.

    A DDIM move to λₘ = (λ + λ′)/2 gives xₘ; the whole step is then a DDIM move
    from λ to λ′ with the prediction made at xₘ. Two ``denoise`` calls per step,
    deterministic, second order, for any input scaler.
    """

    name = "lambda_midpoint"

    def step(
        self,
        denoise: Denoiser,
        x: Tensor,
        logsnr: Tensor,
        logsnr_next: Tensor,
        *,
        scaler: InputScaler,
        state: SamplingState,
        generator: Any = None,
    ) -> Tensor:
        xc = x.to(compute_dtype(x))
        logsnr_mid = (logsnr.clamp(-_LOGSNR_MAX, _LOGSNR_MAX) + logsnr_next.clamp(-_LOGSNR_MAX, _LOGSNR_MAX)) / 2
        x0, _ = denoise(x, logsnr)
        x_mid = ddim_update(xc, x0.to(xc.dtype), logsnr, logsnr_mid, scaler)
        x0_mid, _ = denoise(x_mid.to(x.dtype), logsnr_mid)
        return ddim_update(xc, x0_mid.to(xc.dtype), logsnr, logsnr_next, scaler).to(x.dtype)
