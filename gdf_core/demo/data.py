"""Toy 2-D data sets, drawn with torch only, each scaled to roughly unit variance."""

from __future__ import annotations

import math
from typing import Callable, Optional

import torch
from torch import Tensor


def two_moons(n: int, generator: Optional[torch.Generator] = None) -> Tensor:
    """Two interleaved half circles (as scikit-learn's make_moons), with a little noise."""
    upper = torch.rand(n, generator=generator) < 0.5
    angle = torch.rand(n, generator=generator) * math.pi
    x = torch.where(upper, torch.cos(angle), 1 - torch.cos(angle))
    y = torch.where(upper, torch.sin(angle), 0.5 - torch.sin(angle))
    points = torch.stack([x - 0.5, y - 0.25], dim=1) * 1.6
    return points + 0.06 * torch.randn(n, 2, generator=generator)


def eight_gaussians(n: int, generator: Optional[torch.Generator] = None) -> Tensor:
    """Eight narrow Gaussians on a circle: a test of mode coverage."""
    k = torch.randint(0, 8, (n,), generator=generator)
    angle = k.to(torch.float32) * (2 * math.pi / 8)
    centres = torch.stack([torch.cos(angle), torch.sin(angle)], dim=1) * 1.4
    return centres + 0.1 * torch.randn(n, 2, generator=generator)


def checkerboard(n: int, generator: Optional[torch.Generator] = None) -> Tensor:
    """Uniform on the black squares of a 4×4 checkerboard: sharp edges, eight squares."""
    x = torch.rand(n, generator=generator) * 4 - 2
    row = torch.randint(0, 2, (n,), generator=generator) * 2 - 2  # −2 or 0
    y = torch.rand(n, generator=generator) + row + (torch.floor(x) % 2)
    return torch.stack([x, y], dim=1) * 0.85


def swiss_roll(n: int, generator: Optional[torch.Generator] = None) -> Tensor:
    """A 2-D spiral (the swiss roll seen from its end)."""
    turn = 1.5 * math.pi * (1 + 2 * torch.rand(n, generator=generator))
    points = torch.stack([turn * torch.cos(turn), turn * torch.sin(turn)], dim=1) / 7.5
    return points + 0.04 * torch.randn(n, 2, generator=generator)


DATASETS: dict[str, Callable[[int, Optional[torch.Generator]], Tensor]] = {
    "two_moons": two_moons,
    "eight_gaussians": eight_gaussians,
    "checkerboard": checkerboard,
    "swiss_roll": swiss_roll,
}


def draw(name: str, n: int, seed: int = 0) -> Tensor:
    """``n`` points of the data set ``name``, shape (n, 2), reproducible from ``seed``."""
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; choose one of {', '.join(DATASETS)}")
    return DATASETS[name](n, torch.Generator().manual_seed(seed))


__all__ = ["DATASETS", "checkerboard", "draw", "eight_gaussians", "swiss_roll", "two_moons"]
