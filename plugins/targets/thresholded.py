"""x̂0 limited at sampling time: clipped to a range (Ho et al. 2020) or dynamically thresholded
(Saharia et al. 2022, "Photorealistic Text-to-Image Diffusion Models with Deep Language
Understanding", §2.3: Imagen's dynamic thresholding).

Around a base ``prediction`` (ε, v, x0, …), the estimate of the clean sample is limited:

    clip:     x̂0 ← clamp(x̂0, −r, r)                         r = ``clip_range``
    dynamic:  s = clamp(quantile(|x̂0|, p), 1, s_max) per sample,  x̂0 ← clamp(x̂0, −s, s)/s

p = ``ratio``, s_max = ``max_value``. The noise estimate is either the model's own
(``noise="model"``: what DDIM does in diffusers) or the one consistent with the limited
x̂0 at the same x, ε̂ = (x − a·x̂0)/b (``"consistent"``: DDPM's posterior, DPM-Solver's and
UniPC's noise forms, DEIS). Training is unchanged: the training target is the base
prediction's. These are diffusers' ``clip_sample`` and ``thresholding`` options.
"""

from __future__ import annotations

from typing import Annotated, Literal, Optional

import torch
from pydantic import Field
from torch import Tensor

from gdf_core.bases import TargetBase
from gdf_core.domains import Positive
from gdf_core.protocols import Target
from gdf_core.tensors import result_dtype

#: The quantile of |x̂0| that dynamic thresholding takes: in (0, 1].
Quantile = Annotated[float, Field(gt=0.0, le=1.0, allow_inf_nan=False)]


class ThresholdedTarget(TargetBase):
    """The base ``prediction`` with x̂0 clipped (``method="clip"``) or dynamically thresholded (``"dynamic"``)."""

    name = "thresholded"

    def __init__(
        self,
        prediction: Optional[Target] = None,
        method: Literal["clip", "dynamic"] = "dynamic",
        clip_range: Positive = 1.0,
        ratio: Quantile = 0.995,
        max_value: Annotated[float, Field(ge=1.0, allow_inf_nan=False)] = 1.0,
        noise: Literal["model", "consistent"] = "consistent",
    ) -> None:
        from gdf_core import registry

        self.prediction = registry.get("target", "epsilon")() if prediction is None else prediction
        self.method = method
        self.clip_range = float(clip_range)
        self.ratio = float(ratio)
        self.max_value = float(max_value)
        self.noise = noise

    @property
    def x0_bound(self) -> float:
        """|x0| up to which the limit is the identity (the testing kit's round trips use it)."""
        return self.clip_range if self.method == "clip" else 1.0

    def limit(self, x0: Tensor) -> Tensor:
        """x̂0 clipped or thresholded, computed in float32 at least."""
        wide = x0 if x0.dtype in (torch.float32, torch.float64) else x0.float()
        if self.method == "clip":
            return wide.clamp(-self.clip_range, self.clip_range)
        flat = wide.abs().reshape(wide.shape[0], -1)
        s = torch.quantile(flat, self.ratio, dim=1).clamp(1.0, self.max_value)
        s = s.view(-1, *([1] * (wide.dim() - 1)))
        return torch.maximum(torch.minimum(wide, s), -s) / s

    def __call__(self, x0: Tensor, epsilon: Tensor, logsnr: Tensor, a: Tensor, b: Tensor) -> Tensor:
        return self.prediction(x0, epsilon, logsnr, a, b)

    def x0(self, x: Tensor, pred: Tensor, logsnr: Tensor, a: Tensor, b: Tensor) -> Tensor:
        return self.limit(self.prediction.x0(x, pred, logsnr, a, b)).to(result_dtype(x))

    def epsilon(self, x: Tensor, pred: Tensor, logsnr: Tensor, a: Tensor, b: Tensor) -> Tensor:
        if self.noise == "model":
            return self.prediction.epsilon(x, pred, logsnr, a, b)
        x0 = self.x0(x, pred, logsnr, a, b)
        dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
        xc, x0c, ac, bc = (v.to(dtype) for v in (x, x0, a, b))
        fallback = self.prediction.epsilon(x, pred, logsnr, a, b).to(dtype)
        safe_b = torch.where(bc > 0, bc, torch.ones_like(bc))
        return torch.where(bc > 0, (xc - ac * x0c) / safe_b, fallback).to(result_dtype(x))


__all__ = ["ThresholdedTarget"]
