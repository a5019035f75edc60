"""The testing kit itself: every invariant passes a sound component and catches a broken one by name.

The broken components live in tests/broken_components.py, one per invariant.
Also: strategies, report and error formats, random-parameter checks, the
``gdf check`` command, and the pytest plugin run by a third-party package.
"""

from __future__ import annotations

import shutil
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import broken_components as bc
from gdf_core.testing import (
    INVARIANTS,
    InvariantError,
    check_component,
    check_input_scaler,
    check_loss_weight,
    check_noise_cond,
    check_sampler,
    check_schedule,
    check_target,
    strategies as gst,
)
from gdf_core.testing.command import check as check_command

FIXTURE = Path(__file__).parent / "fixtures" / "third_party_pkg"

#: (broken component, check options, invariant it breaks, words the message must contain)
BROKEN = [
    (bc.InfiniteEndSchedule(), {}, "finite_on_unit_interval", "is not finite at t="),
    (bc.IncreasingSchedule(), {}, "non_increasing_in_t", "λ increases with t"),
    (bc.RisingSchedule(), {}, "non_increasing_in_t", "λ does not fall from t = 0 to t = 1"),
    (bc.WrongShiftSchedule(), {}, "shift_moves_logsnr", "λ − 2·log(shift)"),
    (bc.IgnoresDiscreteSteps(), {}, "discrete_steps_levels", "with discrete_steps="),
    (bc.MutatingSchedule(), {}, "no_input_mutation", "changed its input t in place"),
    (bc.Float32Schedule(), {}, "keeps_dtype_device_shape", "gave λ of dtype torch.float32"),
    (bc.EscapingDrawSchedule(), {}, "training_draws_within_limits", "outside the limits"),
    (bc.SkewedDrawSchedule(), {}, "training_draws_distribution", "KS statistic"),
    (bc.OverOneScaler(), {}, "coefficients_in_unit_interval", "is not in [0, 1]"),
    (bc.ReversedScaler(), {}, "monotone_in_logsnr", "decreases as λ grows"),
    (bc.WrongLogSNRScaler(), {}, "logsnr_definition", "log(a²/b²) should be λ"),
    (bc.NotVarianceVP(), {}, "preserves_identity", "a² + b² = 1 fails"),
    (bc.BadStretchScaler(), {}, "limits_stretching", "should map to (a, b) = (0.0, 1.0)"),
    (bc.Float64Scaler(), {}, "keeps_dtype_device_shape", "gave a of dtype torch.float64"),
    (bc.MutatingScaler(), {}, "no_input_mutation", "changed its input λ in place"),
    (bc.X0OffByFactor(), {}, "x0_round_trip", "does not give back x0"),
    (bc.WrongEpsilonTarget(), {}, "epsilon_round_trip", "does not give back epsilon"),
    (bc.Float32Target(), {}, "keeps_dtype_device_shape", "x0(x, pred, ...) gave dtype torch.float32"),
    (bc.MutatingTarget(), {}, "no_input_mutation", "changed the prediction in place"),
    (bc.InfiniteCond(), {}, "finite", "is not finite"),
    (bc.NonMonotoneCond(), {}, "monotone_in_logsnr", "not monotone in λ"),
    (bc.WrongShiftCond(), {}, "shift_moves_logsnr", "unshifted cond(λ + 2·log(shift))"),
    (bc.WrongInverseCond(), {}, "inverts_schedule", "should give t back"),
    (bc.Float64Cond(), {}, "keeps_dtype_device_shape", "condition of dtype torch.float64"),
    (bc.MutatingCond(), {}, "no_input_mutation", "changed its input λ in place"),
    (bc.NegativeWeight(), {}, "finite_non_negative", "must be finite and ≥ 0"),
    (bc.IgnoresShiftWeight(), {}, "shift_moves_logsnr", "should be weight(λ + 2·log(shift))"),
    (bc.Float64Weight(), {}, "keeps_dtype_device_shape", "weights of dtype torch.float64"),
    (bc.MutatingWeight(), {}, "no_input_mutation", "changed its input λ in place"),
    (bc.WrongCoefficientDDIM(), {}, "converges_to_reference", "does not follow the exact probability-flow map"),
    (bc.ForwardOnlyDDIM(), {}, "inverts_to_reference", "says it steps towards noise (steps_toward_noise() is true) but does not follow"),
    (bc.PureNoiseDroppingDPMPP2M(), {}, "inverts_to_reference", "its step into pure noise (λ′ = −∞) is not the limit"),
    (bc.KeptXDPMPP2M(), {}, "follows_a_sent_x", "does not follow an x sent between steps: x + δ sent after step 0"),
    (bc.GlobalNoiseSampler(), {}, "deterministic_for_fixed_generator", "differ"),
    (bc.GlobalNoiseSampler(), {}, "draws_only_from_generator", "global random state"),
    (bc.Float32Sampler(), {}, "keeps_dtype_device_shape", "came back with dtype torch.float32"),
    (bc.MutatingSampler(), {}, "no_input_mutation", "changed its input x in place"),
    (bc.BranchingSampler(), {}, "no_host_reads", "the first: bool(tensor)"),
    (bc.NaNScaleWeight(), {}, "refuses_nan_parameters", "NaNScaleWeight accepts NaN for 'scale': declare each parameter's domain"),
    (bc.NaNOffsetSchedule(), {}, "refuses_nan_parameters", "NaNOffsetSchedule accepts NaN for 'offset'"),
    (bc.NaNGainScaler(), {}, "refuses_nan_parameters", "NaNGainScaler accepts NaN for 'gain'"),
    (bc.NaNScaleTarget(), {}, "refuses_nan_parameters", "NaNScaleTarget accepts NaN for 'scale'"),
    (bc.NaNScaleCond(), {}, "refuses_nan_parameters", "NaNScaleCond accepts NaN for 'scale'"),
    (bc.RenoisingSampler(), {}, "repeated_level_is_a_no_op", "must be a no-op"),
    (bc.UnguardedDPMPP3M(), {}, "stable_on_uneven_grids", "more than 10 × DDIM's"),
    (bc.OffByOneCFG(), {}, "neutral_is_conditional", "should return the conditional prediction"),
    (bc.IgnoresInterval(), {}, "conditional_outside_interval", "it says it is active at t ="),
    (bc.BatchStdRescale(), {}, "batch_independent", "guided alone differs from the same sample guided in a batch"),
    (bc.SelfMomentum(), {}, "fresh_state_per_run", "keeps state of its own across runs"),
    (bc.BranchingGuidance(), {}, "no_host_reads", "the first: bool(tensor)"),
    (bc.InPlaceGuidance(), {}, "no_input_mutation", "changed the unconditional prediction in place"),
    (bc.Float32Guidance(), {}, "keeps_dtype_device_shape", "gave a guided prediction of dtype torch.float32"),
    (bc.UnguardedProjection(), {}, "finite", "gave a non-finite guided prediction"),
]

