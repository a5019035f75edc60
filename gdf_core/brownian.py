"""Step-count-stable noise for stochastic samplers: one Brownian path in λ per sample.

A stochastic sampler's noise over a step λ → λ′ is, in the limit of small
steps, an increment of a Brownian motion. With independent draws per step, a
run of 10 steps and one of 50 from the same seed share nothing but the start.
``BrownianNoise`` gives each sample its own Brownian path W_i(λ), seeded per
sample, and the noise of a step is the normalised increment

    z_i = (W_i(λ′_i) − W_i(λ_i)) / √(λ′_i − λ_i)   ~ N(0, 1),

so the noise of a coarse step is the (normalised) sum of the fine steps'
noises it spans: the same seed gives nearly the same sample at 10, 20 or 50
steps (k-diffusion's Brownian-tree noise, Karras et al. 2022 App. B.4 and
k-diffusion's ``BrownianTreeNoiseSampler``, but per sample and in λ). Sample
i's path depends on ``seeds[i]`` only, so a sample does not depend on its
batch. The path is torchsde's ``BrownianInterval`` (Li et al. 2020) built as
a Brownian tree (``halfway_tree``), whose values do not depend on which
points were asked before, to tolerance ``tol``.

λ is clamped to [``logsnr_min``, ``logsnr_max``] (a step that starts at λ = −∞
or ends at +∞ draws over the clamped interval; at λ′ = +∞ the samplers scale
the noise by b′ = 0 anyway). The start noise of a run (``randn``) comes from
one ``torch.Generator`` per sample seeded with the same seeds.

Pass it as ``generator=`` to ``GDF.sample``; a sampler asks for a step's noise
with ``gdf_core.noise.randn_like(x, generator, logsnrs=(λ, λ′))``. torchsde's
tree lives on the host: a step reads its λ values there (this option is for
reproducibility across step counts, not for compiled loops).
"""

from __future__ import annotations

import math
from typing import Iterable, Optional, Sequence

import torch
from torch import Tensor


def _torchsde():
    try:
        import torchsde
    except ImportError:  # pragma: no cover - the extra is missing
        raise ImportError(
            "BrownianNoise needs torchsde: pip install 'gdf[brownian]' (or pip install torchsde)"
        ) from None
    return torchsde


class BrownianNoise:
    """Per-sample Brownian paths in λ as the noise source of a sampling run (see the module docstring).

    ``seeds``: one int per sample. ``shape``: the shape of one sample (set on
    first use when omitted). ``logsnr_min``/``logsnr_max``: the λ range of the
    paths. ``tol``: the tree's tolerance in λ.
    """

    def __init__(
        self,
        seeds: Iterable[int],
        *,
        shape: Optional[Sequence[int]] = None,
        logsnr_min: float = -30.0,
        logsnr_max: float = 30.0,
        tol: float = 1e-5,
    ) -> None:
        self.seeds = [int(s) for s in seeds]
        if not self.seeds:
            raise ValueError("BrownianNoise needs one seed per sample, got none")
        if not (math.isfinite(logsnr_min) and math.isfinite(logsnr_max) and logsnr_min < logsnr_max):
            raise ValueError(f"BrownianNoise: need finite logsnr_min < logsnr_max, got ({logsnr_min}, {logsnr_max})")
        if not tol > 0:
            raise ValueError(f"BrownianNoise: tol must be > 0, got {tol}")
        self.logsnr_min, self.logsnr_max, self.tol = float(logsnr_min), float(logsnr_max), float(tol)
        self.shape = None if shape is None else tuple(int(d) for d in shape)
        self._paths: Optional[list] = None

    @classmethod
    def from_seed(cls, seed: int, batch: int, **kwargs) -> "BrownianNoise":
        """Seeds ``seed·2³² + i`` for samples i = 0 … batch − 1: sample i's path is the same in any batch."""
        return cls([int(seed) * 2**32 + i for i in range(batch)], **kwargs)

    def __len__(self) -> int:
        return len(self.seeds)

    def _check(self, shape: Sequence[int]) -> None:
        shape = tuple(shape)
        if shape[0] != len(self.seeds):
            raise ValueError(f"BrownianNoise has {len(self.seeds)} seeds but the batch has {shape[0]} samples")
        if self.shape is None:
            self.shape = shape[1:]
        elif shape[1:] != self.shape:
            raise ValueError(f"BrownianNoise was built for samples of shape {self.shape}, got {shape[1:]}")

    def paths(self) -> list:
        """One torchsde Brownian tree per sample, built on first use."""
        if self._paths is None:
            torchsde = _torchsde()
            assert self.shape is not None
            self._paths = [
                torchsde.BrownianInterval(
                    t0=self.logsnr_min, t1=self.logsnr_max, size=self.shape, dtype=torch.float64,
                    entropy=seed, tol=self.tol, halfway_tree=True,
                )
                for seed in self.seeds
            ]
        return self._paths

    def randn(self, shape: Sequence[int], *, dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu") -> Tensor:
        """Start noise: standard normal, sample i from a generator seeded with ``seeds[i]``."""
        self._check(shape)
        out = [torch.randn(tuple(shape)[1:], generator=torch.Generator().manual_seed(s % 2**63), dtype=dtype) for s in self.seeds]
        return torch.stack(out).to(device)

    def increment(self, like: Tensor, logsnr: Tensor, logsnr_next: Tensor) -> Tensor:
        """The normalised Brownian increments over λ → λ′ per sample, shaped, typed and placed like ``like``."""
        self._check(like.shape)
        lam = torch.as_tensor(logsnr, dtype=torch.float64).reshape(-1).expand(like.shape[0]).clamp(self.logsnr_min, self.logsnr_max)
        lam_next = torch.as_tensor(logsnr_next, dtype=torch.float64).reshape(-1).expand(like.shape[0]).clamp(self.logsnr_min, self.logsnr_max)
        out = []
        for path, lo, hi in zip(self.paths(), lam.tolist(), lam_next.tolist()):
            lo, hi = min(lo, hi), max(lo, hi)
            if hi - lo <= self.tol:  # a step of (nearly) no width: its noise is scaled by ~0 anyway
                out.append(torch.zeros(tuple(like.shape[1:]), dtype=torch.float64))
                continue
            out.append(path(lo, hi) / math.sqrt(hi - lo))
        return torch.stack(out).to(dtype=like.dtype, device=like.device)


__all__ = ["BrownianNoise"]
