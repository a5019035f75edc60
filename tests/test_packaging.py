"""The package metadata builds without setuptools' deprecations (the license table stops builds after 2027-02-18)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent

APPLY = """
from setuptools.config.pyprojecttoml import apply_configuration
from setuptools.dist import Distribution
dist = apply_configuration(Distribution(), "pyproject.toml")
print(dist.metadata.license_expression, *dist.metadata.license_files)
"""


def test_pyproject_applies_with_every_warning_an_error():
    done = subprocess.run([sys.executable, "-W", "error", "-c", APPLY], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["MIT", "LICENSE"]
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")


def test_the_build_backend_is_new_enough_for_spdx_license_strings():
    try:
        import tomllib
    except ModuleNotFoundError:  # pragma: no cover
        import tomli as tomllib
    build = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    assert "setuptools>=77" in build
