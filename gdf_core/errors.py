"""The errors gdf raises for bad input: each says what was wrong, where, and what would do."""

from __future__ import annotations

import difflib
from typing import Iterable, Optional


class SpecError(ValueError):
    """A spec (or a name, or a parameter) that cannot be built; ``path`` says where in the spec."""

    def __init__(self, problem: str, *, path: Optional[str] = None) -> None:
        self.problem = problem
        self.path = path
        super().__init__(f"{path}: {problem}" if path else problem)


class UnknownComponentError(SpecError):
    """A component name that no installed plugin registers."""


class DuplicateComponentError(SpecError):
    """A name that two different classes (from two distributions) register."""


class PluginLoadError(RuntimeError):
    """A plugin that failed to load, raised instead of a warning when loading with ``strict=True``."""


class PluginLoadWarning(UserWarning):
    """A plugin that failed to load and was skipped; the others still loaded."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """'; did you mean 'x'?' for the closest choice, or ''."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


__all__ = [
    "DuplicateComponentError",
    "PluginLoadError",
    "PluginLoadWarning",
    "SpecError",
    "UnknownComponentError",
    "did_you_mean",
]
