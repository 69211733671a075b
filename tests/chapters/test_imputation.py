"""Multiple imputation and Rubin's rules (ivigbook.imputation)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from ivigbook.chapters import imputation, skin
from ivigbook.derive.context import load_context
from ivigbook.results.recorder import Recorder
from ivigbook.stats import mi

ROOT = Path(__file__).resolve().parents[2]


def test_rubin_by_hand():
    # m = 3 estimates 1, 2, 3 with within-variance 0.5 each; complete-data n = 10 (mean: k = 1)
    r = mi.rubin([1.0, 2.0, 3.0], [0.5, 0.5, 0.5], n=10)
    qbar, ubar, b = 2.0, 0.5, 1.0  # B = ((1-2)^2 + 0 + (3-2)^2) / 2
    t = ubar + (1 + 1 / 3) * b  # 1.8333...
    lam = (4 / 3) / t  # 0.72727...
    nu_old = 2 / lam**2  # (m - 1) / lambda^2
    nu_obs = (9 + 1) / (9 + 3) * 9 * (1 - lam)  # nu_com = 9
    nu = 1 / (1 / nu_old + 1 / nu_obs)
    assert r.estimate == qbar and r.within == ubar and r.between == pytest.approx(b)
    assert r.variance == pytest.approx(11 / 6)
    assert r.lam == pytest.approx(8 / 11)
    assert r.df == pytest.approx(nu)
    assert nu == pytest.approx(1.327401, abs=1e-6)
    half = sps.t.ppf(0.975, nu) * math.sqrt(11 / 6)
    assert (r.ci_low, r.ci_high) == (pytest.approx(2 - half), pytest.approx(2 + half))
    assert r.p == pytest.approx(2 * sps.t.sf(2 / math.sqrt(11 / 6), nu))
    assert r.fmi == pytest.approx((nu + 1) / (nu + 3) * lam + 2 / (nu + 3))
    assert r.m == 3


def test_rubin_without_missing_information_uses_the_complete_data_df():
    r = mi.rubin([4.0] * 5, [0.25] * 5, n=21)
    assert r.between == 0 and r.lam == 0
    assert r.df == pytest.approx(21 / 23 * 20)  # nu_obs with lambda = 0
    assert r.variance == 0.25
    with pytest.raises(ValueError):
        mi.rubin([1.0], [1.0], n=5)


def test_pmm_imputes_observed_values_and_keeps_observed_entries():
    rng = np.random.default_rng(3)
    x = rng.normal(size=40)
    data = pd.DataFrame(
        {
            "a": x,
            "b": 2 * x + rng.normal(scale=0.3, size=40),
            "c": rng.integers(0, 2, size=40).astype(float),
        }
    )
    data.loc[[1, 5, 9, 20], "b"] = np.nan
    data.loc[[2, 7], "a"] = np.nan
    done = mi.chained_pmm(data, m=5, seed=11)
    assert len(done) == 5
    observed_b = set(data["b"].dropna())
    for d in done:
        assert not d.isna().any().any()
        pd.testing.assert_frame_equal(
            d[data.notna()].dropna(how="all"), data[data.notna()].dropna(how="all")
        )
        assert set(d.loc[[1, 5, 9, 20], "b"]) <= observed_b
    # predictive mean matching follows the strong a-b relation (b ~ 2a): the imputed b
    # are ordered as the a of their rows (PMM cannot extrapolate beyond observed values)
    mean_b = np.mean([d.loc[[1, 5, 9, 20], "b"].to_numpy() for d in done], axis=0)
    assert list(np.argsort(mean_b)) == list(np.argsort(x[[1, 5, 9, 20]]))
    assert np.corrcoef(mean_b, x[[1, 5, 9, 20]])[0, 1] > 0.95


def _brute_force_donors(fit_obs, fit_mis, k):
    """The reference: per missing row, the first k of a stable argsort of the distances."""
    return np.array(
        [np.argsort(np.abs(fit_obs - f), kind="stable")[:k] for f in fit_mis], dtype=np.intp
    ).reshape(len(fit_mis), k)


def _random_fits(rng, kind):
    n_obs, n_mis = int(rng.integers(1, 60)), int(rng.integers(1, 40))
    if kind == "integers":  # few distinct values: long runs of ties, f often equal to one
        return (rng.integers(0, 6, n_obs).astype(float), rng.integers(-2, 8, n_mis).astype(float))
    if kind == "halves":  # f exactly midway between two values: equal distances both sides
        return rng.integers(0, 10, n_obs) * 0.5, rng.integers(-3, 22, n_mis) * 0.25
    if kind == "continuous":
        fo = rng.normal(size=n_obs)
        return fo, np.concatenate([rng.normal(size=n_mis), rng.choice(fo, 3)])
    # different values that round to the same distance from a far-away f (0.1 and its
    # next floats seen from 1000): only the brute-force fallback gets these right
    near = 0.1 + np.arange(6) * np.spacing(0.1)
    fo = rng.choice(np.concatenate([near, -near, [5.0, 1e3]]), n_obs)
    return fo, rng.choice([1e3, -1e3, 0.1, 3.0, 1e17], n_mis)


@pytest.mark.parametrize("kind", ["integers", "halves", "continuous", "rounding"])
def test_vectorised_donor_search_equals_brute_force(kind):
    rng = np.random.default_rng(["integers", "halves", "continuous", "rounding"].index(kind))
    for _ in range(400):
        fo, fm = _random_fits(rng, kind)
        k = int(rng.integers(1, min(7, fo.size) + 1))
        got = mi._donors(fo, fm, k)
        want = _brute_force_donors(fo, fm, k)
        assert got.shape == want.shape
        # the same k donors (the order within a row is not used: one is drawn uniformly)
        np.testing.assert_array_equal(
            np.sort(got, axis=1), np.sort(want, axis=1), err_msg=f"{fo} {fm} {k}"
        )
        choice = rng.integers(k, size=fm.size)
        np.testing.assert_array_equal(
            mi._donors(fo, fm, k, choice), got[np.arange(fm.size), choice]
        )


def test_donor_search_ties_prefer_lower_positions_on_both_sides():
    fo = np.array([1.0, 3.0, 1.0, 3.0, 1.0, 3.0, 1.0])  # f = 2: every row at distance 1
    np.testing.assert_array_equal(np.sort(mi._donors(fo, np.array([2.0]), 3)), [[0, 1, 2]])
    # a run of equal values just below f longer than k: the lowest positions, not the last
    fo = np.array([0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 2.0])
    np.testing.assert_array_equal(np.sort(mi._donors(fo, np.array([0.9]), 2)), [[0, 1]])
    with pytest.raises(ValueError):
        mi._donors(fo, np.array([np.nan]), 2)
    with pytest.raises(ValueError):
        mi._donors(fo, np.array([1.0]), 8)
    with pytest.raises(ValueError, match="no observed value in column"):
        mi.chained_pmm(pd.DataFrame({"a": [1.0, 2.0, np.nan], "b": [np.nan] * 3}), m=2, seed=1)


def _incomplete_data(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    data = pd.DataFrame(
        {
            "x": x,
            "y": np.round(10 + 3 * x + rng.normal(size=n)),
            "z": np.round(rng.normal(size=n), 1),
            "g": rng.integers(0, 2, n).astype(float),
        }
    )
    for col, share in [("y", 0.3), ("z", 0.2), ("x", 0.1)]:
        data.loc[rng.random(n) < share, col] = np.nan
    return data


def test_same_seed_gives_bit_identical_imputations_whatever_the_threads():
    data = _incomplete_data(300, 1)
    a = mi.chained_pmm(data, m=6, seed=5, workers=1)
    b = mi.chained_pmm(data, m=6, seed=5, workers=2)
    c = mi.chained_pmm(data, m=6, seed=5)
    for x, y, z in zip(a, b, c):
        assert x.to_numpy().tobytes() == y.to_numpy().tobytes() == z.to_numpy().tobytes()
    other = mi.chained_pmm(data, m=6, seed=6)
    assert any(not np.array_equal(x.to_numpy(), o.to_numpy()) for x, o in zip(a, other))
    # the chains differ from one another (independent streams)
    assert not np.array_equal(a[0].to_numpy(), a[1].to_numpy())


def test_imputed_values_are_observed_values_of_their_column():
    data = _incomplete_data(400, 2)
    miss = data.isna()
    for d in mi.chained_pmm(data, m=5, seed=3, n_iter=4):
        assert d.notna().all().all()
        for col in data.columns:
            assert set(d.loc[miss[col], col]) <= set(data[col].dropna()), col
            np.testing.assert_array_equal(d.loc[~miss[col], col], data.loc[~miss[col], col])


def test_pooled_mean_recovers_the_truth_under_missing_at_random():
    # y = 2 + 1.5 x + e with x and e centred, so the complete-data mean of y is exactly 2;
    # y is missing far more often when x is high (MAR given the always observed x), which
    # biases the complete-case mean downwards. Imputation from x must undo the bias.
    rng = np.random.default_rng(20)
    n, truth = 2000, 2.0
    x = rng.normal(size=n)
    e = rng.normal(size=n)
    y = truth + 1.5 * (x - x.mean()) + (e - e.mean())
    y_obs = np.where(rng.random(n) < 1 / (1 + np.exp(-(2 * x - 0.5))), np.nan, y)
    share_missing = np.isnan(y_obs).mean()
    cc = np.nanmean(y_obs)
    assert y.mean() == pytest.approx(truth) and cc < truth - 0.6 and 0.35 < share_missing < 0.5
    done = mi.chained_pmm(pd.DataFrame({"x": x, "y": y_obs}), m=20, seed=4)
    r = mi.rubin([d["y"].mean() for d in done], [d["y"].var(ddof=1) / n for d in done], n)
    assert r.ci_low < truth < r.ci_high
    assert abs(r.estimate - truth) < 0.1
    assert not r.ci_low < cc < r.ci_high
    # x predicts y well, so far less information is missing than values
    assert 0.05 < r.fmi < share_missing


@pytest.fixture(scope="module")
def hopkins_ctx():
    ctx = load_context(ROOT / "data/synthetic/hopkins2015")
    return skin.population(ctx, Recorder("x", None))


def test_same_seed_same_numbers_other_seed_other_draws(hopkins_ctx):
    a = imputation.analyse(hopkins_ctx, seed=2015, m=20)
    b = imputation.analyse(hopkins_ctx, seed=2015, m=20)
    c = imputation.analyse(hopkins_ctx, seed=2016, m=20)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["estimate"], c["estimate"])


def test_hopkins_records_visits_and_fmi(hopkins_ctx):
    rec = Recorder("02_skin_outcomes", None)
    res = imputation.mrss_change(hopkins_ctx, rec, seed=2015)
    v = rec.values
    assert v["mi_m"] == mi.M_DEFAULT >= 20
    assert v["mi_mrss_n"] == 30
    for month in (6, 12, 18, 24):
        assert (
            v[f"mi_mrss_m{month}_change_ci_low"]
            < v[f"mi_mrss_m{month}_change"]
            < v[f"mi_mrss_m{month}_change_ci_high"]
        )
        assert 0 < v[f"mi_mrss_m{month}_fmi"] < 1
    # more missing at month 24 than at month 6 -> more missing information
    assert v["mi_mrss_m24_fmi"] > v["mi_mrss_m6_fmi"]
    assert v["mi_mrss_m24_observed_n"] < 30
    assert list(res["avisitn"]) == [6, 12, 18, 24]
    assert "imputed 40 times" in rec.texts["mi_mrss_text"]


def test_wide_table_rows_are_patients_with_a_baseline(hopkins_ctx):
    w = imputation.wide_table(hopkins_ctx)
    assert list(w.columns[:5]) == ["base", "m6", "m12", "m18", "m24"]
    assert w["base"].notna().all() and len(w) == 30
    assert w.index.is_monotonic_increasing and w.index.name == "SUBJSEQ"
    assert set(w.columns) >= {"age", "duration", "cycles", "prednisone", "mycophenolate"}


def test_spanish_cohort_single_visit_and_small_cohort(valid_package):
    from ivigbook.config import REFERENCE_COHORTS

    entry = REFERENCE_COHORTS["spain_multicentre"]
    ctx = load_context(ROOT / entry["data_dir"], json.dumps(entry["params"]))
    rec = Recorder("02_skin_outcomes", None)
    res = imputation.mrss_change(skin.population(ctx, rec), rec, seed=2023)
    assert res is not None and list(res["visit"]) == ["m3"]
    assert "mi_mrss_m3_change" in rec.values and "the other visits" not in rec.texts["mi_mrss_text"]

    tiny = load_context(valid_package)
    rec = Recorder("02_skin_outcomes", None)
    assert imputation.mrss_change(tiny, rec, seed=1) is None
    assert "at least 5 patients" in rec.texts["mi_mrss_text"]
    assert imputation.comparison_table(tiny, None, None) is None