#: A sound component of each kind (with the options that switch on every invariant).
SOUND = {
    "schedule": (bc.LinearLogSNR(), {}),
    "input_scaler": (bc.VP(), {}),
    "target": (bc.Epsilon(), {}),
    "noise_cond": (bc.LinearT(), {}),
    "loss_weight": (bc.SNRWeight(), {}),
    "sampler": (bc.DDIM(), {}),
    "guidance": (bc.Lerp(), {}),
}


def _id(case: tuple) -> str:
    return f"{type(case[0]).__name__}-{case[2]}"


def test_every_invariant_has_a_broken_component() -> None:
    caught = {(c.kind, inv) for c, _, inv, _ in BROKEN}
    every = {(kind, inv.name) for kind, invs in INVARIANTS.items() for inv in invs}
    assert every - caught == set()


@pytest.mark.parametrize("kind", list(SOUND))
def test_sound_component_passes_every_invariant_of_its_kind(kind: str) -> None:
    component, options = SOUND[kind]
    report = check_component(component, max_examples=10, **options)
    assert report.passed
    assert [r.invariant for r in report.results if r.skipped] == []


@pytest.mark.parametrize("case", BROKEN, ids=_id)
def test_broken_component_is_caught_with_a_readable_message(case: tuple) -> None:
    component, options, invariant, words = case
    with pytest.raises(InvariantError) as info:
        check_component(component, only=[invariant], max_examples=20, **options)
    error = info.value
    assert error.invariant == invariant
    assert words in error.message
    text = str(error)
    assert f"breaks {invariant!r}" in text and "falsifying example (shrunk):" in text
    assert repr(component.name) in text


