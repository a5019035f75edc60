"""The GDF object: training draws (``diffuse``), inversion (``undiffuse``) and ``sample``.

Keeps the original GDF's API (Stable Cascade), so its code runs with only the
import changed, and adds specs, ``generator=`` for reproducible draws, any
sampler (multi-call, multistep) by name, a callback and a progress bar.
Differences from the original are listed in docs/differences.md.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, Callable, Generator, Mapping, Optional, Sequence, Union

import torch
from torch import Tensor
from tqdm.auto import tqdm

from gdf_core import runtime_checks
from gdf_core.errors import SpecError
from gdf_core.loss_units import to_target_units
from gdf_core.noise import randn, randn_like
from gdf_core.denoiser import LevelTables, ModelDenoiser
from gdf_core.domains import NonNegative
from gdf_core.integrate import integrate, solve, start
from gdf_core.kinds import GDF_PARTS
from gdf_core.parameters import component_fields, validate_value
from gdf_core.protocols import RunGrid, SamplingState, Schedule, Stateful, StretchableLimits
from gdf_core.registry import registry
from gdf_core.run_plans import BuiltSamplers, RunPlan, RunPlans
from gdf_core.shift import Shift, as_shift, shift_for, shift_spec
from gdf_core.spec import LimitsSpec, build, build_spec, check_sample_schedule, spec_of
from gdf_core.stratified import stratified_draw
from gdf_core.tensors import as_dtype, batch_view, compute_dtype, noise_cond_dtype

Guidance = Union[float, Sequence[float], None]

#: The original GDF's default cfg_rho (Stable Cascade's); diffusers' guidance_rescale defaults to 0.
DEFAULT_RESCALE = 0.7


class _Default(float):
    """A default value that ``sample`` can tell from the same number passed explicitly."""


#: The original GDF's defaults of ``cfg`` and ``cfg_rho``.
_CFG_DEFAULT, _CFG_RHO_DEFAULT = _Default(3.0), _Default(DEFAULT_RESCALE)

#: The original GDF's guidance arguments of ``sample``.
LEGACY_GUIDANCE = ("cfg", "cfg_rho", "cfg_t_stop", "cfg_t_start")


def legacy_guidance(cfg: Guidance, cfg_rho: float, cfg_t_stop: Optional[float], cfg_t_start: Optional[float]) -> Any:
    """The original GDF's cfg arguments as the ``cfg`` guidance (None for ``cfg=None``).

    The original guides while t ≥ cfg_t_stop and t ≤ cfg_t_start: that is the
    interval (cfg_t_stop, cfg_t_start) within [0, 1], an unset end being 0 or
    1; where it holds no t of [0, 1] (cfg_t_stop > 1, cfg_t_start < 0, or
    cfg_t_stop > cfg_t_start), the original never guides, and neither does
    this (None). Built without a spec (plain Python), so that a compiled
    ``sample_final`` traces it.
    """
    if cfg is None:
        return None
    if isinstance(cfg, (str, bool)) or not isinstance(cfg, (int, float, list, tuple)):
        raise TypeError(f"cfg must be a number, a pair (w at t=1, w at t=0) or None; got {type(cfg).__name__} {cfg!r}")
    scale = tuple(float(w) if isinstance(w, int) and not isinstance(w, bool) else w for w in cfg) if isinstance(cfg, (list, tuple)) else float(cfg)
    rescale = float(cfg_rho) if isinstance(cfg_rho, int) and not isinstance(cfg_rho, bool) else cfg_rho
    interval = None
    if cfg_t_stop is not None or cfg_t_start is not None:
        for what, value in (("cfg_t_stop", cfg_t_stop), ("cfg_t_start", cfg_t_start)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)):
                raise SpecError(f"{what} must be a finite number or None; got {value!r}", path=what)
        lo = 0.0 if cfg_t_stop is None else max(0.0, float(cfg_t_stop))
        hi = 1.0 if cfg_t_start is None else min(1.0, float(cfg_t_start))
        if lo > hi:
            return None
        interval = (lo, hi)
    try:
        return registry.get("guidance", "cfg")(scale=scale, rescale=rescale, interval=interval)
    except ValueError as exc:
        raise SpecError(
            f"the cfg arguments (cfg={cfg!r}, cfg_rho={cfg_rho!r}, cfg_t_stop={cfg_t_stop!r}, cfg_t_start={cfg_t_start!r}) "
            f"do not make a cfg guidance: {exc}",
            path="cfg",
        ) from None


@dataclass(frozen=True)
class SampleStep:
    """What ``sample``'s callback receives after every step."""

    step: int
    timesteps: int
    t: float
    logsnr: Tensor
    x: Tensor
    x0: Tensor
    pred: Tensor


