"""Samplers that take exactly the steps of a diffusers scheduler where gdf's own samplers differ on purpose."""

from gdf_core.hookspecs import hookimpl
from gdf_plugins.interop_samplers.diffusers_dpmsolver import DiffusersDPMSolverSampler


@hookimpl
def gdf_register_samplers() -> list[type]:
    return [DiffusersDPMSolverSampler]


__all__ = ["DiffusersDPMSolverSampler", "gdf_register_samplers"]
