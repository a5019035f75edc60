"""A small MLP denoiser for 2-D points, conditioned on a noise level through Fourier features."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class NoiseCondEmbedding(nn.Module):
    """Sines and cosines of the noise condition at log-spaced frequencies, plus a tanh-squashed copy.

    The recipes' noise conditions live on very different ranges (t ∈ [0, 1], −λ/8,
    λ, integer steps), so by default the frequencies span four decades. The
    preconditioned model (``precondition.py``) always gives it c = −λ/8, a few
    units wide, and uses two decades (0.5 … 50). ``scale`` multiplies the condition
    first: a discrete one (integer timesteps 0 … 3999) needs 1/4000, or its features
    alias (``run.noise_cond_scale``).
    """

    def __init__(self, features: int = 16, low: float = 0.05, high: float = 200.0, scale: float = 1.0) -> None:
        super().__init__()
        if features < 1 or not 0 < low <= high or not 0 < scale < float("inf"):
            raise ValueError(f"expected features ≥ 1, 0 < low ≤ high and a finite scale > 0; got {features}, {low}, {high}, {scale}")
        self.scale = float(scale)
        freqs = torch.exp(torch.linspace(math.log(low), math.log(high), features))
        self.freqs: Tensor
        self.register_buffer("freqs", freqs, persistent=False)
        self.dim = 2 * features + 1

    def forward(self, cond: Tensor) -> Tensor:
        c = cond.to(self.freqs.dtype).reshape(-1, 1) * self.scale
        angles = c * self.freqs
        return torch.cat([angles.sin(), angles.cos(), torch.tanh(c / 4)], dim=1)


class PointEmbedding(nn.Module):
    """Each coordinate with sines and cosines of it at log-spaced frequencies (Tancik et al. 2020).

    A plain MLP of a 2-D point learns smooth functions first (spectral bias);
    these features let it resolve the data's thin structures in a few thousand steps.
    ``features = 0``: the point itself.
    """

    def __init__(self, dim: int = 2, features: int = 8, low: float = 0.5, high: float = 16.0) -> None:
        super().__init__()
        if features < 0 or not 0 < low <= high:
            raise ValueError(f"expected features ≥ 0 and 0 < low ≤ high; got {features}, {low}, {high}")
        freqs = torch.exp(torch.linspace(math.log(low), math.log(high), features))
        self.freqs: Tensor
        self.register_buffer("freqs", freqs, persistent=False)
        self.dim = dim * (2 * features + 1)

    def forward(self, x: Tensor) -> Tensor:
        if len(self.freqs) == 0:
            return x
        angles = (x.unsqueeze(-1) * self.freqs).flatten(1)
        return torch.cat([x, angles.sin(), angles.cos()], dim=1)


class MLPDenoiser(nn.Module):
    """``net(x, noise_level) -> output``: x of shape (B, 2), one noise level per sample (or one for all).

    Residual MLP: the embedded noise level is added to the projected input, then
    ``depth`` pre-activation residual blocks of width ``hidden``.
    """

    def __init__(
        self,
        dim: int = 2,
        hidden: int = 128,
        depth: int = 3,
        embedding: nn.Module | None = None,
        activation: type[nn.Module] = nn.SiLU,
        point_features: int = 0,
    ) -> None:
        super().__init__()
        self.embed = embedding if embedding is not None else NoiseCondEmbedding()
        embed_dim: int = getattr(self.embed, "dim")  # NoiseCondEmbedding.dim, or a given embedding's
        self.cond = nn.Sequential(nn.Linear(embed_dim, hidden), activation(), nn.Linear(hidden, hidden))
        self.points = PointEmbedding(dim, point_features)
        self.inp = nn.Linear(self.points.dim, hidden)
        self.blocks = nn.ModuleList(
            nn.Sequential(activation(), nn.Linear(hidden, hidden), activation(), nn.Linear(hidden, hidden))
            for _ in range(depth)
        )
        self.out = nn.Sequential(activation(), nn.Linear(hidden, dim))

    def forward(self, x: Tensor, noise_cond: Tensor) -> Tensor:
        h = self.inp(self.points(x)) + self.cond(self.embed(noise_cond.expand(x.shape[0]) if noise_cond.dim() == 0 else noise_cond))
        for block in self.blocks:
            h = h + block(h)
        return self.out(h)  # type: ignore[no-any-return]


__all__ = ["MLPDenoiser", "NoiseCondEmbedding", "PointEmbedding"]
