"""Built-in samplers (one step from λ to λ′)."""

from gdf_core.hookspecs import hookimpl
from gdf_plugins.samplers.first_order import DDIMSampler, DDPMSampler, LCMSampler
from gdf_plugins.samplers.deis import DEISSampler
from gdf_plugins.samplers.dpmpp import DPMPP2MSampler, DPMPP3MSampler
from gdf_plugins.samplers.dpmpp_2s_ancestral import DPMPP2SAncestralSampler
from gdf_plugins.samplers.dpmpp_sde import DPMPP2MSDESampler, DPMPP3MSDESampler
from gdf_plugins.samplers.euler import EulerAncestralSampler, EulerSampler
from gdf_plugins.samplers.heun import HeunSampler
from gdf_plugins.samplers.ipndm import IPNDMSampler
from gdf_plugins.samplers.lms import LMSSampler
from gdf_plugins.samplers.unipc import UniPCSampler

SOLVER_SAMPLERS: list[type] = [
    EulerSampler,
    EulerAncestralSampler,
    HeunSampler,
    DPMPP2MSampler,
    DPMPP3MSampler,
    DPMPP2SAncestralSampler,
    DPMPP2MSDESampler,
    DPMPP3MSDESampler,
    UniPCSampler,
    DEISSampler,
    IPNDMSampler,
    LMSSampler,
]


@hookimpl
def gdf_register_samplers() -> list[type]:
    return [DDIMSampler, DDPMSampler, LCMSampler, *SOLVER_SAMPLERS]


__all__ = [
    "DDIMSampler",
    "DDPMSampler",
    "DEISSampler",
    "DPMPP2MSDESampler",
    "DPMPP2MSampler",
    "DPMPP2SAncestralSampler",
    "DPMPP3MSDESampler",
    "DPMPP3MSampler",
    "EulerAncestralSampler",
    "EulerSampler",
    "HeunSampler",
    "IPNDMSampler",
    "LCMSampler",
    "LMSSampler",
    "SOLVER_SAMPLERS",
    "UniPCSampler",
    "gdf_register_samplers",
]
