"""The schedules of EDM (Karras et al. 2022, "Elucidating the Design Space of Diffusion-Based Generative Models").

Difference from the original: ``edm_train`` draws log σ ~ N(mu, std²) as in the
paper (P_mean = mu = −1.2); the original computed λ = −2·(std·z − mu), which
centres log σ on −mu = +1.2.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from gdf_core.bases import ScheduleBase
from gdf_core.domains import Finite, NonNegative, OrderedPair, Positive
from gdf_plugins.schedules.grids import karras_log_sigma


class EDMSampleSchedule(ScheduleBase):
    """σ(t) = (σmax^(1/p) + (1 − t)·(σmin^(1/p) − σmax^(1/p)))^p, λ = −2·log σ (Karras et al. 2022, eq. 5)."""

    name = "edm_sample"

    def __init__(self, sigma_range: OrderedPair[Positive] = (0.002, 80), p: Positive = 7, **kwargs) -> None:
        self.sigma_range = tuple(sigma_range)
        self.p = p
        super().__init__(**kwargs)

    def logsnr(self, t: Tensor) -> Tensor:
        smin, smax = self.sigma_range
        return (-2 * karras_log_sigma(t, smin, smax, self.p)).to(t.dtype)


class EDMTrainSchedule(ScheduleBase):
    """Training draws only: log σ ~ N(mu, std²), λ = −2·log σ (Karras et al. 2022, P_mean = −1.2, P_std = 1.2).

    Differs from the original, whose sign error centred log σ on −mu (see the module docstring).
    """

    name = "edm_train"
    supports_t = False

    def __init__(self, mu: Finite = -1.2, std: NonNegative = 1.2, **kwargs) -> None:
        self.mu = mu
        self.std = std
        super().__init__(**kwargs)

    def draw(self, batch_size: int, generator: Optional[torch.Generator] = None) -> Tensor:
        log_sigma = torch.randn(batch_size, generator=generator) * self.std + self.mu
        return -2 * log_sigma

    def reference_draw(self, n: int, generator: torch.Generator) -> Tensor:
        """The documented law, for the testing kit: λ = −2·log σ, log σ ~ N(mu, std²)."""
        return -2 * (torch.randn(n, generator=generator, dtype=torch.float64) * self.std + self.mu)

    def quantile(self, u: Tensor) -> Tensor:
        """λ at quantile u: log σ = mu + std·Φ⁻¹(u), so λ falls as u rises."""
        return -2 * (torch.special.ndtri(u.to(torch.float64)) * self.std + self.mu)
