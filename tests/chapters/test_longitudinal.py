"""Linear mixed model over all visits (ivigbook.chapters.longitudinal)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ivigbook.chapters import compute as analysis
from ivigbook.chapters import historical, longitudinal, skin
from ivigbook.config import REFERENCE_COHORTS
from ivigbook.data.cohort import Cohort
from ivigbook.data.params import PAPER
from ivigbook.derive.context import Context, derive_all, load_context
from ivigbook.results.recorder import KEY_PATTERN, Recorder
from ivigbook.stats import bentline

ROOT = Path(__file__).resolve().parents[2]
TRUE_PRE, TRUE_POST, TRUE_LEVEL = 0.25, -0.6, 28.0  # points per month; level at IVIG start


def simulated_context(n: int = 40, seed: int = 7, months=range(-12, 31, 3)) -> Context:
    """A cohort with a known course: mRSS = level + pre*min(t,0) + post*max(t,0) +
    patient intercept and slope + noise (values not rounded: the model sees the truth)."""
    rng = np.random.default_rng(seed)
    patients, infusions, meas = [], [], []
    for i in range(n):
        pid = f"S{i:03d}"
        first = pd.Period("2012-01", "M") + int(rng.integers(0, 24))
        patients.append(
            {
                "patient_id": pid,
                "sex": "F",
                "birth_year": "1960",
                "ssc_subtype": "diffuse",
                "active_skin_disease": "yes",
                "onset_date": f"{first - 20}-01",
            }
        )
        for k in range(6):
            infusions.append({"patient_id": pid, "start_date": f"{first + k}-10"})
        b0, b1 = rng.normal(0, 5), rng.normal(0, 0.15)
        for t in months:
            if t > 0 and rng.random() < 0.15:  # some visits missing
                continue
            y = (
                TRUE_LEVEL
                + TRUE_PRE * min(t, 0)
                + TRUE_POST * max(t, 0)
                + b0
                + b1 * t
                + rng.normal(0, 2)
            )
            meas.append(
                {"patient_id": pid, "date": f"{first + t}-05", "measure": "MRSS", "value": str(y)}
            )
    cohort = Cohort.from_frames(
        patients=pd.DataFrame(patients),
        infusions=pd.DataFrame(infusions),
        measurements=pd.DataFrame(meas),
    )
    return Context(cohort=cohort, params=PAPER, **derive_all(cohort, PAPER))


@pytest.fixture(scope="module")
def simulated():
    return longitudinal.fit(simulated_context())


def test_true_slopes_lie_inside_the_95pct_cis(simulated):
    m = simulated
    assert isinstance(m, longitudinal.MixedModel)
    assert m.n_patients == 40 and m.has_pre
    post, pre = m.slopes["post"], m.slopes["pre"]
    assert post["ci_low"] < TRUE_POST < post["ci_high"], post
    assert pre["ci_low"] < TRUE_PRE < pre["ci_high"], pre
    assert post["ci_high"] - post["ci_low"] < 0.4  # informative, not a vacuous interval
    change = m.slopes["change"]
    assert change["ci_low"] < TRUE_POST - TRUE_PRE < change["ci_high"]


def test_visit_estimates_cover_the_true_change(simulated):
    est = simulated.estimates.set_index("avisitn")
    assert list(est.index) == [6, 12, 18, 24]
    for month, r in est.iterrows():
        assert r["ci_low"] < TRUE_POST * month < r["ci_high"], (month, r.to_dict())
    # the broken line bends at the four targets; a straight line is the truth here
    assert simulated.knots == (6, 12, 18, 24)
    assert simulated.lr["p"] > 0.01
    assert simulated.fit.converged and not simulated.fit.problems


def test_design_is_piecewise_in_years():
    X = bentline.design([-12, 0, 6, 18], has_pre=True, knots=(12,))
    assert list(X.columns) == ["Intercept", "pre", "post", "post_k12"]
    assert X["pre"].tolist() == [-1.0, 0.0, 0.0, 0.0]
    assert X["post"].tolist() == [0.0, 0.0, 0.5, 1.5]
    assert X["post_k12"].tolist() == [0.0, 0.0, 0.0, 0.5]
    assert "pre" not in bentline.design([1, 2], has_pre=False).columns


def test_no_warning_escapes_even_when_the_fit_is_hard():
    # three patients, one value each after IVIG: degenerate on purpose
    data = pd.DataFrame(
        {
            "month": [-1, 0, 2, -2, 0, 3, 0, 1, 5],
            "value": [20, 21, 19, 30, 29, 28, 10, 10, 9.0],
            "SUBJSEQ": [1, 1, 1, 2, 2, 2, 3, 3, 3],
        }
    )
    X = bentline.design(data["month"], has_pre=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        info = bentline.fit_mixed(data["value"], X, data["SUBJSEQ"], data["month"])
    assert info is None or isinstance(info, bentline.FitInfo)


@pytest.fixture(scope="module")
def hopkins():
    ctx = load_context(ROOT / "data/synthetic/hopkins2015")
    rec = Recorder("02_skin_outcomes", None)
    return ctx, rec, longitudinal.mrss_model(skin.population(ctx, rec), rec)


def test_hopkins_records_every_visit_and_says_why_estimates_differ(hopkins):
    ctx, rec, model = hopkins
    v = rec.values
    assert v["lmm_mrss_n_patients"] == 30 and v["lmm_mrss_n_obs"] > 30 * 4
    for month in (6, 12, 18, 24):
        assert (
            v[f"lmm_mrss_m{month}_change_ci_low"]
            < v[f"lmm_mrss_m{month}_change"]
            < v[f"lmm_mrss_m{month}_change_ci_high"]
        )
    for key in ("slope_pre", "slope_post", "slope_change"):
        assert v[f"lmm_mrss_{key}_ci_low"] < v[f"lmm_mrss_{key}"] < v[f"lmm_mrss_{key}_ci_high"]
    assert v["lmm_mrss_converged"] is True
    assert "missing at random" in rec.texts["lmm_mrss_why_text"]
    assert "month 24" in rec.texts["lmm_mrss_why_text"]
    summary = longitudinal.figure_args(model, skin.population(ctx, rec))["summary"]
    assert set(summary["series"]) == {"Complete case (paired)", "Mixed model (all visits)"}
    assert len(summary) == 10
    assert all(k == k.lower() for k in v)


def test_same_data_same_numbers(hopkins):
    ctx, rec, _ = hopkins
    again = Recorder("02_skin_outcomes", None)
    longitudinal.mrss_model(skin.population(ctx, again), again)
    assert {k: x for k, x in again.values.items() if k.startswith("lmm")} == {
        k: x for k, x in rec.values.items() if k.startswith("lmm")
    }


def test_spanish_cohort_single_follow_up_still_fits():

    entry = REFERENCE_COHORTS["spain_multicentre"]
    ctx = load_context(ROOT / entry["data_dir"], json.dumps(entry["params"]))
    rec = Recorder("02_skin_outcomes", None)
    model = longitudinal.mrss_model(skin.population(ctx, rec), rec)
    assert model is not None and model.knots == ()  # targets timed from each last cycle
    assert list(rec.values).count("lmm_mrss_m3_change") == 1
    assert "last cycle" in rec.texts["lmm_mrss_text"]


def test_too_few_patients_gives_a_sentence_and_none(valid_package):
    ctx = load_context(valid_package)
    rec = Recorder("02_skin_outcomes", None)
    assert longitudinal.mrss_model(ctx, rec) is None
    assert "needs at least 10 (rule min_mixed_model_patients)" in rec.texts["lmm_mrss_text"]
    assert rec.texts["lmm_mrss_why_text"]
    assert longitudinal.figure_args(None, ctx)["summary"].empty
    assert longitudinal.terms_table(None, False) is None
    rec6 = Recorder("06_sensitivity_windows", None)
    assert longitudinal.window_comparison(ctx, rec6, pd.DataFrame()) is None
    assert rec6.texts["sens_lmm_text"]


class _GlueOnce(Recorder):
    """A recorder that fails when a key is recorded twice (a notebook glues each key once;
    myst-nb warns on a duplicate and the -W book build fails)."""

    def value(self, key, value, decimals=1, kind="number"):
        assert key not in self.values, f"{key} recorded twice"
        return super().value(key, value, decimals, kind)


@pytest.mark.parametrize("name", ["hopkins2015", "spain_multicentre"])
def test_chapters_record_each_key_once_and_keys_follow_the_scheme(name, monkeypatch):

    entry = REFERENCE_COHORTS[name]
    monkeypatch.setattr(analysis, "Recorder", _GlueOnce)
    ctx = load_context(ROOT / entry["data_dir"], json.dumps(entry["params"]))
    comparators = entry.get("comparators", "data/reference/historical_controls.csv")
    out = analysis.chapter_results(
        ctx,
        historical.load_comparators(ROOT / comparators) if comparators else None,
        seed=entry.get("seed", 2015),
    )
    keys = [k for values in out.values() for k in values]
    assert all(KEY_PATTERN.match(k) for k in keys)
    prefixes = ("lmm_", "mi_", "maic_", "sens_lmm_")
    assert {p for p in prefixes if any(k.startswith(p) for k in keys)} == (
        {"lmm_", "mi_", "maic_", "sens_lmm_"}
        if name == "hopkins2015"
        else {"lmm_", "mi_", "sens_lmm_"}
    )
