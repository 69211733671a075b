"""The documentation of the analysis rules (``ivigbook rules``, the README's table)."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from ivigbook import config
from ivigbook.data import params, rules
from ivigbook.data.params import MULTICENTRE, PAPER, AnalysisParams, parse_overrides
from ivigbook.errors import UsageError

ROOT = Path(__file__).resolve().parents[2]
FIELDS = {f.name: f for f in fields(AnalysisParams)}
BY_NAME = {rule.name: rule for rule in rules.RULES}


def test_every_field_has_a_record_and_every_record_a_field():
    assert list(BY_NAME) == list(FIELDS)  # same names, in the dataclass's order
    assert set(rules._DOCS) == set(FIELDS)
    assert [r["name"] for r in rules.rules_table()] == [*FIELDS, "seed"]


def test_defaults_and_types_are_the_dataclass_defaults():
    for name, f in FIELDS.items():
        rule = BY_NAME[name]
        assert rule.default == f.default, name
        assert type(rule.default) is type(f.default), name
        assert rule.meaning and rule.allowed, name
    assert rules.SEED_RULE.default == config.DEFAULT_SEED == 2015
    table = {r["name"]: r for r in rules.rules_table()}
    assert table["min_pairs"]["default"] == 3 and table["min_pairs"]["type"] == "integer"
    assert table["maic_max_failed_share"]["default"] == 0.10
    assert table["safety_population"]["choices"] == ("treated", "analysis")


@pytest.mark.parametrize("name", list(FIELDS))
def test_the_documented_default_and_choices_parse_back(name):
    rule = BY_NAME[name]
    assert parse_overrides([f"{name}={rules.set_text(rule.default)}"]) == {name: rule.default}
    for choice in rule.choices or ():
        assert parse_overrides([f"{name}={choice}"]) == {name: choice}


@pytest.mark.parametrize(
    "rule", [r for r in rules.RULES if r.minimum is not None], ids=lambda r: r.name
)
def test_the_documented_range_is_the_one_enforced(rule):
    """The minimum (maximum) parses, one step beyond it does not; for the list of
    follow-up months the range is that of each month."""
    integer = isinstance(rule.default, (int, tuple))
    low = int(rule.minimum) if integer else rule.minimum
    typed = (low,) if isinstance(rule.default, tuple) else low
    assert parse_overrides([f"{rule.name}={low}"]) == {rule.name: typed}
    below = low - 1 if integer else low - 0.01
    with pytest.raises(UsageError, match=f"{rule.name}={below}: expected"):
        parse_overrides([f"{rule.name}={below}"])
    if rule.maximum is not None:
        assert parse_overrides([f"{rule.name}={rule.maximum:g}"])[rule.name] == rule.maximum
        with pytest.raises(UsageError):
            parse_overrides([f"{rule.name}={rule.maximum + 0.01}"])


def test_documented_allowed_values_are_the_enforced_ones():
    """Each rule's choices and range are those of the parser (one definition)."""
    for rule in rules.RULES:
        assert rule.choices == params.CHOICES.get(rule.name), rule.name
        bounds = params.BOUNDS.get(rule.name)
        assert rule.minimum == (bounds.minimum if bounds else None), rule.name
        assert rule.maximum == (bounds.maximum if bounds else None), rule.name
    assert BY_NAME["responder_mcid"].allowed == "a number > 0 and <= 51"
    assert "distinct" in BY_NAME["followup_months"].allowed


def test_closed_lists_reject_anything_else():
    for rule in rules.RULES:
        if rule.choices:
            with pytest.raises(UsageError, match="expected one of"):
                parse_overrides([f"{rule.name}=no_such_value"])


def test_reference_editions_are_the_registered_ones():
    """The values named for the editions are those the committed book runs with."""
    for name, rule in BY_NAME.items():
        assert rule.multicentre == (
            None if getattr(MULTICENTRE, name) == rule.default else getattr(MULTICENTRE, name)
        ), name
    hopkins = {**vars(PAPER), **config.REFERENCE_COHORTS["hopkins2015"]["params"]}
    spain = config.REFERENCE_COHORTS["spain_multicentre"]["params"]
    assert {n: r.paper for n, r in BY_NAME.items() if r.paper is not None} == {
        n: v for n, v in hopkins.items() if v != FIELDS[n].default
    }
    assert {n for n, r in BY_NAME.items() if r.multicentre is not None} == set(spain)


def test_minimum_n_rules_cite_their_sources():
    why = {name: BY_NAME[name].rationale for name in BY_NAME}
    assert "df" in why["min_pairs"] and "6 pairs" in why["min_pairs"]
    assert "0.05" in why["min_pairs"]
    assert "Peduzzi" in why["min_events_per_variable"]
    assert "1996;49:1373-9" in why["min_events_per_variable"]
    assert "McNeish" in why["min_mixed_model_patients"]
    assert "TSD 18" in why["maic_min_ess"] and "ESS" in why["maic_min_ess"]
    assert "TSD 18" in why["maic_max_failed_share"]


def test_terminal_text_lists_every_rule_within_its_width():
    text = rules.format_rules(width=72)
    for rule in rules.all_rules():
        assert f"\n{rule.name} = " in text, rule.name
        assert rule.allowed.split()[0] in text
    assert "--set name=value" in text and "ivigbook rules" in text and "--seed S" in text
    assert max(len(line) for line in text.splitlines()) <= 72
    assert "min_pairs = 3  (integer)" in text
    assert "baseline_measure = MRSS" in text and 'uses "" (none)' in text


def test_markdown_has_one_row_per_rule():
    md = rules.rules_markdown()
    rows = [line for line in md.splitlines() if line.startswith("| `")]
    assert [row.split("`")[1] for row in rows] == [r.name for r in rules.all_rules()]
    assert all(row.count(" | ") == 3 for row in rows)  # no stray pipe inside a cell


def test_readme_block_is_the_generated_one():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert text.count(rules.README_START) == 1 and text.count(rules.README_END) == 1
    block = rules.README_START + text.split(rules.README_START, 1)[1]
    block = block.split(rules.README_END, 1)[0] + rules.README_END
    assert block == rules.readme_block(), (
        "README.md's analysis-rules block is stale: run .venv/bin/python -c "
        "\"from ivigbook.data.rules import update_readme; update_readme('README.md')\""
    )


def test_update_readme_replaces_only_the_block(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# T\n\n{rules.README_START}\nold\n{rules.README_END}\n\nafter\n")
    assert rules.update_readme(readme) is True
    text = readme.read_text()
    assert text.startswith("# T\n\n") and text.endswith("\n\nafter\n")
    assert rules.rules_markdown() in text
    assert rules.update_readme(readme) is False
    readme.write_text("# no block\n")
    with pytest.raises(ValueError, match="rules:start"):
        rules.update_readme(readme)
