"""gdf-example: a third-party gdf plugin package, the worked example of docs/plugin-authors.md.

It adds, through the "gdf" entry-point group (see ``plugin.py``):

- schedule ``lognorm``: SD3's logit-normal training draw on the rectified-flow λ(t);
- loss weight ``logit_normal_density``: the same distribution as a weight of uniform-t training;
- sampler ``lambda_midpoint``: a second-order midpoint step in λ (DPM-Solver-2);
- guidance ``cosine_ramp_cfg``: classifier-free guidance whose weight rises on a cosine (Wang et al. 2024);
- preset ``logit_normal_flow``: an SD3-style rectified-flow recipe using them.

Importing this package is never needed to use them by name: ``GDF.from_spec``
finds them once the package is installed.
"""

from gdf_example.guidance import CosineRampCFG
from gdf_example.loss_weights import LogitNormalDensityWeight
from gdf_example.samplers import LambdaMidpointSampler
from gdf_example.schedules import LogitNormalSchedule

__version__ = "0.1.0"

__all__ = ["CosineRampCFG", "LambdaMidpointSampler", "LogitNormalDensityWeight", "LogitNormalSchedule"]
