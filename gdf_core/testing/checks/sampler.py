"""Invariants of samplers, driven by the exact denoiser of Gaussian data (gdf_core.testing.gaussian).

A deterministic sampler must follow the exact probability-flow map sample by
sample; a stochastic one (class attribute ``stochastic = True``, or the option)
must reach the right marginal (its mean and standard deviation). A sampler
meant for consistency models (option or class attribute ``denoiser =
"consistency"``, e.g. ``lcm``) is given the exact consistency function instead
of the posterior mean. Both run from
λ = ``logsnr_range[0]`` to ``logsnr_range[1]`` on a uniform λ grid of
``steps`` steps, under the vp and lerp scalers (option ``scalers``).
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Optional

import torch
from hypothesis import strategies as st
from torch import Tensor

from gdf_core.protocols import Reversible, SamplingState
from gdf_core.integrate import integrate, solve, start
from gdf_core.testing import strategies as gst
from gdf_core.testing.checks._core import CheckReport, Invariant, Violation, fmt, option, run_check
from gdf_core.testing.gaussian import ClosedFormScaler, Gaussian, coefficients
from gdf_core.testing.host_reads import HostReadRecorder

KIND = "sampler"
#: Defaults of the convergence check: λ range, steps, tolerance (in data standard deviations).
LOGSNR_RANGE, STEPS, TOLERANCE = (-8.0, 8.0), 128, 0.05
#: Batch of the stochastic check, and its tolerance on mean and std (in marginal std units).
STOCHASTIC_BATCH, STOCHASTIC_TOLERANCE = 2048, 0.1


def grid(options: Mapping[str, Any], steps: Optional[int] = None) -> Tensor:
    lo, hi = options.get("logsnr_range") or LOGSNR_RANGE
    return torch.linspace(lo, hi, (steps or options.get("steps") or STEPS) + 1, dtype=torch.float32)


def is_stochastic(sampler: Any, options: Mapping[str, Any]) -> bool:
    return bool(option(sampler, options, "stochastic", False))


def scalers_of(sampler: Any, options: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(option(sampler, options, "scalers", None) or ("variance", "sum"))


def converges_to_reference(sampler: Any, options: Mapping[str, Any], mean: float, std: float, seed: int) -> None:
    for identity in scalers_of(sampler, options):
        _converges(sampler, options, Gaussian(mean, std, ClosedFormScaler(identity)), seed)


def _converges(sampler: Any, options: Mapping[str, Any], data: Gaussian, seed: int) -> None:
    mean, std, identity = data.mean, data.std, data.scaler.identity
    logsnrs = grid(options)
    lo, hi = float(logsnrs[0]), float(logsnrs[-1])
    g = torch.Generator().manual_seed(seed)
    stochastic = is_stochastic(sampler, options)
    batch = STOCHASTIC_BATCH if stochastic else 16
    x_init = data.sample((batch, 1), lo, g)
    denoise = data.consistency if option(sampler, options, "denoiser") == "consistency" else data.denoise
    x = solve(sampler, denoise, x_init, logsnrs, scaler=data.scaler, generator=torch.Generator().manual_seed(seed + 1))
    x = x.to(torch.float64)
    where = f"{logsnrs.numel() - 1} steps from λ = {lo:g} to {hi:g}, {identity!r} scaler, data N({mean:.4g}, {std:.4g}²)"
    if not stochastic:
        reference = data.flow(x_init, lo, hi)
        err = (x - reference).abs()
        tol = (options.get("tolerance") or TOLERANCE) * std
        if not (err <= tol).all():
            i = int((~(err <= tol)).reshape(-1).nonzero()[0])
            raise Violation(
                f"does not follow the exact probability-flow map ({where}): sample {i} from x = "
                f"{x_init.reshape(-1)[i].item():.6g} should reach {reference.reshape(-1)[i].item():.6g}, "
                f"reached {x.reshape(-1)[i].item():.6g} (|error| {err.reshape(-1)[i].item():.3g} > {tol:.3g})"
            )
        return
    want_mean, want_std = data.moments(hi)
    got_mean, got_std = x.mean().item(), x.std().item()
    tol = (options.get("tolerance") or STOCHASTIC_TOLERANCE) * want_std
    if abs(got_mean - want_mean) > tol or abs(got_std - want_std) > tol:
        raise Violation(
            f"does not reach the marginal N({want_mean:.4g}, {want_std:.4g}²) ({where}, {batch} samples): "
            f"reached mean {got_mean:.4g}, std {got_std:.4g} (tolerance {tol:.3g})"
        )


def inverts_to_reference(sampler: Any, options: Mapping[str, Any], mean: float, std: float, seed: int) -> None:
    """A ``Reversible`` sampler run up the grid (towards noise) follows the exact probability-flow map too.

    The tolerance is in standard deviations of the marginal reached (at the noisy end), as the
    forward check's is in those of the data it reaches: the flow towards noise widens the
    distribution, and with it the errors made near the data.
    """
    logsnrs = grid(options).flip(0)
    hi, lo = float(logsnrs[0]), float(logsnrs[-1])
    for identity in scalers_of(sampler, options):
        data = Gaussian(mean, std, ClosedFormScaler(identity))
        tol = (options.get("tolerance") or TOLERANCE) * data.moments(lo)[1]
        x_init = data.sample((16, 1), hi, torch.Generator().manual_seed(seed))
        x = solve(sampler, data.denoise, x_init, logsnrs, scaler=data.scaler).to(torch.float64)
        err = (x - data.flow(x_init, hi, lo)).abs()
        if not (err <= tol).all():
            worst = err.max().item()
            raise Violation(
                f"says it steps towards noise (steps_toward_noise() is true) but does not follow the exact "
                f"probability-flow map there ({logsnrs.numel() - 1} steps from λ = {hi:g} to {lo:g}, {identity!r} scaler, "
                f"data N({mean:.4g}, {std:.4g}²)): |error| up to {worst:.3g} > {tol:.3g}"
            )
        _reaches_pure_noise_as_a_limit(sampler, data, x_init, hi)


#: Where the pure-noise end is approached from: the flow from λ = −70 to −∞ moves x by about e^(−35).
NEAR_PURE_NOISE = -70.0


def _reaches_pure_noise_as_a_limit(sampler: Any, data: Gaussian, x_init: Tensor, hi: float) -> None:
    """A run into λ′ = −∞ lands where the same run into λ′ = −70 does (within 1e-6 std: float32 rounding).

    The last step starts where a/b is not small (λ = hi for one step, λ = 0 after two more), so a
    step that takes a′ = 0 at λ′ = −∞ against a finite σ′ (dropping the a·b′/b·x̂0 part of x′), or
    extrapolates a polynomial in an unbounded variable (λ, log σ) to its −∞ end, is caught.
    """
    tol = 1e-6 * data.moments(NEAR_PURE_NOISE)[1]
    for levels in ([hi], [hi, hi / 2, 0.0]) if hi > 0 else ([hi],):
        ends = {end: solve(sampler, data.denoise, x_init, torch.tensor(levels + [end], dtype=torch.float64), scaler=data.scaler)
                for end in (-math.inf, NEAR_PURE_NOISE)}
        gap = (ends[-math.inf].to(torch.float64) - ends[NEAR_PURE_NOISE].to(torch.float64)).abs().max().item()
        if not gap <= tol:
            raise Violation(
                f"its step into pure noise (λ′ = −∞) is not the limit of steps into λ′ → −∞: on the levels "
                f"{[round(v, 3) for v in levels]} then λ′ = −∞ it lands up to {gap:.3g} from the same run into λ′ = "
                f"{NEAR_PURE_NOISE:g} ({data.scaler.identity!r} scaler, tolerance {tol:.3g})"
            )


def _not_reversible(sampler: Any, options: Mapping[str, Any]) -> Optional[str]:
    if isinstance(sampler, Reversible) and sampler.steps_toward_noise():
        return None
    return "does not step towards noise (not Reversible, or steps_toward_noise() is false)"


def _run(sampler: Any, shape: tuple, dtype: torch.dtype, device: torch.device, seed: int, steps: int = 3) -> tuple[Tensor, Tensor]:
    data = Gaussian(0.5, 1.0, ClosedFormScaler("variance"))
    x_init = torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).to(dtype=dtype, device=device)
    logsnrs = torch.linspace(-5.0, 5.0, steps + 1).to(device)
    x = solve(sampler, data.denoise, x_init, logsnrs, scaler=data.scaler, generator=torch.Generator(device=device).manual_seed(seed))
    return x_init, x


def deterministic_for_fixed_generator(sampler: Any, options: Mapping[str, Any], shape: tuple, seed: int) -> None:
    _, first = _run(sampler, shape, torch.float32, torch.device("cpu"), seed)
    _, second = _run(sampler, shape, torch.float32, torch.device("cpu"), seed)
    if not torch.equal(first, second):
        diff = (first - second).abs().max().item()
        raise Violation(f"two runs with generators seeded {seed} differ (max |difference| {diff:.3g}): {fmt(first)} vs {fmt(second)}")


def draws_only_from_generator(sampler: Any, options: Mapping[str, Any], shape: tuple, seed: int) -> None:
    before = torch.random.get_rng_state()
    try:
        _run(sampler, shape, torch.float32, torch.device("cpu"), seed)
        used = not torch.equal(before, torch.random.get_rng_state())
    finally:
        torch.random.set_rng_state(before)
    if used:
        raise Violation("a run given a generator drew from torch's global random state")


def keeps_dtype_device_shape(sampler: Any, options: Mapping[str, Any], shape: tuple, dtype: torch.dtype, device: torch.device) -> None:
    x_init, x = _run(sampler, shape, dtype, device, 0)
    if x.dtype != dtype or x.device.type != device.type or x.shape != x_init.shape:
        raise Violation(
            f"x of dtype {dtype}, shape {tuple(shape)} on {device} came back with dtype {x.dtype}, "
            f"shape {tuple(x.shape)} on {x.device} (expected the same dtype, shape and device)"
        )
    if not torch.isfinite(x).all():
        raise Violation(f"x of dtype {dtype} came back with non-finite values: {fmt(x)}")


def no_input_mutation(sampler: Any, options: Mapping[str, Any], shape: tuple, seed: int) -> None:
    data = Gaussian(0.5, 1.0, ClosedFormScaler("variance"))
    x = torch.randn(shape, generator=torch.Generator().manual_seed(seed))
    logsnrs = torch.linspace(-5.0, 5.0, 4)[:, None].expand(-1, shape[0]).contiguous()
    inputs = {"x": x, "λ": logsnrs[1], "λ′": logsnrs[2]}
    before = {k: v.clone() for k, v in inputs.items()}
    state = SamplingState(logsnrs=logsnrs, step=1)
    sampler.step(data.denoise, x, logsnrs[1], logsnrs[2], scaler=data.scaler, state=state, generator=torch.Generator().manual_seed(seed))
    for name, value in inputs.items():
        if not torch.equal(before[name], value):
            raise Violation(f"a step changed its input {name} in place: {fmt(before[name])} became {fmt(value)}")


def no_host_reads(sampler: Any, options: Mapping[str, Any], shape: tuple, seed: int) -> None:
    """Steps on a run's grid, then steps given λ tensors of their own: no value read into Python.

    ``prepare`` runs outside the recorder: it runs once per run, before the loop, and may read the grid's
    host values there (as the engine itself does)."""
    data = Gaussian(0.5, 1.0, ClosedFormScaler("variance"))
    x_init = torch.randn(shape, generator=torch.Generator().manual_seed(seed))
    logsnrs = torch.linspace(-5.0, 5.0, 4)
    prepared = start(sampler, logsnrs, shape[0], data.scaler)
    with HostReadRecorder() as recorder:
        denoise, scaler = recorder.ignoring(data.denoise), recorder.ignoring(data.scaler)
        generator = torch.Generator().manual_seed(seed)
        solve(sampler, denoise, x_init, logsnrs, scaler=scaler, generator=generator, state=prepared)
        grid = logsnrs[:, None].expand(-1, shape[0])
        state, x = SamplingState(logsnrs=grid), x_init
        for i in range(grid.shape[0] - 1):
            state.step = i
            x = sampler.step(denoise, x, grid[i].clone(), grid[i + 1].clone(), scaler=scaler, state=state, generator=generator)
    if recorder.reads:
        what, where = recorder.reads[0]
        raise Violation(
            f"a step read tensor values into Python ({len(recorder.reads)} reads; the first: {what} at {where}): "
            "a device sync per step and a branch on values; keep the step in tensor operations (torch.where)"
        )


def repeated_level_is_a_no_op(sampler: Any, options: Mapping[str, Any], shape: tuple, seed: int) -> None:
    """A grid repeating a level (clamped schedules do, at their ends): the step across it returns x, the run stays finite.

    A predictor–corrector sampler (``corrects_previous_step``: UniPC) refines the step before
    with the model call it makes at the repeated level, so for it only finiteness is checked.
    """
    data = Gaussian(0.5, 1.0, ClosedFormScaler("variance"))
    x_init = torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    levels = torch.linspace(-5.0, 5.0, 6, dtype=torch.float64)
    logsnrs = torch.cat([levels[:1], levels[:3], levels[2:]])  # levels 0 and 2 repeated
    generator = torch.Generator().manual_seed(seed)
    xs = [x_init] + list(integrate(sampler, data.denoise, x_init, logsnrs, scaler=data.scaler, generator=generator))
    corrector = bool(option(sampler, options, "corrects_previous_step", False))
    for i in range(logsnrs.numel() - 1):
        if not corrector and logsnrs[i] == logsnrs[i + 1] and not torch.allclose(xs[i + 1], xs[i], rtol=1e-9, atol=1e-9):
            diff = (xs[i + 1] - xs[i]).abs().max().item()
            raise Violation(
                f"step {i} goes from λ = {logsnrs[i].item():g} to the same level but moved x by up to {diff:.3g}: "
                "a step between equal levels must be a no-op (and keep the history usable)"
            )
    if not torch.isfinite(xs[-1]).all():
        raise Violation(f"a run over a grid with repeated levels {logsnrs.tolist()} came back non-finite: {fmt(xs[-1])}")


#: The uneven-grid check: a run may be at most this many times further from the exact result
#: than DDIM (first order, no history) on the same grid; ``HOSTILE_GRID`` is checked before the
#: drawn one in every example (two steps of 5e-4 in η after the first, then one of 4).
UNEVEN_FACTOR = 10.0
HOSTILE_GRID = (-math.inf, 0.0, 1e-3, 2e-3, 8.0, math.inf)


def _ddim_run(data: Gaussian, x: Tensor, logsnrs: Tensor) -> Tensor:
    """DDIM (Song et al. 2021) over ``logsnrs`` with the exact denoiser: x′ = a′·x̂0 + b′·ε̂, the yardstick."""
    for lam, lam_next in zip(logsnrs[:-1], logsnrs[1:]):
        x0, eps = data.denoise(x, lam.expand(x.shape[0]))
        a_next, b_next = coefficients(data.scaler.identity, lam_next.to(torch.float64))
        x = (a_next * x0.to(torch.float64) + b_next * eps.to(torch.float64)).to(x.dtype)
    return x


def stable_on_uneven_grids(sampler: Any, options: Mapping[str, Any], logsnrs: list[float], seed: int) -> None:
    """On a grid a user may pass (``strategies.uneven_grids``: near-repeated levels before long steps,
    λ = ±∞ ends; and ``HOSTILE_GRID``), a float32 run lands at most ``UNEVEN_FACTOR`` times further
    from the exact result than DDIM on the same grid: sample by sample for a deterministic sampler,
    in mean and std for a stochastic one (plus the sampling tolerance). A multistep sampler whose
    interpolation divides by the distance between two nearly repeated levels fails it."""
    for grid_ in (list(HOSTILE_GRID), logsnrs):
        _stable_on(sampler, options, grid_, seed)


def _stable_on(sampler: Any, options: Mapping[str, Any], logsnrs: list[float], seed: int) -> None:
    data = Gaussian(0.3, 0.5, ClosedFormScaler("variance"))
    grid_ = torch.tensor(logsnrs, dtype=torch.float64)
    lo, hi = logsnrs[0], logsnrs[-1]
    stochastic = is_stochastic(sampler, options)
    x_init = data.sample((STOCHASTIC_BATCH if stochastic else 256, 1), lo, torch.Generator().manual_seed(seed)).float()
    denoise = data.consistency if option(sampler, options, "denoiser") == "consistency" else data.denoise
    x = solve(sampler, denoise, x_init, grid_, scaler=data.scaler, generator=torch.Generator().manual_seed(seed + 1)).double()
    yardstick = _ddim_run(data, x_init, grid_).double()
    where = f"grid λ = {[float(f'{v:.10g}') for v in logsnrs]}"
    if not torch.isfinite(x).all():
        raise Violation(f"a run came back non-finite on an uneven grid ({where}): {fmt(x)}")
    if not stochastic:
        exact = data.flow(x_init, lo, hi)
        err, base = ((v - exact).pow(2).mean().sqrt().item() for v in (x, yardstick))
        bound = UNEVEN_FACTOR * base + 1e-4 * data.std
        what = "RMS distance to the exact probability-flow map"
    else:
        want_mean, want_std = data.moments(hi)
        err, base = (abs(v.mean().item() - want_mean) + abs(v.std().item() - want_std) for v in (x, yardstick))
        bound = UNEVEN_FACTOR * base + (options.get("tolerance") or STOCHASTIC_TOLERANCE) * want_std
        what = f"error of mean and std against the exact marginal N({want_mean:.4g}, {want_std:.4g}²)"
    if not err <= bound:
        raise Violation(
            f"on an uneven grid ({where}) the {what} is {err:.3g}, more than {UNEVEN_FACTOR:g} × DDIM's {base:.3g} "
            f"on the same grid (bound {bound:.3g}). The usual cause is a multistep interpolation through nearly "
            "repeated levels, whose weights grow as 1/distance: drop a history level that is too near a newer one "
            "for the step's length (gdf_plugins.samplers.maths.lagrange)"
        )


#: The sent-x check: its steps (over the check's λ range), the steps after which x + δ is sent, and
#: the tolerance on the response, relative to the exact one.
SENT_STEPS, SENT_AFTER, SENT_TOLERANCE = 32, (0, 1, 3), 0.25


def follows_a_sent_x(sampler: Any, options: Mapping[str, Any], mean: float, std: float, seed: int) -> None:
    """An x sent between steps (``integrate``'s ``send``, ``GDF.sample``'s ``{"x": ...}``) is where the next step
    starts. With the exact denoiser of Gaussian data the flow map is affine, x ↦ a′·μ + √(v′/v)·(x − a·μ), so a
    change δ sent at level λ_k must move the result by δ·√(v_end/v_k) (within ``SENT_TOLERANCE`` of it: the
    sampler's own error on the response, 6 % for DDIM at 32 steps, up to 12.5 % for the built-ins that keep
    ε̂). A step computed from an x the sampler kept (a corrector redoing the step before from its own x)
    drops δ: a response near 0.
    """
    lo, hi = options.get("logsnr_range") or LOGSNR_RANGE
    logsnrs = torch.linspace(lo, hi, SENT_STEPS + 1, dtype=torch.float64)
    for identity in scalers_of(sampler, options):
        data = Gaussian(mean, std, ClosedFormScaler(identity))
        g = torch.Generator().manual_seed(seed)
        x_init = data.sample((16, 1), lo, g).to(torch.float64)
        delta = std * torch.randn(16, 1, generator=g, dtype=torch.float64)
        unchanged = solve(sampler, data.denoise, x_init, logsnrs, scaler=data.scaler)
        for k in SENT_AFTER:
            steps = integrate(sampler, data.denoise, x_init, logsnrs, scaler=data.scaler)
            x = next(steps)
            for _ in range(k):
                x = steps.send(None)
            last = steps.send(x + delta)
            for last in steps:
                pass
            spread = [data.moments(float(lam))[1] for lam in (logsnrs[k + 1], logsnrs[-1])]
            exact = delta * (spread[1] / spread[0])
            off = ((last.to(torch.float64) - unchanged.to(torch.float64)) - exact).abs().max().item()
            if not off <= SENT_TOLERANCE * exact.abs().max().item():
                raise Violation(
                    f"does not follow an x sent between steps: x + δ sent after step {k} of {SENT_STEPS} (λ = "
                    f"{float(logsnrs[k + 1]):.3g}, {identity!r} scaler, data N({mean:.4g}, {std:.4g}²)) moved the result "
                    f"{off:.3g} away from the exact response (max |δ·√(v′/v)| {exact.abs().max().item():.3g}); "
                    "a step must start from the x it is given, not from one the sampler kept (add a correction "
                    "to the x given, as an increment)"
                )


def _not_deterministic(sampler: Any, options: Mapping[str, Any]) -> Optional[str]:
    if is_stochastic(sampler, options):
        return "stochastic: its response to a sent x is a random variable"
    if option(sampler, options, "denoiser") == "consistency":
        return "driven by a consistency function, whose response is not the flow map's"
    return None


def gaussian_data(options: Mapping[str, Any]) -> dict[str, Any]:
    """The drawn Gaussian data of the two flow-map checks: its mean and std, and a seed."""
    return {"mean": st.floats(-2.0, 2.0), "std": st.one_of(st.sampled_from([0.1, 1.0]), st.floats(0.05, 2.0)), "seed": gst.seeds()}


INVARIANTS: tuple[Invariant, ...] = (
    Invariant(
        "converges_to_reference",
        "with the exact denoiser of Gaussian data, the sampler reaches the exact probability-flow map "
        "(deterministic) or the exact marginal (stochastic)",
        converges_to_reference,
        gaussian_data,
        examples_cap=4,
    ),
    Invariant(
        "inverts_to_reference",
        "a Reversible sampler run towards noise follows the exact probability-flow map of Gaussian data too",
        inverts_to_reference,
        gaussian_data,
        applies=_not_reversible,
        examples_cap=4,
    ),
    Invariant(
        "follows_a_sent_x",
        "an x sent between steps moves the result as the exact probability-flow map from that level moves it",
        follows_a_sent_x,
        gaussian_data,
        applies=_not_deterministic,
        examples_cap=3,
    ),
    Invariant(
        "deterministic_for_fixed_generator",
        "two runs with equally seeded generators give the same x",
        deterministic_for_fixed_generator,
        lambda o: {"shape": gst.batch_shapes(max_dims=3), "seed": gst.seeds()},
        examples_cap=10,
    ),
    Invariant(
        "draws_only_from_generator",
        "a run given a generator leaves torch's global random state untouched",
        draws_only_from_generator,
        lambda o: {"shape": gst.batch_shapes(max_dims=3), "seed": gst.seeds()},
        examples_cap=10,
    ),
    Invariant(
        "keeps_dtype_device_shape",
        "x keeps its dtype, shape and device through a run, and stays finite",
        keeps_dtype_device_shape,
        lambda o: {"shape": gst.batch_shapes(max_dims=3), "dtype": gst.dtypes(), "device": gst.devices()},
        examples_cap=10,
    ),
    Invariant(
        "no_input_mutation",
        "a step leaves x, λ and λ′ unchanged",
        no_input_mutation,
        lambda o: {"shape": gst.batch_shapes(max_dims=3), "seed": gst.seeds()},
        examples_cap=10,
    ),
    Invariant(
        "repeated_level_is_a_no_op",
        "a step between equal levels returns x, and a run over a grid with repeated levels stays finite",
        repeated_level_is_a_no_op,
        lambda o: {"shape": gst.batch_shapes(max_dims=3), "seed": gst.seeds()},
        examples_cap=3,
    ),
    Invariant(
        "stable_on_uneven_grids",
        "on a grid with nearly repeated levels before long steps (and λ = ±∞ ends) a run stays within "
        f"{UNEVEN_FACTOR:g} × DDIM's error on the same grid",
        stable_on_uneven_grids,
        lambda o: {"logsnrs": gst.uneven_grids(), "seed": gst.seeds()},
        examples_cap=6,
    ),
    Invariant(
        "no_host_reads",
        "a step never reads tensor values into Python (.item(), .tolist(), bool(tensor), torch.equal, ...)",
        no_host_reads,
        lambda o: {"shape": gst.batch_shapes(max_dims=3), "seed": gst.seeds()},
        examples_cap=3,
    ),
)


def check_sampler(
    sampler: Any,
    *,
    max_examples: Optional[int] = None,
    raise_on_failure: bool = True,
    only: Optional[list[str]] = None,
    stochastic: Optional[bool] = None,
    steps: Optional[int] = None,
    logsnr_range: Optional[tuple[float, float]] = None,
    tolerance: Optional[float] = None,
    denoiser: Optional[str] = None,
    scalers: Optional[tuple[str, ...]] = None,
) -> CheckReport:
    """Check a sampler (or a strategy of them) against every sampler invariant.

    ``stochastic`` (default: the class attribute) picks the convergence test;
    ``denoiser="consistency"`` drives it with the exact consistency function;
    ``scalers`` (``"variance"``, ``"sum"``; default both) picks the scalers;
    ``steps``, ``logsnr_range`` and ``tolerance`` tune it (defaults
    128 steps over λ ∈ [−8, 8], 0.05 data std for deterministic and 0.1
    marginal std for stochastic samplers).
    """
    options = {"stochastic": stochastic, "denoiser": denoiser, "scalers": scalers, "steps": steps, "logsnr_range": logsnr_range, "tolerance": tolerance}
    return run_check(KIND, INVARIANTS, sampler, options=options, max_examples=max_examples, raise_on_failure=raise_on_failure, only=only)
