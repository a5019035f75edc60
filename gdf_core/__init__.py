"""gdf: a Generic Diffusion Framework.

Every diffusion recipe (DDPM/DDIM, EDM, v-prediction, rectified flow, flow
matching, Stable Cascade) is a choice of six small logSNR-centric components;
each concrete component is a plugin found through the "gdf" entry-point group.

The original GDF's class names (``CosineSchedule``, ``VPScaler``, ...) are
importable from here as the very classes the built-in plugins register; they
are looked up on first use, so ``import gdf_core`` imports no plugin.
"""

from __future__ import annotations

from typing import Any

from gdf_core.bases import (
    FirstOrderSampler,
    GuidanceBase,
    LossWeightBase,
    NoiseCondBase,
    SamplerBase,
    ScalerBase,
    ScheduleBase,
    TargetBase,
)
from gdf_core.component import Component
from gdf_core.errors import (
    DuplicateComponentError,
    PluginLoadError,
    PluginLoadWarning,
    SpecError,
    UnknownComponentError,
)
from gdf_core.gdf import GDF, SampleStep
from gdf_core.hookspecs import hookimpl
from gdf_core.kinds import KINDS
from gdf_core.protocols import (
    Guidance,
    InputScaler,
    LossWeight,
    NoiseCond,
    Sampler,
    SamplingState,
    Schedule,
    Predictions,
    Target,
)
from gdf_core.registry import Registry, register, registry
from gdf_core.spec import build, load_spec

__version__ = "0.1.0"

#: The original GDF's class names → (kind, registry name) of the built-in that replaces it.
ORIGINAL_NAMES: dict[str, tuple[str, str]] = {
    "CosineSchedule": ("schedule", "cosine"),
    "CosineSchedule2": ("schedule", "cosine2"),
    "SqrtSchedule": ("schedule", "sqrt"),
    "RectifiedFlowsSchedule": ("schedule", "rectified_flows"),
    "EDMSampleSchedule": ("schedule", "edm_sample"),
    "EDMTrainSchedule": ("schedule", "edm_train"),
    "LinearSchedule": ("schedule", "linear"),
    "PiecewiseLinearSchedule": ("schedule", "piecewise_linear"),
    "StableDiffusionSchedule": ("schedule", "stable_diffusion"),
    "AdaptiveTrainSchedule": ("schedule", "adaptive"),
    "InterpolatedSchedule": ("schedule", "interpolated"),
    "VPScaler": ("input_scaler", "vp"),
    "LERPScaler": ("input_scaler", "lerp"),
    "EpsilonTarget": ("target", "epsilon"),
    "X0Target": ("target", "x0"),
    "VTarget": ("target", "v"),
    "RectifiedFlowsTarget": ("target", "rectified_flows"),
    "CosineTNoiseCond": ("noise_cond", "cosine_t"),
    "EDMNoiseCond": ("noise_cond", "edm"),
    "SigmoidNoiseCond": ("noise_cond", "sigmoid"),
    "LogSNRNoiseCond": ("noise_cond", "logsnr"),
    "EDMSigmaNoiseCond": ("noise_cond", "edm_sigma"),
    "RectifiedFlowsNoiseCond": ("noise_cond", "rectified_flows"),
    "PiecewiseLinearNoiseCond": ("noise_cond", "piecewise_linear"),
    "StableDiffusionNoiseCond": ("noise_cond", "stable_diffusion"),
    "DiscreteNoiseCond": ("noise_cond", "discrete"),
    "ConstantLossWeight": ("loss_weight", "constant"),
    "SNRLossWeight": ("loss_weight", "snr"),
    "P2LossWeight": ("loss_weight", "p2"),
    "SNRPlusOneLossWeight": ("loss_weight", "snr_plus_one"),
    "MinSNRLossWeight": ("loss_weight", "min_snr"),
    "MinSNRPlusOneLossWeight": ("loss_weight", "min_snr_plus_one"),
    "TruncatedSNRLossWeight": ("loss_weight", "truncated_snr"),
    "SechLossWeight": ("loss_weight", "sech"),
    "DebiasedLossWeight": ("loss_weight", "debiased"),
    "SigmoidLossWeight": ("loss_weight", "sigmoid"),
    "AdaptiveLossWeight": ("loss_weight", "adaptive"),
    "ComposedLossWeight": ("loss_weight", "composed"),
    "DDIMSampler": ("sampler", "ddim"),
    "DDPMSampler": ("sampler", "ddpm"),
    "LCMSampler": ("sampler", "lcm"),
}

#: The original's base classes, for code that subclasses them.
BaseSchedule = ScheduleBase
BaseScaler = ScalerBase
BaseNoiseCond = NoiseCondBase
BaseLossWeight = LossWeightBase


def __getattr__(attr: str) -> Any:
    if attr in ORIGINAL_NAMES:
        kind, name = ORIGINAL_NAMES[attr]
        cls = registry.get(kind, name)
        globals()[attr] = cls
        return cls
    raise AttributeError(f"module 'gdf_core' has no attribute {attr!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(ORIGINAL_NAMES))


__all__ = [
    "GDF",
    "KINDS",
    "BaseLossWeight",
    "BaseNoiseCond",
    "BaseScaler",
    "BaseSchedule",
    "Component",
    "DuplicateComponentError",
    "FirstOrderSampler",
    "Guidance",
    "GuidanceBase",
    "InputScaler",
    "LossWeight",
    "LossWeightBase",
    "NoiseCond",
    "NoiseCondBase",
    "PluginLoadError",
    "PluginLoadWarning",
    "Predictions",
    "Registry",
    "SampleStep",
    "Sampler",
    "SamplerBase",
    "SamplingState",
    "ScalerBase",
    "Schedule",
    "ScheduleBase",
    "SpecError",
    "Target",
    "TargetBase",
    "UnknownComponentError",
    "build",
    "hookimpl",
    "load_spec",
    "register",
    "registry",
    *ORIGINAL_NAMES,
]
