"""Base of targets: what the model predicts, and its inversion to x0 and ε."""

from __future__ import annotations

from torch import Tensor

from gdf_core.component import Component


class TargetBase(Component):
    """A target: ``__call__`` gives the training target, ``x0``/``epsilon`` invert a prediction."""

    kind = "target"

    def __call__(self, x0: Tensor, epsilon: Tensor, logsnr: Tensor, a: Tensor, b: Tensor) -> Tensor:
        raise NotImplementedError

    def x0(self, x: Tensor, pred: Tensor, logsnr: Tensor, a: Tensor, b: Tensor) -> Tensor:
        raise NotImplementedError

    def epsilon(self, x: Tensor, pred: Tensor, logsnr: Tensor, a: Tensor, b: Tensor) -> Tensor:
        raise NotImplementedError