def test_report_lists_every_invariant_and_does_not_raise_when_asked() -> None:
    report = check_schedule(bc.IncreasingSchedule(), max_examples=5, raise_on_failure=False)
    assert [r.invariant for r in report.results] == [inv.name for inv in INVARIANTS["schedule"]]
    assert [r.invariant for r in report.failures] == ["non_increasing_in_t"]
    assert "FAIL non_increasing_in_t" in str(report)


def test_shrunk_example_is_minimal() -> None:
    with pytest.raises(InvariantError) as info:
        check_schedule(bc.IncreasingSchedule(), only=["non_increasing_in_t"])
    assert info.value.example["t"].numel() == 2


def test_check_does_not_change_a_stateful_component() -> None:
    scaler = bc.VP()
    check_input_scaler(scaler, only=["limits_stretching"], max_examples=3)
    assert scaler.limits is None


def test_unknown_invariant_name_is_an_error() -> None:
    with pytest.raises(ValueError, match="no schedule invariant named monotone; schedule invariants: .*non_increasing_in_t"):
        check_schedule(bc.LinearLogSNR(), only=["monotone"])


def test_class_without_a_kind_is_an_error() -> None:
    with pytest.raises(TypeError, match="cannot tell which kind"):
        check_component(object())


def test_checks_take_explicit_options() -> None:
    assert check_input_scaler(bc.ReversedScaler(), only=["preserves_identity"]).results[0].skipped
    with pytest.raises(InvariantError, match="a \\+ b = 1 fails"):
        check_input_scaler(bc.VP(), only=["preserves_identity"], preserves="sum")
    with pytest.raises(InvariantError, match="raised ValueError: unknown scaler identity 'bogus'"):
        check_target(bc.Epsilon(), only=["x0_round_trip"], scalers=("bogus",))
    with pytest.raises(InvariantError, match="KS statistic"):
        check_schedule(bc.LinearLogSNR(), only=["training_draws_distribution"], reference_draw=lambda n, g: torch.zeros(n))
    assert check_noise_cond(bc.NonMonotoneCond(), only=["inverts_schedule"]).results[0].skipped
    check_schedule(bc.InfiniteEndSchedule(), only=["finite_on_unit_interval"], infinite_ends=True)
    check_sampler(bc.DDIM(), only=["converges_to_reference"], steps=256, tolerance=0.02, max_examples=2)


def test_a_strategy_of_components_is_drawn_and_shown_in_the_example() -> None:
    scalers = st.sampled_from([bc.VP(), bc.OverOneScaler()])
    with pytest.raises(InvariantError) as info:
        check_input_scaler(scalers, only=["coefficients_in_unit_interval"])
    assert isinstance(info.value.example["component"], bc.OverOneScaler)


# -- strategies ---------------------------------------------------------------------------------
@settings(max_examples=30)
@given(t=gst.t_values(), lam=gst.logsnrs(allow_infinity=True), shape=gst.batch_shapes(), dtype=gst.dtypes(), device=gst.devices())
def test_strategies_draw_what_they_promise(t, lam, shape, dtype, device) -> None:
    assert ((t >= 0) & (t <= 1)).all() and t.dtype == torch.float64
    assert not lam.isnan().any()
    assert len(shape) >= 1 and all(s >= 1 for s in shape)
    assert dtype.is_floating_point and device.type in ("cpu", "cuda", "mps")


