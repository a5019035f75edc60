"""A guidance whose weight rises over sampling: CFG with a cosine weight schedule."""

from __future__ import annotations

import math
from typing import Annotated, Any

import torch
from pydantic import Field
from torch import Tensor

from gdf_core import GuidanceBase, Predictions


class CosineRampCFG(GuidanceBase):
    """guided = lerp(u, c, w(t)), w(t) = 1 + (scale − 1)·(1 + cos(π·t))/2.

    Classifier-free guidance whose weight follows a cosine from 1 at t = 1
    (pure noise: no guidance) to ``scale`` at t = 0 (data): one of the
    monotonically increasing guidance schedules of Wang et al. 2024 ("Analysis
    of Classifier-Free Guidance Weight Schedulers", TMLR), which found that
    guiding little at high noise and more near the data improves on a
    constant weight. In the model's own prediction space, like ``cfg``.
    """

    name = "cosine_ramp_cfg"
    space = "pred"
    branches = ("unconditional",)
    neutral = {"scale": 1.0}

    def __init__(self, scale: Annotated[float, Field(allow_inf_nan=False, strict=True)] = 5.0, **kwargs: Any) -> None:
        self.scale = scale
        super().__init__(**kwargs)

    def weight(self, t: float) -> float:
        """w(t), from 1 at t = 1 to ``scale`` at t = 0."""
        return 1 + (self.scale - 1) * (1 + math.cos(math.pi * t)) / 2

    def guide(self, predictions: Predictions, *, x: Tensor, logsnr: Tensor, t: float, step: int, state: Any) -> Tensor:
        return torch.lerp(predictions.unconditional, predictions.conditional, self.weight(t))
