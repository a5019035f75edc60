"""The example third-party package (examples/gdf-example), built into a wheel and installed.

The wheel goes into a fresh virtual environment that sees this environment's
packages (gdf, torch) through a ``.pth`` file, as a package installed next to
gdf would; subprocesses there check that the components are discovered, build
from a spec, train and sample, and that the package's own tests pass. Nothing
is downloaded: the wheel is built with ``--no-build-isolation --no-index``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import importlib_metadata
import pytest

from gdf_core import GDF
from gdf_core.errors import UnknownComponentError

ROOT = Path(__file__).parents[1]
EXAMPLE = ROOT / "examples" / "gdf-example"

pytestmark = pytest.mark.slow


def run(*args: object, cwd: Path, timeout: float = 240) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("GDF_DISABLE_PLUGIN_AUTOLOAD", "GDF_PLUGINS")}
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"{' '.join(map(str, args))} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> dict[str, Path]:
    """A fresh venv with the example's wheel installed, seeing gdf and torch from this environment."""
    root = tmp_path_factory.mktemp("gdf_example")
    source = root / "gdf-example"  # a copy: building leaves build/ and *.egg-info behind
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "dist", "*.egg-info", "__pycache__", ".pytest_cache"))
    pip_offline = ["--no-index", "--no-build-isolation", "--disable-pip-version-check"]
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", *pip_offline, "-w", root / "wheels", source, cwd=root)
    (wheel,) = (root / "wheels").glob("gdf_example-*.whl")
    run(sys.executable, "-m", "venv", "--without-pip", root / "venv", cwd=root)
    python = root / "venv" / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    purelib = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=root).strip())
    parents = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    (purelib / "_gdf_parent_environment.pth").write_text(
        "".join(f"import site; site.addsitedir({p!r})\n" for p in parents), encoding="utf-8"
    )
    # Its dependencies (gdf, torch) resolve against the parent environment: nothing to fetch.
    run(python, "-m", "pip", "install", *pip_offline, wheel, cwd=root)
    return {"root": root, "python": python, "source": source, "purelib": purelib}


DISCOVER_BUILD_SAMPLE = textwrap.dedent(
    """
    import json, sys, warnings
    import gdf_core
    result = {"imported_by_import_gdf_core": sorted(m for m in sys.modules if m.startswith("gdf_example"))}

    import jsonschema, torch
    from gdf_core import GDF, PluginLoadWarning, registry
    from gdf_core.plugin_commands import plugins_report
    from gdf_core.schema import json_schema

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result["names"] = {k: registry.names(k) for k in ("schedule", "loss_weight", "sampler", "guidance")}
    result["warnings"] = [str(w.message) for w in caught if issubclass(w.category, PluginLoadWarning)]
    import gdf_example
    result["module_file"] = gdf_example.__file__
    result["report"] = [d for d in plugins_report() if d["distribution"] == "gdf-example"]

    spec = {
        "preset": "rectified_flow",
        "schedule": {"name": "lognorm", "mu": 0.5},
        "loss_weight": {"name": "logit_normal_density", "std": 0.8},
        "sampler": "gdf-example:lambda_midpoint",
        "guidance": {"name": "cosine_ramp_cfg", "scale": 4.0},
    }
    schema_errors = [e.message for e in jsonschema.Draft202012Validator(json_schema()).iter_errors(spec)]
    gdf = GDF.from_spec(spec)
    x0 = torch.randn(8, 3, 4, 4, generator=torch.Generator().manual_seed(0))
    noised, epsilon, target, logsnr, cond, weight = gdf.diffuse(x0, generator=torch.Generator().manual_seed(1))
    calls = []

    def model(x, cond):
        calls.append(x.shape[0])
        return torch.zeros_like(x)

    steps = list(gdf.sample(model, {}, (2, 3, 4, 4), guidance=None, cfg=None, timesteps=5, generator=torch.Generator().manual_seed(2)))
    guided_calls = len(calls)
    guided = list(gdf.sample(model, {}, (2, 3, 4, 4), timesteps=5, generator=torch.Generator().manual_seed(2)))  # the spec's guidance
    result["guided"] = {"guidance": type(gdf.guidance).__name__, "batches": calls[guided_calls:guided_calls + 2], "finite": bool(torch.isfinite(guided[-1][1]).all())}
    x0_final, x, pred = steps[-1]
    result.update(
        classes={k: type(getattr(gdf, k)).__name__ for k in ("schedule", "loss_weight", "sampler", "guidance")},
        schema_errors=schema_errors,
        training={"finite": bool(torch.isfinite(noised).all() and torch.isfinite(weight).all()), "shape": list(noised.shape)},
        sample={"steps": len(steps), "model_calls": guided_calls, "shape": list(x.shape), "finite": bool(torch.isfinite(x).all())},
        round_trip=GDF.from_spec(gdf.to_spec()) == gdf,
        preset_sampler=type(GDF.from_spec("logit_normal_flow").sampler).__name__,
    )
    print(json.dumps(result))
    """
)


