"""The denoiser ``GDF.sample`` hands its sampler: noise condition, model calls, guidance, target conversion.

``denoise(x, λ) -> (x̂0, ε̂)``, in the compute dtype (float32 for a float16 or
bfloat16 x: the samplers compute in it, and ``sample`` casts what it yields). It follows the run's ``SamplingState``, so it
knows the step it is called in (a Python int) and, from the t values of the
grid computed before the loop, whether and how strongly that step is guided.
The step's first call is kept as ``first`` (x̂0 and the guided prediction),
which ``sample`` yields and gives its callback. The model's output (one
floating tensor of x's shape) is checked at its first unguided and first
guided call only (``gdf_core.runtime_checks.check_model_output``).

The noise condition and the scaler's (a, b) at the grid's levels are computed
once per grid (``LevelTables``, three operations on the whole grid). A call
whose λ is one of the rows the loop handed the sampler (``SamplingState.rows``:
the same tensor object, the current step's level or the next) reads them from
there; any other λ (a midpoint of a two-stage step, a tensor a sampler made)
computes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

import torch
from torch import Tensor

from gdf_core.guidance import guide_predictions, pred_space_outputs
from gdf_core.protocols import Guidance, InputScaler, NoiseCond, Predictions, SamplingState, Target
from gdf_core.runtime_checks import check_model_output
from gdf_core.tensors import batch_view, noise_cond_dtype


@dataclass(frozen=True)
class LevelTables:
    """The noise condition and (a, b) at every level of a grid, row by row as the loop hands them out."""

    rows: tuple[Tensor, ...]
    conds: tuple[Tensor, ...]
    a: tuple[Tensor, ...]
    b: tuple[Tensor, ...]

    @classmethod
    def build(cls, rows: tuple[Tensor, ...], noise_cond: NoiseCond, scaler: InputScaler, x: Tensor) -> "LevelTables":
        """Tables for ``rows`` (each (batch,)), with (a, b) viewed against and cast to the compute dtype of ``x``."""
        grid = torch.stack(rows)
        flat = grid.reshape(-1)
        cond = noise_cond_dtype(noise_cond(flat), x)
        a, b = scaler(flat)
        dtype = torch.float32 if x.dtype not in (torch.float32, torch.float64) else x.dtype
        view = (grid.shape[0], -1, *([1] * (x.dim() - 1)))
        return cls(rows, cond.view(grid.shape).unbind(0), a.to(dtype).view(view).unbind(0), b.to(dtype).view(view).unbind(0))

    def level(self, logsnr: Tensor, step: int) -> Optional[int]:
        """The index of ``logsnr`` among the rows, looked for at ``step`` and ``step + 1``; None if not a row."""
        for k in (step, step + 1):
            if k < len(self.rows) and logsnr is self.rows[k]:
                return k
        return None


@dataclass(frozen=True)
class Prediction:
    """The model's answer at the first call of a step: x̂0 and the (guided) prediction."""

    x0: Tensor
    pred: Tensor


