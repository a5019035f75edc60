"""The component kinds are defined once (gdf_core/kinds.py), and gdf_core's modules import without a circle."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from gdf_core import hookspecs, protocols
from gdf_core.kinds import GDF_PARTS, KIND_HOOKS, KIND_RECORDS, KINDS, PROTOCOLS, REQUIRED_METHODS, kind_named

CORE = Path(__file__).parent.parent / "gdf_core"


def test_each_kind_is_one_record_with_its_protocol_and_hook():
    assert KINDS == ("schedule", "input_scaler", "target", "noise_cond", "loss_weight", "sampler", "guidance")
    for kind in KIND_RECORDS:
        assert PROTOCOLS[kind.name] is kind.protocol and kind.protocol.__module__ == "gdf_core.protocols"
        assert KIND_HOOKS[kind.name] == f"gdf_register_{kind.plural}"
        hook = getattr(hookspecs, kind.hook)
        assert hook.__doc__ and "\n" not in hook.__doc__.strip(), "hooks have one-line docstrings"
        assert REQUIRED_METHODS[kind.name] and all(hasattr(kind.protocol, m) for m in REQUIRED_METHODS[kind.name])
        assert kind_named(kind.plural.replace("_", "-")) is kind
    assert GDF_PARTS == KINDS[:5]
    assert protocols.KINDS is KINDS and hookspecs.KIND_HOOKS is KIND_HOOKS  # old import paths still work


def test_the_kinds_are_not_listed_anywhere_else_in_the_core():
    listing = re.compile(r'"schedule",\s*"input_scaler"')
    offenders = [
        str(path.relative_to(CORE))
        for path in CORE.rglob("*.py")
        if path.name != "kinds.py" and listing.search(path.read_text())
    ]
    assert offenders == []


def _module_name(path: Path) -> str:
    parts = path.relative_to(CORE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _top_level_imports(path: Path, modules: set[str]) -> set[str]:
    """The gdf_core modules ``path`` imports when it is imported (not inside functions)."""
    own = _module_name(path)
    found = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name in modules}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            submodules = {f"{node.module}.{a.name}" for a in node.names} & modules
            if node.module in modules and node.module != own and len(submodules) < len(node.names):
                found.add(node.module)  # names defined by the module itself, not only its submodules
            found |= submodules
    return found - {"gdf_core"}


def test_gdf_core_has_no_import_circle():
    paths = {_module_name(p): p for p in CORE.rglob("*.py")}
    graph = {name: _top_level_imports(path, set(paths)) for name, path in paths.items() if name != "gdf_core"}
    circles = []

    def visit(node: str, stack: list[str]) -> None:
        for nxt in sorted(graph.get(node, ())):
            if nxt in stack:
                circles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in done:
                visit(nxt, stack + [nxt])
        done.add(node)

    done: set[str] = set()
    for name in sorted(graph):
        if name not in done:
            visit(name, [name])
    assert circles == []
    assert "gdf_core.gdf" not in graph["gdf_core.schema"] and "gdf_core.gdf" not in graph["gdf_core.spec"]


def _all_imports(path: Path, modules: set[str]) -> set[str]:
    """The gdf_core modules ``path`` imports anywhere, at call time too."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name in modules}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            submodules = {f"{node.module}.{a.name}" for a in node.names} & modules
            found |= submodules or ({node.module} & modules)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module" and node.args:
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and arg.value in modules:
                found.add(arg.value)
    return found - {"gdf_core", _module_name(path)}


def test_nothing_the_gdf_object_imports_imports_it_back():
    paths = {_module_name(p): p for p in CORE.rglob("*.py")}
    graph = {name: _all_imports(path, set(paths)) for name, path in paths.items()}
    back = []
    for start in graph["gdf_core.gdf"]:
        seen, todo = set(), [[start]]
        while todo:
            chain = todo.pop()
            for nxt in graph.get(chain[-1], ()):
                if nxt == "gdf_core.gdf":
                    back.append(["gdf_core.gdf", *chain, nxt])
                elif nxt not in seen:
                    seen.add(nxt)
                    todo.append([*chain, nxt])
    assert back == []
