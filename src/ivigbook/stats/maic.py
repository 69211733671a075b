"""Matching-adjusted indirect comparison (MAIC): method-of-moments weights, effective
sample size, and the intervals of a weighted mean against a published comparator
(bootstrap, robust, M-estimation sandwich). The chapter that uses it is
:mod:`ivigbook.chapters.maic`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

B_DEFAULT = 1000


Z95 = 1.959963984540054


#: default of params.maic_max_failed_share: above this share of failed resamples the
#: bootstrap CI is flagged
MAX_FAILED = 0.10


#: largest outcome analysis set (patients) analysed with the bootstrap; above it the
#: M-estimation sandwich interval is used (see the module docstring)
BOOTSTRAP_MAX_N = 2_000


TOL = 1e-10  #: convergence: largest |weighted mean - target| in SD units


A_MAX = 50.0  #: |coefficient| per SD beyond which the weights are taken to diverge


_EIGHT_EPS = 8 * np.finfo(float).eps  #: round-off allowance of the line search (per unit of f)


class NotEstimable(ValueError):
    """No weights reproduce the targets."""


def ess(weights) -> float:
    """Effective sample size ``(sum w)^2 / sum w^2``."""
    w = np.asarray(weights, dtype=float)
    return float(w.sum() ** 2 / (w**2).sum())


def _solve(
    Z: np.ndarray, a0: np.ndarray | None = None, max_iter: int = 60, roundoff_guard: bool = True
) -> np.ndarray:
    """Minimiser ``a`` of log sum exp(Z a) (Newton, step halving); NotEstimable if none.

    With ``roundoff_guard`` the sufficient-decrease test allows for the rounding error of
    the objective (a few ulps of ``log sum exp``). Without it, once the Newton decrement
    falls below that error (gradient ~1e-8) every full step is rejected, the accepted
    ones are negligible, and the solver stalls above :data:`TOL` until ``max_iter`` and
    reports a spurious :class:`NotEstimable` - in about 1% of warm-started resamples of
    30,000 patients, and in a few per thousand of the reference cohorts' resamples (which
    then counted as failed). The guard is on by default; ``False`` gives the unguarded
    test (kept for the test that shows the stall)."""
    a = np.zeros(Z.shape[1]) if a0 is None else np.array(a0, dtype=float)
    ridge = 1e-14 * np.eye(len(a))

    def logq(a):
        """log sum exp(Z a), Z a, and exp(Z a - max) with its sum (reused as the weights)."""
        s = Z @ a
        mx = s.max()
        e = np.exp(s - mx)
        total = e.sum()
        return mx + np.log(total), e, total

    f, e, total = logq(a)
    for _ in range(max_iter):
        w = e / total
        g = Z.T @ w  # weighted mean of Z
        if np.abs(g).max() < TOL:
            return a
        if np.abs(a).max() > A_MAX:
            break
        H = (Z * w[:, None]).T @ Z - np.outer(g, g)  # weighted covariance of Z
        try:
            step = np.linalg.solve(H + ridge, g)
        except np.linalg.LinAlgError:
            break
        lam = 1.0
        slack = _EIGHT_EPS * max(1.0, abs(f)) if roundoff_guard else 0.0
        gs = g @ step
        while lam > 1e-10:
            trial = a - lam * step
            f_new, e_new, total_new = logq(trial)
            if f_new <= f - 1e-4 * lam * gs + slack:
                break
            lam /= 2
        else:
            break
        a, f, e, total = trial, f_new, e_new, total_new
    raise NotEstimable(
        "no weighting of the IVIG patients matches all of the comparator's published means at once"
    )


def _standardise(X, target) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=float)
    t = np.asarray(target, dtype=float)
    if X.ndim != 2 or X.shape[1] != t.size or X.shape[0] < 2:
        raise NotEstimable("need at least 2 patients and one target per covariate")
    lo, hi = X.min(axis=0), X.max(axis=0)
    if np.any(t <= lo) or np.any(t >= hi):
        raise NotEstimable("a published mean lies outside the range of the IVIG patients' values")
    Z = X - t
    sd = Z.std(axis=0)
    return Z / sd, sd


def mom_weights(X, target, a0=None, return_coef: bool = False, roundoff_guard: bool = True):
    """Method-of-moments MAIC weights, normalised to sum to n: the weighted column means of
    ``X`` equal ``target``. Raises :class:`NotEstimable` when no such weights exist (a
    target outside the patients' range or their convex hull, detected as a diverging
    solution: coefficients beyond ``A_MAX`` per SD of a covariate). ``a0`` warm-starts
    Newton's method (coefficients per SD); ``return_coef`` also returns them;
    ``roundoff_guard`` is passed to the solver (see :func:`_solve`)."""
    Z, _ = _standardise(X, target)
    a = _solve(Z, a0, roundoff_guard=roundoff_guard)
    s = Z @ a
    w = np.exp(s - s.max())
    w = w * len(w) / w.sum()
    return (w, a) if return_coef else w


def robust_var(y, w) -> float:
    """Robust (sandwich, HC0) variance of the weighted mean of ``y`` with the weights
    treated as known, as Signorovitch et al. (2010): sum w^2 (y - mu)^2 / (sum w)^2.
    Ignoring the estimation of the weights usually makes it conservative. (The
    M-estimation sandwich that accounts for it, :func:`sandwich_var`, is far too small
    when the effective sample size is barely above the number of covariates, as in the
    reference cohorts; it is used only for large analysis sets.)"""
    y = np.asarray(y, dtype=float)
    w = np.asarray(w, dtype=float)
    mu = (w @ y) / w.sum()
    return float((w**2) @ (y - mu) ** 2 / w.sum() ** 2)


def sandwich_var(X, y, target, w) -> float:
    """M-estimation (sandwich, HC0) variance of the weighted mean of ``y`` that accounts
    for the estimation of the method-of-moments weights ``w`` (from :func:`mom_weights`
    with the same ``X`` and ``target``) {Signorovitch et al. 2010; NICE DSU TSD 18}.

    With ``Z`` the covariates centred on the targets, the weights ``w_i = exp(Z_i a)`` and
    the weighted mean ``mu`` solve the stacked estimating equations
    ``sum_i w_i Z_i = 0`` (p equations) and ``sum_i w_i (y_i - mu) = 0``. The sandwich
    ``A^-1 M A^-T`` (bread ``A`` = derivative of the equations in ``(a, mu)``, meat ``M`` =
    sum of their outer products) has as its ``mu`` element ``sum_i phi_i^2`` with
    influence ``phi_i = w_i / sum(w) * (y_i - mu - Z_i g)``, where ``g`` = (sum w Z Z')^-1
    sum w Z (y - mu) is the weighted least-squares slope of ``y`` on the matched
    covariates. It is :func:`robust_var` with ``y - mu`` replaced by the residuals of that
    regression: estimating the weights removes the part of the outcome's variation that
    the matched covariates explain."""
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    wn = np.asarray(w, dtype=float)
    wn = wn / wn.sum()
    Z, _ = _standardise(X, target)  # scaling the columns changes nothing
    mu = wn @ y
    Zw = Z * wn[:, None]
    try:
        g = np.linalg.solve(Zw.T @ Z, Zw.T @ (y - mu))
    except np.linalg.LinAlgError:  # fewer patients than covariates
        g = np.linalg.pinv(Zw.T @ Z) @ (Zw.T @ (y - mu))
    e = y - mu - Z @ g
    return float((wn**2) @ e**2)


def _weighted(w: np.ndarray, wn: np.ndarray, X: np.ndarray, y: np.ndarray, diff: float) -> dict:
    """What every estimable comparison reports of its weights and weighted outcome."""
    return {
        "estimable": True,
        "weights": w,
        "ess": ess(w),
        "after": wn @ X,
        "max_weight_pct": 100.0 * wn.max(),
        "weighted_mean": float(wn @ y),
        "diff": diff,
    }


def compare_one(
    d: pd.DataFrame,
    tgt: dict[str, float],
    comp_mean: float,
    comp_sd: float,
    comp_n: int,
    rng: np.random.Generator,
    B: int = B_DEFAULT,
    max_boot_n: int = BOOTSTRAP_MAX_N,
) -> dict:
    """MAIC of one comparator at one visit (``d`` from :func:`outcome_data`).

    Up to ``max_boot_n`` patients: seeded bootstrap (robust fallback); above it: the
    large-sample M-estimation sandwich interval, without drawing from ``rng``
    (:func:`_compare_large`)."""
    qs = list(tgt)
    X = d[qs].to_numpy(float)
    y = d["CHG"].to_numpy(float)
    t = np.array([tgt[q] for q in qs])
    n = len(d)
    out = {
        "n": n,
        "unadj_mean": y.mean() if n else np.nan,
        "unadj_diff": (y.mean() - comp_mean) if n else np.nan,
        "before": X.mean(axis=0) if n else np.full(len(qs), np.nan),
        "quantities": qs,
        "targets": t,
        "estimable": False,
        "reason": "",
    }
    se_c = comp_sd / np.sqrt(comp_n)
    if n > max_boot_n:
        return _compare_large(out, X, y, t, comp_mean, se_c)
    out["unadj_ci_method"] = "bootstrap"
    # bootstrap draws are made whether or not the point estimate exists, so a comparison's
    # random stream never depends on another's outcome
    idx = rng.integers(0, max(n, 1), size=(B, max(n, 1)))
    comp_draw = comp_mean + se_c * rng.standard_normal(B)
    if n < 2:
        out["reason"] = "fewer than 2 IVIG patients have a value at this visit"
        return out
    un = y[idx].mean(axis=1) - comp_draw
    out["unadj_ci_low"], out["unadj_ci_high"] = np.percentile(un, [2.5, 97.5])
    try:
        w, a = mom_weights(X, t, return_coef=True)
    except NotEstimable as exc:
        out["reason"] = str(exc)
        return out
    wn = w / w.sum()
    diff = float(wn @ y - comp_mean)
    boot = np.full(B, np.nan)
    for b in range(B):
        try:
            wb = mom_weights(X[idx[b]], t, a0=a)
        except NotEstimable:
            continue
        boot[b] = (wb @ y[idx[b]]) / wb.sum() - comp_draw[b]
    ok = np.isfinite(boot)
    se_s = np.sqrt(robust_var(y, w) + se_c**2)
    failed = int((~ok).sum())
    boot_lo, boot_hi = np.percentile(boot[ok], [2.5, 97.5]) if ok.sum() >= 20 else (np.nan, np.nan)
    sand_lo, sand_hi = diff - Z95 * se_s, diff + Z95 * se_s
    use_boot = failed <= MAX_FAILED * B and np.isfinite(boot_lo)
    se_m = np.sqrt(sandwich_var(X, y, t, w) + se_c**2)
    out.update(
        {
            **_weighted(w, wn, X, y, diff),
            "boot_failed": failed,
            "boot_ci_low": boot_lo,
            "boot_ci_high": boot_hi,
            "boot_se": float(np.std(boot[ok], ddof=1)) if ok.sum() >= 2 else np.nan,
            "robust_ci_low": sand_lo,
            "robust_ci_high": sand_hi,
            "sandwich_se": float(se_m),
            "sandwich_ci_low": diff - Z95 * se_m,
            "sandwich_ci_high": diff + Z95 * se_m,
            "ci_method": "bootstrap" if use_boot else "robust",
            "ci_low": boot_lo if use_boot else sand_lo,
            "ci_high": boot_hi if use_boot else sand_hi,
        }
    )
    return out


def _compare_large(
    out: dict, X: np.ndarray, y: np.ndarray, t: np.ndarray, comp_mean: float, se_c: float
) -> dict:
    """Large-sample MAIC (more than :data:`BOOTSTRAP_MAX_N` patients): normal intervals
    from the M-estimation sandwich (:func:`sandwich_var`) and, for the unadjusted
    difference, ``sqrt(var(y)/n + se_c^2)``. No random draws, nothing of size ``B x n``;
    the bootstrap quantities are NaN."""
    n = len(y)
    out.update(
        {
            "unadj_ci_method": "normal",
            "boot_failed": np.nan,
            "boot_ci_low": np.nan,
            "boot_ci_high": np.nan,
            "boot_se": np.nan,
        }
    )
    if n < 2:
        out["reason"] = "fewer than 2 IVIG patients have a value at this visit"
        return out
    se_u = np.sqrt(y.var(ddof=1) / n + se_c**2)
    out["unadj_ci_low"] = out["unadj_diff"] - Z95 * se_u
    out["unadj_ci_high"] = out["unadj_diff"] + Z95 * se_u
    try:
        w = mom_weights(X, t)
    except NotEstimable as exc:
        out["reason"] = str(exc)
        return out
    wn = w / w.sum()
    diff = float(wn @ y - comp_mean)
    se_r = np.sqrt(robust_var(y, w) + se_c**2)
    se_m = np.sqrt(sandwich_var(X, y, t, w) + se_c**2)
    lo, hi = diff - Z95 * se_m, diff + Z95 * se_m
    out.update(
        {
            **_weighted(w, wn, X, y, diff),
            "robust_ci_low": diff - Z95 * se_r,
            "robust_ci_high": diff + Z95 * se_r,
            "sandwich_se": float(se_m),
            "sandwich_ci_low": lo,
            "sandwich_ci_high": hi,
            "ci_method": "sandwich",
            "ci_low": lo,
            "ci_high": hi,
        }
    )
    return out
