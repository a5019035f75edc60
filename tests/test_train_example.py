"""examples/train: a few steps of the digits example, and its checkpoint resumes exactly."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")

SCRIPT = Path(__file__).parents[1] / "examples" / "train" / "train_digits.py"


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("train_digits", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


FAST = ["--batch", "16", "--channels", "8", "--no-progress", "--ckpt-every", "2"]


@pytest.fixture(scope="module")
def straight(example, tmp_path_factory) -> Path:
    """Three steps in one go, then sampling and the pictures."""
    out = tmp_path_factory.mktemp("straight")
    example.main([*FAST, "--steps", "3", "--out", str(out), "--per-class", "1", "--sample-steps", "2"])
    return out


def test_a_few_steps_train_sample_and_draw(straight) -> None:
    saved = json.loads((straight / "metrics.json").read_text())
    assert len(saved["loss"]) == 3 and all(v == v and v > 0 for v in saved["loss"])
    assert (straight / "samples.png").stat().st_size > 1000 and (straight / "loss.png").stat().st_size > 1000
    assert saved["world_size"] == 1 and 0 <= saved["classifier_accuracy"] <= 1


def test_resume_from_the_checkpoint_is_exact(example, straight, tmp_path) -> None:
    example.main([*FAST, "--steps", "2", "--out", str(tmp_path), "--no-samples"])
    metrics = example.main([*FAST, "--steps", "3", "--out", str(tmp_path), "--no-samples", "--resume"])
    assert metrics["resumed_at"] == 2
    a = torch.load(straight / "checkpoint.pt", weights_only=True)
    b = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert a["step"] == b["step"] == 3 and a["extra"]["loss"] == b["extra"]["loss"]
    for part in ("model", "ema"):
        for key in a[part]:
            assert torch.equal(a[part][key], b[part][key]), (part, key)
    assert torch.equal(a["gdf"]["loss_weight"]["bucket_losses"], b["gdf"]["loss_weight"]["bucket_losses"])
    assert a["optimizer"]["state"][0]["step"] == b["optimizer"]["state"][0]["step"]
