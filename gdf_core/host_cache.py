"""``host_cache``: ``functools.lru_cache`` for small constant tables, bypassed while torch.compile traces.

Samplers build constant tables (series coefficients, masks, index tensors) once
per (size, dtype, device) and keep them. Under ``torch.compile`` dynamo does not
use an ``lru_cache``'s entries anyway: it traces the wrapped function and warns
at every such call site, in every user's compile log. A ``host_cache`` function
calls its body directly while dynamo traces (the table becomes a constant of the
graph) and its cache otherwise, so eager runs build each table once and compiled
ones trace without the warning.
"""

from __future__ import annotations

import functools
from typing import Callable, Optional, TypeVar

import torch

R = TypeVar("R")


def host_cache(maxsize: Optional[int] = 128) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """A decorator: ``functools.lru_cache(maxsize)`` in eager code, the plain function under ``torch.compile``."""

    def decorate(fn: Callable[..., R]) -> Callable[..., R]:
        cached = functools.lru_cache(maxsize=maxsize)(fn)

        @functools.wraps(fn)
        def call(*args: object) -> R:
            if torch.compiler.is_compiling():
                return fn(*args)
            return cached(*args)

        return call

    return decorate


__all__ = ["host_cache"]
