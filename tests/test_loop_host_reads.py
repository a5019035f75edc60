"""No host reads in a ``sample`` run's loop: every preset × built-in sampler × guidance, on the CPU.

The CPU stand-in for ``torch.cuda.set_sync_debug_mode("error")``
(``benchmarks/gpu_sync_check.py`` runs that on a GPU): the loop runs under
``gdf_core.testing.host_reads.HostReadRecorder``, which records every read of
tensor values into Python, every value-dependent shape and every copy to the
host. The run's plan is prepared first (a warm-up run fills the GDF's run-plan
cache, or ``prepare_sample``): host values are computed there, once, before
the loop. The model, the noise condition, the scaler, the guidance and the
sampler all run inside the recorder: only the test's model is known to read nothing.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import Tensor

from gdf_core import GDF, registry
from gdf_core.testing.host_reads import HostReadRecorder
from gdf_plugins.presets import PRESETS

#: Every built-in sampler, the diffusers-equivalent ones (``diffusers_*``) included.
SAMPLERS = registry.builtin_names("sampler")
SHAPE = (2, 3)


def model(x: Tensor, cond: Tensor, label: Tensor) -> Tensor:
    c = torch.tanh(cond.to(x.dtype)).view(-1, 1)
    return 0.5 * torch.tanh(x) + 0.1 * c * x + 0.2 * label.view(-1, 1)


INPUTS = {"label": torch.tensor([1.0, -1.0])}


def _reads_of_a_repeated_run(gdf: GDF, **kwargs: Any) -> list[tuple[str, str]]:
    """Host reads of a whole ``sample`` generator run whose plan an identical earlier run cached."""
    x_init = torch.randn(SHAPE, generator=torch.Generator().manual_seed(0))
    call = dict(timesteps=5, x_init=x_init, **kwargs)
    for _ in gdf.sample(model, INPUTS, SHAPE, generator=torch.Generator().manual_seed(1), **call):
        pass
    with HostReadRecorder() as recorder:
        for x0, x, pred in gdf.sample(model, INPUTS, SHAPE, generator=torch.Generator().manual_seed(1), **call):
            pass
    assert torch.isfinite(x).all()
    return recorder.reads


def _reads_of_a_solve(gdf: GDF, **kwargs: Any) -> list[tuple[str, str]]:
    """Host reads of ``prepare_sample(...).solve()``: the loop alone (what ``torch.compile`` traces)."""
    x_init = torch.randn(SHAPE, generator=torch.Generator().manual_seed(0))
    run = gdf.prepare_sample(model, INPUTS, SHAPE, timesteps=5, x_init=x_init, generator=torch.Generator().manual_seed(1), **kwargs)
    with HostReadRecorder() as recorder:
        x = run.solve(generator=torch.Generator().manual_seed(1))
    assert torch.isfinite(x).all()
    return recorder.reads


@pytest.mark.parametrize("cfg", [None, 3.0], ids=["cfg_off", "cfg_on"])
@pytest.mark.parametrize("sampler", SAMPLERS)
@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_no_host_reads_in_the_loop_of_any_preset_and_sampler(preset: str, sampler: str, cfg: float | None) -> None:
    gdf = GDF.from_spec(preset)
    assert _reads_of_a_repeated_run(gdf, sampler=sampler, cfg=cfg) == []
    assert _reads_of_a_solve(gdf, sampler=sampler, cfg=cfg) == []


GUIDANCES: dict[str, Any] = {
    "cfg": {"name": "cfg", "scale": 4.0},
    "cfg rescaled, in an interval": {"name": "cfg", "scale": 4.0, "rescale": 0.7, "interval": [0.2, 0.8]},
    "cfg_zero_star": {"name": "cfg_zero_star", "scale": 4.0},
    "apg": {"name": "apg", "scale": 4.0},
    "autoguidance": {"name": "autoguidance", "scale": 2.0},
}


@pytest.mark.parametrize("sampler", ["ddim", "dpmpp_2m", "unipc", "heun", "dpmpp_2s_ancestral"])
@pytest.mark.parametrize("guidance", sorted(GUIDANCES))
def test_no_host_reads_in_the_loop_of_any_guidance(guidance: str, sampler: str) -> None:
    assert set(registry.names("guidance")) == {spec["name"] for spec in GUIDANCES.values()}, "a guidance is not covered"
    gdf = GDF.from_spec("edm")
    kwargs: dict[str, Any] = {"sampler": sampler, "guidance": GUIDANCES[guidance]}
    if guidance == "autoguidance":
        kwargs["guide_model"] = lambda x, cond, label: 0.9 * model(x, cond, label)
    assert _reads_of_a_repeated_run(gdf, **kwargs) == []
    assert _reads_of_a_solve(gdf, **kwargs) == []


def test_the_check_catches_a_sampler_that_branches_on_values() -> None:
    """A sampler whose step reads λ′ into Python (``tests/broken_components.py``) is caught in a whole run."""
    from broken_components import BranchingSampler

    gdf = GDF.from_spec("stable_cascade")
    reads = _reads_of_a_solve(gdf, sampler=BranchingSampler(), cfg=None)
    assert reads and "bool(tensor)" in reads[0][0] and "broken_components.py" in reads[0][1]


def test_the_check_catches_a_model_that_reads_values() -> None:
    """The recorder watches everything in the loop: a model that moves its input to the host is caught too."""
    gdf = GDF.from_spec("stable_cascade")
    run = gdf.prepare_sample(lambda x, c, label: model(x.cpu(), c, label), INPUTS, SHAPE, sampler="ddim", timesteps=3, cfg=None)
    with HostReadRecorder() as recorder:
        run.solve()
    assert [what for what, _ in recorder.reads] == [".cpu() (a copy to the host)"] * 3
