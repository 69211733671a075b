"""Visit-window sensitivity (ivigbook.chapters.sensitivity): labels of the paper's and the
run's own window, rows without patients, p only with enough pairs."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import pytest

from ivigbook.chapters import sensitivity, skin
from ivigbook.data.params import PAPER
from ivigbook.derive.context import load_context
from ivigbook.results.applicability import Skip
from ivigbook.results.recorder import Recorder

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
from prose_checks import problems  # noqa: E402

HOPKINS = ROOT / "data/synthetic/hopkins2015"
STEM = "06_sensitivity_windows"


def _by_window(ctx):
    rec = Recorder(STEM, None)
    sctx = skin.population(ctx, rec)
    win = sensitivity.by_window(sctx, rec)
    for key, text in rec.texts.items():
        assert not problems(text), (key, text, problems(text))
    return rec, sctx, win


@pytest.fixture(scope="module")
def hopkins():
    return load_context(HOPKINS)


def test_window_labels_mark_the_paper_and_the_run():
    assert PAPER.window_halfwidth_months == 2
    assert sensitivity.window_label(2, run=2) == "\u00b12 (paper)"
    assert sensitivity.window_label(0, run=2) == "exact month"
    assert sensitivity.window_label(1, run=1) == "\u00b11 (this run)"
    assert sensitivity.window_label(2, run=1) == "\u00b12 (paper)"
    assert sensitivity.window_label(3, run=1) == "\u00b13"


def test_an_analyst_window_is_marked_as_theirs(hopkins):
    ctx = load_context(HOPKINS, json.dumps({"window_halfwidth_months": 1}))
    rec, sctx, win = _by_window(ctx)
    labels = dict(zip(win["halfwidth"], win["window"]))
    assert labels == {0: "exact month", 1: "\u00b11 (this run)", 2: "\u00b12 (paper)", 3: "\u00b13"}
    table = sensitivity.window_table(win, sctx)
    assert {"\u00b11 (this run)", "\u00b12 (paper)"} <= set(table.frame["group"])
    assert '"(this run)" the half-width set for this run' in table.notes[0]
    assert "\u00b12 months in the paper" in rec.texts["sens_windows_text"]
    assert "\u00b11 month in this run" in rec.texts["sens_windows_text"]
    assert "\u00b11 (this run): N=" in rec.texts["sens_text"]
    # the run's own half-width is analysed even when it is not among the defaults
    ctx5 = load_context(HOPKINS, json.dumps({"window_halfwidth_months": 5}))
    rec5, _, win5 = _by_window(ctx5)
    assert sensitivity.window_label(5, run=5) in set(win5["window"]) and 5 in set(win5["halfwidth"])
    assert "sens_hw5_mrss_m12_n" in rec5.values


def test_the_paper_rule_keeps_the_reference_numbers(hopkins):
    rec, sctx, win = _by_window(hopkins)
    committed = json.loads((ROOT / "book/hopkins2015/results.json").read_text())["results"]
    for key, value in rec.values.items():
        if key.startswith("sens_hw"):
            assert value == pytest.approx(committed[key], rel=1e-6), key
    assert set(win["window"]) == {"exact month", "\u00b11", "\u00b12 (paper)", "\u00b13"}
    notes = " ".join(sensitivity.window_table(win, sctx).notes)
    assert "(this run)" not in notes and '"(paper)" marks' in notes


def test_rows_without_patients_are_left_out_and_p_needs_min_pairs(hopkins):
    ctx = hopkins.restrict(hopkins.analysed["USUBJID"].iloc[:2])
    rec, sctx, win = _by_window(ctx)
    assert (win["n"] == 0).any() and (win["n"] < ctx.params.min_pairs).all()
    table = sensitivity.window_table(win, sctx)
    assert (table.frame["N"] != "0").all()
    assert len(table.frame) == int((win["n"] > 0).sum())
    assert (table.frame["p"] == "\u2014").all()
    notes = " ".join(table.notes)
    assert "rule min_pairs" in notes and "these rows are left out" in notes
    assert "NA" not in table.frame.to_string()
    skip = sensitivity.plot_rows(win, sctx)
    assert isinstance(skip, Skip) and not skip.quiet and "rule min_pairs" in skip.reason
    assert "1 patients" not in rec.texts["sens_text"]


def test_nobody_analysed_gives_one_sentence_and_no_table(hopkins):
    ctx = hopkins.restrict([])
    rec, sctx, win = _by_window(ctx)
    assert win.empty and not [k for k in rec.values if k.startswith("sens_hw")]
    assert rec.texts["sens_text"].count(".") == 1
    for made in (
        sensitivity.window_table(win, sctx),
        sensitivity.plot_rows(win, sctx),
        sensitivity.model_or_skip(None),
    ):
        assert isinstance(made, Skip) and made.quiet


def test_plot_rows_keep_windows_with_enough_pairs(hopkins):
    ctx = dataclasses.replace(hopkins, params=dataclasses.replace(hopkins.params, min_pairs=12))
    _, sctx, win = _by_window(ctx)
    rows = sensitivity.plot_rows(win, sctx)
    assert (rows["n"] >= 12).all() and len(rows) < len(win)