class GDF:
    """A diffusion recipe: schedule, input scaler, target, noise condition and loss weight.

    Each component may be given as an instance, a class, a registry name or a
    spec (``{"name": ..., **params}``). ``sampler``, ``sample_schedule`` and
    ``guidance`` are the defaults of ``sample`` (DDPM, the training schedule and
    the original's cfg arguments if unset).
    ``shift`` (a number > 0, or a ``ResolutionShift`` / ``{"name": "resolution", ...}``)
    is the default shift of both ``diffuse`` and ``sample`` (see ``gdf_core.shift``).
    """

    def __init__(
        self,
        schedule: Any,
        input_scaler: Any,
        target: Any,
        noise_cond: Any,
        loss_weight: Any,
        offset_noise: float = 0,
        *,
        sampler: Any = None,
        sample_schedule: Any = None,
        guidance: Any = None,
        shift: Any = 1.0,
    ) -> None:
        self.shift: Shift = as_shift(shift)
        self._run_plans = RunPlans()  # grids and sampler plans of earlier sample() runs (gdf_core.run_plans)
        self._built_samplers = BuiltSamplers()  # samplers built from the specs given to sample()
        self.schedule = build("schedule", schedule)
        self.input_scaler = build("input_scaler", input_scaler)
        self.target = build("target", target)
        self.noise_cond = build("noise_cond", noise_cond)
        self.loss_weight = build("loss_weight", loss_weight)
        self.offset_noise = float(validate_value("offset_noise", offset_noise, NonNegative))
        self.sampler = None if sampler is None else build("sampler", sampler)
        self.sample_schedule = None if sample_schedule is None else check_sample_schedule(
            build("schedule", sample_schedule, path="sample_schedule")
        )
        self.guidance = None if guidance is None else build("guidance", guidance, path="guidance")

    # -- specs ---------------------------------------------------------------------
    @classmethod
    def from_spec(cls, source: Any) -> "GDF":
        """Build a GDF from a dict, a preset name, a JSON/YAML/TOML file or text.

        The whole spec is checked first: one ``SpecError`` lists every problem.
        """
        _, parts = build_spec(source)
        limits = parts.pop("limits")
        gdf = cls(**{key: parts.get(key) for key in GDF_PARTS}, offset_noise=parts["offset_noise"],
                  sampler=parts.get("sampler"), sample_schedule=parts.get("sample_schedule"),
                  shift=1.0 if parts.get("shift") is None else parts["shift"], guidance=parts.get("guidance"))
        if limits is not None:
            try:
                gdf.setup_limits(**limits)
            except SpecError:
                raise
            except ValueError as exc:
                raise SpecError(str(exc), path="limits") from None
        return gdf

    def to_spec(self) -> dict[str, Any]:
        """Plain data that ``GDF.from_spec`` turns back into an equal GDF."""
        spec: dict[str, Any] = {kind: spec_of(getattr(self, kind)) for kind in GDF_PARTS}
        if self.offset_noise:
            spec["offset_noise"] = self.offset_noise
        if self.sampler is not None:
            spec["sampler"] = spec_of(self.sampler)
        if self.sample_schedule is not None:
            spec["sample_schedule"] = spec_of(self.sample_schedule)
        if self.shift != 1.0:
            spec["shift"] = shift_spec(self.shift)
        if self.guidance is not None:
            spec["guidance"] = spec_of(self.guidance)
        return spec

    @classmethod
    def from_diffusers(cls, source: Any, **options: Any) -> "GDF":
        """The GDF of a diffusers scheduler (instance, config, dict, file or folder); see gdf_core.interop."""
        from gdf_core.interop import from_diffusers

        return from_diffusers(source, gdf_class=cls, **options)

    def to_diffusers(self, *, config: bool = False) -> Any:
        """The diffusers scheduler (or its config) reproducing this recipe and sampler; see gdf_core.interop."""
        from gdf_core.interop import to_diffusers

        return to_diffusers(self, config=config)

    def shift_for(self, shape: Sequence[int]) -> float:
        """The GDF's shift for samples of ``shape`` (batch, channels, *spatial): training and sampling read this."""
        return shift_for(self.shift, shape)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, GDF):
            return NotImplemented
        return self.to_spec() == other.to_spec()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"GDF({self.to_spec()!r})"

    # -- learned state of adaptive components ----------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The learned state of the adaptive components (e.g. loss buckets), by where they sit.

        Keys are paths: ``"loss_weight"`` for the loss weight itself,
        ``"loss_weight.mul.1"`` for the second factor of a ``composed`` one,
        ``"schedule.scheduler1"`` inside an ``interpolated`` schedule. The values
        are dicts of tensors and ints, so ``torch.save`` / ``torch.load(weights_only=True)``
        keep them exactly.
        """
        return {path: comp.state_dict() for path, comp in self._stateful().items()}

    def load_state_dict(self, state: Mapping[str, Any], strict: bool = True) -> None:
        """Restore what ``state_dict`` returned; with ``strict``, every stateful component must be in it."""
        if not isinstance(state, Mapping):
            raise TypeError(f"GDF.load_state_dict takes the dict that GDF.state_dict() returned, got {type(state).__name__}")
        stateful = self._stateful()
        unknown = [path for path in state if path not in stateful]
        if unknown:
            have = ", ".join(stateful) or "none"
            raise ValueError(f"GDF.load_state_dict: state for {unknown}, but this GDF's components with learned state are: {have}")
        missing = [path for path in stateful if path not in state]
        if strict and missing:
            raise ValueError(f"GDF.load_state_dict: the state has nothing for {missing} (pass strict=False to keep their current state)")
        for path, comp_state in state.items():
            try:
                stateful[path].load_state_dict(comp_state)
            except (TypeError, ValueError, KeyError) as exc:
                raise type(exc)(f"GDF.load_state_dict at {path!r}: {exc}") from None

    def _stateful(self) -> dict[str, Any]:
        """path → component for every component (nested ones too) that has a learned state."""
        found: dict[str, Any] = {}

        def visit(comp: Any, path: str) -> None:
            if isinstance(comp, Stateful):
                found[path] = comp
                return
            fields: dict[str, Any] = component_fields(type(comp))  # type: ignore[arg-type]
            for pname, (_, _, nested, _) in fields.items():
                if nested is None:
                    continue
                value = getattr(comp, pname, None)
                if isinstance(value, (list, tuple)):
                    for i, part in enumerate(value):
                        visit(part, f"{path}.{pname}.{i}")
                elif value is not None:
                    visit(value, f"{path}.{pname}")

        for kind, comp in self._components().items():
            visit(comp, kind)
        return found

    def _components(self) -> dict[str, Any]:
        return {kind: getattr(self, kind) for kind in GDF_PARTS}

    # -- training --------------------------------------------------------------
    def setup_limits(self, stretch_max: bool = True, stretch_min: bool = True, shift: float = 1) -> list[float]:
        """Stretch the input scaler so the schedule's ends are exactly noise and data."""
        validate_value("limits", {"stretch_max": stretch_max, "stretch_min": stretch_min, "shift": shift}, LimitsSpec)
        self._run_plans.clear()  # the stretched scaler gives other grids' coefficients
        if not isinstance(self.input_scaler, StretchableLimits):
            raise TypeError(f"the input scaler {type(self.input_scaler).__name__} has no setup_limits")
        return self.input_scaler.setup_limits(self.schedule, self.input_scaler, stretch_max, stretch_min, shift)

    def _coefficients(self, logsnr: Tensor, x: Tensor) -> tuple[Tensor, Tensor]:
        a, b = self.input_scaler(logsnr)
        dtype = compute_dtype(x)
        return batch_view(a, x).to(dtype), batch_view(b, x).to(dtype)

    def diffuse(
        self,
        x0: Tensor,
        epsilon: Optional[Tensor] = None,
        t: Optional[Tensor | float] = None,
        shift: Optional[float] = None,
        loss_shift: float = 1,
        offset: Optional[Tensor] = None,
        *,
        generator: Optional[torch.Generator] = None,
        stratified: bool = False,
        group: Any = None,
    ) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
        """Noise a batch: (noised, epsilon, target, logsnr, noise_cond, loss_weight).

        λ comes from a training draw of the schedule (or from ``t``, shape (B,));
        noised = a·x0 + b·ε. ``shift`` defaults to the GDF's own (``shift_for(x0.shape)``).
        ``generator`` makes the draws reproducible; under torch.distributed give each
        rank its own, e.g. ``torch.Generator().manual_seed(seed + rank)``, or all ranks
        draw the same noise. ``stratified=True`` spreads the batch's draws over
        [0, 1] in strata, across the ranks of ``group`` too (``gdf_core.stratified``).
        A loss weight with a ``reference_target`` is converted to this target's
        units (``gdf_core.loss_units``). noised, epsilon and target have x0's dtype;
        logsnr, a floating noise_cond and loss_weight are float32 at least (in bfloat16
        a timestep 999 is 1000, and e^λ overflows fp16); the arithmetic is done in
        float32 at least.
        """
        _check_tensor("x0", x0, min_dim=1)
        runtime_checks.check_shift_argument("shift", shift)
        runtime_checks.check_shift_argument("loss_shift", loss_shift, optional=False)
        batch = x0.shape[0]
        if shift is None:
            shift = self.shift_for(x0.shape)
        if stratified and t is not None:
            raise ValueError("diffuse: give t or stratified=True, not both (stratified draws choose t themselves)")
        if epsilon is None:
            epsilon = randn_like(x0, generator)
        else:
            _check_like_x0("epsilon", epsilon, x0, same_shape=True)
        if self.offset_noise > 0:
            if offset is None:
                offset_shape = (batch, x0.shape[1]) + (1,) * (x0.dim() - 2) if x0.dim() > 1 else (batch,)
                offset = randn(offset_shape, generator=generator, dtype=x0.dtype, device=x0.device)
            else:
                _check_like_x0("offset", offset, x0, same_shape=False)
            epsilon = epsilon + offset * self.offset_noise
        if t is None:
            if stratified:
                logsnr = stratified_draw(self.schedule, batch, shift=shift, generator=generator, group=group)
            else:
                kwargs = {"generator": generator} if generator is not None else {}
                logsnr = self.schedule(batch, shift=shift, **kwargs)
        else:
            if isinstance(t, bool) or not isinstance(t, (Tensor, numbers.Real)):
                raise TypeError(f"diffuse: t must be None, a number in [0, 1] or a tensor of them; got {type(t).__name__}")
            if not isinstance(t, Tensor) and not 0 <= float(t) <= 1:  # a tensor's values are not read: no host sync
                raise ValueError(f"diffuse: t must be in [0, 1]; got {t!r}")
            if isinstance(t, Tensor) and not t.is_floating_point():
                raise TypeError(f"diffuse: t must be a floating-point tensor; got dtype {t.dtype}")
            t = torch.as_tensor(t)
            if t.dim() == 0:
                t = t.expand(batch)
            if t.shape != (batch,):
                raise ValueError(f"t must have shape ({batch},) (one per sample) or be a scalar; got {tuple(t.shape)}")
            logsnr = self.schedule(t, shift=shift)
        logsnr = logsnr.to(x0.device)
        dtype = compute_dtype(x0)
        a_flat, b_flat = self.input_scaler(logsnr)
        a, b = batch_view(a_flat, x0).to(dtype), batch_view(b_flat, x0).to(dtype)
        x0_c, eps_c = x0.to(dtype), epsilon.to(dtype)
        target = self.target(x0_c, eps_c, logsnr, a, b)
        noised = x0_c * a + eps_c * b
        cond = self.noise_cond(logsnr)
        weight = self.loss_weight(logsnr, shift=loss_shift)
        weight = to_target_units(self.loss_weight, self.target, weight.to(dtype), logsnr, a_flat, b_flat)
        out = x0.dtype
        return (
            noised.to(out),
            as_dtype(epsilon, out),
            target.to(out),
            logsnr.to(dtype),
            noise_cond_dtype(cond, x0),
            weight.to(dtype),  # float32 at least: an fp16 weight overflows
        )

    def undiffuse(self, x: Tensor, logSNR: Tensor, pred: Tensor) -> tuple[Tensor, Tensor]:
        """(x0, ε) from a noised x at λ and the model's prediction, through the target."""
        a, b = self._coefficients(logSNR, x)
        dtype = compute_dtype(x)
        x_c, pred_c = x.to(dtype), pred.to(dtype)
        x0 = self.target.x0(x_c, pred_c, logSNR, a, b)
        epsilon = self.target.epsilon(x_c, pred_c, logSNR, a, b)
        return x0.to(x.dtype), epsilon.to(x.dtype)

    # -- sampling --------------------------------------------------------------
    def sample(
        self,
        model: Callable[..., Tensor],
        model_inputs: dict[str, Any],
        shape: Sequence[int],
        unconditional_inputs: Optional[dict[str, Any]] = None,
        sampler: Any = None,
        schedule: Any = None,
        t_start: float = 1.0,
        t_end: float = 0.0,
        timesteps: int = 20,
        x_init: Optional[Tensor] = None,
        cfg: Guidance = _CFG_DEFAULT,
        cfg_t_stop: Optional[float] = None,
        cfg_t_start: Optional[float] = None,
        cfg_rho: float = _CFG_RHO_DEFAULT,
        sampler_params: Optional[dict[str, Any]] = None,
        shift: Optional[float] = None,
        device: Any = None,
        *,
        guidance: Any = None,
        guide_model: Optional[Callable[..., Tensor]] = None,
        generator: Any = None,
        callback: Optional[Callable[[SampleStep], None]] = None,
        progress: bool = False,
        dtype: torch.dtype = torch.float32,
    ) -> Generator[tuple[Tensor, Tensor, Tensor], Optional[dict[str, Any]], None]:
        """Generate samples; a generator yielding (x0, x, pred) after every step.

        ``model(x, noise_cond, **model_inputs)`` predicts the target. The run
        starts from ``x_init`` (never modified; ``shape`` is then None or its
        shape; it stays on its device unless ``device`` is given) or from the
        sampler's noise of ``shape`` in ``dtype`` on ``device`` (default: the CPU).
        ``guidance`` (a name, a spec, a class or an instance; docs/guidance.md)
        combines the conditional prediction with the unconditional one
        (``unconditional_inputs``, zeros where missing; both run as one doubled
        batch) or with ``guide_model``'s (autoguidance); the GDF's own
        ``guidance`` is the default. Without either, the original's arguments
        are the ``cfg`` guidance: ``cfg`` (a weight w, or a pair (w₁, w₀)
        interpolated as w₁·t + w₀·(1 − t)), ``cfg_rho`` (its rescale; default
        0.7, the original's: see docs/samplers.md), ``cfg_t_stop`` ≤ t ≤
        ``cfg_t_start`` (its interval); ``cfg=None`` samples unguided.
        ``send()`` a dict to change, from the next step on: ``guidance``,
        ``cfg``, ``cfg_rho``, ``cfg_t_stop``, ``cfg_t_start``, ``model_inputs``,
        ``x`` (the current x) or ``sampler`` (a new run of that sampler from
        the current level); any other key is an error. With ``t_start < t_end``
        the run inverts ``x_init`` towards noise (DDIM inversion; a
        ``Reversible`` sampler: ``ddim`` with eta = 0, ``euler``, ``dpmpp_2m`` or
        ``dpmpp_3m`` with x̂0 in t or t², ``deis`` with ε̂ in t).
        """
        run = self.prepare_sample(
            model, model_inputs, shape, unconditional_inputs, sampler, schedule, t_start, t_end, timesteps,
            x_init, cfg, cfg_t_stop, cfg_t_start, cfg_rho, sampler_params, shift, device,
            guidance=guidance, guide_model=guide_model, generator=generator, dtype=dtype,
        )
        legacy = _cfg_arguments(run.denoiser.guidance, {"cfg": cfg, "cfg_rho": cfg_rho, "cfg_t_stop": cfg_t_stop, "cfg_t_start": cfg_t_start})
        steps = integrate(run.sampler, run.denoiser, run.x, run.logsnrs, scaler=self.input_scaler, generator=generator, state=run.state)
        bar = tqdm(total=timesteps, desc="sampling", leave=False) if progress else None
        pending: Optional[Tensor] = None
        try:
            for i in range(timesteps):
                x = steps.send(pending)
                pending = None
                first = run.denoiser.first
                assert first is not None, "the sampler made no model call in a step"
                if bar is not None:
                    bar.update(1)
                x0, pred = as_dtype(first.x0, x.dtype), as_dtype(first.pred, x.dtype)  # the denoiser's are in the compute dtype
                if callback is not None:
                    callback(SampleStep(i, timesteps, run.t_values[i], run.logsnrs[i], x, x0, pred))
                altered = yield x0, x, pred
                del x0, pred
                first = None  # not kept through the next step (the caller holds what it wants)
                if altered is None:
                    continue
                if not isinstance(altered, dict):
                    raise TypeError(
                        f"sample().send() takes a dict such as {{'x': ...}} or {{'cfg': 5.0}} (or None); got {type(altered).__name__}"
                    )
                unknown = sorted(set(altered) - _SENDABLE)
                if unknown:
                    raise ValueError(
                        f"sample().send(): unknown key(s) {unknown}; it takes {sorted(_SENDABLE)}"
                        + (" (x_init only sets the start of a run: send 'x' to replace the current x)" if "x_init" in unknown else "")
                    )
                if "guidance" in altered and legacy.keys() & altered.keys():
                    raise ValueError(
                        f"sample().send() got both 'guidance' and the cfg argument(s) {sorted(legacy.keys() & altered.keys())}; "
                        "send one: e.g. {'guidance': {'name': 'cfg', 'scale': 7}}"
                    )
                if "guidance" in altered:
                    new_guidance = None if altered["guidance"] is None else build("guidance", altered["guidance"], path="guidance")
                    _check_guide_model(new_guidance, guide_model)
                    run.denoiser.set_guidance(new_guidance)
                    legacy = _cfg_arguments(new_guidance, legacy)
                elif legacy.keys() & altered.keys():
                    sent = {**legacy, **{k: altered[k] for k in legacy.keys() & altered.keys()}}
                    runtime_checks.check_guidance(sent["cfg"], cfg_rho=sent["cfg_rho"],
                                                  cfg_t_stop=sent["cfg_t_stop"], cfg_t_start=sent["cfg_t_start"])
                    new_guidance = _sent_cfg(run.denoiser.guidance, legacy, altered)
                    _check_guide_model(new_guidance, guide_model)
                    run.denoiser.set_guidance(new_guidance)
                if "model_inputs" in altered:
                    if not isinstance(altered["model_inputs"], dict):
                        raise TypeError(f"model_inputs sent to sample() must be a dict of keyword arguments of the model; "
                                        f"got {type(altered['model_inputs']).__name__}")
                    runtime_checks.check_unconditional_inputs(altered["model_inputs"], unconditional_inputs)
                    run.denoiser.set_inputs(altered["model_inputs"])
                if "x" in altered:
                    _check_tensor("x sent to sample()", altered["x"], min_dim=1)
                    if altered["x"].shape != x.shape:
                        raise ValueError(f"x sent to sample() has shape {tuple(altered['x'].shape)}, the run's x {tuple(x.shape)}")
                    if altered["x"].dtype != x.dtype or altered["x"].device != x.device:
                        raise ValueError(
                            f"x sent to sample() is {altered['x'].dtype} on {altered['x'].device}, the run's x "
                            f"{x.dtype} on {x.device}: send x.to(x_run) (it would change the run's dtype or device)"
                        )
                    pending = altered["x"]
                if "sampler" in altered:
                    new = self._sampler(altered["sampler"], sampler_params)  # checked even after the last step
                if "sampler" in altered and i + 1 < timesteps:
                    if run.t_values[0] < run.t_values[-1]:
                        runtime_checks.check_inversion(new, x, path="the sampler sent to sample()")
                    state = start(new, run.logsnrs[i + 1 :], x.shape[0], self.input_scaler, run.state.direction)
                    state.rows = run.state.rows[i + 1 :]  # the same level tensors: the denoiser's tables still apply
                    run.denoiser.follow(state, i + 1)
                    assert state.logsnrs is not None
                    steps = integrate(new, run.denoiser, x if pending is None else pending, state.logsnrs,
                                      scaler=self.input_scaler, generator=generator, state=state)
                    pending = None
        finally:
            if bar is not None:
                bar.close()

    def sample_final(
        self,
        model: Callable[..., Tensor],
        model_inputs: dict[str, Any],
        shape: Sequence[int],
        unconditional_inputs: Optional[dict[str, Any]] = None,
        sampler: Any = None,
        schedule: Any = None,
        t_start: float = 1.0,
        t_end: float = 0.0,
        timesteps: int = 20,
        x_init: Optional[Tensor] = None,
        cfg: Guidance = _CFG_DEFAULT,
        cfg_t_stop: Optional[float] = None,
        cfg_t_start: Optional[float] = None,
        cfg_rho: float = _CFG_RHO_DEFAULT,
        sampler_params: Optional[dict[str, Any]] = None,
        shift: Optional[float] = None,
        device: Any = None,
        *,
        guidance: Any = None,
        guide_model: Optional[Callable[..., Tensor]] = None,
        generator: Any = None,
        dtype: torch.dtype = torch.float32,
    ) -> Tensor:
        """The final x of the run ``sample`` would make with the same arguments (no generator, no callback).

        x is in the input scaler's units, a·x0 at the last level: the sample itself for
        ``vp`` and ``lerp`` at λ = +∞, x0/σ_d for ``edm`` (its x is the network input
        c_in·(x0 + σ·ε)); divide by the scaler's a there, or take the x̂0 ``sample`` yields.

        The whole run is plain tensor code: with the sampler and the sample
        schedule set on the GDF (or given as instances), ``x_init`` given and a
        deterministic sampler, ``torch.compile(gdf.sample_final, fullgraph=True)``
        traces it as one graph.
        """
        run = self.prepare_sample(
            model, model_inputs, shape, unconditional_inputs, sampler, schedule, t_start, t_end, timesteps,
            x_init, cfg, cfg_t_stop, cfg_t_start, cfg_rho, sampler_params, shift, device,
            guidance=guidance, guide_model=guide_model, generator=generator, dtype=dtype,
        )
        return run.solve(generator=generator)

    def prepare_sample(
        self,
        model: Callable[..., Tensor],
        model_inputs: dict[str, Any],
        shape: Sequence[int],
        unconditional_inputs: Optional[dict[str, Any]] = None,
        sampler: Any = None,
        schedule: Any = None,
        t_start: float = 1.0,
        t_end: float = 0.0,
        timesteps: int = 20,
        x_init: Optional[Tensor] = None,
        cfg: Guidance = _CFG_DEFAULT,
        cfg_t_stop: Optional[float] = None,
        cfg_t_start: Optional[float] = None,
        cfg_rho: float = _CFG_RHO_DEFAULT,
        sampler_params: Optional[dict[str, Any]] = None,
        shift: Optional[float] = None,
        device: Any = None,
        *,
        guidance: Any = None,
        guide_model: Optional[Callable[..., Tensor]] = None,
        generator: Any = None,
        dtype: torch.dtype = torch.float32,
    ) -> "PreparedSample":
        """Everything of a ``sample`` run before its loop: components, start, grid (with its t values on
        the host), the sampler's plan and the denoiser. ``.solve()`` runs the loop and returns the
        final x; ``torch.compile(prepared.solve, fullgraph=True)`` compiles exactly the loop."""
        if not isinstance(model_inputs, dict):
            raise TypeError(f"model_inputs must be a dict of keyword arguments of the model; got {type(model_inputs).__name__}")
        runtime_checks.check_sample_arguments(shape=shape, timesteps=timesteps, t_start=t_start, t_end=t_end, shift=shift,
                                              generator=generator, x_init=x_init, device="cpu" if device is None else device, dtype=dtype)
        if device is None:  # x_init's device (checked with x_init below), else the CPU (the original's default)
            device = x_init.device if isinstance(x_init, Tensor) else "cpu"
        timesteps = int(timesteps)  # numpy ints too
        if x_init is None:
            shape = tuple(int(s) for s in shape)
        runtime_checks.check_guidance(cfg, cfg_rho=cfg_rho, cfg_t_stop=cfg_t_stop, cfg_t_start=cfg_t_start)
        runtime_checks.check_unconditional_inputs(model_inputs, unconditional_inputs)
        guidance_obj = self._guidance(guidance, {"cfg": cfg, "cfg_rho": cfg_rho, "cfg_t_stop": cfg_t_stop, "cfg_t_start": cfg_t_start})
        _check_guide_model(guidance_obj, guide_model)
        sampler_obj = self._sampler(sampler, sampler_params)
        if t_start < t_end:  # an inversion, data towards noise
            runtime_checks.check_inversion(sampler_obj, x_init)
        if schedule is not None:
            schedule_obj = check_sample_schedule(
                schedule if isinstance(schedule, Schedule) else build("schedule", schedule, path="schedule"), path="schedule"
            )
        else:
            schedule_obj = self.sample_schedule or self.schedule
        t_start, t_end = float(t_start), float(t_end)
        if x_init is not None:
            _check_tensor("x_init", x_init, min_dim=1)
            x = x_init if x_init.device == torch.device(device) else x_init.to(device)  # never modified in place: no copy
        else:
            x = sampler_obj.init_x(tuple(shape), generator=generator, dtype=dtype, device=device)
        shift = self.shift_for(x.shape) if shift is None else shift  # the GDF's shift, as diffuse reads it
        key = None if schedule is not None else self._run_plans.key(
            sampler_obj, schedule_obj, self.input_scaler, self.noise_cond,
            (t_start, t_end, timesteps, float(shift), x.shape[0], x.device, x.dtype, x.dim()))
        cached = self._run_plans.get(key, schedule_obj, self.input_scaler, self.noise_cond)
        direction = 1 if t_start > t_end else -1  # towards data, or an inversion towards noise
        if cached is not None:  # the same grid, plan, level tables and t values as an earlier run (gdf_core.run_plans)
            state = SamplingState(logsnrs=cached.logsnrs, plan=cached.plan, rows=cached.tables.rows, direction=direction)
            tables, t_values = cached.tables, cached.t_values
        else:
            t_values = tuple(_linspace(t_start, t_end, timesteps + 1))  # host values of our own inputs, no tensor read
            if isinstance(schedule_obj, RunGrid) and (t_start, t_end) == (1.0, 0.0):  # a whole run: the schedule's own N-step grid
                logsnrs = (schedule_obj.run_logsnrs(timesteps) - 2 * math.log(shift)).to(device)
            else:
                t_grid = torch.linspace(t_start, t_end, timesteps + 1, dtype=torch.float64)
                logsnrs = schedule_obj(t_grid, shift=shift).to(device)
            runtime_checks.check_grid_ends(self.target, self.input_scaler, logsnrs, schedule=schedule_obj)
            state = start(sampler_obj, logsnrs, x.shape[0], self.input_scaler, direction)
            assert state.logsnrs is not None
            tables = LevelTables.build(state.rows, self.noise_cond, self.input_scaler, x)
            self._run_plans.put(
                key, RunPlan(state.logsnrs, state.plan, tables, schedule_obj, self.input_scaler, self.noise_cond, t_values)
            )
        denoiser = ModelDenoiser(
            model,
            scaler=self.input_scaler,
            target=self.target,
            noise_cond=self.noise_cond,
            model_inputs=model_inputs,
            unconditional_inputs=unconditional_inputs,
            guidance=guidance_obj,
            guide_model=guide_model,
            t_values=t_values,
            state=state,
            tables=tables,
            batch=x.shape[0],
        )
        assert state.logsnrs is not None
        return PreparedSample(sampler_obj, denoiser, x, state.logsnrs, state, t_values, self.input_scaler)

    def _guidance(self, guidance: Any, legacy: dict[str, Any]) -> Any:
        """The run's guidance: ``guidance=``, else explicit cfg arguments, else the GDF's own, else the cfg defaults."""
        explicit = (
            legacy["cfg"] is not _CFG_DEFAULT
            or legacy["cfg_rho"] is not _CFG_RHO_DEFAULT
            or legacy["cfg_t_stop"] is not None
            or legacy["cfg_t_start"] is not None
        )
        if guidance is not None:
            if explicit:
                raise ValueError(
                    "sample() got both guidance= and the original's cfg arguments (cfg, cfg_rho, cfg_t_stop, "
                    "cfg_t_start); give one: e.g. guidance={'name': 'cfg', 'scale': 7, 'rescale': 0.7, 'interval': [0.2, 1.0]}"
                )
            return build("guidance", guidance, path="guidance")
        if self.guidance is not None and not explicit:
            return self.guidance
        return legacy_guidance(legacy["cfg"], legacy["cfg_rho"], legacy["cfg_t_stop"], legacy["cfg_t_start"])

    def _sampler(self, sampler: Any, sampler_params: Optional[dict[str, Any]]) -> Any:
        if sampler_params is not None and not isinstance(sampler_params, dict):
            raise TypeError(f"sampler_params must be a dict of the sampler's parameters (or None); got {type(sampler_params).__name__}")
        if sampler is None and self.sampler is not None and not sampler_params:
            return self.sampler
        chosen = sampler if sampler is not None else (self.sampler if self.sampler is not None else "ddpm")
        registry.load()  # what a name means is settled before the cache reads the registry's generation
        sampler_obj = self._built_samplers.get(chosen, registry.generation, lambda: build("sampler", chosen, path="sampler"))
        if sampler_params:
            merged = {**getattr(sampler_obj, "params", {}), **sampler_params}
            try:
                sampler_obj = type(sampler_obj)(**merged)
            except TypeError as exc:
                raise SpecError(f"sampler_params do not fit {type(sampler_obj).__name__}: {exc}", path="sampler_params") from None
        return sampler_obj


