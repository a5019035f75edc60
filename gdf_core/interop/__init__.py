"""Interop with other libraries (diffusers first): converters of their configs and adapters for their models.

Nothing here imports the other library until it is used (``pip install gdf[diffusers]``).
"""

from gdf_core.interop.from_diffusers import Conversion, convert_diffusers

__all__ = ["Conversion", "convert_diffusers"]
