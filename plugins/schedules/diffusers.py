"""The schedules that reproduce diffusers' schedulers: the β table (training) and their sampling grids (β-table, flow-matching, multistep on flow σ, EDM, LCM)."""

from gdf_plugins.schedules.diffusers_betas import DiffusersBetasSchedule
from gdf_plugins.schedules.diffusers_edm_grid import DiffusersEDMGridSchedule
from gdf_plugins.schedules.diffusers_lcm_grid import DiffusersLCMGridSchedule
from gdf_plugins.schedules.diffusers_flow_grid import DiffusersFlowGridSchedule
from gdf_plugins.schedules.diffusers_flow_sigmas import DiffusersFlowSigmasSchedule
from gdf_plugins.schedules.diffusers_grid import DiffusersGridSchedule

DIFFUSERS_SCHEDULES: list[type] = [DiffusersBetasSchedule, DiffusersGridSchedule, DiffusersFlowGridSchedule, DiffusersFlowSigmasSchedule, DiffusersEDMGridSchedule, DiffusersLCMGridSchedule]

__all__ = ["DIFFUSERS_SCHEDULES", "DiffusersBetasSchedule", "DiffusersEDMGridSchedule", "DiffusersFlowGridSchedule", "DiffusersFlowSigmasSchedule", "DiffusersGridSchedule", "DiffusersLCMGridSchedule"]
