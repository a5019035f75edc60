"""CFG-Zero* (Fan et al. 2025): an optimised unconditional scale and zeroed first steps."""

from __future__ import annotations

from typing import Annotated, Any

import torch
from pydantic import Field
from torch import Tensor

from gdf_core.bases.guidance import GuidanceBase, Scale, scale_at
from gdf_core.guidance import Predictions


class CFGZeroStar(GuidanceBase):
    """guided = s*·u + w·(c − s*·u), s* = ⟨c, u⟩/‖u‖² per sample; in velocity space v = ε − x0.

    CFG-Zero* (Fan, Zheng, Huang & Liu 2025, "CFG-Zero*: Improved
    Classifier-Free Guidance for Flow Matching Models"). s* is the scale of u
    that best fits c in least squares (1e-8 added to ‖u‖², as in the paper's
    code). The first ``zero_init_steps`` steps return v = 0 ("zero-init": the
    paper's code zeroes the first step, ``zero_init_steps = 1``); with the lerp
    scaler x then does not move, with others x0 = ε = x/(a + b). It works on
    the flow velocity the paper guides, whatever the model's target.
    """

    name = "cfg_zero_star"
    space = "velocity"
    branches = ("unconditional",)
    neutral = {"scale": 1.0, "zero_init_steps": 0}

    def __init__(
        self,
        scale: Scale = 3.0,
        zero_init_steps: Annotated[int, Field(ge=0, strict=True)] = 1,
        **kwargs: Any,
    ) -> None:
        self.scale = scale
        self.zero_init_steps = zero_init_steps
        super().__init__(**kwargs)

    def guide(self, predictions: Predictions, *, x: Tensor, logsnr: Tensor, t: float, step: int, state: Any) -> Tensor:
        cond, uncond = predictions.conditional, predictions.unconditional
        if step < self.zero_init_steps:
            return torch.zeros_like(cond)
        dims = tuple(range(1, cond.dim()))
        dot = (cond * uncond).sum(dim=dims, keepdim=True) if dims else cond * uncond
        sq_norm = (uncond * uncond).sum(dim=dims, keepdim=True) if dims else uncond * uncond
        scaled_uncond = dot / (sq_norm + 1e-8) * uncond
        return cond + (scale_at(self.scale, t) - 1) * (cond - scaled_uncond)
