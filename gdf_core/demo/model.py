"""A small MLP denoiser for 2-D points, conditioned on the GDF's noise condition."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class NoiseCondEmbedding(nn.Module):
    """Fourier features of the noise condition at log-spaced frequencies, plus the value itself.

    Noise conditions live on very different ranges (t ∈ [0, 1], −λ/8, λ ∈ [−15, 15],
    integer steps), so the frequencies span four decades and the raw value is
    passed through a tanh-squashed copy as well.
    """

    def __init__(self, features: int = 16, low: float = 0.05, high: float = 200.0) -> None:
        super().__init__()
        freqs = torch.exp(torch.linspace(math.log(low), math.log(high), features))
        self.freqs: Tensor
        self.register_buffer("freqs", freqs, persistent=False)
        self.dim = 2 * features + 1

    def forward(self, cond: Tensor) -> Tensor:
        c = cond.to(self.freqs.dtype).reshape(-1, 1)
        angles = c * self.freqs
        return torch.cat([angles.sin(), angles.cos(), torch.tanh(c / 4)], dim=1)


class MLPDenoiser(nn.Module):
    """``model(x, noise_cond) -> prediction``: x of shape (B, 2), one noise condition per sample."""

    def __init__(self, dim: int = 2, hidden: int = 128, depth: int = 3) -> None:
        super().__init__()
        self.embed = NoiseCondEmbedding()
        self.cond = nn.Sequential(nn.Linear(self.embed.dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden))
        self.inp = nn.Linear(dim, hidden)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, hidden))
            for _ in range(depth)
        )
        self.out = nn.Sequential(nn.SiLU(), nn.Linear(hidden, dim))

    def forward(self, x: Tensor, noise_cond: Tensor) -> Tensor:
        h = self.inp(x) + self.cond(self.embed(noise_cond.expand(x.shape[0]) if noise_cond.dim() == 0 else noise_cond))
        for block in self.blocks:
            h = h + block(h)
        return self.out(h)  # type: ignore[no-any-return]


__all__ = ["MLPDenoiser", "NoiseCondEmbedding"]