class ModelDenoiser:
    """``model(x, noise_cond, **inputs)`` as a denoiser, with the calls its guidance asks for.

    A guidance that asks for the unconditional prediction gets it from one
    doubled batch (conditional and unconditional inputs); one that asks for a
    guide gets ``guide_model`` on the conditional inputs. On steps where the
    guidance is not active (its interval), the model is called once.
    """

    def __init__(
        self,
        model: Callable[..., Tensor],
        *,
        scaler: InputScaler,
        target: Target,
        noise_cond: NoiseCond,
        model_inputs: dict[str, Any],
        unconditional_inputs: Optional[dict[str, Any]],
        guidance: Optional[Guidance],
        t_values: Sequence[float],
        guide_model: Optional[Callable[..., Tensor]] = None,
        state: SamplingState,
        tables: Optional[LevelTables] = None,
        batch: Optional[int] = None,
    ) -> None:
        self.model, self.scaler, self.target, self.noise_cond = model, scaler, target, noise_cond
        self.tables = tables
        self.guide_model = guide_model
        self.unconditional_inputs = unconditional_inputs
        self.batch = batch  # x's batch, which a doubled input's first dimension must be (None: not checked)
        self.branches: tuple[str, ...] = ()
        self.t_values = tuple(t_values)
        self.follow(state, 0)
        self.set_inputs(model_inputs)
        self.set_guidance(guidance)
        self.first: Optional[Prediction] = None
        self._first_step = -1
        # The model's output is checked (type, shape, dtype: static, no host read) at its first
        # unguided and first guided call of the run only.
        self._checked_plain = self._checked_guided = self._checked_guide = False

    def follow(self, state: SamplingState, offset: int) -> None:
        """Follow the run ``state`` whose step 0 is step ``offset`` of the whole grid."""
        self.state, self.offset = state, offset

    def set_inputs(self, model_inputs: dict[str, Any]) -> None:
        if not isinstance(model_inputs, dict):
            raise TypeError(f"model_inputs must be a dict of keyword arguments of the model; got {type(model_inputs).__name__}")
        self.cond_inputs = model_inputs
        self.both_inputs: Optional[dict[str, Any]] = None
        self._double_inputs()

    def set_guidance(self, guidance: Optional[Guidance]) -> None:
        """Guide with ``guidance`` from the next call on, from a fresh per-run state."""
        self.guidance = guidance
        self.guidance_state = None if guidance is None else guidance.init_state()
        self.branches = () if guidance is None else tuple(getattr(guidance, "branches", ("unconditional",)))
        self._double_inputs()

    def _double_inputs(self) -> None:
        """The doubled batch of inputs, built once the guidance asks for the unconditional branch (an
        unguided run passes its inputs as they are: a 0-d tensor, or one of another batch, is the model's business)."""
        if self.both_inputs is None and "unconditional" in self.branches:
            self.both_inputs = batch_with_unconditional(self.cond_inputs, self.unconditional_inputs, batch=self.batch)

    def __call__(self, x: Tensor, logsnr: Tensor) -> tuple[Tensor, Tensor]:
        step = self.offset + self.state.step
        if step != self._first_step:
            self.first = None  # the previous step's record is the caller's now: not kept through this call
        t = self.t_values[step]
        level = None if self.tables is None else self.tables.level(logsnr, step)
        if level is not None:
            cond = self.tables.conds[level]  # type: ignore[union-attr]
        else:
            cond = noise_cond_dtype(self.noise_cond(logsnr), x)
        if self.guidance is None or not self.guidance.active(t):
            pred = self.model(x, cond, **self.cond_inputs)
            if not self._checked_plain:  # once: shapes and dtypes do not change within a run
                check_model_output(pred, x)
                self._checked_plain = True
        else:
            return self.guided(x, logsnr, cond, t, step, level)
        x0, epsilon = self.convert(x, logsnr, pred, level)
        if step != self._first_step:
            self.first, self._first_step = Prediction(x0, pred), step
        return x0, epsilon

    def guided(self, x: Tensor, logsnr: Tensor, cond: Tensor, t: float, step: int, level: Optional[int] = None) -> tuple[Tensor, Tensor]:
        """The model calls the guidance asks for, the guidance in its space, and (x̂0, ε̂) of the result."""
        if "unconditional" in self.branches:
            x_both = torch.cat([x, x])
            assert self.both_inputs is not None  # built by set_guidance
            pred_both = self.model(x_both, torch.cat([cond, cond]), **self.both_inputs)
            if not self._checked_guided:
                check_model_output(pred_both, x_both)
                self._checked_guided = True
            del x_both  # two latents, not needed past the model call
            pred_cond, pred_uncond = pred_both.chunk(2)
            del pred_both  # the halves keep it alive until the guidance has combined them
        else:
            pred_cond, pred_uncond = self.model(x, cond, **self.cond_inputs), None
            if not self._checked_plain:
                check_model_output(pred_cond, x)
                self._checked_plain = True
        pred_guide = None
        if "guide" in self.branches and self.guide_model is not None:
            pred_guide = self.guide_model(x, cond, **self.cond_inputs)
            if not self._checked_guide:
                check_model_output(pred_guide, x, who="guide_model")
                self._checked_guide = True
        guidance = self.guidance
        assert guidance is not None  # guided() is called only with an active guidance
        low = x.dtype not in (torch.float32, torch.float64)
        xc = x.float() if low else x
        a, b = self.coefficients(logsnr, xc, level)
        raw = Predictions(pred_cond, pred_uncond, pred_guide)
        del pred_cond, pred_uncond, pred_guide  # held by raw alone, let go of once combined
        if low:
            raw = raw.map(lambda p: p.float())
        if getattr(guidance, "space", "pred") == "pred":  # combined as the model answered: free its outputs first
            guided = guidance(raw, x=xc, logsnr=logsnr, t=t, step=step, state=self.guidance_state)
            del raw
            pred, x0, epsilon = pred_space_outputs(guided, x=xc, logsnr=logsnr, a=a, b=b, target=self.target)
        else:
            pred, x0, epsilon = guide_predictions(
                self.guidance, raw, x=xc, logsnr=logsnr, a=a, b=b, target=self.target, t=t, step=step, state=self.guidance_state
            )
        if step != self._first_step:
            self.first, self._first_step = Prediction(x0, pred), step
        return x0, epsilon

    def coefficients(self, logsnr: Tensor, xc: Tensor, level: Optional[int]) -> tuple[Tensor, Tensor]:
        """(a, b) at λ, viewed against ``xc`` in its dtype: from the tables at a level of the grid."""
        if level is not None:
            a, b = self.tables.a[level], self.tables.b[level]  # type: ignore[union-attr]
        else:
            a, b = self.scaler(logsnr)
            a, b = batch_view(a, xc), batch_view(b, xc)
        if a.dtype != xc.dtype:
            a, b = a.to(xc.dtype), b.to(xc.dtype)
        return a, b

    def convert(self, x: Tensor, logsnr: Tensor, pred: Tensor, level: Optional[int] = None) -> tuple[Tensor, Tensor]:
        """(x̂0, ε̂) from the prediction through the target, in the compute dtype (float32 for a
        float16/bfloat16 x, which the samplers compute in too: no round trip through x's dtype)."""
        low = x.dtype not in (torch.float32, torch.float64)
        xc, predc = (x.float(), pred.float()) if low else (x, pred)
        a, b = self.coefficients(logsnr, xc, level)
        return self.target.x0(xc, predc, logsnr, a, b), self.target.epsilon(xc, predc, logsnr, a, b)


