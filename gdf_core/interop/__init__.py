"""Interop with other libraries (diffusers first): converters of their configs and adapters for their models.

Nothing here imports the other library until it is used (``pip install gdf[diffusers]``).
``GDF.from_diffusers`` and ``GDF.to_diffusers`` delegate here.
"""

from __future__ import annotations

import warnings
from typing import Any, Optional

from gdf_core.errors import ApproximationWarning, SpecError
from gdf_core.interop.diffusers_models import DiffusersModel, wrap_diffusers_model
from gdf_core.interop.from_diffusers import Conversion, convert_diffusers
from gdf_core.interop.to_diffusers import Export, export_diffusers, to_diffusers


def from_diffusers(
    source: Any,
    *,
    scheduler_class: Optional[str] = None,
    mu: Optional[float] = None,
    strict: bool = False,
    gdf_class: Any = None,
) -> Any:
    """The GDF of a diffusers scheduler: its training recipe, sampler and grid.

    ``source``: a scheduler, its ``.config``, a dict, a path to
    ``scheduler_config.json`` or a model folder. ``mu``: the per-run shift of
    flow-matching schedulers with ``use_dynamic_shifting``. A scheduler that gdf
    only approximates (PNDM) gives an ``ApproximationWarning``, or a
    ``SpecError`` with ``strict=True``; an option gdf cannot reproduce is
    always a ``SpecError`` naming it.
    """
    conversion = convert_diffusers(source, scheduler_class=scheduler_class, mu=mu)
    if conversion.approximations:
        message = f"{conversion.scheduler}: " + "; ".join(conversion.approximations)
        if strict:
            raise SpecError(message + " (strict=True)", path="_class_name")
        warnings.warn(message, ApproximationWarning, stacklevel=3)
    if gdf_class is None:
        from gdf_core.gdf import GDF as gdf_class
    return gdf_class.from_spec(conversion.spec)


__all__ = [
    "ApproximationWarning",
    "Conversion",
    "DiffusersModel",
    "Export",
    "convert_diffusers",
    "export_diffusers",
    "from_diffusers",
    "to_diffusers",
    "wrap_diffusers_model",
]
