"""The main-job demo: train a small denoiser on 2-D data from a spec, sample it, draw it.

``gdf demo --spec edm`` runs it from the command line; ``run_demo`` from Python.
"""

from gdf_core.demo.run import DemoResult, run_demo

__all__ = ["DemoResult", "run_demo"]