@settings(max_examples=30)
@given(spec=gst.component_specs("schedule", ["cosine", "linear", "interpolated"]))
def test_component_specs_follow_the_parameter_schema(spec) -> None:
    from gdf_core.spec import component_fields
    from gdf_core.registry import registry

    fields = component_fields(registry.get("schedule", spec["name"]))
    assert set(spec) - {"name"} <= set(fields)
    if spec["name"] == "interpolated":
        assert isinstance(spec["scheduler1"], dict) and "name" in spec["scheduler1"]


@pytest.mark.parametrize(
    "kind, names, check",
    [
        ("schedule", ["cosine", "cosine2", "linear", "edm_sample", "sqrt", "stable_diffusion"], check_schedule),
        ("loss_weight", ["p2", "sech", "sigmoid", "min_snr", "constant"], check_loss_weight),
        ("noise_cond", ["cosine_t", "edm_sigma", "sigmoid", "logsnr"], check_noise_cond),
    ],
)
def test_builtins_with_random_parameters_keep_their_invariants(kind, names, check) -> None:
    only = [inv.name for inv in INVARIANTS[kind] if inv.name not in ("training_draws_distribution",)]
    check(gst.components(kind, names), only=only, max_examples=15)


# -- gdf check ----------------------------------------------------------------------------------
def test_gdf_check_prints_a_table_and_exits_0_when_all_hold() -> None:
    result = CliRunner().invoke(check_command, ["vp", "epsilon", "--max-examples", "3"])
    assert result.exit_code == 0, result.output
    assert "input_scaler invariants" in result.output and "x0_round_trip" in result.output
    assert "✓" in result.output and "all invariants hold (2 components)" in result.output
    assert all(len(line) <= 100 for line in result.stdout.splitlines()), result.stdout
    assert "[1/2] checking input_scaler vp" in result.stderr and "[2/2] checking target epsilon" in result.stderr


def test_gdf_check_fits_100_columns_for_a_kind_with_many_invariants() -> None:
    result = CliRunner().invoke(check_command, ["cosine", "--kind", "schedule", "--max-examples", "2"])
    assert result.exit_code == 0, result.output
    assert max(len(line) for line in result.stdout.splitlines()) <= 100, result.stdout


def test_gdf_check_exits_1_and_shows_the_failure() -> None:
    from gdf_core.registry import registry

    registry.register(bc.IncreasingSchedule)
    try:
        result = CliRunner().invoke(check_command, ["test_increasing", "--kind", "schedule", "--max-examples", "5"])
    finally:
        registry.unregister(bc.IncreasingSchedule)
    assert "test_increasing" not in registry.names("schedule")
    assert result.exit_code == 1, result.output
    assert "✗" in result.output
    assert "breaks 'non_increasing_in_t': λ increases with t" in result.output


def test_gdf_check_rejects_an_unknown_name() -> None:
    result = CliRunner().invoke(check_command, ["no_such_component"])
    assert result.exit_code == 1 and "no installed component named no_such_component" in result.output


# -- the pytest plugin, from a third-party package ------------------------------------------------
def _install_fixture(pytester: pytest.Pytester) -> Path:
    """Copy the fixture package and make it an installed distribution (a .dist-info with its entry point)."""
    root = pytester.path
    shutil.copytree(FIXTURE / "src", root / "site")
    shutil.copytree(FIXTURE / "tests", root / "tests")
    dist = root / "site" / "gdf_toy-0.1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: gdf-toy\nVersion: 0.1.0\n")
    (dist / "entry_points.txt").write_text((FIXTURE / "entry_points.txt").read_text())
    return root / "site"


