"""The GDF's shift: one value (or one resolution rule) read by training draws and the sampling grid alike.

In gdf a shift s moves λ by −2·log s (Hoogeboom et al. 2023, "Simple Diffusion"):
λ' = λ − 2·log s. On the rectified-flow schedule λ(t) = 2·log((1 − t)/t) this is
exactly SD3's timestep shift t' = s·t/(1 + (s − 1)·t) (Esser et al. 2024, §5.3.2),
since (1 − t')/t' = (1 − t)/(s·t); and Flux's time shift with μ,
t' = e^μ/(e^μ + 1/t − 1), is the same map with s = e^μ.

``ResolutionShift`` is the SD3 / Flux rule that picks μ from the image's token
count: μ linear in the sequence length between (base_seq_len, base_shift) and
(max_seq_len, max_shift), s = e^μ. Given to ``GDF(shift=...)`` (or the spec's
``shift``), it is evaluated from x0's shape in ``diffuse`` and from the sampled
shape in ``sample``, so the training draws, the noise condition the model sees
(the condition of the shifted λ) and the sampling grid cannot drift apart.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Sequence, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gdf_core.domains import MAX_LOG_SHIFT, MAX_SHIFT, MIN_SHIFT, SHIFT_RANGE
from gdf_core.errors import SpecError

Finite = Annotated[float, Field(allow_inf_nan=False)]


class ResolutionShift(BaseModel):
    """s = exp(μ), μ = base_shift + (max_shift − base_shift)·(n − base_seq_len)/(max_seq_len − base_seq_len).

    n is the token count of a sample: the product of its spatial sizes (every
    dimension after batch and channels) divided by patch_size per dimension.
    Defaults are Flux's (and SD3.5's dynamic shifting in diffusers): μ = 0.5 at
    256 tokens, 1.15 at 4096, patches of 2×2 latent pixels.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_shift: Finite = 0.5
    max_shift: Finite = 1.15
    base_seq_len: Annotated[int, Field(ge=1)] = 256
    max_seq_len: Annotated[int, Field(ge=1)] = 4096
    patch_size: Annotated[int, Field(ge=1)] = 2

    @model_validator(mode="after")
    def _ordered(self) -> "ResolutionShift":
        if not self.base_seq_len < self.max_seq_len:
            raise ValueError(f"base_seq_len must be < max_seq_len, got {self.base_seq_len} and {self.max_seq_len}")
        return self

    def seq_len(self, shape: Sequence[int]) -> float:
        """Tokens of one sample of ``shape`` = (batch, channels, *spatial)."""
        spatial = [int(v) for v in shape[2:]]
        if not spatial:
            raise ValueError(f"a resolution shift needs spatial dimensions: shape (batch, channels, ...), got {tuple(shape)}")
        return math.prod(spatial) / self.patch_size ** len(spatial)

    def mu(self, seq_len: float) -> float:
        slope = (self.max_shift - self.base_shift) / (self.max_seq_len - self.base_seq_len)
        return self.base_shift + slope * (seq_len - self.base_seq_len)

    def __call__(self, shape: Sequence[int]) -> float:
        """The shift s = exp(μ) for samples of ``shape``; |μ| ≤ ln 10⁶ (s in [10⁻⁶, 10⁶], as a given shift)."""
        n = self.seq_len(shape)
        mu = self.mu(n)
        if not abs(mu) <= MAX_LOG_SHIFT:
            raise ValueError(
                f"the resolution shift gives μ = {mu:.4g} for {n:g} tokens (shape {tuple(shape)}): s = e^μ must lie in "
                f"{SHIFT_RANGE} (|μ| ≤ {MAX_LOG_SHIFT}); check base_shift={self.base_shift}, max_shift={self.max_shift}"
            )
        return math.exp(mu)


Shift = Union[float, ResolutionShift]


def as_shift(value: Any, path: str = "shift") -> Shift:
    """A GDF's shift from a number > 0 or a resolution rule (a ``ResolutionShift`` or its dict)."""
    if isinstance(value, ResolutionShift):
        return value
    if isinstance(value, dict):
        fields = {k: v for k, v in value.items() if k != "name"}
        if value.get("name", "resolution") != "resolution":
            raise SpecError(f"a shift is a number > 0 or {{'name': 'resolution', ...}}; got name {value.get('name')!r}", path=path)
        try:
            return ResolutionShift(**fields)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            raise SpecError(f"{err['msg']} (got {err.get('input')!r})", path=f"{path}.{where}" if where else path) from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(f"a shift is a number > 0 or {{'name': 'resolution', ...}}; got {value!r}", path=path)
    if not (math.isfinite(value) and MIN_SHIFT <= value <= MAX_SHIFT):  # sample()'s own bounds: beyond, λ rounds to ±∞
        raise SpecError(f"a shift must be a finite number in {SHIFT_RANGE}, got {value!r}", path=path)
    return float(value)


def shift_spec(shift: Shift) -> Any:
    """Plain data for a spec."""
    if isinstance(shift, ResolutionShift):
        return {"name": "resolution", **shift.model_dump()}
    return shift


def shift_for(shift: Shift, shape: Sequence[int]) -> float:
    """The value of ``shift`` for samples of ``shape``."""
    return shift(shape) if isinstance(shift, ResolutionShift) else shift


__all__ = ["ResolutionShift", "Shift", "as_shift", "shift_for", "shift_spec"]
