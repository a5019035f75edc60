"""Parameter domains of the built-in samplers, as pydantic-constrained types.

The spec builds its parameter models from constructor annotations, so a spec
value outside a domain is refused with the parameter's path; the constructors
check the same bounds for direct calls.
"""

from __future__ import annotations

import math
from typing import Annotated

from pydantic import Field

#: The largest noise amount of a stochastic sampler.
MAX_NOISE_AMOUNT = 1000.0

#: A finite number ≥ 0 (noise shares and scales).
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]


#: A noise amount (η, s_noise, s_churn): a number in [0, 1000]; beyond, the added noise leaves
#: float32's range (η = 1e308 gave NaN, s_noise = 1e39 inf) long before it means anything.
NoiseAmount = Annotated[float, Field(ge=0, le=MAX_NOISE_AMOUNT, allow_inf_nan=False)]


def check_noise_amount(sampler: str, what: str, value: float, meaning: str = "") -> float:
    """``value`` as a float in [0, 1000], or a ValueError naming the sampler and the parameter."""
    number = check_non_negative(sampler, what, value, meaning)
    if number > MAX_NOISE_AMOUNT:
        raise ValueError(f"sampler {sampler!r}: {what}{meaning} must be at most {MAX_NOISE_AMOUNT:g}, got {value!r}")
    return number


def check_non_negative(sampler: str, what: str, value: float, meaning: str = "") -> float:
    """``value`` as a float, or a ValueError naming the sampler and the parameter."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"sampler {sampler!r}: {what}{meaning} must be ≥ 0 and finite, got {value!r}")
    return float(value)
