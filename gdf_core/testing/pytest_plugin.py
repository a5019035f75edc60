"""The pytest plugin's public names, where the docs import them: see ``gdf_pytest``.

The plugin itself is the top-level module ``gdf_pytest`` (loaded by pytest
through the ``pytest11`` entry point), which imports nothing heavy.
"""

from gdf_pytest import InvariantItem, gdf_check, invariant_suite

__all__ = ["InvariantItem", "gdf_check", "invariant_suite"]
