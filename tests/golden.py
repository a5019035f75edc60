"""Access to the values the original GDF produced (tests/data/seed_components.json)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

GOLDEN_PATH = Path(__file__).parent / "data" / "seed_components.json"


@lru_cache(maxsize=1)
def golden_cases() -> list[dict[str, Any]]:
    return json.loads(GOLDEN_PATH.read_text())["cases"]


def cases_of(kind: str) -> list[dict[str, Any]]:
    return [c for c in golden_cases() if c["kind"] == kind]


def case_id(case: dict[str, Any]) -> str:
    extra = ",".join(f"{k}={v}" for k, v in case["inputs"].items() if isinstance(v, (int, float, str)) and k != "model")
    return f"{case['name']}[{extra}]"
