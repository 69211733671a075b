"""Matching-adjusted indirect comparison (ivigbook.maic)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ivigbook import historical, maic
from ivigbook.context import load_context
from ivigbook.results import Recorder

ROOT = Path(__file__).resolve().parents[1]
COMPARATORS = ROOT / "data/reference/historical_controls.csv"


def test_ess_by_hand():
    assert maic.ess([1, 1, 2]) == pytest.approx(16 / 6)
    assert maic.ess([3, 3, 3, 3]) == pytest.approx(4)
    assert maic.ess([1, 0, 0]) == pytest.approx(1)


def test_weights_on_a_hand_made_example():
    X = np.array([[0.0], [1.0], [2.0]])
    w, a = maic.mom_weights(X, [1.5], return_coef=True)
    assert w.sum() == pytest.approx(3)
    assert (w @ X[:, 0]) / w.sum() == pytest.approx(1.5, abs=1e-9)
    # w = exp(x a): log-weights are linear in x, increasing because the target is above the mean
    lw = np.log(w)
    assert lw[2] - lw[1] == pytest.approx(lw[1] - lw[0]) and lw[1] > lw[0]
    # the target at the mean gives equal weights
    assert np.allclose(maic.mom_weights(X, [1.0]), 1.0)


def test_targets_outside_the_range_or_the_hull_are_not_estimable():
    X = np.array([[0.0], [1.0], [2.0]])
    with pytest.raises(maic.NotEstimable, match="range"):
        maic.mom_weights(X, [2.5])
    # inside each covariate's range but outside the joint convex hull (x <= y for all rows)
    X2 = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0], [0.2, 0.5]])
    with pytest.raises(maic.NotEstimable, match="at once"):
        maic.mom_weights(X2, [0.9, 0.1])


@pytest.fixture(scope="module")
def hopkins():
    return load_context(ROOT / "data/synthetic/hopkins2015"), historical.load_comparators(COMPARATORS)


@pytest.mark.parametrize("comparator,month", [("relaxin", 6), ("mmf", 6), ("dpen", 12),
                                              ("collagen", 12), ("mmf", 12)])
def test_weights_reproduce_each_comparators_published_means(hopkins, comparator, month):
    ctx, comps = hopkins
    tgt = maic.targets(comps, comparator)
    assert set(tgt) == {"age", "duration", "female", "mrss_bl"}
    d = maic.outcome_data(ctx, month, list(tgt))
    X, t = d[list(tgt)].to_numpy(), np.array(list(tgt.values()))
    if comparator == "dpen":
        # D-pen trial: early disease (9.5 months) with low mRSS (21) - no IVIG mix matches
        with pytest.raises(maic.NotEstimable):
            maic.mom_weights(X, t)
        return
    w = maic.mom_weights(X, t)
    assert np.all(w > 0)
    np.testing.assert_allclose(w @ X / w.sum(), t, rtol=0, atol=1e-6)
    assert 1 < maic.ess(w) < len(w)


@pytest.fixture(scope="module")
def compared(hopkins):
    ctx, comps = hopkins
    rec = Recorder("05_historical_comparisons", None, glue=False)
    return rec, maic.compare(ctx, rec, comps, seed=2015, B=300)


def test_compare_records_each_comparison(compared):
    rec, res = compared
    v = rec.values
    assert list(zip(res["comparator"], res["visit"])) == [("relaxin", "m6"), ("mmf", "m6"), ("dpen", "m12"),
                                                          ("collagen", "m12"), ("mmf", "m12")]
    assert v["maic_b"] == 300
    assert v["maic_dpen_m12_estimable"] is False and v["maic_dpen_m12_diff"] is None
    assert "not estimable" in rec.texts["maic_text"]
    for c, visit in (("relaxin", "m6"), ("mmf", "m6"), ("collagen", "m12"), ("mmf", "m12")):
        stem = f"maic_{c}_{visit}"
        assert v[f"{stem}_estimable"] is True
        assert v[f"{stem}_diff_ci_low"] < v[f"{stem}_diff"] < v[f"{stem}_diff_ci_high"]
        assert v[f"{stem}_ess"] <= v[f"{stem}_n"]
        # unadjusted difference = the historical chapter's difference (IVIG mean - comparator mean)
        r = res[(res["comparator"] == c) & (res["visit"] == visit)].iloc[0]
        assert v[f"{stem}_unadj_diff"] == pytest.approx(r["unadj_mean"] - r["comp_mean"])
        assert v[f"{stem}_ci_bootstrap"] == (r["ci_method"] == "bootstrap")
    rows = maic.forest_rows(res)
    assert list(rows["group"].unique()) == ["Unadjusted", "MAIC"]
    assert rows["estimate"].isna().sum() == 1          # D-pen MAIC: not estimable
    assert maic.balance_table(res, True).frame["IVIG, MAIC-weighted"].str.contains("not estimable").sum() == 4


def test_bootstrap_is_seeded(hopkins, compared):
    ctx, comps = hopkins
    rec, res = compared
    again = Recorder("05_historical_comparisons", None, glue=False)
    maic.compare(ctx, again, comps, seed=2015, B=300)
    assert again.values == rec.values
    other = Recorder("05_historical_comparisons", None, glue=False)
    maic.compare(ctx, other, comps, seed=7, B=300)
    assert other.values["maic_relaxin_m6_diff"] == rec.values["maic_relaxin_m6_diff"]   # no randomness
    assert other.values["maic_relaxin_m6_diff_boot_ci_low"] != rec.values["maic_relaxin_m6_diff_boot_ci_low"]


def test_robust_variance_by_hand():
    y, w = np.array([1.0, 3.0]), np.array([1.0, 3.0])
    mu = 2.5                                            # (1 + 9) / 4
    assert maic.robust_var(y, w) == pytest.approx((1 * 1.5 ** 2 + 9 * 0.5 ** 2) / 16)
    assert (w @ y) / w.sum() == mu


def test_spanish_cohort_without_or_with_the_comparator_file():
    from ivigbook.runner import REFERENCE_COHORTS

    entry = REFERENCE_COHORTS["spain_multicentre"]
    ctx = load_context(ROOT / entry["data_dir"], json.dumps(entry["params"]))
    rec = Recorder("05_historical_comparisons", None, glue=False)
    assert maic.compare(ctx, rec, None, seed=2023) is None
    assert rec.texts["maic_text"].startswith("No comparator file")
    assert not [k for k in rec.values if k.startswith("maic")]
    # the trial comparators report months 6 and 12; this design has month 3 after the last cycle
    rec = Recorder("05_historical_comparisons", None, glue=False)
    assert maic.compare(ctx, rec, historical.load_comparators(COMPARATORS), seed=2023) is None
    assert "no matching-adjusted comparison" in rec.texts["maic_text"]
    assert maic.results_table(None, True) is None and maic.balance_table(None, True) is None
    assert maic.forest_rows(None).empty
    assert isinstance(maic.forest_rows(None), pd.DataFrame)


def test_only_unmatchable_comparators_give_sentences_not_errors(hopkins):
    ctx, comps = hopkins
    odd = comps.copy()
    odd.loc[odd["quantity"] == "age", "mean"] = 99.0        # older than every IVIG patient
    rec = Recorder("05_historical_comparisons", None, glue=False)
    res = maic.compare(ctx, rec, odd, seed=1, B=50)
    assert not res["estimable"].any()
    assert rec.texts["maic_text"].count("not estimable") == len(res)
    assert "outside the range" in rec.texts["maic_text"]
    assert maic.results_table(res, False).frame["MAIC difference (95% CI)"].eq("not estimable").all()
    assert maic.forest_rows(res)["estimate"].isna().sum() == len(res)
