"""gdf: a Generic Diffusion Framework (work in progress: the full API lands with the core)."""

from gdf_core.hookspecs import hookimpl

__all__ = ["hookimpl"]
