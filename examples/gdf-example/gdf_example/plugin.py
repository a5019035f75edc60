"""The module named in the "gdf" entry-point group: one hook per kind it contributes."""

from __future__ import annotations

from typing import Any

from gdf_core import hookimpl
from gdf_example.guidance import CosineRampCFG
from gdf_example.loss_weights import LogitNormalDensityWeight
from gdf_example.samplers import LambdaMidpointSampler
from gdf_example.schedules import LogitNormalSchedule


@hookimpl
def gdf_register_schedules() -> list[type]:
    return [LogitNormalSchedule]


@hookimpl
def gdf_register_loss_weights() -> list[type]:
    return [LogitNormalDensityWeight]


@hookimpl
def gdf_register_samplers() -> list[type]:
    return [LambdaMidpointSampler]


@hookimpl
def gdf_register_guidances() -> list[type]:
    return [CosineRampCFG]


@hookimpl
def gdf_register_presets() -> dict[str, dict[str, Any]]:
    return {
        # SD3-style rectified flow (Esser et al. 2024): logit-normal training draw,
        # velocity target, and this package's midpoint sampler.
        "logit_normal_flow": {
            "schedule": {"name": "lognorm", "mu": 0.0, "std": 1.0},
            "input_scaler": "lerp",
            "target": "rectified_flows",
            "noise_cond": "rectified_flows",
            "loss_weight": "constant",
            "sampler": "lambda_midpoint",
        }
    }