#: The keys ``sample().send()`` takes.
_SENDABLE = frozenset({"guidance", "cfg", "cfg_rho", "cfg_t_stop", "cfg_t_start", "model_inputs", "x", "sampler"})


@dataclass(frozen=True)
class PreparedSample:
    """A ``sample`` run up to its loop (``GDF.prepare_sample``); ``solve()`` runs the loop once."""

    sampler: Any
    denoiser: ModelDenoiser
    x: Tensor
    logsnrs: Tensor
    state: SamplingState
    t_values: Sequence[float]
    scaler: Any

    def solve(self, generator: Any = None) -> Tensor:
        """The final x (the loop of ``gdf_core.integrate.solve``; the run's state is used up)."""
        return solve(self.sampler, self.denoiser, self.x, self.logsnrs, scaler=self.scaler, generator=generator, state=self.state)


def _cfg_arguments(guidance: Any, given: dict[str, Any]) -> dict[str, Any]:
    """The cfg arguments a run's ``send({"cfg": ...})`` starts from: the running ``cfg`` guidance's own
    scale, rescale and interval (wherever it came from: ``guidance=``, the GDF's spec or the cfg arguments),
    else the arguments ``sample`` was given."""
    if getattr(guidance, "name", None) != "cfg":
        return dict(given)
    lo, hi = guidance.interval if guidance.interval is not None else (None, None)
    return {"cfg": guidance.scale, "cfg_rho": guidance.rescale, "cfg_t_stop": lo, "cfg_t_start": hi}


