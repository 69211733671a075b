"""Simple logistic and linear regressions, one predictor at a time (as the paper)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as _st

from ivigbook.stats.tests import (
    CONF,
    NAN,
    _numeric,
    _numeric_fast,
    _Result,
    _tcrit,
    _two_sided_t,
    _zcrit,
)


# ================================================================ regression
@dataclass(frozen=True)
class LevelEstimate(_Result):
    """One coefficient of a regression (a level of a categorical predictor or
    the single slope)."""

    term: str
    n: int  # observations in this level (all cases for a continuous slope)
    n_events: int  # logistic: events in this level; linear: -1
    coef: float
    se: float
    estimate: float  # odds ratio (logistic) or coefficient (linear)
    ci_low: float
    ci_high: float
    p: float


@dataclass(frozen=True)
class LogitResult(_Result):
    """Simple logistic regression ``logit P(y=1) = a + b x``.

    For a continuous or binary predictor, or a categorical one with two levels,
    ``odds_ratio``/``ci_low``/``ci_high``/``p`` describe its single coefficient
    (95% Wald CI, Wald p). For a categorical predictor with more than two levels
    those are ``NaN`` except ``p``, which is the overall Wald test of all level
    coefficients (Stata ``testparm i.x``); per-level odds ratios are in
    ``levels`` and the likelihood-ratio alternative is ``p_overall_lr``.
    """

    n: int
    n_events: int
    predictor: str
    kind: str  # "continuous", "binary", "categorical"
    reference: str  # reference level of a categorical predictor ("" otherwise)
    odds_ratio: float
    ci_low: float
    ci_high: float
    p: float
    coef: float
    se: float
    p_lr: float  # likelihood-ratio test of the predictor (all levels)
    p_overall_wald: float
    df_overall: int
    levels: tuple[LevelEstimate, ...]
    converged: bool
    note: str = ""

    @property
    def p_overall_lr(self) -> float:
        return self.p_lr


@dataclass(frozen=True)
class LinearResult(_Result):
    """Simple linear regression ``y = a + b x`` (OLS).

    ``slope``/``ci_low``/``ci_high``/``p`` describe the single coefficient; for a
    categorical predictor with more than two levels they are ``NaN`` except
    ``p`` (overall F test, Stata ``testparm``); per-level effects in ``levels``.
    """

    n: int
    predictor: str
    kind: str
    reference: str
    slope: float
    se: float
    ci_low: float
    ci_high: float
    p: float
    intercept: float
    r2: float
    df_resid: float
    p_overall_f: float
    df_overall: int
    levels: tuple[LevelEstimate, ...]
    note: str = ""


def _is_categorical(values: pd.Series) -> bool:
    for v in values:
        if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
            continue
        if isinstance(v, (bool, np.bool_)):
            continue
        if isinstance(v, (int, float, np.integer, np.floating)):
            continue
        return True
    return False


def _design(x, categorical: bool | None, reference, name: str):
    """Return (kind, column values as object Series, reference)."""
    fast = _numeric_fast(x) if not categorical else None
    if fast is not None and not pd.api.types.is_bool_dtype(getattr(x, "dtype", None)):
        num = pd.Series(fast)
        return _numeric_kind(num), num, None
    s = (
        pd.Series(np.asarray(x, dtype=object))
        if not isinstance(x, pd.Series)
        else pd.Series(np.asarray(x.astype(object), dtype=object))
    )
    s = s.map(
        lambda v: (
            np.nan
            if v is None
            or v is pd.NA
            or (isinstance(v, float) and math.isnan(v))
            or (isinstance(v, str) and v.strip() == "")
            else v
        )
    )
    cat = _is_categorical(s) if categorical is None else bool(categorical)
    if cat:
        return "categorical", s, reference
    num = pd.to_numeric(
        s.map(lambda v: float(v) if isinstance(v, (bool, np.bool_)) else v), errors="raise"
    ).astype(float)
    return _numeric_kind(num), num, None


def _numeric_kind(num: pd.Series) -> str:
    """'binary' for a 0/1 variable with both values present, else 'continuous'."""
    vals = set(num.dropna().unique())
    return "binary" if vals <= {0.0, 1.0} and len(vals) == 2 else "continuous"


def _level_key(v) -> tuple:
    return (
        (0, float(v), "")
        if isinstance(v, (int, float, np.integer, np.floating))
        else (1, 0.0, str(v))
    )


def _prepare(y, x, categorical, reference, name):
    yv = _numeric(y, "y")
    kind, xs, ref = _design(x, categorical, reference, name)
    if len(yv) != len(xs):
        raise ValueError(f"y and {name} differ in length ({len(yv)} vs {len(xs)})")
    keep = ~np.isnan(yv) & ~xs.isna().to_numpy()
    yv = yv[keep]
    xs = xs[keep].reset_index(drop=True)
    if kind == "categorical":
        levels = sorted(set(xs), key=_level_key)
        if ref is None and levels:
            ref = levels[0]
        if levels and ref not in levels:
            raise ValueError(f"reference level {ref!r} not among the levels {levels}")
        others = [lv for lv in levels if lv != ref]
        X = (
            np.column_stack(
                [np.ones(len(xs))] + [(xs == lv).to_numpy(dtype=float) for lv in others]
            )
            if len(xs)
            else np.empty((0, 1 + len(others)))
        )
        terms = [f"{name}={lv}" for lv in others]
        groups = [(xs == lv).to_numpy() for lv in others]
        return kind, yv, X, terms, groups, str(ref) if ref is not None else "", levels
    xv = xs.to_numpy(dtype=float)
    X = np.column_stack([np.ones(len(xv)), xv])
    group = xv == 1 if kind == "binary" else np.ones(len(xv), dtype=bool)
    return kind, yv, X, [name], [group], "", sorted(set(xv))


def _nan_levels(terms, groups, yv, logistic: bool) -> tuple[LevelEstimate, ...]:
    return tuple(
        LevelEstimate(
            term=t,
            n=int(g.sum()),
            n_events=int(yv[g].sum()) if logistic else -1,
            coef=NAN,
            se=NAN,
            estimate=NAN,
            ci_low=NAN,
            ci_high=NAN,
            p=NAN,
        )
        for t, g in zip(terms, groups)
    )


def _separation(kind, yv, X, terms, groups, levels) -> str:
    """Describe (quasi-)complete separation of a simple logistic model, or ''."""
    if kind == "continuous":
        x = X[:, 1]
        x1, x0 = x[yv == 1], x[yv == 0]
        if x1.min() >= x0.max() or x1.max() <= x0.min():
            return "predictor separates the outcome (complete or quasi-complete separation)"
        return ""
    # binary / categorical: a level (or the reference) with all-0 or all-1 outcomes
    ref_mask = ~np.any(X[:, 1:] == 1, axis=1)
    cells = [("reference level", ref_mask)] + list(zip(terms, groups))
    for label, g in cells:
        ys = yv[g]
        if len(ys) and (ys.min() == ys.max()):
            what = "success" if ys[0] == 1 else "failure"
            return f"{label} predicts {what} perfectly (separation)"
    return ""


# ----------------------------------------------------- the two model fits (numpy)
@dataclass(frozen=True)
class _LogitFit:
    params: np.ndarray
    bse: np.ndarray
    cov: np.ndarray
    llf: float
    converged: bool
    perfect: bool  # fitted probabilities equal the outcomes at some iteration


def _logit_cdf(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


def _logit_newton(
    y: np.ndarray, X: np.ndarray, maxiter: int = 100, tol: float = 1e-8, ridge: float = 1e-10
) -> _LogitFit:
    """Maximum likelihood logistic regression by Newton-Raphson, step for step the
    algorithm of ``statsmodels`` ``Logit(y, X).fit(method="newton")`` (start at 0, the
    Hessian of the mean log-likelihood with a 1e-10 ridge, stop when no coefficient
    moves by more than ``tol``; covariance from the Hessian at the estimate), without
    importing statsmodels (most of a chapter's regression time)."""
    n = len(y)

    def information(p: np.ndarray) -> np.ndarray:  # Hessian of the mean -log-likelihood
        return (p * (1 - p) * X.T) @ X / n

    old = np.full(X.shape[1], np.inf)
    new = np.zeros(X.shape[1])
    iterations, perfect = 0, False
    with np.errstate(over="ignore"):
        while iterations < maxiter and np.any(np.abs(new - old) > tol):
            p = _logit_cdf(X @ new)
            H = information(p)
            H[np.diag_indices(H.shape[0])] += ridge
            old = new
            new = old - np.linalg.solve(H, -((y - p) @ X) / n)
            perfect = perfect or bool(np.allclose(_logit_cdf(X @ new) - y, 0))
            iterations += 1
        cov = np.linalg.inv(information(_logit_cdf(X @ new))) / n
        with np.errstate(divide="ignore"):
            llf = float(np.sum(np.log(_logit_cdf((2 * y - 1) * (X @ new)))))
    with np.errstate(invalid="ignore"):
        bse = np.sqrt(np.diag(cov))
    return _LogitFit(
        params=new, bse=bse, cov=cov, llf=llf, converged=iterations < maxiter, perfect=perfect
    )


@dataclass(frozen=True)
class _OLSFit:
    params: np.ndarray
    bse: np.ndarray
    df_resid: float
    rsquared: float
    f_pvalue: float


def _ols(y: np.ndarray, X: np.ndarray) -> _OLSFit:
    """Ordinary least squares with an intercept column first, as ``statsmodels``
    ``OLS(y, X).fit()`` computes it (pseudo-inverse, rank-based df, centred R² and the
    overall F test of the non-constant columns)."""
    pinv = np.linalg.pinv(X)
    params = pinv @ y
    resid = y - X @ params
    rank = np.linalg.matrix_rank(X)
    # numpy scalars: a perfect fit or no residual df gives inf/nan as in statsmodels
    df_resid, df_model = np.float64(len(y) - rank), np.float64(rank - 1)
    ssr = np.float64(resid @ resid)
    centred = y - y.mean()
    tss = np.float64(centred @ centred)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = ssr / df_resid
        bse = np.sqrt(np.diag(pinv @ pinv.T) * scale)
        rsquared = 1 - ssr / tss if tss > 0 else NAN
        f = ((tss - ssr) / df_model) / scale if df_model > 0 else NAN
    f_pvalue = float(_st.f.sf(f, df_model, df_resid)) if np.isfinite(f) else NAN
    return _OLSFit(
        params=params,
        bse=bse,
        df_resid=float(df_resid),
        rsquared=float(rsquared),
        f_pvalue=f_pvalue,
    )


def logistic_simple(
    y, x, *, categorical: bool | None = None, reference=None, name: str = "x", conf: float = CONF
) -> LogitResult:
    """Simple logistic regression of a 0/1 outcome on one predictor (Stata ``logistic``).

    ``x`` may be numeric (continuous, or 0/1/bool = binary) or categorical
    (strings; or force with ``categorical=True``). Categorical predictors get
    treatment dummies against ``reference`` (default: the first level in sorted
    order). Odds ratios with 95% Wald CIs (``exp(b +/- 1.96 se)``), Wald p, and
    the likelihood-ratio p. Never raises on degenerate data: see the module
    docstring.
    """
    kind, yv, X, terms, groups, ref, levels = _prepare(y, x, categorical, reference, name)
    if len(yv) and not set(np.unique(yv)) <= {0.0, 1.0}:
        raise ValueError("y must be coded 0/1 (or boolean)")
    n, k = len(yv), X.shape[1] - 1
    n_events = int(yv.sum()) if n else 0

    def empty(note: str, converged: bool = False) -> LogitResult:
        return LogitResult(
            n=n,
            n_events=n_events,
            predictor=name,
            kind=kind,
            reference=ref,
            odds_ratio=NAN,
            ci_low=NAN,
            ci_high=NAN,
            p=NAN,
            coef=NAN,
            se=NAN,
            p_lr=NAN,
            p_overall_wald=NAN,
            df_overall=k,
            levels=_nan_levels(terms, groups, yv, True),
            converged=converged,
            note=note,
        )

    if n == 0:
        return empty("no complete cases")
    if yv.min() == yv.max():
        return empty(f"outcome does not vary (all {int(yv[0])})")
    if len(levels) < 2:
        return empty("predictor does not vary")
    sep = _separation(kind, yv, X, terms, groups, levels)
    if sep:
        return empty(sep)
    try:
        fit = _logit_newton(yv, X)
    except (np.linalg.LinAlgError, ValueError) as exc:
        return empty(f"model could not be fitted: {type(exc).__name__}")
    params, bse = fit.params, fit.bse
    if fit.perfect or not fit.converged or not np.all(np.isfinite(bse[1:])):
        return empty("model did not converge (possible separation)", converged=False)
    z = _zcrit(conf)
    lv = []
    for j, (t, g) in enumerate(zip(terms, groups), start=1):
        b, se = float(params[j]), float(bse[j])
        lv.append(
            LevelEstimate(
                term=t,
                n=int(g.sum()),
                n_events=int(yv[g].sum()),
                coef=b,
                se=se,
                estimate=math.exp(b),
                ci_low=math.exp(b - z * se),
                ci_high=math.exp(b + z * se),
                p=float(2 * _st.norm.sf(abs(b / se))),
            )
        )
    b = params[1:]
    V = fit.cov[1:, 1:]
    wald = float(b @ np.linalg.solve(V, b))
    p_wald = float(_st.chi2.sf(wald, k))
    # null (intercept-only) log-likelihood in closed form
    p_lr = float(
        _st.chi2.sf(
            2
            * (
                fit.llf
                - (n_events * math.log(n_events / n) + (n - n_events) * math.log1p(-n_events / n))
            ),
            k,
        )
    )
    if k == 1:
        one = lv[0]
        return LogitResult(
            n=n,
            n_events=n_events,
            predictor=name,
            kind=kind,
            reference=ref,
            odds_ratio=one.estimate,
            ci_low=one.ci_low,
            ci_high=one.ci_high,
            p=one.p,
            coef=one.coef,
            se=one.se,
            p_lr=p_lr,
            p_overall_wald=p_wald,
            df_overall=1,
            levels=tuple(lv),
            converged=True,
        )
    return LogitResult(
        n=n,
        n_events=n_events,
        predictor=name,
        kind=kind,
        reference=ref,
        odds_ratio=NAN,
        ci_low=NAN,
        ci_high=NAN,
        p=p_wald,
        coef=NAN,
        se=NAN,
        p_lr=p_lr,
        p_overall_wald=p_wald,
        df_overall=k,
        levels=tuple(lv),
        converged=True,
        note=f"{k + 1} levels: p is the overall Wald test ({k} df); "
        "odds ratios per level in `levels`",
    )


def linear_simple(
    y, x, *, categorical: bool | None = None, reference=None, name: str = "x", conf: float = CONF
) -> LinearResult:
    """Simple linear regression of ``y`` on one predictor (Stata ``regress``).

    Slope with a t-based 95% CI and p. Categorical predictors as in
    :func:`logistic_simple`, with the overall F test (``testparm``) as ``p``
    when there are more than two levels.
    """
    kind, yv, X, terms, groups, ref, levels = _prepare(y, x, categorical, reference, name)
    n, k = len(yv), X.shape[1] - 1

    def empty(note: str) -> LinearResult:
        return LinearResult(
            n=n,
            predictor=name,
            kind=kind,
            reference=ref,
            slope=NAN,
            se=NAN,
            ci_low=NAN,
            ci_high=NAN,
            p=NAN,
            intercept=NAN,
            r2=NAN,
            df_resid=max(n - k - 1, 0),
            p_overall_f=NAN,
            df_overall=k,
            levels=_nan_levels(terms, groups, yv, False),
            note=note,
        )

    if n == 0:
        return empty("no complete cases")
    if len(levels) < 2:
        return empty("predictor does not vary")
    if n - k - 1 < 1:
        return empty(f"too few cases ({n}) for {k + 1} parameters: no residual df")
    ols = _ols(yv, X)
    params, bse = ols.params, ols.bse
    p_f = ols.f_pvalue if np.isfinite(ols.f_pvalue) else NAN
    r2 = ols.rsquared if np.isfinite(ols.rsquared) else NAN
    df = ols.df_resid
    tc = _tcrit(df, conf)
    note = ""
    if np.allclose(yv, yv[0]):
        note = "outcome does not vary: coefficients 0, tests undefined"
        p_f = r2 = NAN
    lv = []
    for j, (t, g) in enumerate(zip(terms, groups), start=1):
        b, se = float(params[j]), float(bse[j])
        p = _two_sided_t(b / se, df) if se > 1e-12 * max(1.0, abs(b)) and not note else NAN
        lv.append(
            LevelEstimate(
                term=t,
                n=int(g.sum()),
                n_events=-1,
                coef=b,
                se=se,
                estimate=b,
                ci_low=b - tc * se,
                ci_high=b + tc * se,
                p=p,
            )
        )
    if k == 1:
        one = lv[0]
        return LinearResult(
            n=n,
            predictor=name,
            kind=kind,
            reference=ref,
            slope=one.coef,
            se=one.se,
            ci_low=one.ci_low,
            ci_high=one.ci_high,
            p=one.p,
            intercept=float(params[0]),
            r2=r2,
            df_resid=df,
            p_overall_f=p_f,
            df_overall=1,
            levels=tuple(lv),
            note=note,
        )
    return LinearResult(
        n=n,
        predictor=name,
        kind=kind,
        reference=ref,
        slope=NAN,
        se=NAN,
        ci_low=NAN,
        ci_high=NAN,
        p=p_f,
        intercept=float(params[0]),
        r2=r2,
        df_resid=df,
        p_overall_f=p_f,
        df_overall=k,
        levels=tuple(lv),
        note=note
        or f"{k + 1} levels: p is the overall F test ({k} df); effects per level in `levels`",
    )
