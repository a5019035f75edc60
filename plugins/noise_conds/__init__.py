"""Built-in noise conditions (λ → what the model is given)."""

from gdf_core.hookspecs import hookimpl
from gdf_plugins.noise_conds.cosine_t import CosineTNoiseCond
from gdf_plugins.noise_conds.discrete import DiscreteNoiseCond
from gdf_plugins.noise_conds.diffusers_timestep import DiffusersTimestepNoiseCond, FlowTimestepNoiseCond
from gdf_plugins.noise_conds.piecewise_linear import PiecewiseLinearNoiseCond, StableDiffusionNoiseCond
from gdf_plugins.noise_conds.simple import (
    EDMNoiseCond,
    EDMSigmaNoiseCond,
    LogSNRNoiseCond,
    RectifiedFlowsNoiseCond,
    SigmoidNoiseCond,
)

NOISE_CONDS: list[type] = [
    CosineTNoiseCond,
    EDMNoiseCond,
    SigmoidNoiseCond,
    LogSNRNoiseCond,
    EDMSigmaNoiseCond,
    RectifiedFlowsNoiseCond,
    PiecewiseLinearNoiseCond,
    StableDiffusionNoiseCond,
    DiscreteNoiseCond,
    DiffusersTimestepNoiseCond, FlowTimestepNoiseCond,
]


@hookimpl
def gdf_register_noise_conds() -> list[type]:
    return list(NOISE_CONDS)


__all__ = [
    "CosineTNoiseCond",
    "DiscreteNoiseCond",
    "EDMNoiseCond",
    "EDMSigmaNoiseCond",
    "LogSNRNoiseCond",
    "NOISE_CONDS",
    "PiecewiseLinearNoiseCond",
    "RectifiedFlowsNoiseCond",
    "SigmoidNoiseCond",
    "StableDiffusionNoiseCond",
    "gdf_register_noise_conds",
]
