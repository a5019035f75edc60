"""Record every read of a tensor's values into Python: ``.item()``, ``bool(t)``, ``.tolist()``, ...

Such a read waits for the device (a GPU sync per step), breaks a
``torch.compile`` graph, and is how code branches on tensor values. So does
an operation whose output's shape depends on the values (``nonzero``, a
boolean-mask index, ``unique``: the host needs the count) and a copy to the
host (``.cpu()``): recorded too, so a run on the CPU finds what
``torch.cuda.set_sync_debug_mode("error")`` raises at on a GPU. The
recorder is a ``torch.overrides.TorchFunctionMode``: it sees the Python-level
call itself, so ``if (x > 0).any():`` shows up as ``Tensor.__bool__``.
Code the caller does not answer for (the model, the scaler) runs inside
``recorder.ignored()``.
"""

from __future__ import annotations

import contextlib
import traceback
from typing import Any, Callable, Iterator

import torch
from torch.overrides import TorchFunctionMode

#: Functions that hand a tensor's values to Python.
HOST_READS: dict[Any, str] = {
    torch.Tensor.item: ".item()",
    torch.Tensor.tolist: ".tolist()",
    torch.Tensor.numpy: ".numpy()",
    torch.Tensor.__bool__: "bool(tensor) (an `if`, `and`, `or` or `while` on a tensor)",
    torch.Tensor.__float__: "float(tensor)",
    torch.Tensor.__int__: "int(tensor)",
    torch.Tensor.__index__: "a tensor used as a Python index",
    torch.Tensor.__format__: "a tensor formatted into a string",
    torch.Tensor.__array__: "numpy.asarray(tensor)",
    torch.equal: "torch.equal",
    torch.allclose: "torch.allclose",
    torch.is_nonzero: "torch.is_nonzero",
    torch.nonzero: "torch.nonzero (its shape depends on the values)",
    torch.Tensor.nonzero: ".nonzero() (its shape depends on the values)",
    torch.argwhere: "torch.argwhere (its shape depends on the values)",
    torch.masked_select: "torch.masked_select (its shape depends on the values)",
    torch.Tensor.masked_select: ".masked_select() (its shape depends on the values)",
    torch.unique: "torch.unique (its shape depends on the values)",
    torch.Tensor.unique: ".unique() (its shape depends on the values)",
    torch.unique_consecutive: "torch.unique_consecutive (its shape depends on the values)",
    torch.Tensor.cpu: ".cpu() (a copy to the host)",
}

#: Indexing with a boolean tensor selects a number of elements known only from the values.
_INDEXING = {torch.Tensor.__getitem__: "x[mask] with a boolean mask", torch.Tensor.__setitem__: "x[mask] = … with a boolean mask"}


class HostReadRecorder(TorchFunctionMode):
    """Within ``with HostReadRecorder() as rec:``, ``rec.reads`` lists (what, where) for each host read."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[tuple[str, str]] = []
        self._ignoring = 0

    def __torch_function__(self, func: Callable, types: Any, args: tuple = (), kwargs: Any = None) -> Any:
        if self._ignoring == 0:
            if func in HOST_READS:
                self.reads.append((HOST_READS[func], _caller()))
            elif func in _INDEXING and len(args) > 1 and _has_mask(args[1]):
                self.reads.append((_INDEXING[func], _caller()))
        return func(*args, **(kwargs or {}))

    @contextlib.contextmanager
    def ignored(self) -> Iterator[None]:
        """Reads inside this block are not recorded."""
        self._ignoring += 1
        try:
            yield
        finally:
            self._ignoring -= 1

    def ignoring(self, fn: Callable) -> Callable:
        """``fn`` wrapped so that its reads are not recorded."""

        def wrapped(*args: Any, **kwargs: Any) -> Any:
            with self.ignored():
                return fn(*args, **kwargs)

        return wrapped


def _has_mask(index: Any) -> bool:
    """Whether an index (a tensor, or a tuple of them) holds a boolean tensor."""
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(p, torch.Tensor) and p.dtype == torch.bool for p in parts)


def _caller() -> str:
    """file:line of the innermost frame outside torch and this module."""
    for frame in reversed(traceback.extract_stack()[:-2]):
        if "/torch/" not in frame.filename and not frame.filename.endswith("host_reads.py"):
            return f"{frame.filename}:{frame.lineno} ({frame.line})"
    return "?"


__all__ = ["HOST_READS", "HostReadRecorder"]
