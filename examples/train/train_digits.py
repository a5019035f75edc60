"""Train a class-conditional diffusion model on scikit-learn's 8×8 digits with gdf, on one or many processes.

    python examples/train/train_digits.py                               # one process
    torchrun --nproc_per_node=2 examples/train/train_digits.py          # two (gloo on CPU, NCCL on GPUs)

The recipe is the spec file (``digits.yaml``: EDM2's). Every step draws one global
batch (the same indices on every rank, each rank taking its slice) and each rank
noises its slice with its own generator, seeded from (seed, step, rank): a run is
reproducible and resumes exactly from its checkpoint, whatever the number of
processes. The model is wrapped in DistributedDataParallel; the adaptive loss
weight's state is all-reduced inside ``update_buckets``; the draws are stratified
over the global batch; a power-function EMA (EDM2) of the weights is kept and
sampled. At the end rank 0 writes ``samples.png`` (one row per class, with
classifier-free guidance), ``loss.png`` and ``metrics.json`` into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Optional, Sequence

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from gdf_core import GDF
from gdf_core.checkpoint import TrainState, step_seed
from gdf_core.distributed import all_reduce_sum, rank_and_world_size
from gdf_core.ema import EMA

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from model import DigitDenoiser  # noqa: E402


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--spec", default=str(HERE / "digits.yaml"), help="the GDF spec (file or preset name)")
    p.add_argument("--out", default="out/train", help="checkpoint, pictures and metrics go here")
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--batch", type=int, default=64, help="global batch (split over the processes)")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--channels", type=int, default=32)
    p.add_argument("--label-dropout", type=float, default=0.1, help="share of labels replaced by 'no class' (for guidance)")
    p.add_argument("--ema-sigma-rel", type=float, default=0.1, help="EDM2 power-function EMA width")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--ckpt-every", type=int, default=250)
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt if it exists")
    p.add_argument("--per-class", type=int, default=8, help="samples per class in samples.png")
    p.add_argument("--cfg", type=float, default=2.0, help="guidance weight of the sampled digits")
    p.add_argument("--sample-steps", type=int, default=18)
    p.add_argument("--no-samples", action="store_true", help="skip sampling and the pictures")
    p.add_argument("--threads", type=int, default=None, help="torch threads per process")
    p.add_argument("--no-progress", action="store_true")
    return p.parse_args(argv)


def load_digits() -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's 1797 8×8 digits in [−1, 1], shape (N, 1, 8, 8), and their labels."""
    from sklearn.datasets import load_digits as sk_digits

    data = sk_digits()
    return torch.tensor(data.images, dtype=torch.float32)[:, None] / 8 - 1, torch.tensor(data.target, dtype=torch.int64)


