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
from gdf_core.tensors import batch_view, to_compute


def ancestral_sigma(logsnr: Tensor, logsnr_next: Tensor, b_next: Tensor, eta: float) -> Tensor:
    """ς = eta·b′·√(1 − e^(λ − λ′)): the fresh-noise scale of a DDIM step (Song et al. 2021, eq. 16).

    The DDPM posterior std written in λ, so it holds for every scaler: for
    ``vp`` it equals the paper's (b′/b)·√(1 − a²/a′²); the original's form was
    wrong for ``lerp``. −expm1 keeps it exact for small steps; it is 0 at b′ = 0.
    """
    step = torch.nan_to_num(logsnr - logsnr_next, nan=0.0).clamp(max=0)  # λ = λ′ = +∞: no step, no noise
    ratio = (-torch.expm1(step)).clamp(min=0)
    return eta * b_next * ratio.sqrt()


class DDIMSampler(FirstOrderSampler):
    """x′ = a′·x0 + √(b′² − ς²)·ε + ς·z with ς = eta·b′·√(1 − e^(λ−λ′)) (Song et al. 2021, "DDIM").

    eta = 0 is the deterministic DDIM step x′ = a′·x0 + b′·ε; eta = 1 is ancestral (DDPM) sampling.
    """

    name = "ddim"

    def __init__(self, gdf: Any = None, *, eta: float = 0.0) -> None:
        if eta < 0:
            raise ValueError(f"sampler {self.name!r}: eta scales the fresh noise and must be ≥ 0, got {eta}")
        self.eta = eta
        super().__init__(gdf)

    @property  # type: ignore[override]
    def stochastic(self) -> bool:
        """Whether a step draws fresh noise: whenever eta > 0."""
        return self.eta > 0

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
        sigma = ancestral_sigma(batch_view(logsnr, x0c), batch_view(logsnr_next, x0c), b_next, self.eta).to(x0c.dtype)
        noise = randn_like(x0c, generator, logsnrs=(logsnr, logsnr_next))
        direction = (b_next * b_next - sigma * sigma).clamp(min=0).sqrt()
        return (a_next * x0c + direction * epsc + sigma * noise).to(x.dtype)


class DDPMSampler(DDIMSampler):
    """Ancestral sampling (Ho et al. 2020): the DDIM step with eta = 1."""

    name = "ddpm"

    def __init__(self, gdf: Any = None, *, eta: float = 1.0) -> None:
        super().__init__(gdf, eta=eta)


class LCMSampler(FirstOrderSampler):
    """x′ = a′·x0 + b′·z with fresh noise z: multistep consistency sampling (Luo et al. 2023, "LCM")."""

    name = "lcm"
    denoiser = "consistency"  # checked with a consistency function, not E[x0 | x]
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
        return (a_next * x0c + b_next * randn_like(x0c, generator, logsnrs=(logsnr, logsnr_next))).to(x.dtype)
