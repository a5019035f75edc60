"""What the ancestral samplers share: the ``eta``/``s_noise`` parameters and the split of a step.

An ancestral step to σ′ goes deterministically down to σ_down, then adds
fresh noise of scale σ_up, σ_down² + σ_up² = σ′² (Song et al. 2021, "DDIM",
eq. 16, written in σ as in Karras et al. 2022 and k-diffusion).
"""

from __future__ import annotations

import torch
from torch import Tensor

from gdf_core.bases import SamplerBase
from gdf_plugins.samplers.domains import NoiseAmount, check_noise_amount


def ancestral_split(h: Tensor, eta: float) -> tuple[Tensor, Tensor]:
    """(σ_down/σ′, σ_up/σ′) of an ancestral step of length h = (λ′ − λ)/2 (k-diffusion's split).

    σ_up = min(σ′, eta·σ′·√(1 − σ′²/σ²)), σ_down = √(σ′² − σ_up²); σ′/σ = e^(−h),
    so both ratios depend on h only and stay finite at λ = −∞ and λ′ = +∞.
    """
    up = (eta * torch.sqrt(-torch.expm1(-2 * h))).clamp(max=1.0)
    down = torch.sqrt((1 - up * up).clamp(min=0))
    return down, up


class AncestralSamplerBase(SamplerBase):
    """Samplers that add fresh noise each step: ``eta`` scales its share (0: none), ``s_noise`` its size."""

    stochastic = True

    def __init__(self, eta: NoiseAmount = 1.0, s_noise: NoiseAmount = 1.0) -> None:
        self.eta = check_noise_amount(self.name, "eta", eta)
        self.s_noise = check_noise_amount(self.name, "s_noise", s_noise)


__all__ = ["AncestralSamplerBase", "ancestral_split"]
