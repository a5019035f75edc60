"""torch.compile(fullgraph=True) over one step of every sampler, the whole loop, and a whole run.

Backend "eager": dynamo must trace the code as one graph (no data-pointer
comparisons, no ``.tolist()``, no component built by name inside), without
the cost of code generation.
"""

from __future__ import annotations

import copy
import warnings

import pytest
import torch
from torch import Tensor

from gdf_core import GDF, registry
from gdf_core.integrate import start
from gdf_plugins.scalers import VPScaler

torch._dynamo.config.cache_size_limit = 64

#: Every built-in sampler, the diffusers-equivalent ones (``diffusers_*``) included.
ALL = registry.builtin_names("sampler")
DETERMINISTIC = ["ddim", "euler", "heun", "dpmpp_2m", "dpmpp_3m", "unipc", "deis", "ipndm", "lms"]


def model(x: Tensor, cond: Tensor, **_: object) -> Tensor:
    return 0.5 * torch.tanh(x) + 0.1 * torch.tanh(cond.to(x.dtype)).view(-1, 1)


def _denoise(x: Tensor, logsnr: Tensor) -> tuple[Tensor, Tensor]:
    a, b = VPScaler()(logsnr)
    eps = model(x, logsnr)
    return (x - b.view(-1, 1) * eps) / a.view(-1, 1), eps


@pytest.mark.parametrize("name", ALL)
def test_one_step_of_every_sampler_compiles_fullgraph(name: str) -> None:
    sampler = registry.get("sampler", name)()
    grid = torch.linspace(-6.0, 6.0, 5)[:, None].expand(-1, 3)
    x = torch.randn(3, 2, generator=torch.Generator().manual_seed(0))
    compiled = torch.compile(sampler.step, fullgraph=True, backend="eager")
    state = start(sampler, grid, 3, VPScaler())
    for j in range(3):  # step 1 is a multistep sampler's warm-up, step 2 a steady step
        state.step = j
        if j == 0:
            x = sampler.step(_denoise, x, grid[j], grid[j + 1], scaler=VPScaler(), state=state)
            continue
        twin = copy.copy(state)
        twin.history = list(state.history)
        torch.manual_seed(j)
        eager_x = sampler.step(_denoise, x, grid[j], grid[j + 1], scaler=VPScaler(), state=twin)
        torch.manual_seed(j)
        x = compiled(_denoise, x, grid[j], grid[j + 1], scaler=VPScaler(), state=state)
        torch.testing.assert_close(x, eager_x)
    torch._dynamo.reset()


@pytest.mark.parametrize("cfg", [None, 3.0], ids=["cfg_off", "cfg_on"])
@pytest.mark.parametrize("name", DETERMINISTIC)
def test_the_whole_sample_loop_compiles_fullgraph(name: str, cfg: float | None) -> None:
    """Sampler and sample schedule from the spec; every step, the model, guidance and target conversion in one graph."""
    gdf = GDF.from_spec({"preset": "edm", "sampler": name})
    x = torch.randn(2, 2, generator=torch.Generator().manual_seed(1))
    label = {"label": torch.ones(2)}
    guided = lambda x, c, label: model(x, c) + 0.1 * label.view(-1, 1)  # noqa: E731
    eager = gdf.sample_final(guided, label, (2, 2), timesteps=3, x_init=x, cfg=cfg)
    run = gdf.prepare_sample(guided, label, (2, 2), timesteps=3, x_init=x, cfg=cfg)
    compiled = torch.compile(run.solve, fullgraph=True, backend="eager")()
    torch.testing.assert_close(compiled, eager)
    torch._dynamo.reset()


