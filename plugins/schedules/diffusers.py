"""The schedules that reproduce diffusers' schedulers: the β table (training) and their sampling grids."""

from gdf_plugins.schedules.diffusers_betas import DiffusersBetasSchedule
from gdf_plugins.schedules.diffusers_flow_grid import DiffusersFlowGridSchedule
from gdf_plugins.schedules.diffusers_grid import DiffusersGridSchedule

DIFFUSERS_SCHEDULES: list[type] = [DiffusersBetasSchedule, DiffusersGridSchedule, DiffusersFlowGridSchedule]

__all__ = ["DIFFUSERS_SCHEDULES", "DiffusersBetasSchedule", "DiffusersFlowGridSchedule", "DiffusersGridSchedule"]