def _sent_cfg(guidance: Any, legacy: dict[str, Any], altered: dict[str, Any]) -> Any:
    """The guidance after ``send()`` of cfg arguments: the cfg guidance they make, or the running guidance's new scale."""
    if guidance is None or getattr(guidance, "name", None) == "cfg":
        legacy.update({k: altered[k] for k in LEGACY_GUIDANCE if k in altered})
        return legacy_guidance(legacy["cfg"], legacy["cfg_rho"], legacy["cfg_t_stop"], legacy["cfg_t_start"])
    if "cfg" in altered and altered["cfg"] is None:
        return None
    others = sorted(k for k in altered if k in LEGACY_GUIDANCE and k != "cfg")
    if others or "scale" not in getattr(guidance, "params", {}):
        raise ValueError(
            f"send(): the running guidance {guidance.name!r} takes no {', '.join(others) or 'scale'}; "
            "send {'guidance': ...} to change it"
        )
    spec = spec_of(guidance)
    params = {"name": spec} if isinstance(spec, str) else dict(spec)
    return build("guidance", {**params, "scale": altered["cfg"]}, path="send.cfg")


def _check_guide_model(guidance: Any, guide_model: Any) -> None:
    """A guidance that asks for a guide has ``guide_model``; ``guide_model`` is not given to one that does not."""
    needs = guidance is not None and "guide" in getattr(guidance, "branches", ())
    if needs and guide_model is None:
        raise ValueError(f"the guidance {guidance.name!r} needs guide_model= (the weaker model that guides the main one)")
    if guide_model is not None and not needs:
        raise ValueError(
            "guide_model= is only used by a guidance that asks for a guide (e.g. 'autoguidance'); "
            f"this run's guidance is {getattr(guidance, 'name', None)!r}"
        )
    if guide_model is not None and not callable(guide_model):
        raise TypeError(f"guide_model must be callable like the model; got {type(guide_model).__name__}")


