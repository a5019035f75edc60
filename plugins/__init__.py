"""gdf's built-in components, registered through the "gdf" entry-point group like any plugin.

Installed as the import package ``gdf_plugins`` (a top-level package named
``plugins`` would collide with any other distribution doing the same).
"""
