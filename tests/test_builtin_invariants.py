"""Every built-in component keeps the invariants of its kind, run through the pytest plugin's suite.

Components with required parameters are checked with the example specs below;
the options switch on the component-specific invariants (which identity a
scaler keeps, which schedule a noise condition inverts, ...).
"""

import torch

from gdf_core.testing.pytest_plugin import invariant_suite
from gdf_core.testing.suite import NeedsParameters, installed, subject

#: Check options of built-ins, by "kind:name", beyond their class attributes
#: (``preserves``, ``inverts``, ``denoiser``, ``example_spec``). The reference
#: draws are written here, independently of the schedules' own draws.
OPTIONS = {
    "schedule:edm_train": {"reference_draw": lambda n, g: 2.4 - 2.4 * torch.randn(n, generator=g, dtype=torch.float64)},
    "schedule:adaptive": {"reference_draw": lambda n, g: -10 + 20 * torch.rand(n, generator=g, dtype=torch.float64)},
}

#: Non-default settings worth their own run (built-ins with required parameters
#: are built from their class attribute ``example_spec``).
EXAMPLES = [
    ("schedule", {"name": "cosine", "discrete_steps": 50, "shift": 2.0}),
    ("schedule", {"name": "sqrt", "norm_instead": True}),
    ("sampler", {"name": "ddim", "eta": 0.5}),
]

#: Real findings of the suite that are not fixed yet (none at the moment).
KNOWN: dict[str, str] = {}


def _example_subjects():
    examples = []
    for kind, spec in EXAMPLES:
        params = "-".join(k for k in spec if k != "name")
        examples.append(subject((kind, spec), label=f"{spec['name']}-{params}", **OPTIONS.get(f"{kind}:{spec['name']}", {})))
    return examples


test_builtin_invariants = invariant_suite(distributions=["gdf"], options=OPTIONS, known_failures=KNOWN)

test_builtin_examples = invariant_suite(*_example_subjects(), known_failures=KNOWN)


def test_every_builtin_is_checked():
    """No built-in is left out: each can be built for the suite (from its example_spec if it needs one)."""
    needs_parameters = []
    for s in installed(distributions=["gdf"]):
        try:
            s.build()
        except NeedsParameters:
            needs_parameters.append(s.label)
    assert needs_parameters == []
