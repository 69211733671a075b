"""Historical comparisons (ivigbook.chapters.historical) and the rules of the MAIC on any
cohort: who is compared, when a comparison is not computed, what the page may claim."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import pandas as pd
import pytest

from ivigbook.chapters import historical, outcomes
from ivigbook.chapters import maic as chapters_maic
from ivigbook.derive.context import load_context
from ivigbook.results.applicability import Skip
from ivigbook.results.recorder import Recorder

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
from prose_checks import problems  # noqa: E402

COMPARATORS = ROOT / "data/reference/historical_controls.csv"
HOPKINS = ROOT / "data/synthetic/hopkins2015"
STEM = "05_historical_comparisons"


@pytest.fixture(scope="module")
def comps():
    return historical.load_comparators(COMPARATORS)


@pytest.fixture(scope="module")
def hopkins():
    return load_context(HOPKINS)


def _run(ctx, comps, B=50):
    rec = Recorder(STEM, None)
    comp = historical.change_comparisons(ctx, rec, comps)
    res = chapters_maic.compare(ctx, rec, comps, seed=2015, B=B)
    for key, text in rec.texts.items():
        assert not problems(text), (key, text, problems(text))
    return rec, comp, res


def _elsewhere(ctx):
    """The same data as if it were another package (not the reference edition)."""
    return dataclasses.replace(ctx, cohort=dataclasses.replace(ctx.cohort, source="/elsewhere"))


def _with_subtypes(ctx, limited: int, sine: int):
    """``ctx`` with the first analysed patients made limited, then sine."""
    adsl = ctx.adsl.copy()
    ids = list(ctx.analysed["USUBJID"])
    sub = adsl["ssc_subtype"].astype(object)
    sub[adsl["USUBJID"].isin(ids[:limited])] = "limited"
    sub[adsl["USUBJID"].isin(ids[limited : limited + sine])] = "sine"
    adsl["ssc_subtype"] = sub
    return dataclasses.replace(ctx, adsl=adsl)


def test_nobody_analysed_computes_no_comparison_and_says_why_once(hopkins, comps):
    ctx = hopkins.restrict([])
    rec, comp, res = _run(ctx, comps)
    assert ctx.n == 0 and comp.empty and res is None
    assert rec.texts["hist_population_text"] == outcomes.nobody_analysed(ctx)
    # each section: one short sentence, no table or figure
    for key in ("hist_change_text", "maic_text", "hist_n_text"):
        assert rec.texts[key].count(".") == 1 and "no" in rec.texts[key].lower(), key
    assert not [k for k in rec.values if k.endswith(("_p", "_diff"))]
    for made in (
        historical.change_table(comp, True),
        historical.forest_rows(comp),
        historical.n_sensitivity(ctx, comps),
        chapters_maic.results_table(res, True),
        chapters_maic.balance_table(res, True),
        chapters_maic.forest_rows(res),
    ):
        assert isinstance(made, Skip) and made.quiet
    assert "does not apply" in rec.texts["hist_prior_mmf_text"]


@pytest.mark.parametrize("n", [1, 2])
def test_fewer_patients_than_min_pairs_are_not_compared(hopkins, comps, n):
    ctx = hopkins.restrict(hopkins.analysed["USUBJID"].iloc[:n])
    rec, comp, res = _run(ctx, comps)
    assert comp.empty
    assert not [k for k in rec.values if k.startswith("hist_") and k.endswith(("_p", "_diff"))]
    assert rec.values["hist_ivig_m6_n"] <= n
    text = rec.texts["hist_change_text"]
    assert "rule min_pairs" in text and "at least 3" in text
    assert isinstance(historical.change_table(comp, True), Skip)
    assert isinstance(historical.n_sensitivity(ctx, comps), Skip)
    # the MAIC: every comparison too small, none shown, the rule named once
    assert (res["status"] == "too_few").all()
    assert rec.texts["maic_text"].startswith("No matching-adjusted comparison is made at")
    assert "rule min_pairs" in rec.texts["maic_text"]
    assert not [
        k for k in rec.values if k.startswith("maic_") and k.endswith("_reported") and rec.values[k]
    ]
    assert all(rec.values[k] is None for k in rec.values if k.endswith("_unadj_diff"))
    for made in (
        chapters_maic.results_table(res, True),
        chapters_maic.balance_table(res, True),
        chapters_maic.forest_rows(res),
    ):
        assert isinstance(made, Skip) and made.quiet


def test_a_visit_below_min_pairs_is_left_out_and_named(hopkins, comps):
    ctx = dataclasses.replace(
        hopkins, params=dataclasses.replace(hopkins.params, min_pairs=26)
    )  # month 6 has 29 pairs, month 12 has 25
    rec, comp, _ = _run(ctx, comps)
    assert set(comp["avisitn"]) == {6}
    assert "hist_dpen_m12_p" not in rec.values and "hist_relaxin_m6_p" in rec.values
    assert "month 12 (N=25)" in rec.texts["hist_change_text"]
    notes = " ".join(historical.change_table(comp, True).notes)
    assert "rule min_pairs" in notes and "month 12" in notes


def test_reference_edition_numbers_and_sentences(hopkins, comps):
    rec, comp, _ = _run(hopkins, comps)
    committed = json.loads((ROOT / "book/hopkins2015/results.json").read_text())["results"]
    for key, value in rec.values.items():
        if not key.startswith("hist_"):
            continue  # the MAIC of _run has B=50
        if isinstance(committed.get(key), float):
            assert value == pytest.approx(committed[key], rel=1e-6), key
        elif key in committed:
            assert value == committed[key], key
    assert rec.values["hist_compared_n"] == hopkins.n == 30
    assert "All 30 patients of the analysis set have diffuse" in rec.texts["hist_population_text"]
    # the prior-mycophenolate caveat is computed from the data
    k = int(hopkins.analysed["prior_mycophenolate"].sum())
    assert rec.texts["hist_prior_mmf_text"].startswith(f"{k} of the 30 patients compared")
    # the paper's own remark only in its reference edition
    assert "Poelman et al. 2015" in rec.texts["hist_edition_note"]
    other = Recorder(STEM, None)
    historical.change_comparisons(_elsewhere(hopkins), other, comps)
    assert other.texts["hist_edition_note"] == ""
    assert other.values == {k: v for k, v in rec.values.items() if k.startswith("hist_")}
    table = historical.change_table(comp, True)
    assert "Analysis set, N=30" in table.notes[0]


def test_limited_and_sine_patients_are_left_out_of_the_comparison(hopkins, comps):
    ctx = _with_subtypes(hopkins, limited=3, sine=1)
    hctx = historical.population(ctx)
    assert hctx.n == 26 and set(hctx.analysed["ssc_subtype"].astype(str)) == {"diffuse"}
    rec, comp, res = _run(ctx, comps)
    assert rec.values["hist_compared_n"] == 26
    assert rec.values["hist_ivig_m6_n"] == outcomes.compare_visit(hctx, "MRSS", 6)["n"]
    text = rec.texts["hist_population_text"]
    assert "use the 26 patients of the analysis set who have it" in text
    assert "3 with limited cutaneous disease and 1 with SSc sine scleroderma" in text
    assert "whole analysis set (30 patients" in rec.texts["hist_baseline_text"]
    assert (
        "those with diffuse cutaneous disease, N=26 (of 30)"
        in historical.change_table(comp, True).notes[0]
    )
    assert (res["n"] <= 26).all()
    # nobody diffuse: nothing compared, one sentence
    none = _with_subtypes(hopkins, limited=30, sine=0)
    rec, comp, res = _run(none, comps)
    assert comp.empty and res is None
    assert "none of the 30 patients" in rec.texts["hist_population_text"]
    assert "diffuse cutaneous disease" in rec.texts["hist_change_text"]


def test_prior_mycophenolate_counts_and_absent_records(hopkins):
    one = hopkins.restrict(hopkins.analysed["USUBJID"].iloc[:1])
    text = historical.prior_mycophenolate_text(one, mmf_compared=True)
    assert text.startswith("The one patient compared") and not problems(text)
    adsl = hopkins.adsl.copy()
    adsl["prior_mycophenolate"] = pd.array([pd.NA] * len(adsl), dtype="boolean")
    blank = dataclasses.replace(hopkins, adsl=adsl)
    assert "no medication records" in historical.prior_mycophenolate_text(blank, True)
    adsl["prior_mycophenolate"] = pd.array([False] * len(adsl), dtype="boolean")
    never = dataclasses.replace(hopkins, adsl=adsl)
    text = historical.prior_mycophenolate_text(never, True)
    assert text.startswith("No patient of the 30 compared") and "biased" not in text


# ------------------------------------------------------------------ MAIC rules
def test_low_effective_sample_size_is_not_shown_as_an_estimate(hopkins, comps):
    ctx = dataclasses.replace(
        hopkins, params=dataclasses.replace(hopkins.params, maic_min_ess=15.0)
    )
    rec, _, res = _run(ctx, comps)
    low = res[res["status"] == "low_ess"]
    assert set(low["comparator"] + low["visit"]) == {"collagenm12", "mmfm12"}
    for r in low.itertuples():
        stem = f"maic_{r.comparator}_{r.visit}"
        assert rec.values[f"{stem}_reported"] is False and rec.values[f"{stem}_diff"] is None
        assert rec.values[f"{stem}_ess"] == pytest.approx(r.ess)
        assert rec.values[f"{stem}_unadj_diff"] is not None
    assert rec.texts["maic_text"].count("rule maic_min_ess") == 2
    table = chapters_maic.results_table(res, True)
    assert table.frame["MAIC difference (95% CI)"].str.startswith("not shown").sum() == 2
    rows = chapters_maic.forest_rows(res)
    assert (rows["group"] == "MAIC").sum() == len(res) - 2
    assert rec.values["maic_relaxin_m6_reported"] is True


@pytest.mark.parametrize("share", [0.0, 1.0])
def test_the_bootstrap_failure_rule_is_the_parameter(hopkins, comps, share):
    ctx = dataclasses.replace(
        hopkins, params=dataclasses.replace(hopkins.params, maic_max_failed_share=share)
    )
    _, _, res = _run(ctx, comps, B=100)
    shown = res[res["status"] == "shown"]
    expected = ((shown["boot_failed"] <= share * 100) & shown["boot_ci_low"].notna()).map(
        {True: "bootstrap", False: "robust"}
    )
    assert list(shown["ci_method"]) == list(expected)
    if share == 1.0:
        assert (shown["ci_method"] == "bootstrap").all()
    else:
        assert (shown.loc[shown["boot_failed"] > 0, "ci_method"] == "robust").all()
    boot = shown["ci_method"] == "bootstrap"
    assert (shown.loc[boot, "ci_low"] == shown.loc[boot, "boot_ci_low"]).all()
    assert (shown.loc[~boot, "ci_low"] == shown.loc[~boot, "robust_ci_low"]).all()
