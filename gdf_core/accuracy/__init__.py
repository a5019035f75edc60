"""The accuracy table as a product: any installed sampler on an exact oracle, beside diffusers and k-diffusion.

``OracleProblem`` (a recipe, an exact Gaussian-mixture model, start noise and
the exact solution), ``GRID_FAMILIES`` (Karras, exponential, Align Your Steps),
``gdf_rows``/``kdiffusion_rows``/``diffusers_rows`` (the table's rows) and the
``gdf bench`` command.
"""

from gdf_core.accuracy.grids import GRID_FAMILIES
from gdf_core.accuracy.problem import OracleProblem, oracle_model, sample_on_grid
from gdf_core.accuracy.table import NFES, Row, best_lines, diffusers_rows, fit_order, format_table, gdf_rows, kdiffusion_rows

__all__ = [
    "GRID_FAMILIES",
    "NFES",
    "OracleProblem",
    "Row",
    "best_lines",
    "diffusers_rows",
    "fit_order",
    "format_table",
    "gdf_rows",
    "kdiffusion_rows",
    "oracle_model",
    "sample_on_grid",
]
