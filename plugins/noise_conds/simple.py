"""Noise conditions that are closed-form functions of λ.

Difference from the original: ``rectified_flows`` is the closed form σ(λ/2)
(the original's quadratic root, with an in-place guard at λ = 0, gave 0.5002
there and lost precision for λ ≪ 0).
"""

from __future__ import annotations

import torch
from torch import Tensor

from gdf_core.bases import NoiseCondBase
from gdf_core.domains import Positive


class EDMNoiseCond(NoiseCondBase):
    """c_noise = log(σ)/4 = −λ/8 for a VP λ (Karras et al. 2022, Table 1)."""

    name = "edm"

    def cond(self, logsnr: Tensor) -> Tensor:
        return -logsnr / 8


class SigmoidNoiseCond(NoiseCondBase):
    """σ(−λ) = b² for the VP scaler: 0 at clean data, 1 at pure noise."""

    name = "sigmoid"

    def cond(self, logsnr: Tensor) -> Tensor:
        return torch.sigmoid(-logsnr)


class LogSNRNoiseCond(NoiseCondBase):
    """λ itself (Kingma et al. 2021, "Variational Diffusion Models")."""

    name = "logsnr"

    def cond(self, logsnr: Tensor) -> Tensor:
        return logsnr.clone()


class EDMSigmaNoiseCond(NoiseCondBase):
    """σ·sigma_data with σ = e^(−λ/2) (Karras et al. 2022)."""

    name = "edm_sigma"

    def __init__(self, sigma_data: Positive = 1, **kwargs) -> None:
        self.sigma_data = sigma_data
        super().__init__(**kwargs)

    def cond(self, logsnr: Tensor) -> Tensor:
        return torch.exp(-logsnr / 2) * self.sigma_data


class RectifiedFlowsNoiseCond(NoiseCondBase):
    """The rectified-flow time 1 − t = σ(λ/2), i.e. a of the ``lerp`` scaler (Liu et al. 2022; Esser et al. 2024)."""

    name = "rectified_flows"

    def cond(self, logsnr: Tensor) -> Tensor:
        return torch.sigmoid(logsnr / 2)
