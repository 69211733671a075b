"""Multiple imputation and Rubin's rules (ivigbook.imputation)."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from ivigbook import imputation, skin
from ivigbook.context import load_context
from ivigbook.results import Recorder

ROOT = Path(__file__).resolve().parents[1]


def test_rubin_by_hand():
    # m = 3 estimates 1, 2, 3 with within-variance 0.5 each; complete-data n = 10 (mean: k = 1)
    r = imputation.rubin([1.0, 2.0, 3.0], [0.5, 0.5, 0.5], n=10)
    qbar, ubar, b = 2.0, 0.5, 1.0                  # B = ((1-2)^2 + 0 + (3-2)^2) / 2
    t = ubar + (1 + 1 / 3) * b                     # 1.8333...
    lam = (4 / 3) / t                              # 0.72727...
    nu_old = 2 / lam ** 2                          # (m - 1) / lambda^2
    nu_obs = (9 + 1) / (9 + 3) * 9 * (1 - lam)     # nu_com = 9
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
    r = imputation.rubin([4.0] * 5, [0.25] * 5, n=21)
    assert r.between == 0 and r.lam == 0
    assert r.df == pytest.approx(21 / 23 * 20)       # nu_obs with lambda = 0
    assert r.variance == 0.25
    with pytest.raises(ValueError):
        imputation.rubin([1.0], [1.0], n=5)


def test_pmm_imputes_observed_values_and_keeps_observed_entries():
    rng = np.random.default_rng(3)
    x = rng.normal(size=40)
    data = pd.DataFrame({"a": x, "b": 2 * x + rng.normal(scale=0.3, size=40),
                         "c": rng.integers(0, 2, size=40).astype(float)})
    data.loc[[1, 5, 9, 20], "b"] = np.nan
    data.loc[[2, 7], "a"] = np.nan
    done = imputation.chained_pmm(data, m=5, seed=11)
    assert len(done) == 5
    observed_b = set(data["b"].dropna())
    for d in done:
        assert not d.isna().any().any()
        pd.testing.assert_frame_equal(d[data.notna()].dropna(how="all"), data[data.notna()].dropna(how="all"))
        assert set(d.loc[[1, 5, 9, 20], "b"]) <= observed_b
    # predictive mean matching follows the strong a-b relation (b ~ 2a): the imputed b
    # are ordered as the a of their rows (PMM cannot extrapolate beyond observed values)
    mean_b = np.mean([d.loc[[1, 5, 9, 20], "b"].to_numpy() for d in done], axis=0)
    assert list(np.argsort(mean_b)) == list(np.argsort(x[[1, 5, 9, 20]]))
    assert np.corrcoef(mean_b, x[[1, 5, 9, 20]])[0, 1] > 0.95


@pytest.fixture(scope="module")
def hopkins_ctx():
    ctx = load_context(ROOT / "data/synthetic/hopkins2015")
    return skin.population(ctx, Recorder("x", None, glue=False))


def test_same_seed_same_numbers_other_seed_other_draws(hopkins_ctx):
    a = imputation.analyse(hopkins_ctx, seed=2015, m=20)
    b = imputation.analyse(hopkins_ctx, seed=2015, m=20)
    c = imputation.analyse(hopkins_ctx, seed=2016, m=20)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["estimate"], c["estimate"])


def test_hopkins_records_visits_and_fmi(hopkins_ctx):
    rec = Recorder("02_skin_outcomes", None, glue=False)
    res = imputation.mrss_change(hopkins_ctx, rec, seed=2015)
    v = rec.values
    assert v["mi_m"] == imputation.M_DEFAULT >= 20
    assert v["mi_mrss_n"] == 30
    for month in (6, 12, 18, 24):
        assert v[f"mi_mrss_m{month}_change_ci_low"] < v[f"mi_mrss_m{month}_change"] < v[f"mi_mrss_m{month}_change_ci_high"]
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
    from ivigbook.runner import REFERENCE_COHORTS

    entry = REFERENCE_COHORTS["spain_multicentre"]
    ctx = load_context(ROOT / entry["data_dir"], json.dumps(entry["params"]))
    rec = Recorder("02_skin_outcomes", None, glue=False)
    res = imputation.mrss_change(skin.population(ctx, rec), rec, seed=2023)
    assert res is not None and list(res["visit"]) == ["m3"]
    assert "mi_mrss_m3_change" in rec.values and "the other visits" not in rec.texts["mi_mrss_text"]

    tiny = load_context(valid_package)
    rec = Recorder("02_skin_outcomes", None, glue=False)
    assert imputation.mrss_change(tiny, rec, seed=1) is None
    assert "at least 5 patients" in rec.texts["mi_mrss_text"]
    assert imputation.comparison_table(tiny, None, None) is None
