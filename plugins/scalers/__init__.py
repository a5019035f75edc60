"""Built-in input scalers: λ → (a, b) with ``noised = a·x0 + b·ε``.

Difference from the original: ``lerp`` uses the closed form a = σ(λ/2) instead
of the original's quadratic root (a division by e^λ − 1 with an in-place guard
at λ = 0 that gave 0.5002 there, and a = 0 at λ = −20 in float32).
"""

from __future__ import annotations

import torch
from torch import Tensor

from gdf_core.bases import ScalerBase
from gdf_core.hookspecs import hookimpl


class VPScaler(ScalerBase):
    """Variance preserving: a = √σ(λ), b = √σ(−λ), so a² + b² = 1 (Ho et al. 2020; Kingma et al. 2021).

    b is computed as √σ(−λ) rather than √(1 − a²), which keeps it accurate at large λ.
    """

    name = "vp"
    preserves = "variance"  # a² + b² = 1, checked by gdf_core.testing

    def scalers(self, logsnr: Tensor) -> tuple[Tensor, Tensor]:
        return torch.sigmoid(logsnr).sqrt(), torch.sigmoid(-logsnr).sqrt()


class LERPScaler(ScalerBase):
    """Linear interpolation (rectified flow): a = σ(λ/2), b = σ(−λ/2) = 1 − a, so a + b = 1.

    With a = 1 − t, b = t this is x = (1 − t)·x0 + t·ε and λ = 2·log((1 − t)/t)
    (Liu et al. 2022; Esser et al. 2024).
    """

    name = "lerp"
    preserves = "sum"  # a + b = 1, checked by gdf_core.testing

    def scalers(self, logsnr: Tensor) -> tuple[Tensor, Tensor]:
        half = logsnr / 2
        return torch.sigmoid(half), torch.sigmoid(-half)


from gdf_plugins.scalers.edm import EDMScaler  # noqa: E402


@hookimpl
def gdf_register_input_scalers() -> list[type]:
    return [VPScaler, LERPScaler, EDMScaler]


__all__ = ["EDMScaler", "LERPScaler", "VPScaler"]
