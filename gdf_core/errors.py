"""The errors gdf raises for bad input: each says what was wrong, where, and what would do."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any, Iterable, Optional, Sequence

#: The longest excerpt of user data (a value, a line of a file) an error message quotes.
EXCERPT_CHARS = 60


@dataclass(frozen=True)
class SpecIssue:
    """One problem of a spec: where it is (``loss_weight.p2.gamma``) and what is wrong."""

    path: Optional[str]
    problem: str

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}" if self.path else self.problem


class SpecError(ValueError):
    """A spec (or a name, or a parameter) that cannot be built; ``path`` says where in the spec.

    ``issues`` lists every problem found (a spec is checked whole, as pydantic
    checks a model); ``path`` and ``problem`` are those of the first.
    """

    def __init__(self, problem: str, *, path: Optional[str] = None, issues: Optional[Sequence[SpecIssue]] = None) -> None:
        self.issues: list[SpecIssue] = list(issues) if issues else [SpecIssue(path, problem)]
        self.problem = self.issues[0].problem
        self.path = self.issues[0].path
        if len(self.issues) == 1:
            message = str(self.issues[0])
        else:
            message = f"{len(self.issues)} problems in the spec:\n" + "\n".join(f"- {issue}" for issue in self.issues)
        super().__init__(message)

    @classmethod
    def combine(cls, errors: Sequence["SpecError"]) -> "SpecError":
        """One error carrying the issues of all of ``errors`` (the first one itself if alone)."""
        if len(errors) == 1:
            return errors[0]
        issues = [issue for err in errors for issue in err.issues]
        return cls(issues[0].problem, path=issues[0].path, issues=issues)


class UnknownComponentError(SpecError):
    """A component name that no installed plugin registers."""


class DuplicateComponentError(SpecError):
    """A name that two different classes (from two distributions) register."""


class PluginLoadError(RuntimeError):
    """A plugin that failed to load, raised instead of a warning when loading with ``strict=True``."""


class PluginLoadWarning(UserWarning):
    """A plugin that failed to load and was skipped (the others still loaded), or that loaded with a caveat."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """'; did you mean 'x'?' for the closest choice, or ''."""
    # Short names differ by a larger share of their letters ('vq' for 'vp' is one letter in two).
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.5 if len(word) <= 3 else 0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def excerpt(value: Any, limit: int = EXCERPT_CHARS) -> str:
    """``repr(value)``, escaped and cut to ``limit`` characters: what a message may quote of user data."""
    try:
        text = ascii(value) if isinstance(value, (str, bytes)) else repr(value)
    except Exception:  # a hostile __repr__
        text = f"<{type(value).__name__}>"
    text = text.encode("ascii", "backslashreplace").decode("ascii")
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ApproximationWarning(UserWarning):
    """A diffusers scheduler that gdf reproduces (or exports to) only by a documented nearest equivalent."""


__all__ = [
    "ApproximationWarning",
    "DuplicateComponentError",
    "EXCERPT_CHARS",
    "PluginLoadError",
    "PluginLoadWarning",
    "SpecError",
    "SpecIssue",
    "UnknownComponentError",
    "did_you_mean",
    "excerpt",
]
