"""Checks of what a caller gives ``GDF.sample``, done once at the boundary (the loop stays free of host syncs).

Each raises a ``TypeError`` (a wrong type) or ``ValueError`` (a value outside its
domain) naming the argument, what it got and what would do; none modifies its
inputs. ``check_model_output`` compares shapes and dtypes only (no tensor values),
so it costs no sync wherever it runs. ``check_grid_ends`` reads the grid's two
ends once, before the loop.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Mapping, Optional, Sequence

import torch
from torch import Tensor

from gdf_core.domains import MAX_SHIFT, MIN_SHIFT
from gdf_core.errors import excerpt
from gdf_core.protocols import Reversible


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _number(name: str, value: Any, *, low: Optional[float] = None, high: Optional[float] = None,
            low_open: bool = False, allowed: str) -> float:
    """``value`` as a float, if it is a finite real number within the bounds."""
    if not _is_number(value):
        raise TypeError(f"{name} must be {allowed}; got {type(value).__name__} {excerpt(value)}")
    number = float(value)
    if not math.isfinite(number) or (low is not None and (number <= low if low_open else number < low)) or (
        high is not None and number > high
    ):
        raise ValueError(f"{name} must be {allowed}; got {excerpt(value)}")
    return number


def check_guidance(cfg: Any, *, cfg_rho: Any = 0.0, cfg_t_stop: Any = None, cfg_t_start: Any = None) -> None:
    """cfg: None, a finite number, or a pair (w at t = 1, w at t = 0); cfg_rho ≥ 0; the cfg interval in [0, 1]."""
    allowed = "None, a finite number in [-1e4, 1e4] (the guidance weight) or a pair of them (w at t = 1, w at t = 0)"
    if cfg is not None:
        if isinstance(cfg, (list, tuple)):
            if len(cfg) != 2:
                raise ValueError(f"cfg must be {allowed}; got {len(cfg)} values {excerpt(cfg)}")
            for w in cfg:
                _number("cfg", w, low=-1e4, high=1e4, allowed=allowed)
        else:
            _number("cfg", cfg, low=-1e4, high=1e4, allowed=allowed)
    _number("cfg_rho", cfg_rho, low=0.0, allowed="a finite number ≥ 0 (0: no guidance rescale)")
    for name, value in (("cfg_t_stop", cfg_t_stop), ("cfg_t_start", cfg_t_start)):
        if value is not None:
            _number(name, value, low=0.0, high=1.0, allowed="None or a number in [0, 1]")


def check_sample_arguments(
    *,
    shape: Any,
    timesteps: Any,
    t_start: Any,
    t_end: Any,
    shift: Any,
    generator: Any,
    x_init: Optional[Tensor] = None,
    device: Any = "cpu",
    dtype: Any = torch.float32,
) -> None:
    """The types and domains of ``sample``'s shape, timesteps, t range, shift, generator, device and dtype."""
    if isinstance(timesteps, bool) or not isinstance(timesteps, numbers.Integral):
        raise TypeError(f"timesteps must be a positive int, got {type(timesteps).__name__} {excerpt(timesteps)}")
    if not 1 <= int(timesteps) <= MAX_TIMESTEPS:
        raise ValueError(f"timesteps must be a positive int of at most {MAX_TIMESTEPS:,}, got {excerpt(timesteps)}")
    start = _number("t_start", t_start, low=0.0, high=1.0, allowed="a number in [0, 1] (1: pure noise)")
    end = _number("t_end", t_end, low=0.0, high=1.0, allowed="a number in [0, 1] (0: clean data)")
    if start == end:
        raise ValueError(
            f"t_start and t_end must differ (t_start > t_end samples towards data, t_start < t_end inverts "
            f"data towards noise); got t_start = t_end = {excerpt(t_start)}"
        )
    check_shift_argument("shift", shift)
    batch: Optional[int] = None
    if x_init is None:
        if isinstance(shape, (str, bytes)) or not isinstance(shape, (Sequence, torch.Size)):
            hint = f" (a batch of {excerpt(shape)}: ({excerpt(shape)}, ...))" if _is_number(shape) else ""
            raise TypeError(
                f"shape must be a sequence of ints, (batch, ...); got {type(shape).__name__} {excerpt(shape)}{hint}"
            )
        if len(shape) < 1 or any(isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 1 for s in shape):
            raise ValueError(f"shape must be one or more positive ints, (batch, ...); got {excerpt(tuple(shape))}")
        batch = int(shape[0])
    elif isinstance(x_init, Tensor) and x_init.dim() > 0:
        batch = x_init.shape[0]
        if x_init.numel() == 0:
            raise ValueError(f"x_init has shape {tuple(x_init.shape)}, with a dimension of size 0: a run needs at least one sample")
        if shape is not None and _is_shape(shape) and tuple(shape) != tuple(x_init.shape):
            raise ValueError(
                f"shape {excerpt(tuple(shape))} does not match x_init's shape {tuple(x_init.shape)}: "
                "pass shape=x_init.shape (or None), or an x_init of that shape"
            )
    check_generator(generator, batch)
    check_device_and_dtype(device, dtype)


