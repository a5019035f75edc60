"""`gdf list` tells the truth: summaries are whole sentences without raw reST; `gdf show` prints domains."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from gdf_core import registry
from gdf_core.cli import main
from gdf_core.kinds import KINDS
from gdf_core.summaries import plain, summary

EVERY = [(k, n) for k in KINDS for n in registry.names(k)]


@pytest.mark.parametrize(("kind", "name"), EVERY, ids=[f"{k}:{n}" for k, n in EVERY])
def test_every_summary_is_whole_sentences_without_rest_markup(kind, name):
    text = summary(registry.get(kind, name))
    assert text and text.endswith((".", "!", "?")), text
    assert "``" not in text and ":class:" not in text and ":math:" not in text and "`" not in text, text
    assert text.count("(") == text.count(")"), f"cut inside parentheses: {text}"
    assert text.count('"') % 2 == 0, f"cut inside a quotation: {text}"


def test_plain_removes_inline_markup():
    assert plain("clamped to ``clamp_range`` by :class:`~gdf_core.bases.ScheduleBase`") == "clamped to clamp_range by ScheduleBase"
    assert plain(":math:`\\lambda` and `grid` and **bold** and *it*") == "\\lambda and grid and bold and it"
    assert plain("see `the paper <https://arxiv.org>`_") == "see the paper"


def test_a_long_first_paragraph_is_cut_after_a_whole_sentence():
    class Long:
        pass

    Long.__doc__ = "First sentence here (with a parenthesis. Inside). Second sentence is long " + "word " * 60 + "ends here."

    assert summary(Long, limit=80) == "First sentence here (with a parenthesis. Inside)."


def test_gdf_list_shows_no_rest_markup():
    result = CliRunner().invoke(main, ["list"])
    assert result.exit_code == 0, result.output
    assert "``" not in result.output


def test_gdf_show_prints_each_parameters_allowed_domain():
    result = CliRunner().invoke(main, ["show", "cosine", "--kind", "schedule"])
    assert result.exit_code == 0, result.output
    assert "allowed" in result.output
    assert "a finite number ≥ 0" in result.output and "true or false" in result.output
    result = CliRunner().invoke(main, ["show", "sech"])
    assert "a finite number ≠ 0" in result.output
