"""The bent-line mixed model of a measure over time: its design (a level at IVIG start, a
slope before IVIG, a slope after it, optional knots), the fits (REML for estimates,
ML for the straight-versus-bent likelihood-ratio test) and contrasts with their CIs.
Fitted by :mod:`ivigbook.stats.lmm`; used by :mod:`ivigbook.chapters.longitudinal`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ivigbook.stats import lmm

Z95 = 1.959963984540054
_FITS: dict = {}  #: the last fits by data and design (notebooks 02 and 06 fit the same model)
#: optimizers tried in this order (``ivigbook.stats.lmm.fit`` ``method``)
OPTIMIZERS = ("lbfgs", "powell")


OPTIMIZER_NAMES = {"lbfgs": "L-BFGS", "powell": "Powell"}


@dataclass
class FitInfo:
    """One MixedLM fit: estimates and how the optimizer fared."""

    params: pd.Series  # fixed effects (design scale: time in years)
    cov: pd.DataFrame  # covariance of the fixed effects
    llf: float
    converged: bool
    optimizer: str  # the optimizer whose result is used
    random_slope: bool  # False: fell back to a random intercept only
    problems: list[str] = field(default_factory=list)  # plain-language fit problems
    theta: np.ndarray | None = None  # relative random-effects factor (warm start of refits)
    slope_dropped_because: str = ""  # random intercept only: what was wrong with the slope


def design(month, has_pre: bool, knots=()) -> pd.DataFrame:
    """Fixed-effects design (time in years): intercept, pre, post, post_k<knot>..."""
    t = np.asarray(month, dtype=float)
    cols = {"Intercept": np.ones_like(t)}
    if has_pre:
        cols["pre"] = np.minimum(t, 0.0) / 12.0
    cols["post"] = np.maximum(t, 0.0) / 12.0
    for k in knots:
        cols[f"post_k{k}"] = np.maximum(t - k, 0.0) / 12.0
    return pd.DataFrame(cols)


# ----------------------------------------------------------------------------- fitting
def _problems(res) -> list[str]:
    out = []
    if not res.converged:
        out.append(
            "the fit did not converge (the gradient of the criterion at the solution "
            "is not close to zero)"
        )
    if res.boundary:
        out.append(
            "the covariance of the random effects is singular (a variance at zero or "
            "a correlation of \u00b11): the data support a simpler random-effects model"
        )
    return out


def fit_mixed(
    y, X: pd.DataFrame, groups, month, reml: bool = True, start: FitInfo | None = None
) -> FitInfo | None:
    """Fit with random intercept + slope, optimizers in OPTIMIZERS order; fall back to a
    random intercept only. The first clean fit (converged, not on the boundary, finite
    SEs) wins; otherwise the last usable fit is returned with its problems listed.
    ``start``: a fit of the same data whose variance components start the optimizer."""

    y = np.asarray(y, dtype=float)
    t = np.asarray(month, dtype=float) / 12.0
    k = X.shape[1]
    Xa = X.to_numpy(dtype=float)
    fallback, slope_problems = None, []
    for slope in (True, False):
        Z = np.column_stack([np.ones_like(t), t]) if slope else np.ones((len(t), 1))
        for method in OPTIMIZERS:
            try:
                theta0 = start.theta if start is not None and start.random_slope == slope else None
                res = lmm.fit(y, Xa, groups, Z, reml=reml, method=method, theta0=theta0)
            except (np.linalg.LinAlgError, ValueError):
                continue
            params = pd.Series(res.fe_params, index=X.columns)
            cov = res.cov_fe[:k, :k]
            usable = (
                np.isfinite(params).all() and np.isfinite(cov).all() and (np.diag(cov) > 0).all()
            )
            if not usable:
                continue
            problems = _problems(res)
            if slope and not slope_problems:
                slope_problems = problems
            info = FitInfo(
                params=params,
                cov=pd.DataFrame(cov, index=X.columns, columns=X.columns),
                llf=float(res.llf),
                converged=res.converged,
                optimizer=method,
                random_slope=slope,
                problems=problems,
                theta=res.theta,
                slope_dropped_because="" if slope else "; ".join(slope_problems),
            )
            if not problems:
                return info
            if fallback is None or (info.converged and not fallback.converged):
                fallback = info
    return fallback


def _contrast_estimate(fit: FitInfo, L: np.ndarray) -> tuple[float, float]:
    est = float(L @ fit.params.to_numpy())
    se = float(np.sqrt(max(L @ fit.cov.to_numpy() @ L, 0.0)))
    return est, se


def _ci_p(est: float, se: float) -> tuple[float, float, float]:
    from scipy import stats as sps

    if not np.isfinite(se) or se <= 0:
        return np.nan, np.nan, np.nan
    return est - Z95 * se, est + Z95 * se, float(2 * sps.norm.sf(abs(est / se)))


def _slopes(fit: FitInfo | None, has_pre: bool) -> dict:
    """Pre- and post-IVIG slopes per month and their difference (two-slope model)."""
    out: dict = {}
    if fit is None:
        return out
    names = list(fit.params.index)
    for name, vec in (
        ("post", {"post": 1.0}),
        ("pre", {"pre": 1.0}),
        ("change", {"post": 1.0, "pre": -1.0}),
    ):
        if not has_pre and name != "post":
            continue
        L = np.array([vec.get(n, 0.0) for n in names]) / 12.0  # per month
        est, se = _contrast_estimate(fit, L)
        lo, hi, p = _ci_p(est, se)
        out[name] = {"estimate": est, "ci_low": lo, "ci_high": hi, "p": p}
    return out


def _fits(data: pd.DataFrame, has_pre: bool, knots: tuple[int, ...]):
    """The bent-line and two-slope REML fits and the likelihood-ratio test of the straight
    post-IVIG line (ML fits); ``None`` if the bent-line model cannot be fitted. Computed
    once per data and design within a process."""
    import hashlib

    digest = hashlib.sha256(
        pd.util.hash_pandas_object(data[["SUBJSEQ", "month", "value"]], index=False)
        .to_numpy()
        .tobytes()
    ).hexdigest()
    key = (digest, has_pre, knots)
    if key in _FITS:
        return _FITS[key]
    groups = data["SUBJSEQ"].to_numpy()
    y = data["value"].to_numpy()
    X = design(data["month"], has_pre, knots)
    main = fit_mixed(y, X, groups, data["month"])
    if main is None:
        return None
    X_lin = design(data["month"], has_pre)
    linear = fit_mixed(y, X_lin, groups, data["month"], start=main) if knots else main
    lr = {}
    if knots:
        ml_main = fit_mixed(y, X, groups, data["month"], reml=False, start=main)
        ml_lin = fit_mixed(y, X_lin, groups, data["month"], reml=False, start=linear)
        if ml_main is not None and ml_lin is not None:
            from scipy import stats as sps

            stat = max(2.0 * (ml_main.llf - ml_lin.llf), 0.0)
            lr = {"stat": stat, "df": len(knots), "p": float(sps.chi2.sf(stat, len(knots)))}
    _FITS.clear()  # keep one entry: registry-sized fits are small, but data keys are not
    _FITS[key] = (main, linear, lr)
    return _FITS[key]