def test_installed_wheel_is_discovered_builds_from_a_spec_and_samples(venv):
    script = venv["root"] / "discover_build_sample.py"
    script.write_text(DISCOVER_BUILD_SAMPLE, encoding="utf-8")
    result = json.loads(run(venv["python"], script, cwd=venv["root"]).strip().splitlines()[-1])

    assert result["imported_by_import_gdf_core"] == []  # found lazily, imported on first lookup
    assert Path(result["module_file"]).is_relative_to(venv["purelib"])  # the installed wheel, not the source
    assert [w for w in result["warnings"] if "gdf-example" in w] == []
    assert "lognorm" in result["names"]["schedule"]
    assert "logit_normal_density" in result["names"]["loss_weight"]
    assert "lambda_midpoint" in result["names"]["sampler"]
    assert "cosine_ramp_cfg" in result["names"]["guidance"]
    assert result["report"] == [
        {
            "distribution": "gdf-example",
            "version": "0.1.0",
            "plugins": [
                {
                    "entry_point": "example",
                    "value": "gdf_example.plugin",
                    "components": {
                        "schedule": ["lognorm"],
                        "loss_weight": ["logit_normal_density"],
                        "sampler": ["lambda_midpoint"],
                        "guidance": ["cosine_ramp_cfg"],
                    },
                    "presets": ["logit_normal_flow"],
                    "errors": [],
                    "notes": [],
                    "disabled": None,
                }
            ],
        }
    ]
    assert result["classes"] == {
        "schedule": "LogitNormalSchedule",
        "loss_weight": "LogitNormalDensityWeight",
        "sampler": "LambdaMidpointSampler",
        "guidance": "CosineRampCFG",
    }
    assert result["guided"] == {"guidance": "CosineRampCFG", "batches": [4, 4], "finite": True}
    assert result["schema_errors"] == []
    assert result["training"] == {"finite": True, "shape": [8, 3, 4, 4]}
    assert result["sample"] == {"steps": 5, "model_calls": 10, "shape": [2, 3, 4, 4], "finite": True}
    assert result["round_trip"] is True
    assert result["preset_sampler"] == "LambdaMidpointSampler"


def test_the_example_packages_own_tests_pass_against_the_installed_wheel(venv):
    output = run(venv["python"], "-m", "pytest", "-q", "-p", "no:cacheprovider", venv["source"] / "tests", cwd=venv["root"])
    assert " passed" in output and "failed" not in output and "error" not in output


def test_without_the_package_its_names_are_unknown_and_the_message_says_it_may_not_be_installed():
    if any(d.metadata["Name"] == "gdf-example" for d in importlib_metadata.distributions()):
        pytest.skip("gdf-example is installed in this environment")
    from gdf_core import registry

    with pytest.raises(UnknownComponentError) as info:
        GDF.from_spec({"preset": "rectified_flow", "sampler": "lambda_midpoint"})
    assert str(info.value) == (
        f"sampler: unknown sampler 'lambda_midpoint'. Available samplers: {', '.join(registry.names('sampler'))}. "
        "If it comes from a plugin package, that package may not be installed (`gdf plugins` lists what is)."
    )
    with pytest.raises(UnknownComponentError) as info:
        GDF.from_spec("logit_normal_flow")
    assert str(info.value) == (
        f"preset: unknown preset 'logit_normal_flow'. Available presets: {', '.join(sorted(registry.presets()))}. "
        "If it comes from a plugin package, that package may not be installed (`gdf plugins` lists what is)."
    )
