"""Built-in targets: what the model is trained to predict, and how a prediction gives x0 and ε.

Difference from the original: ``rectified_flows`` divides its inversion by
a + b, so it is exact for any scaler (identical to the original's for ``lerp``,
where a + b = 1; the original's did not invert with ``vp``).

Every formula is evaluated in float32 at least (float64 stays float64) and the
result is returned in the dtype of the first tensor argument (``x0`` or ``x``).
"""

from __future__ import annotations

import torch
from torch import Tensor

from gdf_core.bases import TargetBase
from gdf_core.hookspecs import hookimpl
from gdf_core.tensors import as_dtype, result_dtype


def _upcast(*tensors: Tensor) -> tuple[Tensor, ...]:
    """The tensors in a common compute dtype: float64 if any is float64, float32 otherwise."""
    wide = any(t.dtype == torch.float64 for t in tensors)
    dtype = torch.float64 if wide else torch.float32
    return tuple(as_dtype(t, dtype) for t in tensors)


class EpsilonTarget(TargetBase):
    """Predict the noise ε (Ho et al. 2020): x0 = (x − b·pred)/a, ε = pred."""

    name = "epsilon"

    def __call__(self, x0: Tensor, epsilon: Tensor, logsnr: Tensor, a: Tensor, b: Tensor) -> Tensor:
        return as_dtype(epsilon, result_dtype(x0))

    def x0(self, x: Tensor, pred: Tensor, logsnr: Tensor, a: Tensor, b: Tensor) -> Tensor:
        xc, pc, ac, bc = _upcast(x, pred, a, b)
        return as_dtype((xc - bc * pc) / ac, result_dtype(x))

    def epsilon(self, x: Tensor, pred: Tensor, logsnr: Tensor, a: Tensor, b: Tensor) -> Tensor:
        return as_dtype(pred, result_dtype(x))


class X0Target(TargetBase):
    """Predict the clean data x0: x0 = pred, ε = (x − a·pred)/b."""

    name = "x0"

    def __call__(self, x0: Tensor, epsilon: Tensor, logsnr: Tensor, a: Tensor, b: Tensor) -> Tensor:
        return as_dtype(x0, result_dtype(x0))

    def x0(self, x: Tensor, pred: Tensor, logsnr: Tensor, a: Tensor, b: Tensor) -> Tensor:
        return as_dtype(pred, result_dtype(x))

    def epsilon(self, x: Tensor, pred: Tensor, logsnr: Tensor, a: Tensor, b: Tensor) -> Tensor:
        xc, pc, ac, bc = _upcast(x, pred, a, b)
        return as_dtype((xc - ac * pc) / bc, result_dtype(x))


class VTarget(TargetBase):
    """Predict v = a·ε − b·x0 (Salimans & Ho 2022): x0 = (a·x − b·pred)/(a²+b²), ε = (b·x + a·pred)/(a²+b²).

    The a² + b² normalisation makes the inversion exact for scalers that are not
    variance preserving (e.g. ``lerp``).
    """

    name = "v"

    def __call__(self, x0: Tensor, epsilon: Tensor, logsnr: Tensor, a: Tensor, b: Tensor) -> Tensor:
        x0c, ec, ac, bc = _upcast(x0, epsilon, a, b)
        return as_dtype(ac * ec - bc * x0c, result_dtype(x0))

    def x0(self, x: Tensor, pred: Tensor, logsnr: Tensor, a: Tensor, b: Tensor) -> Tensor:
        xc, pc, ac, bc = _upcast(x, pred, a, b)
        return as_dtype((ac * xc - bc * pc) / (ac * ac + bc * bc), result_dtype(x))

    def epsilon(self, x: Tensor, pred: Tensor, logsnr: Tensor, a: Tensor, b: Tensor) -> Tensor:
        xc, pc, ac, bc = _upcast(x, pred, a, b)
        return as_dtype((bc * xc + ac * pc) / (ac * ac + bc * bc), result_dtype(x))


class RectifiedFlowsTarget(TargetBase):
    """Predict the velocity ε − x0 of rectified flow (Liu et al. 2022; Esser et al. 2024).

    x0 = (x − b·pred)/(a + b), ε = (x + a·pred)/(a + b): with a + b = 1 (``lerp``)
    this is the original's x − b·pred and x + a·pred; the (a + b) normalisation
    makes the inversion exact for any scaler (the original's is not with ``vp``).
    """

    name = "rectified_flows"

    def __call__(self, x0: Tensor, epsilon: Tensor, logsnr: Tensor, a: Tensor, b: Tensor) -> Tensor:
        x0c, ec = _upcast(x0, epsilon)
        return as_dtype(ec - x0c, result_dtype(x0))

    def x0(self, x: Tensor, pred: Tensor, logsnr: Tensor, a: Tensor, b: Tensor) -> Tensor:
        xc, pc, ac, bc = _upcast(x, pred, a, b)
        return as_dtype((xc - bc * pc) / (ac + bc), result_dtype(x))

    def epsilon(self, x: Tensor, pred: Tensor, logsnr: Tensor, a: Tensor, b: Tensor) -> Tensor:
        xc, pc, ac, bc = _upcast(x, pred, a, b)
        return as_dtype((xc + ac * pc) / (ac + bc), result_dtype(x))


from gdf_plugins.targets.consistency import ConsistencyTarget  # noqa: E402
from gdf_plugins.targets.edm import EDMTarget, EDMVTarget  # noqa: E402  (after the base targets it shares nothing with)
from gdf_plugins.targets.thresholded import ThresholdedTarget  # noqa: E402


@hookimpl
def gdf_register_targets() -> list[type]:
    return [EpsilonTarget, X0Target, VTarget, RectifiedFlowsTarget, EDMTarget, EDMVTarget, ConsistencyTarget, ThresholdedTarget]


__all__ = ["ConsistencyTarget", "EDMTarget", "EDMVTarget", "EpsilonTarget", "RectifiedFlowsTarget", "ThresholdedTarget", "VTarget", "X0Target"]
