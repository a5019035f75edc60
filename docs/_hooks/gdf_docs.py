"""mkdocs hooks: generate the component reference, its plots and the CLI reference at build time.

Markers replaced in the pages:
- ``<!-- gdf:components KIND -->``: one section per installed component of KIND
  (class, origin, parameters, docstring, and a plot rendered with matplotlib);
- ``<!-- gdf:presets -->``: a table of the presets and their five components;
- ``<!-- gdf:cli -->``: the ``--help`` of every ``gdf`` command.
"""

from __future__ import annotations

import inspect
import io
import warnings
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from mkdocs.structure.files import File  # noqa: E402

from gdf_core import build, registry  # noqa: E402
from gdf_core.errors import PluginLoadWarning  # noqa: E402
from gdf_core.domains import describe  # noqa: E402
from gdf_core.kinds import GDF_PARTS  # noqa: E402
from gdf_core.parameters import component_fields  # noqa: E402
from gdf_core.spec import load_spec  # noqa: E402

PLOTTED = GDF_PARTS

#: Components that need parameters: the example each is drawn with.
EXAMPLES: dict[tuple[str, str], Any] = {
    ("schedule", "piecewise_linear"): {"name": "piecewise_linear", "x": [0.0, 0.5, 1.0], "y": [0.9999, 0.5, 0.0001]},
    ("schedule", "interpolated"): {"name": "interpolated", "scheduler1": "cosine", "scheduler2": "linear"},
    ("noise_cond", "piecewise_linear"): {"name": "piecewise_linear", "x": [0.0, 0.5, 1.0], "y": [0.9999, 0.5, 0.0001]},
    ("noise_cond", "discrete"): {"name": "discrete", "noise_cond": "cosine_t", "steps": 1000},
    ("loss_weight", "composed"): {"name": "composed", "mul": ["sigmoid"], "div": [{"name": "p2", "gamma": 0.5}]},
}


def _example(kind: str, name: str) -> Any:
    return EXAMPLES.get((kind, name), name)


def _plot(kind: str, name: str) -> bytes | None:
    """A small PNG of the component drawn against λ (or t), or None if it cannot be built."""
    try:
        component = build(kind, _example(kind, name))
    except Exception:
        return None
    lam = torch.linspace(-12, 12, 301, dtype=torch.float64)
    fig, ax = plt.subplots(figsize=(5.2, 2.8))
    try:
        if kind == "schedule":
            if getattr(component, "supports_t", True):
                t = torch.linspace(0, 1, 301, dtype=torch.float64)
                ax.plot(t.numpy(), component(t).double().numpy())
                ax.set(xlabel="t", ylabel="λ(t)")
            else:
                draws = component(100_000, generator=torch.Generator().manual_seed(0)).double()
                ax.hist(draws.numpy(), bins=80, density=True, alpha=0.7)
                ax.set(xlabel="λ", ylabel="density of the training draw")
        elif kind == "input_scaler":
            a, b = component(lam)
            ax.plot(lam.numpy(), a.double().numpy(), label="a")
            ax.plot(lam.numpy(), b.double().numpy(), label="b")
            ax.set(xlabel="λ")
            ax.legend()
        elif kind == "target":
            scaler = build("input_scaler", "lerp" if name == "rectified_flows" else "vp")
            a, b = scaler(lam)
            one, zero = torch.ones_like(lam), torch.zeros_like(lam)
            ax.plot(lam.numpy(), component(one, zero, lam, a, b).double().numpy(), label="coefficient of x0")
            ax.plot(lam.numpy(), component(zero, one, lam, a, b).double().numpy(), label="coefficient of ε")
            ax.set(xlabel=f"λ (with the {scaler.name} scaler)", ylabel="target")
            ax.legend()
        elif kind == "noise_cond":
            ax.plot(lam.numpy(), component(lam).double().numpy())
            ax.set(xlabel="λ", ylabel="model input")
        elif kind == "loss_weight":
            w = component(lam).double()
            ax.plot(lam.numpy(), w.numpy())
            if bool((w > 0).all()) and float(w.max() / w.min()) > 50:
                ax.set_yscale("log")
            ax.set(xlabel="λ", ylabel="weight")
        ax.grid(alpha=0.3)
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=80)
        return buffer.getvalue()
    except Exception as exc:  # a component that cannot be drawn must not break the docs
        warnings.warn(f"could not plot {kind} {name!r}: {exc}", stacklevel=1)
        return None
    finally:
        plt.close(fig)