@torch.no_grad()
def sample_digits(gdf: GDF, net: torch.nn.Module, per_class: int, cfg: float, steps: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(samples, labels): ``per_class`` digits of each class, guided with weight ``cfg``."""
    labels = torch.arange(10).repeat_interleave(per_class)
    null = torch.full_like(labels, net.null_class)
    run = gdf.sample(
        net, {"y": labels}, (len(labels), 1, 8, 8), unconditional_inputs={"y": null}, cfg=cfg,
        timesteps=steps, generator=torch.Generator().manual_seed(seed),
    )
    for _, x, _ in run:
        pass
    return x.clamp(-1, 1), labels


def classifier_accuracy(x: torch.Tensor, labels: torch.Tensor, data: tuple[torch.Tensor, torch.Tensor]) -> float:
    """Share of samples that a 5-nearest-neighbour classifier of the real digits gives the class they were asked for."""
    from sklearn.neighbors import KNeighborsClassifier

    clf = KNeighborsClassifier(n_neighbors=5).fit(data[0].reshape(len(data[0]), -1).numpy(), data[1].numpy())
    return float((clf.predict(x.reshape(len(x), -1).numpy()) == labels.numpy()).mean())


def draw_pictures(out: Path, samples: torch.Tensor, per_class: int, losses: list[float], title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cells = torch.nn.functional.pad(samples.reshape(10, per_class, 8, 8), (1, 1, 1, 1), value=-1.0)  # a white frame
    grid = cells.permute(0, 2, 1, 3).reshape(100, per_class * 10)
    fig, ax = plt.subplots(figsize=(per_class * 0.7 + 1.2, 8.2))
    ax.imshow(grid.numpy(), cmap="gray_r", vmin=-1, vmax=1, interpolation="nearest")
    ax.set_yticks([10 * i + 4.5 for i in range(10)], [str(i) for i in range(10)])
    ax.set_xticks([])
    ax.set_ylabel("class asked for")
    ax.set_title(title, fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "samples.png", dpi=110)
    plt.close(fig)

    curve = torch.tensor(losses)
    window = max(1, len(curve) // 30)
    smooth = torch.nn.functional.avg_pool1d(curve[None, None], window, stride=1)[0, 0] if len(curve) >= window else curve
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.plot(curve.numpy(), lw=0.6, alpha=0.4, label="per step (global batch)")
    ax.plot(torch.arange(len(smooth)) + window // 2, smooth.numpy(), lw=1.6, label=f"moving mean ({window} steps)")
    ax.set(xlabel="step", ylabel="MSE of the target F", yscale="log", title="training loss")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "loss.png", dpi=110)
    plt.close(fig)


def main(argv: Optional[Sequence[str]] = None) -> dict[str, Any]:
    args = parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    launched = int(os.environ.get("WORLD_SIZE", "1")) > 1
    if launched and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    rank, world = rank_and_world_size()
    if args.batch % world:
        raise SystemExit(f"--batch {args.batch} must split evenly over {world} processes")
    local = args.batch // world
    out = Path(args.out)

    gdf = GDF.from_spec(Path(args.spec) if Path(args.spec).exists() else args.spec)
    torch.manual_seed(args.seed)  # the same initial weights on every rank
    model = DigitDenoiser(ch=args.channels)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    ema = EMA(model, sigma_rel=args.ema_sigma_rel)
    state = TrainState(gdf, model, optimizer, ema)
    checkpoint = out / "checkpoint.pt"
    start, extra = (state.load(checkpoint) if args.resume and checkpoint.exists() else (0, {}))
    losses: list[float] = list(extra.get("loss", []))
    net = DistributedDataParallel(model) if world > 1 else model

    images, labels = load_digits()
    bar = tqdm(range(start, args.steps), initial=start, total=args.steps, desc=f"training ({world} process{'es' if world > 1 else ''})",
               disable=rank != 0 or args.no_progress, dynamic_ncols=True)
    began = time.perf_counter()
    for step in bar:
        pick = torch.Generator().manual_seed(step_seed(args.seed, step))  # the global batch: the same on every rank
        index = torch.randint(len(images), (args.batch,), generator=pick)[rank * local : (rank + 1) * local]
        noise = torch.Generator().manual_seed(step_seed(args.seed, step, rank + 1))  # this rank's own draws
        x0, y = images[index], labels[index]
        y = torch.where(torch.rand(local, generator=noise) < args.label_dropout, model.null_class, y)
        noised, _, target, logsnr, cond, weight = gdf.diffuse(x0, generator=noise, stratified=True)
        per_sample = ((net(noised, cond, y) - target) ** 2).mean(dim=(1, 2, 3))
        optimizer.zero_grad(set_to_none=True)
        (per_sample * weight).mean().backward()
        optimizer.step()
        ema.update(model)
        gdf.loss_weight.update_buckets(logsnr, per_sample.detach())  # summed over the ranks: one shared state
        total = all_reduce_sum(torch.stack([per_sample.detach().sum(), torch.tensor(float(local))]))
        losses.append(float(total[0] / total[1]))
        bar.set_postfix(loss=f"{losses[-1]:.4f}")
        if (step + 1) % args.ckpt_every == 0 or step + 1 == args.steps:
            state.save(checkpoint, step + 1, {"loss": losses})
    train_seconds = time.perf_counter() - began

    metrics: dict[str, Any] = {"world_size": world, "steps": args.steps, "resumed_at": start, "global_batch": args.batch,
                               "train_seconds": train_seconds, "loss": losses, "spec": gdf.to_spec()}
    if rank == 0 and not args.no_samples:
        ema.module.eval()
        samples, asked = sample_digits(gdf, ema.module, args.per_class, args.cfg, args.sample_steps, args.seed)
        metrics["classifier_accuracy"] = classifier_accuracy(samples, asked, (images, labels))
        last = sum(losses[-50:]) / len(losses[-50:]) if losses else float("nan")
        draw_pictures(out, samples, args.per_class, losses,
                      f"EMA samples, cfg {args.cfg}, {args.sample_steps} steps of {type(gdf.sampler).__name__ if gdf.sampler else 'ddpm'}\n"
                      f"{args.steps} steps × batch {args.batch} on {world} process(es)\n"
                      f"5-NN classifier agrees: {metrics['classifier_accuracy']:.0%}; final loss {last:.3f}")
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        (out / "metrics.json").write_text(json.dumps(metrics, indent=1))
    if launched:
        dist.barrier()
        dist.destroy_process_group()
    return metrics


if __name__ == "__main__":
    main()