def test_a_whole_sample_final_call_compiles_fullgraph() -> None:
    """Everything: the grid, the sampler's plan, the loop (dpmpp_2m on the EDM preset, with cfg)."""
    gdf = GDF.from_spec({"preset": "edm", "sampler": {"name": "dpmpp_2m", "interpolation": "logsnr"}})
    x = torch.randn(2, 2, generator=torch.Generator().manual_seed(2))
    eager = gdf.sample_final(model, {}, (2, 2), timesteps=3, x_init=x, cfg=2.0)
    compiled = torch.compile(gdf.sample_final, fullgraph=True, backend="eager")(model, {}, (2, 2), timesteps=3, x_init=x, cfg=2.0)
    torch.testing.assert_close(compiled, eager)
    torch._dynamo.reset()


@pytest.mark.parametrize("name", ALL)
def test_every_samplers_whole_run_compiles_through_aot_autograd_without_warnings(name: str) -> None:
    """Backend "aot_eager" also traces through AOTAutograd (functionalization: in-place ops on views,
    aliasing), what inductor compiles; a stochastic sampler's noise comes from the same seeded global
    generator in both runs. Nothing warns: dynamo warns at every ``functools.lru_cache`` call it traces
    through, and samplers keep their constant tables with ``gdf_core.host_cache``, which it does not.
    On rectified_flow's grid, from λ = −∞ (the loop tests above are on edm's finite Karras grid)."""
    gdf = GDF.from_spec({"preset": "rectified_flow", "sampler": name})
    x = torch.randn(2, 2, generator=torch.Generator().manual_seed(3))
    torch.manual_seed(4)
    eager = gdf.sample_final(model, {}, (2, 2), timesteps=4, x_init=x, cfg=2.0)
    torch.manual_seed(4)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        compiled = torch.compile(gdf.sample_final, fullgraph=True, backend="aot_eager")(model, {}, (2, 2), timesteps=4, x_init=x, cfg=2.0)
    torch._dynamo.reset()
    assert [str(w.message) for w in caught] == []
    torch.testing.assert_close(compiled, eager)


def test_host_cache_builds_a_table_once_in_eager_code() -> None:
    from gdf_core.host_cache import host_cache

    calls: list[int] = []

    @host_cache(maxsize=4)
    def table(n: int) -> Tensor:
        calls.append(n)
        return torch.arange(n)

    assert table(3) is table(3) and calls == [3]
    assert torch.equal(table(5), torch.arange(5)) and calls == [3, 5]


#: The presets whose grids start at λ = −∞ (rectified_flow, sd3: ε̂ undefined at pure noise, a = 0).
INFINITE_END_PRESETS = ["rectified_flow", "sd3"]
#: The samplers whose plan reads the grid's ends in eager runs (diffusers_unipc caps its orders there,
#: diffusers_dpmsolver refuses its noise form there); every other one is on rectified_flow's grid above.
READS_ENDS = [{"name": "diffusers_unipc", "solver_order": k} for k in (1, 2, 3)] + ["diffusers_dpmsolver"]


@pytest.mark.parametrize("sampler", READS_ENDS, ids=lambda s: s if isinstance(s, str) else f"{s['name']}-{s['solver_order']}")
@pytest.mark.parametrize("preset", INFINITE_END_PRESETS)
def test_a_whole_compiled_run_on_a_grid_with_an_infinite_end_equals_the_eager_run(preset: str, sampler) -> None:
    """Traced, the plan cannot read the grid's ends; the compiled run must still take the eager run's steps
    (diffusers_unipc's did not: 1.3e-4 off on rectified_flow, its orders uncapped)."""
    gdf = GDF.from_spec({"preset": preset, "sampler": sampler})
    x = torch.randn(2, 2, generator=torch.Generator().manual_seed(5))
    for steps in (2, 5):
        eager = gdf.sample_final(model, {}, (2, 2), timesteps=steps, x_init=x, cfg=2.0)
        compiled = torch.compile(gdf.sample_final, fullgraph=True, backend="eager")(model, {}, (2, 2), timesteps=steps, x_init=x, cfg=2.0)
        torch._dynamo.reset()
        torch.testing.assert_close(compiled, eager, rtol=1e-6, atol=1e-7)
