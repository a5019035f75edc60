"""Adapters that let ``GDF.sample`` call a diffusers model: UNets and the SD3 / Flux transformers.

gdf calls ``model(x, noise_cond, **model_inputs)`` and expects a tensor;
diffusers models take the timestep by keyword and return an output object.
``DiffusersModel`` bridges the two: x goes first (``sample`` / ``hidden_states``),
the noise condition is passed as ``timestep`` (times ``timestep_scale``: Flux's
transformer takes σ ∈ [0, 1], not σ·1000), ``model_inputs`` as keyword
arguments, and ``.sample`` (``return_dict=False``'s first item) comes back.
Guidance works as for any gdf model: with ``cfg`` the batch is doubled and every
batched input is concatenated with its unconditional counterpart. Inputs
without a batch dimension (Flux's ``img_ids``/``txt_ids``) go in
``constant_inputs``, passed unchanged to every call.
"""

from __future__ import annotations

from typing import Any, Optional

import torch
from torch import Tensor

#: diffusers model class → the factor its pipeline applies to the scheduler's timestep.
TIMESTEP_SCALE = {"FluxTransformer2DModel": 1e-3}


class DiffusersModel(torch.nn.Module):
    """A diffusers model as a gdf model: ``adapter(x, noise_cond, **model_inputs) -> prediction``."""

    def __init__(
        self,
        model: torch.nn.Module,
        *,
        timestep_scale: Optional[float] = None,
        constant_inputs: Optional[dict[str, Any]] = None,
    ) -> None:
        super().__init__()
        self.model = model
        name = type(model).__name__
        self.timestep_scale = TIMESTEP_SCALE.get(name, 1.0) if timestep_scale is None else float(timestep_scale)
        self.constant_inputs = dict(constant_inputs or {})

    def forward(self, x: Tensor, noise_cond: Tensor, **model_inputs: Any) -> Tensor:
        timestep = noise_cond if self.timestep_scale == 1.0 else noise_cond * self.timestep_scale
        if timestep.dim() == 0:
            timestep = timestep.expand(x.shape[0])
        out = self.model(x, timestep=timestep, **self.constant_inputs, **model_inputs, return_dict=False)
        pred = out[0] if isinstance(out, (tuple, list)) else getattr(out, "sample", out)
        if not isinstance(pred, Tensor):
            raise TypeError(f"{type(self.model).__name__} returned {type(pred).__name__}, not a tensor")
        return pred


def wrap_diffusers_model(model: torch.nn.Module, **options: Any) -> DiffusersModel:
    """``DiffusersModel(model, **options)``: UNet2DModel, UNet2DConditionModel, SD3Transformer2DModel, FluxTransformer2DModel, …"""
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"wrap_diffusers_model takes a torch.nn.Module (a diffusers model), got {type(model).__name__}")
    return DiffusersModel(model, **options)


__all__ = ["DiffusersModel", "TIMESTEP_SCALE", "wrap_diffusers_model"]