def check_shift_argument(name: str, shift: Any, *, optional: bool = True) -> None:
    """A shift argument (``sample``'s and ``diffuse``'s): a finite number in [1e-6, 1e6], or None (the GDF's own)."""
    if shift is None and optional:
        return
    either = "None (the GDF's shift) or " if optional else ""
    _number(name, shift, low=0.0, low_open=True, high=MAX_SHIFT, allowed=f"{either}a finite number > 0, at most 1e6")
    if float(shift) < MIN_SHIFT:
        raise ValueError(f"{name} must be {either}a finite number > 0, at least 1e-6; got {excerpt(shift)}")


def _is_shape(shape: Any) -> bool:
    return isinstance(shape, (Sequence, torch.Size)) and not isinstance(shape, (str, bytes))


def check_device_and_dtype(device: Any, dtype: Any) -> None:
    """``device``: a torch.device or its name; ``dtype``: a floating-point torch dtype (the noise's)."""
    try:
        kind = torch.device(device).type
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(
            f"device must be a torch.device or a device name such as 'cpu', 'cuda' or 'cuda:1'; got {excerpt(device)}"
        ) from None
    if kind == "meta":
        raise ValueError("device 'meta' holds shapes, not values: sampling needs a device with memory, such as 'cpu' or 'cuda'")
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating-point torch dtype (e.g. torch.float32); got {excerpt(dtype)}")


def check_generator(generator: Any, batch: Optional[int]) -> None:
    """None, a ``torch.Generator``, a list of them (one per sample), or a noise source (e.g. Brownian)."""
    from gdf_core.noise import is_noise_source

    allowed = "a torch.Generator, a list of them (one per sample), a noise source (gdf_core.brownian.BrownianNoise) or None"
    if generator is None or isinstance(generator, torch.Generator) or is_noise_source(generator):
        return
    if isinstance(generator, (list, tuple)):
        wrong = [g for g in generator if not isinstance(g, torch.Generator)]
        if wrong:
            raise TypeError(f"generator must be {allowed}; the list holds {type(wrong[0]).__name__} {excerpt(wrong[0])}")
        if batch is not None and len(generator) != batch:
            raise ValueError(f"generator is a list of {len(generator)} generators, but the batch has {batch} samples")
        return
    raise TypeError(f"generator must be {allowed}; got {type(generator).__name__} {excerpt(generator)}")


def check_unconditional_inputs(model_inputs: Mapping[str, Any], unconditional_inputs: Any) -> None:
    """The unconditional inputs have only keys of the conditional ones, each with its shape (batch included)."""
    if unconditional_inputs is None:
        return
    if not isinstance(unconditional_inputs, Mapping):
        raise TypeError(
            f"unconditional_inputs must be a dict like model_inputs (or None); got {type(unconditional_inputs).__name__}"
        )
    extra = sorted(set(unconditional_inputs) - set(model_inputs))
    if extra:
        raise ValueError(
            f"unconditional_inputs has keys that model_inputs has not: {', '.join(map(repr, extra))} "
            f"(model_inputs has: {', '.join(map(repr, model_inputs)) or 'none'}); every unconditional input "
            "replaces a conditional one"
        )
    for key, uncond in unconditional_inputs.items():
        _same_structure(f"[{key!r}]", model_inputs[key], uncond)


def _same_structure(where: str, cond: Any, uncond: Any) -> None:
    if uncond is None:
        return
    if isinstance(cond, Tensor):
        if not isinstance(uncond, Tensor):
            raise TypeError(f"unconditional_inputs{where} must be a tensor like model_inputs{where}; got {type(uncond).__name__}")
        if uncond.shape != cond.shape:
            raise ValueError(
                f"unconditional_inputs{where} has shape {tuple(uncond.shape)} but model_inputs{where} has "
                f"{tuple(cond.shape)}: an unconditional input has the conditional one's shape, batch included"
            )
        if uncond.dtype != cond.dtype or uncond.device != cond.device:
            raise ValueError(
                f"unconditional_inputs{where} is {uncond.dtype} on {uncond.device} but model_inputs{where} is "
                f"{cond.dtype} on {cond.device}: the two are batched together for the model, so they must match "
                "(torch.cat would promote the conditional input)"
            )
    elif isinstance(cond, (list, tuple)):
        if not isinstance(uncond, (list, tuple)) or len(uncond) != len(cond):
            raise ValueError(f"unconditional_inputs{where} must be a list of {len(cond)} like model_inputs{where}")
        for i, (c, u) in enumerate(zip(cond, uncond)):
            _same_structure(f"{where}[{i}]", c, u)
    elif isinstance(cond, Mapping):
        if not isinstance(uncond, Mapping):
            raise TypeError(f"unconditional_inputs{where} must be a dict like model_inputs{where}; got {type(uncond).__name__}")
        extra = sorted(set(uncond) - set(cond))
        if extra:
            raise ValueError(f"unconditional_inputs{where} has keys that model_inputs{where} has not: {', '.join(map(repr, extra))}")
        for k, u in uncond.items():
            _same_structure(f"{where}[{k!r}]", cond[k], u)


