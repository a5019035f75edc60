"""Two processes on torch.distributed (gloo, CPU, torch.multiprocessing.spawn), as a training run has them.

Each rank updates the adaptive schedule and the adaptive loss weight (nested in
``composed``) with its own batches; the test checks that (a) both ranks hold the
same state, (b) it equals one process's state on the concatenated batches, (c) a
checkpoint saved on rank 0 and restored gives the same next draws and weights,
and (d) stratified draws cover the strata of the global batch exactly once.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch

from gdf_core import GDF

SPEC = {
    "schedule": {"name": "adaptive", "buckets": 16, "min_probs": 0.05},
    "input_scaler": "vp",
    "target": "epsilon",
    "noise_cond": "cosine_t",
    "loss_weight": {"name": "composed", "mul": [{"name": "adaptive", "buckets": 12}], "div": "constant"},
}
UPDATES, BATCH, WORLD = 4, 6, 2


def batch_of(update: int, rank: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The (λ, loss) batch rank ``rank`` sees at ``update``: different on every rank, one NaN on rank 1."""
    g = torch.Generator().manual_seed(1000 * update + rank)
    lam = torch.rand(BATCH, generator=g) * 24 - 12
    loss = torch.rand(BATCH, generator=g) * (1 + rank) + lam.abs() / 4
    if rank == 1 and update == 2:
        loss[0] = float("nan")
    return lam, loss


def _update(gdf: GDF, lam: torch.Tensor, loss: torch.Tensor) -> None:
    gdf.schedule.update_buckets(lam, loss, beta=0.8)
    gdf.loss_weight.mul[0].update_buckets(lam, loss, beta=0.8)


def _worker(rank: int, init_file: str, out: str) -> None:
    import warnings

    import torch.distributed as dist

    from gdf_core.stratified import stratified_uniform

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    try:
        gdf = GDF.from_spec(SPEC)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for k in range(UPDATES):
                _update(gdf, *batch_of(k, rank))
        state = gdf.state_dict()
        # (c) rank 0 saves, every rank restores into a fresh GDF
        path = Path(out) / "gdf_state.pt"
        if rank == 0:
            torch.save(state, path)
        dist.barrier()
        fresh = GDF.from_spec(SPEC)
        fresh.load_state_dict(torch.load(path, weights_only=True))
        seed = torch.Generator().manual_seed(7 + rank)
        same_seed = torch.Generator().manual_seed(7 + rank)
        lam_grid = torch.linspace(-14, 14, 57)
        # (d) stratified variates and a stratified diffuse through a uniform-t schedule
        u = stratified_uniform(BATCH, generator=torch.Generator().manual_seed(rank))
        linear = GDF.from_spec({**SPEC, "schedule": {"name": "linear", "logsnr_range": [-10, 10]}, "loss_weight": "constant"})
        lam_strat = linear.diffuse(torch.zeros(BATCH, 2), stratified=True, generator=torch.Generator().manual_seed(50 + rank))[3]
        torch.save(
            {
                "state": state,
                "skip_warnings": [str(w.message) for w in caught if "skipped" in str(w.message)],
                "next_draw": gdf.schedule(32, generator=seed),
                "next_draw_restored": fresh.schedule(32, generator=same_seed),
                "weights": gdf.loss_weight(lam_grid),
                "weights_restored": fresh.loss_weight(lam_grid),
                "u": u,
                "t_from_diffuse": (10 - lam_strat.double()) / 20,
            },
            Path(out) / f"rank{rank}.pt",
        )
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def ranks(tmp_path_factory) -> list[dict]:
    out = tmp_path_factory.mktemp("dist")
    init_file = out / "init"
    torch.multiprocessing.spawn(_worker, args=(str(init_file), str(out)), nprocs=WORLD, join=True)
    return [torch.load(out / f"rank{r}.pt", weights_only=True) for r in range(WORLD)]


def test_a_adaptive_state_is_identical_on_both_ranks(ranks) -> None:
    s0, s1 = ranks[0]["state"], ranks[1]["state"]
    assert set(s0) == {"schedule", "loss_weight.mul.0"}
    for path in s0:
        for key in s0[path]:
            assert torch.equal(s0[path][key], s1[path][key]), (path, key)
    # the buckets really moved, and the NaN of rank 1 was skipped, counted and warned about on every rank
    assert not torch.equal(s0["schedule"]["bucket_probs"], torch.ones(16))
    assert int(s0["schedule"]["skipped_losses"]) == 1 and int(s1["loss_weight.mul.0"]["skipped_losses"]) == 1
    assert all(len(r["skip_warnings"]) == 2 for r in ranks)  # once per component


def test_b_state_equals_one_process_on_the_concatenated_batches(ranks) -> None:
    single = GDF.from_spec(SPEC)
    with pytest.warns(RuntimeWarning, match="skipped"):
        for k in range(UPDATES):
            parts = [batch_of(k, r) for r in range(WORLD)]
            _update(single, torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts]))
    want = single.state_dict()
    for path, comp in want.items():
        for key, value in comp.items():
            got = ranks[0]["state"][path][key]
            assert torch.allclose(got.double(), value.double(), rtol=1e-6, atol=0), (path, key)
    # and not what a rank reaches on its own batches only
    alone = GDF.from_spec(SPEC)
    for k in range(UPDATES):
        _update(alone, *batch_of(k, 0))
    assert not torch.allclose(alone.state_dict()["schedule"]["bucket_probs"], want["schedule"]["bucket_probs"])


def test_c_checkpoint_from_rank0_restores_the_next_draws_and_weights(ranks) -> None:
    for r in ranks:
        assert torch.equal(r["next_draw"], r["next_draw_restored"])
        assert torch.equal(r["weights"], r["weights_restored"])
    assert not torch.equal(ranks[0]["next_draw"], ranks[1]["next_draw"])  # per-rank seeds draw differently


def test_d_stratified_draws_cover_every_stratum_once_across_ranks(ranks) -> None:
    n = BATCH * WORLD
    for key in ("u", "t_from_diffuse"):
        u = torch.cat([r[key] for r in ranks]).double()
        strata = torch.floor(u * n).long().sort().values
        assert torch.equal(strata, torch.arange(n)), (key, strata)
    # each rank's own batch spreads over all of [0, 1] (interleaved strata)
    assert ranks[0]["u"].min() < 1 / n and ranks[1]["u"].max() > 1 - 1 / n
