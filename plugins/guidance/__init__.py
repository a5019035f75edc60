"""Built-in guidances (conditional and other predictions → the guided one)."""

from gdf_core.hookspecs import hookimpl
from gdf_plugins.guidance.apg import APG
from gdf_plugins.guidance.autoguidance import Autoguidance
from gdf_plugins.guidance.cfg import CFG
from gdf_plugins.guidance.cfg_zero_star import CFGZeroStar

GUIDANCES: list[type] = [CFG, APG, CFGZeroStar, Autoguidance]


@hookimpl
def gdf_register_guidances() -> list[type]:
    return list(GUIDANCES)


__all__ = ["APG", "Autoguidance", "CFG", "CFGZeroStar", "GUIDANCES", "gdf_register_guidances"]
