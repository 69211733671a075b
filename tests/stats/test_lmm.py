"""The fast mixed-model engine (ivigbook.stats.lmm) against statsmodels MixedLM."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from ivigbook.stats import lmm


def simulated(n_groups: int, seed: int, slope_sd: float = 1.5):
    """Unbalanced panel: 1-8 visits per patient, random intercept and slope."""
    rng = np.random.default_rng(seed)
    g, t, y = [], [], []
    for i in range(n_groups):
        b0, b1 = rng.normal(0, 5), rng.normal(0, slope_sd)
        ti = np.sort(rng.uniform(-1, 3, rng.integers(1, 9)))
        g += [i] * len(ti)
        t += list(ti)
        y += list(
            28
            + 3 * np.minimum(ti, 0)
            - 7 * np.maximum(ti, 0)
            + b0
            + b1 * ti
            + rng.normal(0, 2, len(ti))
        )
    g, t, y = np.array(g), np.array(t), np.array(y)
    X = np.column_stack([np.ones_like(t), np.minimum(t, 0), np.maximum(t, 0), np.maximum(t - 1, 0)])
    return y, X, g, t


def statsmodels_fit(y, X, g, Z, reml):
    from statsmodels.regression.mixed_linear_model import MixedLM

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return MixedLM(y, X, groups=g, exog_re=Z).fit(reml=reml, method=["lbfgs"])


@pytest.mark.parametrize("reml", [True, False])
@pytest.mark.parametrize("q", [1, 2])
@pytest.mark.parametrize("method", ["lbfgs", "powell"])
def test_matches_statsmodels(reml, q, method):
    y, X, g, t = simulated(60, seed=3)
    Z = np.column_stack([np.ones_like(t), t])[:, :q]
    ref = statsmodels_fit(y, X, g, Z, reml)
    got = lmm.fit(y, X, g, Z, reml=reml, method=method)
    assert got.converged and not got.boundary, got
    se_ref = np.asarray(ref.bse_fe)
    # estimates agree to a small fraction of their standard errors
    assert np.max(np.abs(got.fe_params - ref.fe_params) / se_ref) < 1e-3
    assert got.llf == pytest.approx(ref.llf, abs=1e-5)
    assert got.scale == pytest.approx(ref.scale, rel=1e-3)
    np.testing.assert_allclose(got.cov_re, np.asarray(ref.cov_re), rtol=1e-3, atol=1e-3)
    # covariance of beta given the variance components (lme4); statsmodels inverts the
    # full Hessian, which differs by the (small) estimated cross terms
    np.testing.assert_allclose(np.sqrt(np.diag(got.cov_fe)), se_ref, rtol=0.01)


def test_row_order_does_not_matter():
    y, X, g, t = simulated(40, seed=5)
    Z = np.column_stack([np.ones_like(t), t])
    a = lmm.fit(y, X, g, Z)
    perm = np.random.default_rng(0).permutation(len(y))
    b = lmm.fit(y[perm], X[perm], g[perm], Z[perm])
    np.testing.assert_allclose(a.fe_params, b.fe_params, rtol=1e-6)
    assert a.llf == pytest.approx(b.llf, abs=1e-6)


def test_zero_slope_variance_is_reported_on_the_boundary():
    y, X, g, t = simulated(80, seed=11, slope_sd=0.0)
    # no slope variation and few visits: the slope SD estimate sits at (or near) zero
    res = lmm.fit(y, X, g, np.column_stack([np.ones_like(t), t]))
    sd_slope = np.sqrt(res.cov_re[1, 1])
    assert sd_slope < 0.5
    assert res.boundary == (res.theta[2] < lmm.BOUNDARY)


def test_rank_deficient_design_is_refused():
    y, X, g, t = simulated(20, seed=1)
    X = np.column_stack([X, X[:, 1]])
    with pytest.raises(ValueError, match="rank deficient"):
        lmm.fit(y, X, g, np.ones((len(y), 1)))


def test_recovers_the_truth_in_a_large_registry():
    """200,000 values of 20,000 patients: every true coefficient is inside its 95% CI."""
    rng = np.random.default_rng(2)
    G, k = 20_000, 10
    g = np.repeat(np.arange(G), k)
    t = rng.uniform(-1, 5, G * k)
    truth = np.array([28.0, 3.0, -7.0, 4.0])
    X = np.column_stack([np.ones_like(t), np.minimum(t, 0), np.maximum(t, 0), np.maximum(t - 1, 0)])
    b0, b1 = rng.normal(0, 5, G), rng.normal(0, 1.5, G)
    y = X @ truth + b0[g] + b1[g] * t + rng.normal(0, 2, len(t))
    res = lmm.fit(y, X, g, np.column_stack([np.ones_like(t), t]))
    se = np.sqrt(np.diag(res.cov_fe))
    assert res.converged
    assert np.all(np.abs(res.fe_params - truth) < 1.96 * se * 1.5)  # margin for 4 joint checks
    assert res.cov_re[0, 0] == pytest.approx(25.0, rel=0.1)
    assert res.cov_re[1, 1] == pytest.approx(2.25, rel=0.15)
    assert res.scale == pytest.approx(4.0, rel=0.05)
