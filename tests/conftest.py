"""Shared test configuration: hypothesis profiles, and pytest's ``pytester`` for the plugin tests.

``HYPOTHESIS_PROFILE=ci`` (set by .ci/run) bounds every property test; the
default profile is hypothesis' own with no deadline (CPU timings vary).
"""

import os

from hypothesis import settings

pytest_plugins = ["pytester"]

settings.register_profile("default", deadline=None)
settings.register_profile("ci", max_examples=10, deadline=None, derandomize=True, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