#: The most steps a run takes: its grid and plan are built whole before the loop (10⁶ steps: about 0.1 GB).
MAX_TIMESTEPS = 1_000_000


def check_model_output(pred: Any, x: Tensor, *, who: str = "the model") -> None:
    """The model (or ``who``: the guide model) returned one floating tensor of x's shape, on x's device
    (no tuple, no None, no broadcasting)."""
    if not isinstance(pred, Tensor):
        raise TypeError(
            f"{who} returned {type(pred).__name__} {excerpt(pred)}; it must return one tensor, its "
            f"prediction of the target, of the shape of its input x {tuple(x.shape)}"
        )
    if pred.shape != x.shape:
        raise ValueError(
            f"{who} returned shape {tuple(pred.shape)} for an input x of shape {tuple(x.shape)}; its "
            "prediction of the target must have x's shape (gdf does not broadcast it)"
        )
    if not pred.is_floating_point():
        raise TypeError(f"{who} returned a tensor of dtype {pred.dtype}; its prediction must be a floating-point tensor")
    if pred.device != x.device:
        raise ValueError(f"{who} returned a tensor on {pred.device} for an input x on {x.device}; its prediction must be on x's device")


def check_inversion(sampler: Any, x_init: Optional[Tensor], *, path: str = "sampler") -> None:
    """A run with t_start < t_end (towards noise) needs a ``Reversible`` sampler that can, and a start ``x_init``."""
    name = getattr(type(sampler), "name", type(sampler).__name__)
    if not (isinstance(sampler, Reversible) and sampler.steps_toward_noise()):
        raise ValueError(
            f"t_start < t_end runs from data towards noise (an inversion), and {path} {name!r} cannot step that way; "
            "use 'ddim' (eta = 0), 'euler', 'dpmpp_2m' or 'dpmpp_3m' (x̂0 in t or t²) or 'deis' (ε̂ in t), or sample towards data "
            "with t_start > t_end"
        )
    if x_init is None:
        raise ValueError("t_start < t_end inverts the x given as x_init (data at t_start) towards noise: pass x_init")


def check_grid_ends(target: Any, scaler: Any, logsnrs: Tensor, *, schedule: Any = None) -> None:
    """Refuse a grid whose first or last evaluated level is λ = ∓∞ where ``target`` cannot give x0 and ε.

    The denoiser runs at every level but the last (which is only stepped to).
    An ε-prediction cannot give x0 at λ = −∞ (a = 0: x is pure noise and tells
    nothing of x0), an x0-prediction cannot give ε at λ = +∞ (b = 0): sampling
    would return NaN. The target is probed there with a one-element input.
    """
    if torch.compiler.is_compiling():
        return
    levels = logsnrs[:-1] if logsnrs.shape[0] > 1 else logsnrs
    ends = torch.stack([levels[0].reshape(-1)[0], levels[-1].reshape(-1)[0]]).detach().to("cpu", torch.float64)
    name = getattr(type(schedule), "name", type(schedule).__name__) if schedule is not None else "the schedule"
    for which, end in zip(("first", "last"), ends.tolist()):  # our own grid's two ends, once, before the loop
        if math.isnan(end):
            raise ValueError(
                f"the sampling grid of schedule {name!r} has λ = NaN at its {which} evaluated level: the schedule "
                "gives no noise level there at these parameters; every sample would be NaN"
            )
        if math.isfinite(end):
            continue
        lam = torch.full((1,), end, dtype=torch.float32)
        a, b = scaler(lam)
        x, pred = torch.ones(1), torch.full((1,), 0.5)
        with torch.no_grad():
            x0 = target.x0(x, pred, lam, a, b)
            eps = target.epsilon(x, pred, lam, a, b)
        if bool(torch.isfinite(x0).all()) and bool(torch.isfinite(eps).all()):
            continue
        sign = "−∞ (pure noise, a = 0)" if end < 0 else "+∞ (clean data, b = 0)"
        lost = "x0" if not bool(torch.isfinite(x0).all()) else "ε"
        fix = (
            "use a v, x0 or rectified_flows target, or a grid that stops short of pure noise "
            "(t_start < 1, or e.g. {'name': 'flow_shift', 't_max': 0.999})"
            if end < 0
            else "use an ε or v target, or a grid that stops short of λ = +∞ (t > 0 at its clean end)"
        )
        raise ValueError(
            f"the target {getattr(type(target), 'name', type(target).__name__)!r} cannot give {lost} at λ = {sign}, "
            f"where the sampling grid of schedule {name!r} is evaluated; every sample would be NaN. To sample, {fix}"
        )


__all__ = [
    "check_generator",
    "check_inversion",
    "check_grid_ends",
    "check_guidance",
    "check_model_output",
    "check_sample_arguments",
    "check_shift_argument",
    "check_unconditional_inputs",
]
