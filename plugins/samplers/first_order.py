"""The original GDF's samplers: one model call per step, x′ from the model's x0 and ε at λ.

Notation: (a, b) = scaler(λ), (a′, b′) = scaler(λ′), λ′ the next (less noisy) level.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from gdf_core.bases import FirstOrderSampler
from gdf_core.bases.sampler import scaled
from gdf_core.noise import randn_like
from gdf_core.protocols import InputScaler
from gdf_core.tensors import to_compute


def ancestral_sigma(a: Tensor, b: Tensor, a_next: Tensor, b_next: Tensor, eta: float) -> Tensor:
    """ς = eta·(b′/b)·√(1 − a²/a′²): the fresh-noise scale of a DDIM step (Song et al. 2021, eq. 16).

    Zero where b = 0 or a′ = 0 (the formula's limits there), never NaN.
    """
    ratio_b = torch.where(b > 0, b_next / torch.where(b > 0, b, torch.ones_like(b)), torch.zeros_like(b))
    safe_a_next = torch.where(a_next > 0, a_next, torch.ones_like(a_next))
    ratio_a = torch.where(a_next > 0, a / safe_a_next, torch.ones_like(a))
    return eta * ratio_b * (1 - ratio_a * ratio_a).clamp(min=0).sqrt()


class DDIMSampler(FirstOrderSampler):
    """x′ = a′·x0 + √(b′² − ς²)·ε + ς·z with ς = eta·(b′/b)·√(1 − a²/a′²) (Song et al. 2021, "DDIM").

    eta = 0 is the deterministic DDIM step x′ = a′·x0 + b′·ε; eta = 1 is ancestral (DDPM) sampling.
    """

    name = "ddim"

    def __init__(self, gdf: Any = None, *, eta: float = 0.0) -> None:
        if eta < 0:
            raise ValueError(f"sampler {self.name!r}: eta scales the fresh noise and must be ≥ 0, got {eta}")
        self.eta = eta
        super().__init__(gdf)

    def update(
        self,
        x: Tensor,
        x0: Tensor,
        epsilon: Tensor,
        logsnr: Tensor,
        logsnr_next: Tensor,
        *,
        scaler: InputScaler,
        generator: Any = None,
    ) -> Tensor:
        x0c, epsc = to_compute(x0), to_compute(epsilon)
        a_next, b_next = scaled(scaler, logsnr_next, x0c)
        if self.eta == 0:
            return (a_next * x0c + b_next * epsc).to(x.dtype)
        a, b = scaled(scaler, logsnr, x0c)
        sigma = ancestral_sigma(a, b, a_next, b_next, self.eta)
        noise = randn_like(x0c, generator)
        direction = (b_next * b_next - sigma * sigma).clamp(min=0).sqrt()
        return (a_next * x0c + direction * epsc + sigma * noise).to(x.dtype)


class DDPMSampler(DDIMSampler):
    """Ancestral sampling (Ho et al. 2020): the DDIM step with eta = 1."""

    name = "ddpm"
    stochastic = True

    def __init__(self, gdf: Any = None, *, eta: float = 1.0) -> None:
        super().__init__(gdf, eta=eta)


class LCMSampler(FirstOrderSampler):
    """x′ = a′·x0 + b′·z with fresh noise z: multistep consistency sampling (Luo et al. 2023, "LCM")."""

    name = "lcm"
    stochastic = True

    def update(
        self,
        x: Tensor,
        x0: Tensor,
        epsilon: Tensor,
        logsnr: Tensor,
        logsnr_next: Tensor,
        *,
        scaler: InputScaler,
        generator: Any = None,
    ) -> Tensor:
        x0c = to_compute(x0)
        a_next, b_next = scaled(scaler, logsnr_next, x0c)
        return (a_next * x0c + b_next * randn_like(x0c, generator)).to(x.dtype)
