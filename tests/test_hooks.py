"""Every gdf hook, exercised through a real installed plugin (tests/fixtures/registry_dists/all_hooks).

The meta-tests at the end keep this honest: each hook specification has a test
here named ``test_<hook>`` and a section in docs/hooks.md.
"""

from __future__ import annotations

import re
import sys
import warnings
from pathlib import Path

import pytest
import torch

from gdf_core import GDF, hookspecs
from gdf_core.errors import PluginLoadWarning
from gdf_core.registry import Registry
from gdf_core.spec import build, load_spec

ROOT = Path(__file__).parents[1]
ALL_HOOKS = ROOT / "tests" / "fixtures" / "registry_dists" / "all_hooks"
PLUGIN = "gdf_fixture_hooks"


@pytest.fixture
def reg(monkeypatch):
    """A registry that sees only the all_hooks distribution."""
    monkeypatch.syspath_prepend(str(ALL_HOOKS))
    registry = Registry(path=[str(ALL_HOOKS)])
    with warnings.catch_warnings():
        warnings.simplefilter("error", PluginLoadWarning)
        registry.load()
    return registry


def registered(reg: Registry, kind: str, name: str) -> type:
    cls = reg.get(kind, name)
    entry = reg.registration_of(cls)
    assert (cls.__module__, entry.distribution, entry.version, entry.plugin) == (
        PLUGIN,
        "gdf-fixture-hooks",
        "1.0",
        "all_hooks",
    )
    return cls


def test_gdf_register_schedules(reg):
    schedule = build("schedule", {"name": "hooks_schedule", "shift": 2.0}, registry=reg)
    assert isinstance(schedule, registered(reg, "schedule", "hooks_schedule"))
    assert torch.allclose(schedule(torch.tensor([0.5])), torch.tensor([-2 * torch.log(torch.tensor(2.0)).item()]))


def test_gdf_register_input_scalers(reg):
    scaler = build("input_scaler", "hooks_scaler", registry=reg)
    assert isinstance(scaler, registered(reg, "input_scaler", "hooks_scaler"))
    a, b = scaler(torch.tensor([0.0]))
    assert torch.allclose(a**2 + b**2, torch.ones(1))


def test_gdf_register_targets(reg):
    target = build("target", "hooks_target", registry=reg)
    assert isinstance(target, registered(reg, "target", "hooks_target"))
    x0, eps = torch.ones(2), torch.zeros(2)
    assert torch.equal(target(x0, eps, None, None, None), eps)


def test_gdf_register_noise_conds(reg):
    cond = build("noise_cond", "hooks_noise_cond", registry=reg)
    assert isinstance(cond, registered(reg, "noise_cond", "hooks_noise_cond"))
    assert torch.equal(cond(torch.tensor([1.5])), torch.tensor([1.5]))


def test_gdf_register_loss_weights(reg):
    weight = build("loss_weight", "hooks_loss_weight", registry=reg)
    assert isinstance(weight, registered(reg, "loss_weight", "hooks_loss_weight"))
    assert torch.equal(weight(torch.tensor([-3.0, 3.0])), torch.ones(2))


def test_gdf_register_samplers(reg):
    sampler = build("sampler", "hooks_sampler", registry=reg)
    assert isinstance(sampler, registered(reg, "sampler", "hooks_sampler"))
    scaler = build("input_scaler", "hooks_scaler", registry=reg)
    x0 = torch.full((1, 3), 0.25)
    x_next = sampler.step(
        lambda x, logsnr: (x0, torch.zeros_like(x)), torch.randn(1, 3), torch.tensor([0.0]), torch.tensor([50.0]),
        scaler=scaler, state=None,
    )
    assert torch.allclose(x_next, x0)  # at λ′ = 50 the sample is its prediction


def test_gdf_register_guidances(reg):
    from gdf_core import Predictions

    guidance = build("guidance", {"name": "hooks_guidance", "scale": 3.0}, registry=reg)
    assert isinstance(guidance, registered(reg, "guidance", "hooks_guidance"))
    c, u = torch.ones(2, 3), torch.zeros(2, 3)
    guided = guidance(Predictions(c, u), x=c, logsnr=torch.zeros(2), t=0.5, step=0, state=guidance.init_state())
    assert torch.equal(guided, torch.full((2, 3), 3.0))


def test_gdf_register_presets(reg):
    spec = load_spec("hooks_recipe", registry=reg)
    assert spec["sampler"] == "hooks_sampler"
    assert [p.presets for p in reg.plugins] == [["hooks_recipe"]]
    parts = {kind: build(kind, spec[kind], registry=reg) for kind in ("schedule", "input_scaler", "target", "noise_cond", "loss_weight")}
    noised, *_ = GDF(**parts).diffuse(torch.zeros(2, 3), generator=torch.Generator().manual_seed(0))
    assert noised.shape == (2, 3)


# -- meta-tests --------------------------------------------------------------------
def hook_names() -> list[str]:
    return sorted(name for name in dir(hookspecs) if hasattr(getattr(hookspecs, name), "gdf_spec"))


def test_every_hook_has_a_test_here():
    module = sys.modules[__name__]
    missing = [hook for hook in hook_names() if not callable(getattr(module, f"test_{hook}", None))]
    assert missing == [], f"hooks without a test_<hook> in tests/test_hooks.py: {missing}"


def test_every_hook_is_documented_and_only_real_hooks_are():
    text = (ROOT / "docs" / "hooks.md").read_text(encoding="utf-8")
    documented = re.findall(r"^## `(\w+)\(\)`", text, flags=re.MULTILINE)
    assert sorted(documented) == hook_names(), "docs/hooks.md needs one '## `hook()`' section per hook, no more"
    for hook in hook_names():
        section = text.split(f"## `{hook}()`", 1)[1].split("\n## ", 1)[0]
        assert "@hookimpl" in section and "```python" in section, f"docs/hooks.md: {hook} needs an example"


def test_every_hook_has_a_one_line_docstring_and_a_kind_hook_for_each_kind():
    for hook in hook_names():
        doc = getattr(hookspecs, hook).__doc__ or ""
        assert doc.strip() and "\n" not in doc.strip(), hook
    assert sorted(hookspecs.KIND_HOOKS.values()) == [h for h in hook_names() if h != "gdf_register_presets"]
