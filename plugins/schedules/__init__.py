"""Built-in schedules (t → λ)."""

from gdf_core.hookspecs import hookimpl
from gdf_plugins.schedules.adaptive import AdaptiveTrainSchedule
from gdf_plugins.schedules.cosine import CosineSchedule, CosineSchedule2
from gdf_plugins.schedules.edm import EDMSampleSchedule, EDMTrainSchedule
from gdf_plugins.schedules.interpolated import InterpolatedSchedule
from gdf_plugins.schedules.linear import LinearSchedule, RectifiedFlowsSchedule
from gdf_plugins.schedules.logit_normal import LogitNormalSchedule
from gdf_plugins.schedules.mode import ModeSchedule
from gdf_plugins.schedules.piecewise_linear import PiecewiseLinearSchedule, StableDiffusionSchedule
from gdf_plugins.schedules.grids import SAMPLING_SCHEDULES
from gdf_plugins.schedules.sqrt import SqrtSchedule
from gdf_plugins.schedules.tabulated import TabulatedSchedule
from gdf_plugins.schedules.diffusers import DIFFUSERS_SCHEDULES

SCHEDULES: list[type] = [
    CosineSchedule,
    CosineSchedule2,
    SqrtSchedule,
    RectifiedFlowsSchedule,
    EDMSampleSchedule,
    EDMTrainSchedule,
    LinearSchedule,
    PiecewiseLinearSchedule,
    StableDiffusionSchedule,
    AdaptiveTrainSchedule,
    InterpolatedSchedule,
    LogitNormalSchedule,
    ModeSchedule,
    *SAMPLING_SCHEDULES,
    TabulatedSchedule,
    *DIFFUSERS_SCHEDULES,
]


@hookimpl
def gdf_register_schedules() -> list[type]:
    return list(SCHEDULES)


__all__ = [
    "AdaptiveTrainSchedule",
    "CosineSchedule",
    "CosineSchedule2",
    "EDMSampleSchedule",
    "EDMTrainSchedule",
    "InterpolatedSchedule",
    "LinearSchedule",
    "LogitNormalSchedule",
    "ModeSchedule",
    "PiecewiseLinearSchedule",
    "RectifiedFlowsSchedule",
    "SCHEDULES",
    "SqrtSchedule",
    "StableDiffusionSchedule",
    "TabulatedSchedule",
    "gdf_register_schedules",
]