def batch_with_unconditional(
    model_inputs: dict[str, Any], unconditional: Optional[dict[str, Any]], *, batch: Optional[int] = None
) -> dict[str, Any]:
    """Each input with its unconditional counterpart appended along the batch (zeros if missing).

    Every tensor needs a batch dimension (of ``batch`` samples, when given): a ValueError names the one that has not.
    """
    unconditional = unconditional or {}
    both: dict[str, Any] = {}
    for key, value in model_inputs.items():
        other = unconditional.get(key)
        where = f"[{key!r}]"
        if isinstance(value, Tensor):
            both[key] = _doubled(where, value, other, batch)
        elif isinstance(value, (list, tuple)):
            others = other if other is not None else [None] * len(value)
            both[key] = [
                _doubled(f"{where}[{i}]", v, o, batch) if isinstance(v, Tensor) else v
                for i, (v, o) in enumerate(zip(value, others))
            ]
        elif isinstance(value, dict):
            others = other or {}
            both[key] = {
                k: _doubled(f"{where}[{k!r}]", v, others.get(k), batch) if isinstance(v, Tensor) else v
                for k, v in value.items()
            }
        else:
            both[key] = value
    return both


def _doubled(where: str, value: Tensor, other: Optional[Tensor], batch: Optional[int]) -> Tensor:
    """``value`` and its unconditional counterpart (zeros if None) as one batch, or a ValueError naming ``where``."""
    if value.dim() == 0 or (batch is not None and value.shape[0] != batch):
        raise ValueError(
            f"model_inputs{where} has shape {tuple(value.shape)}, but the guidance batches each tensor input with its "
            f"unconditional counterpart along the first dimension, which must be the run's batch"
            f"{f' ({batch} samples)' if batch is not None else ''}: expand it to ({batch if batch is not None else 'batch'}, ...), "
            "or pass a value shared by the batch as a Python number"
        )
    return torch.cat([value, torch.zeros_like(value) if other is None else other])


__all__ = ["LevelTables", "ModelDenoiser", "Prediction", "batch_with_unconditional"]
