"""The code in README.md and docs/*.md runs.

- ```python blocks of one page run in order in one namespace, in a fresh folder.
- In ```bash / ```sh / ```console blocks, every line that starts with `gdf `
  (after an optional `$ `) runs through click's CliRunner and must exit 0;
  a line ending in `|| true` must fail as a user error instead (status 1, no
  traceback). `gdf demo` lines get `--steps 10 --samples 50 --nfe 2 --no-progress`
  appended so they take a second. Other lines (make, pip) are not run.
- `<!-- skip-test -->` on the line before a block skips that block; use it only
  for code that genuinely cannot run in a test.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
SKIP_MARKER = "<!-- skip-test -->"
FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<lang>[\w+-]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$", re.M | re.S)
SHELL = {"bash", "sh", "console", "shell"}


def pages() -> list[Path]:
    found = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    return [p for p in found if p.is_file()]


def code_blocks(text: str) -> list[tuple[str, str, int]]:
    """(language, code, line number) of every fenced block not preceded by the skip marker."""
    blocks = []
    for match in FENCE.finditer(text):
        before = text[: match.start()].rstrip().splitlines()
        if before and before[-1].strip() == SKIP_MARKER:
            continue
        body = "\n".join(line[len(match["indent"]):] for line in match["body"].splitlines())
        blocks.append((match["lang"].lower(), body, text[: match.start()].count("\n") + 1))
    return blocks


def gdf_lines(code: str) -> list[str]:
    lines = []
    for line in code.splitlines():
        line = line.strip().removeprefix("$ ")
        if line.startswith("gdf "):
            lines.append(line)
    return lines


PAGES = pages()


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_python_blocks_run(page, tmp_path, monkeypatch):
    blocks = [(code, line) for lang, code, line in code_blocks(page.read_text()) if lang in ("python", "py", "python3")]
    if not blocks:
        pytest.skip("no python blocks")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__doc_example__"}
    for code, line in blocks:
        try:
            exec(compile(code, f"{page.relative_to(ROOT)}:{line}", "exec"), namespace)
        except Exception as exc:
            raise AssertionError(f"the python block at {page.relative_to(ROOT)}:{line} failed: {exc!r}") from exc


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_gdf_command_lines_run(page, tmp_path, monkeypatch):
    from gdf_core.cli import main

    commands = [(cmd, line) for lang, code, line in code_blocks(page.read_text()) if lang in SHELL for cmd in gdf_lines(code)]
    if not commands:
        pytest.skip("no gdf command lines")
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    for command, line in commands:
        expect_failure = command.rstrip().endswith("|| true")
        command = command.split("|| true")[0]
        args = shlex.split(command, comments=True)[1:]
        if args and args[0] == "demo":
            if "--spec" in args and args[args.index("--spec") + 1].endswith((".yaml", ".json", ".toml")):
                continue  # a file of the reader's own
            args += ["--steps", "10", "--samples", "50", "--nfe", "2", "--no-progress", "--out", str(tmp_path / "out")]
        result = runner.invoke(main, args)
        where = f"{page.relative_to(ROOT)}:{line}: `{command.strip()}`"
        assert "Traceback" not in result.output, where
        if expect_failure:
            assert result.exit_code == 1, f"{where} should fail as a user error\n{result.output}"
        else:
            assert result.exit_code == 0, f"{where} failed\n{result.output}\n{result.exception!r}"


def test_the_skip_marker_skips_only_the_next_block():
    text = "```python\na = 1\n```\n\n<!-- skip-test -->\n```python\nraise SystemExit\n```\n"
    assert [code for _, code, _ in code_blocks(text)] == ["a = 1"]
