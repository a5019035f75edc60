"""EDM's input scaling c_in (Karras et al. 2022, Table 1) as an input scaler."""

from __future__ import annotations

import math
from typing import Annotated

import torch
from pydantic import Field
from torch import Tensor

from gdf_core.bases import ScalerBase

Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]


class EDMScaler(ScalerBase):
    """a = c_in = 1/√(σ² + σ_d²), b = σ·c_in with σ² = e^(−λ): the network input c_in·(x0 + σ·ε).

    Written as a = exp(−½·logaddexp(−λ, 2·ln σ_d)) and b = √sigmoid(−(λ + 2·ln σ_d)), finite
    for every λ; a²·σ_d² + b² = 1 (unit variance for data of std σ_d); with σ_d = 1 it is ``vp``.
    """

    name = "edm"

    def __init__(self, sigma_data: Positive = 0.5, **kwargs) -> None:
        if not (math.isfinite(sigma_data) and sigma_data > 0):
            raise ValueError(f"input_scaler 'edm': sigma_data must be finite and > 0, got {sigma_data}")
        self.sigma_data = float(sigma_data)
        super().__init__(**kwargs)

    @property
    def max_a(self) -> float:
        """The largest a, 1/σ_d at λ = +∞ (read by the testing kit's bounds check)."""
        return max(1.0, 1 / self.sigma_data)

    def scalers(self, logsnr: Tensor) -> tuple[Tensor, Tensor]:
        log_sd2 = 2 * math.log(self.sigma_data)
        a = torch.exp(-0.5 * torch.logaddexp(-logsnr, torch.full_like(logsnr, log_sd2)))
        b = torch.sigmoid(-(logsnr + log_sd2)).sqrt()
        return a, b


__all__ = ["EDMScaler"]
