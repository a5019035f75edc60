"""Autoguidance (Karras et al. 2024): guide a model with a weaker version of itself."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from gdf_core.bases.guidance import GuidanceBase, Scale, scale_at
from gdf_core.guidance import Predictions


class Autoguidance(GuidanceBase):
    """guided = g + w·(c − g) = lerp(g, c, w), g the guide model's prediction.

    Autoguidance (Karras, Aittala, Kynkäänniemi, Lehtinen, Aila & Laine 2024,
    "Guiding a Diffusion Model with a Bad Version of Itself"): c is the main
    model's conditional prediction and g that of ``guide_model`` (a smaller or
    less trained model of the same task, given to ``sample``) on the same
    inputs; no unconditional call. With the main model as its own guide
    (g = c) the result is c: no guidance.
    """

    name = "autoguidance"
    space = "pred"
    branches = ("guide",)
    neutral = {"scale": 1.0}

    def __init__(self, scale: Scale = 2.0, **kwargs: Any) -> None:
        self.scale = scale
        super().__init__(**kwargs)

    def guide(self, predictions: Predictions, *, x: Tensor, logsnr: Tensor, t: float, step: int, state: Any) -> Tensor:
        return torch.lerp(predictions.guide, predictions.conditional, scale_at(self.scale, t))