@pytest.mark.slow
def test_third_party_package_runs_the_suite_through_the_plugin(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    site = _install_fixture(pytester)
    monkeypatch.setenv("PYTHONPATH", str(site))
    monkeypatch.setenv("HYPOTHESIS_PROFILE", "default")
    result = pytester.runpytest_subprocess("tests", "-p", "no:cacheprovider", "--gdf-max-examples", "5", "-v")
    result.assert_outcomes(passed=9 + 8 + 5)  # schedule, input scaler and loss weight invariants
    result.stdout.fnmatch_lines(["*test_gdf_invariants?input_scaler:toy_vp::preserves_identity? PASSED*"])

    # --gdf-installed adds the suite for the distribution's components without any test file.
    empty = pytester.mkdir("empty")
    result = pytester.runpytest_subprocess(str(empty), "-p", "no:cacheprovider", "--gdf-installed", "--gdf-distribution", "gdf-toy", "--gdf-max-examples", "5", "-v")
    result.stdout.fnmatch_lines(["*gdf?schedule:toy_linear::non_increasing_in_t?*PASSED*"])
    result.assert_outcomes(passed=9 + 8 + 5)


@pytest.mark.slow
def test_third_party_broken_component_fails_with_the_invariant_message(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    site = _install_fixture(pytester)
    monkeypatch.setenv("PYTHONPATH", str(site))
    (site / "gdf_toy" / "broken.py").write_text(textwrap.dedent('''
        from gdf_toy import ToyLinear

        class RisingSchedule(ToyLinear):
            name = "toy_rising"

            def logsnr(self, t):
                return -super().logsnr(t)
    '''))
    pytester.makepyfile(test_broken='''
        from gdf_core.testing.pytest_plugin import invariant_suite
        from gdf_toy.broken import RisingSchedule

        test_rising = invariant_suite(RisingSchedule, invariants=["non_increasing_in_t"])
    ''')
    result = pytester.runpytest_subprocess("test_broken.py", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*schedule *toy_rising* breaks *non_increasing_in_t*: λ does not fall from t = 0 to t = 1*", "*falsifying example (shrunk): t=*"])


def test_host_read_recorder_sees_every_way_of_reading_values() -> None:
    import numpy as np

    from gdf_core.testing.host_reads import HostReadRecorder

    x = torch.tensor([0.5, -1.0])
    reads = {
        ".item()": lambda: x[0].item(),
        ".tolist()": lambda: x.tolist(),
        ".numpy()": lambda: x.numpy(),
        "bool(tensor)": lambda: 1 if (x > 0).any() else 0,
        "float(tensor)": lambda: float(x[0]),
        "int(tensor)": lambda: int(x[0]),
        "a tensor used as a Python index": lambda: [1, 2][torch.tensor(1)],
        "formatted": lambda: f"{x[0]:.2f}",
        "numpy.asarray": lambda: np.asarray(x),
        "torch.equal": lambda: torch.equal(x, x),
        "torch.allclose": lambda: torch.allclose(x, x),
        "torch.nonzero": lambda: torch.nonzero(x > 0),
        ".nonzero()": lambda: (x > 0).nonzero(),
        "torch.argwhere": lambda: torch.argwhere(x > 0),
        "torch.masked_select": lambda: torch.masked_select(x, x > 0),
        "torch.unique": lambda: torch.unique(x),
        ".cpu()": lambda: x.cpu(),
        "x[mask] with a boolean mask": lambda: x[x > 0],
        "x[mask] = … with a boolean mask": lambda: x.clone().__setitem__(x > 0, 0.0),
    }
    for what, read in reads.items():
        with HostReadRecorder() as recorder:
            read()
        assert recorder.reads and what in recorder.reads[0][0], (what, recorder.reads)
    with HostReadRecorder() as recorder:
        torch.where(x > 0, x, -x).mul_(2).sum()
        x[0], x[:1], x[torch.tensor([1])]  # indexing by ints, slices and integer tensors: shapes known on the host
        with recorder.ignored():
            x.sum().item()
        recorder.ignoring(lambda: float(x[1]))()
    assert recorder.reads == []


def test_the_pytest_plugin_loads_in_every_run_without_importing_torch(pytester: pytest.Pytester) -> None:
    """pytest loads gdf's plugin in any project of an environment that has gdf: start-up stays light."""
    pytester.makepyfile(test_light='''
        import sys

        def test_start_up(pytestconfig):
            assert pytestconfig.pluginmanager.hasplugin("gdf")
            heavy = sorted(m for m in ("torch", "hypothesis", "gdf_core") if m in sys.modules)
            assert heavy == []
    ''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
