"""Base classes that give a component the shared behaviour of its kind.

Optional: a component only has to satisfy its protocol (gdf_core.protocols).
These bases implement what the original GDF's base classes did (shift, limits,
discrete steps, clamping, limits stretching) once, for built-in and
third-party components alike.
"""

from gdf_core.bases.guidance import GuidanceBase
from gdf_core.bases.loss_weight import LossWeightBase
from gdf_core.bases.noise_cond import NoiseCondBase
from gdf_core.bases.sampler import FirstOrderSampler, SamplerBase, StepRows
from gdf_core.bases.scaler import ScalerBase
from gdf_core.bases.schedule import ScheduleBase
from gdf_core.bases.target import TargetBase

__all__ = [
    "FirstOrderSampler",
    "GuidanceBase",
    "LossWeightBase",
    "NoiseCondBase",
    "SamplerBase",
    "ScalerBase",
    "StepRows",
    "ScheduleBase",
    "TargetBase",
]