_PLOTS: dict[tuple[str, str], str] = {}


def on_files(files: Any, config: Any) -> Any:
    """Render a plot of every installed component into components/img/."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginLoadWarning)
        for kind in PLOTTED:
            for name in registry.names(kind):
                png = _plot(kind, name)
                if png is None:
                    continue
                uri = f"components/img/{kind}_{name}.png"
                files.append(File.generated(config, uri, content=png))
                _PLOTS[(kind, name)] = uri
    return files


def _md_escape(text: str) -> str:
    """Docstring text as Markdown: rST ``code`` becomes `code`; * and | are escaped outside code."""
    parts = text.replace("``", "`").split("`")
    return "`".join(p if i % 2 else p.replace("|", "\\|").replace("*", "\\*") for i, p in enumerate(parts))


def component_section(kind: str, name: str, page_dir: str) -> str:
    regs = registry.registrations(kind)[name]
    reg = regs[0]
    cls = reg.cls
    lines = [f"### `{name}` {{#{kind}-{name}}}", ""]
    lines.append(f"`{cls.__module__}.{cls.__qualname__}` · from {reg.source} (plugin `{reg.plugin}`)")
    lines.append("")
    doc = inspect.getdoc(cls)
    if doc:
        lines += [_md_escape(paragraph) for paragraph in doc.split("\n")] + [""]
    fields = component_fields(cls)
    if fields:
        # The allowed values come from the same declarations the spec validates (gdf_core.domains).
        lines += ["| parameter | allowed values | default |", "|---|---|---|"]
        for pname, (annotation, default, nested, is_list) in fields.items():
            allowed = (f"a list of {nested} specs" if is_list else f"a {nested} spec") if nested else describe(annotation)
            shown = "required" if default is ... else f"`{default!r}`"
            lines.append(f"| `{pname}` | {_md_escape(allowed)} | {shown} |")
        lines.append("")
    uri = _PLOTS.get((kind, name))
    if uri is not None:
        example = _example(kind, name)
        rel = uri.removeprefix(page_dir + "/") if page_dir else uri
        caption = f"{name}" + (f", drawn as `{example}`" if example != name else "")
        lines += [f"![{caption}]({rel})", "", f"<small>{_md_escape(caption)}</small>" if example != name else "", ""]
    return "\n".join(lines)


def presets_table() -> str:
    kinds = GDF_PARTS
    lines = ["| preset | " + " | ".join(kinds) + " |", "|---" * (len(kinds) + 1) + "|"]
    for name in sorted(registry.presets()):
        data = load_spec(name)
        cells = []
        for kind in kinds:
            value = data[kind]
            cells.append(f"`{value if isinstance(value, str) else value['name']}`")
        lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def cli_reference() -> str:
    import click

    from gdf_core.cli import main

    parts = []
    ctx = click.Context(main, info_name="gdf")
    parts += ["## gdf", "", "```text", main.get_help(ctx), "```", ""]
    for name in sorted(main.commands):
        command = main.commands[name]
        sub = click.Context(command, info_name=f"gdf {name}", parent=ctx)
        parts += [f"## gdf {name}", "", "```text", command.get_help(sub), "```", ""]
    return "\n".join(parts)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Replace the gdf markers of a page with generated content."""
    if "<!-- gdf:" not in markdown:
        return markdown
    page_dir = page.file.src_uri.rsplit("/", 1)[0] if "/" in page.file.src_uri else ""
    out = []
    for line in markdown.splitlines():
        stripped = line.strip()
        if stripped.startswith("<!-- gdf:components ") and stripped.endswith("-->"):
            kind = stripped.removeprefix("<!-- gdf:components ").removesuffix("-->").strip()
            out += [component_section(kind, name, page_dir) for name in registry.names(kind)]
        elif stripped == "<!-- gdf:presets -->":
            out.append(presets_table())
        elif stripped == "<!-- gdf:cli -->":
            out.append(cli_reference())
        else:
            out.append(line)
    return "\n".join(out) + "\n"
