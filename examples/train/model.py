"""A small class-conditional convolutional denoiser for 8×8 images."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class FourierFeatures(nn.Module):
    """sin/cos of the noise condition at log-spaced frequencies (fixed, not learned)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.register_buffer("freqs", torch.exp(torch.linspace(0, math.log(200.0), dim // 2)))

    def forward(self, c: Tensor) -> Tensor:
        angle = c.float()[:, None] * self.freqs[None]
        return torch.cat([angle.sin(), angle.cos()], dim=1)


class ResBlock(nn.Module):
    """GroupNorm → SiLU → conv, twice, with a FiLM scale/shift from the embedding."""

    def __init__(self, ch: int, emb: int) -> None:
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(8, ch), nn.Conv2d(ch, ch, 3, padding=1)
        self.norm2, self.conv2 = nn.GroupNorm(8, ch), nn.Conv2d(ch, ch, 3, padding=1)
        self.film = nn.Linear(emb, 2 * ch)

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        h = self.conv1(torch.nn.functional.silu(self.norm1(x)))
        scale, shift = self.film(emb)[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        return x + self.conv2(torch.nn.functional.silu(h))


class DigitDenoiser(nn.Module):
    """model(x, noise_cond, y) → the target, for x of shape (B, 1, 8, 8) and class labels y (10 = no class)."""

    def __init__(self, ch: int = 32, emb: int = 64, blocks: int = 3, classes: int = 10) -> None:
        super().__init__()
        self.null_class = classes
        self.noise = nn.Sequential(FourierFeatures(emb), nn.Linear(emb, emb), nn.SiLU(), nn.Linear(emb, emb))
        self.label = nn.Embedding(classes + 1, emb)
        self.inp = nn.Conv2d(1, ch, 3, padding=1)
        self.blocks = nn.ModuleList(ResBlock(ch, emb) for _ in range(blocks))
        self.out = nn.Sequential(nn.GroupNorm(8, ch), nn.SiLU(), nn.Conv2d(ch, 1, 3, padding=1))
        nn.init.zeros_(self.out[-1].weight)
        nn.init.zeros_(self.out[-1].bias)

    def forward(self, x: Tensor, noise_cond: Tensor, y: Tensor) -> Tensor:
        emb = torch.nn.functional.silu(self.noise(noise_cond) + self.label(y))
        h = self.inp(x)
        for block in self.blocks:
            h = block(h, emb)
        return self.out(h)