def _linspace(start: float, end: float, n: int) -> list[float]:
    """``torch.linspace(start, end, n, dtype=float64).tolist()``, computed in Python (the same formula)."""
    if n == 1:
        return [start]
    step = (end - start) / (n - 1)
    half = n // 2
    return [start + i * step if i < half else end - (n - 1 - i) * step for i in range(n)]


def _check_like_x0(what: str, value: Any, x0: Tensor, *, same_shape: bool) -> None:
    """``diffuse``'s ``epsilon`` (x0's shape) or ``offset`` (broadcast to x0's shape): a float tensor on x0's device."""
    _check_tensor(what, value, min_dim=0)
    if value.device != x0.device:
        raise ValueError(f"{what} is on {value.device} but x0 is on {x0.device}")
    try:
        fits = torch.broadcast_shapes(value.shape, x0.shape) == x0.shape
    except RuntimeError:
        fits = False
    if (value.shape != x0.shape) if same_shape else not fits:
        need = "x0's" if same_shape else "one that broadcasts to x0's"
        raise ValueError(f"{what} has shape {tuple(value.shape)}; it needs {need}, {tuple(x0.shape)}")


def _check_tensor(what: str, value: Any, *, min_dim: int) -> None:
    if not isinstance(value, Tensor):
        raise TypeError(f"{what} must be a torch.Tensor, got {type(value).__name__}")
    if not value.is_floating_point():
        raise TypeError(f"{what} must be a floating-point tensor, got dtype {value.dtype}")
    if value.dim() < min_dim:
        raise ValueError(f"{what} must have a batch dimension; got shape {tuple(value.shape)}")
    if value.is_meta:
        raise ValueError(f"{what} is on device 'meta', which holds no values: pass a tensor on a device with memory")


__all__ = ["GDF", "PreparedSample", "SampleStep"]
