"""Samplers that take exactly the steps of a diffusers scheduler where gdf's own samplers differ on purpose."""

from gdf_core.hookspecs import hookimpl
from gdf_plugins.interop_samplers.diffusers_deis import DiffusersDEISSampler
from gdf_plugins.interop_samplers.diffusers_dpmsolver import DiffusersDPMSolverSampler
from gdf_plugins.interop_samplers.diffusers_heun import DiffusersHeunSampler
from gdf_plugins.interop_samplers.diffusers_unipc import DiffusersUniPCSampler


@hookimpl
def gdf_register_samplers() -> list[type]:
    return [DiffusersDPMSolverSampler, DiffusersUniPCSampler, DiffusersDEISSampler, DiffusersHeunSampler]


__all__ = ["DiffusersDEISSampler", "DiffusersDPMSolverSampler", "DiffusersHeunSampler", "DiffusersUniPCSampler", "gdf_register_samplers"]
