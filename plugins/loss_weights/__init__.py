"""Built-in loss weights (λ → weight of each sample's loss)."""

from gdf_core.hookspecs import hookimpl
from gdf_plugins.loss_weights.adaptive import AdaptiveLossWeight
from gdf_plugins.loss_weights.composed import ComposedLossWeight
from gdf_plugins.loss_weights.edm import EDMLossWeight
from gdf_plugins.loss_weights.min_snr_gamma import MinSNRGammaLossWeight
from gdf_plugins.loss_weights.snr import (
    ConstantLossWeight,
    DebiasedLossWeight,
    MinSNRLossWeight,
    MinSNRPlusOneLossWeight,
    P2LossWeight,
    SechLossWeight,
    SigmoidLossWeight,
    SNRLossWeight,
    SNRPlusOneLossWeight,
    TruncatedSNRLossWeight,
)

LOSS_WEIGHTS: list[type] = [
    ConstantLossWeight,
    SNRLossWeight,
    P2LossWeight,
    SNRPlusOneLossWeight,
    MinSNRLossWeight,
    MinSNRPlusOneLossWeight,
    TruncatedSNRLossWeight,
    SechLossWeight,
    DebiasedLossWeight,
    SigmoidLossWeight,
    AdaptiveLossWeight,
    ComposedLossWeight,
    MinSNRGammaLossWeight,
    EDMLossWeight,
]


@hookimpl
def gdf_register_loss_weights() -> list[type]:
    return list(LOSS_WEIGHTS)


__all__ = [
    "AdaptiveLossWeight",
    "ComposedLossWeight",
    "ConstantLossWeight",
    "DebiasedLossWeight",
    "EDMLossWeight",
    "LOSS_WEIGHTS",
    "MinSNRGammaLossWeight",
    "MinSNRLossWeight",
    "MinSNRPlusOneLossWeight",
    "P2LossWeight",
    "SNRLossWeight",
    "SNRPlusOneLossWeight",
    "SechLossWeight",
    "SigmoidLossWeight",
    "TruncatedSNRLossWeight",
    "gdf_register_loss_weights",
]
