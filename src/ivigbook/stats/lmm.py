"""Linear mixed models with a random intercept (and slope) per patient, fitted fast.

The model is the one of ``statsmodels`` ``MixedLM`` and ``lme4``::

    y_i = X_i beta + Z_i b_i + e_i,   b_i ~ N(0, sigma^2 Lambda Lambda'),   e_i ~ N(0, sigma^2 I)

with ``q`` = 1 (random intercept) or 2 (intercept and slope) random effects per patient
and ``Lambda`` lower triangular (its entries ``theta``, diagonal >= 0). ``beta`` and
``sigma^2`` are profiled out and the REML or ML criterion is minimised over ``theta``
only, as in lme4 {Bates et al. 2015, section 3}: for each patient the ``q x q`` matrix
``Lambda' Z_i' Z_i Lambda + I`` and its Cholesky factor ``L_i`` give

* ``R_ZX,i = L_i^-1 Lambda' Z_i' X_i`` and ``c_u,i = L_i^-1 Lambda' Z_i' y_i``,
* ``R_X' R_X = X'X - sum R_ZX,i' R_ZX,i``; ``beta = (R_X' R_X)^-1 (X'y - sum R_ZX,i' c_u,i)``,
* the penalised residual sum of squares ``r^2 = y'y - sum |c_u,i|^2 - beta'(X'y - ...)``,
* deviance (-2 log-likelihood): ML ``sum log|L_i|^2 + n (1 + log(2 pi r^2 / n))``;
  REML ``sum log|L_i|^2 + log|R_X' R_X| + (n - p)(1 + log(2 pi r^2 / (n - p)))``;
  ``sigma^2 = r^2 / n`` (ML) or ``r^2 / (n - p)`` (REML); ``cov(beta) = sigma^2 (R_X' R_X)^-1``.

Only per-patient sums (``Z_i'Z_i``, ``Z_i'X_i``, ``Z_i'y_i``) enter, so the data are read
once and each evaluation costs ``O(patients x p^2)`` array operations: a model of a
100,000-patient registry is fitted in seconds where the per-patient loops of
``statsmodels`` take minutes. The tests check estimates, standard errors and
log-likelihoods against ``statsmodels``.

The optimizer's solution is polished by a few Newton steps (finite-difference gradient
and Hessian of the deviance in ``theta``), and convergence is judged on the result, not on
the optimizer's message, as lme4 does: the fit is *converged* when the scaled gradient
``chol(H)^-1 g`` (about the square root of the deviance still to gain) is below
:data:`GRAD_TOL` in every component not held at a zero lower bound; it is *on the
boundary* when a random-effect standard deviation is estimated at (nearly) zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GRAD_TOL = 2e-3  #: largest scaled gradient of a converged fit (lme4's default)
BOUNDARY = 1e-4  #: a diagonal theta below this: a variance at (nearly) zero
METHODS = {"lbfgs": "L-BFGS-B", "powell": "Powell"}


@dataclass
class LMMResult:
    """One fit: fixed effects with covariance, variance components, criterion."""

    fe_params: np.ndarray  # beta
    cov_fe: np.ndarray  # covariance of beta
    scale: float  # residual variance sigma^2
    cov_re: np.ndarray  # covariance of the random effects (q x q, data scale)
    theta: np.ndarray  # lower-triangular entries of Lambda, row by row
    llf: float  # log-likelihood (REML or ML, as fitted)
    reml: bool
    converged: bool
    boundary: bool
    gradient: float  # largest scaled gradient at the solution
    method: str


@dataclass
class _Sums:
    """Sufficient statistics of the data for the profiled criterion."""

    n: int
    p: int
    q: int
    XtX: np.ndarray  # p x p
    Xty: np.ndarray  # p
    yty: float
    ZtZ: np.ndarray  # G x q x q
    ZtX: np.ndarray  # G x q x p
    Zty: np.ndarray  # G x q


def sums(y, X, Z, groups) -> _Sums:
    """Per-group and global cross-products (rows need not be sorted by group)."""
    y = np.asarray(y, dtype=float)
    X = np.asarray(X, dtype=float)
    Z = np.asarray(Z, dtype=float).reshape(len(y), -1)
    g = np.asarray(groups)
    if len(g) and np.any(g[1:] < g[:-1]):
        order = np.argsort(g, kind="stable")
        y, X, Z, g = y[order], X[order], Z[order], g[order]
    start = np.flatnonzero(np.r_[True, g[1:] != g[:-1]]) if len(g) else np.array([], int)
    q, p = Z.shape[1], X.shape[1]
    ZtZ = np.empty((len(start), q, q))
    ZtX = np.empty((len(start), q, p))
    for j in range(q):
        ZtZ[:, j, :] = np.add.reduceat(Z * Z[:, j : j + 1], start, axis=0)
        ZtX[:, j, :] = np.add.reduceat(X * Z[:, j : j + 1], start, axis=0)
    Zty = np.add.reduceat(Z * y[:, None], start, axis=0)
    return _Sums(
        n=len(y), p=p, q=q, XtX=X.T @ X, Xty=X.T @ y, yty=float(y @ y), ZtZ=ZtZ, ZtX=ZtX, Zty=Zty
    )


def _lambda(theta: np.ndarray, q: int) -> np.ndarray:
    lam = np.zeros((q, q))
    lam[np.tril_indices(q)] = theta
    return lam


def _profile(theta: np.ndarray, s: _Sums, reml: bool):
    """Deviance at ``theta`` and what it profiles: (deviance, beta, RX'RX, r^2).

    The ``q x q`` algebra per patient is written out (q <= 2), so every step is one
    array operation over the patients."""
    if s.q == 1:
        l0 = theta[0]
        l11 = np.sqrt(l0 * l0 * s.ZtZ[:, 0, 0] + 1.0)
        R0 = s.ZtX[:, 0, :] * (l0 / l11)[:, None]
        u0 = l0 * s.Zty[:, 0] / l11
        logdet = 2.0 * np.log(l11).sum()
        RtR, Rtu, uu = R0.T @ R0, R0.T @ u0, u0 @ u0
    else:
        l0, l1, l2 = theta
        a00, a01, a11 = s.ZtZ[:, 0, 0], s.ZtZ[:, 0, 1], s.ZtZ[:, 1, 1]
        A00 = l0 * l0 * a00 + 2.0 * l0 * l1 * a01 + l1 * l1 * a11 + 1.0
        A10 = l2 * (l0 * a01 + l1 * a11)
        A11 = l2 * l2 * a11 + 1.0
        l11 = np.sqrt(A00)
        l21 = A10 / l11
        l22 = np.sqrt(np.maximum(A11 - l21 * l21, 1e-300))
        S0, S1 = s.ZtX[:, 0, :], s.ZtX[:, 1, :]
        R0 = (l0 * S0 + l1 * S1) / l11[:, None]  # L^-1 Lambda' Z'X, row 1
        R1 = (l2 * S1 - l21[:, None] * R0) / l22[:, None]  # row 2
        c0, c1 = s.Zty[:, 0], s.Zty[:, 1]
        u0 = (l0 * c0 + l1 * c1) / l11
        u1 = (l2 * c1 - l21 * u0) / l22
        logdet = 2.0 * (np.log(l11).sum() + np.log(l22).sum())
        RtR = R0.T @ R0 + R1.T @ R1
        Rtu = R0.T @ u0 + R1.T @ u1
        uu = u0 @ u0 + u1 @ u1
    XVX = s.XtX - RtR
    rhs = s.Xty - Rtu
    chol = np.linalg.cholesky(XVX)
    beta = np.linalg.solve(chol.T, np.linalg.solve(chol, rhs))
    r2 = max(s.yty - uu - rhs @ beta, 1e-300)
    if reml:
        dof = s.n - s.p
        dev = logdet + 2.0 * np.log(np.diag(chol)).sum() + dof * (1 + np.log(2 * np.pi * r2 / dof))
    else:
        dev = logdet + s.n * (1 + np.log(2 * np.pi * r2 / s.n))
    return float(dev), beta, XVX, r2


def _deviance(theta, s, reml) -> float:
    try:
        with np.errstate(all="ignore"):
            dev = _profile(np.asarray(theta, dtype=float), s, reml)[0]
    except np.linalg.LinAlgError:
        return np.inf
    return dev if np.isfinite(dev) else np.inf


def _lower(q: int) -> np.ndarray:
    """Lower bounds of theta: 0 on the diagonal of Lambda, none below it."""
    rows, cols = np.tril_indices(q)
    return np.where(rows == cols, 0.0, -np.inf)


def _central_gradient(theta, s, reml, lower, h=1e-6) -> np.ndarray:
    """Central-difference gradient of the deviance (one-sided at a lower bound)."""
    g = np.zeros(len(theta))
    for k in range(len(theta)):
        up, dn = theta.copy(), theta.copy()
        up[k] += h
        dn[k] = max(dn[k] - h, lower[k])
        g[k] = (_deviance(up, s, reml) - _deviance(dn, s, reml)) / (up[k] - dn[k])
    return g if np.isfinite(g).all() else np.zeros(len(theta))


def _hessian(theta, s, reml, free, h=1e-3) -> np.ndarray:
    """Central-difference Hessian of the deviance over the ``free`` components."""
    idx = np.flatnonzero(free)
    H = np.zeros((len(idx), len(idx)))
    f0 = _deviance(theta, s, reml)
    step = h * np.maximum(1.0, np.abs(theta))

    def f(di, dj, si, sj):
        x = theta.copy()
        x[di] += si * step[di]
        x[dj] += sj * step[dj]
        return _deviance(x, s, reml)

    for a, i in enumerate(idx):
        H[a, a] = (f(i, i, 0.5, 0.5) - 2 * f0 + f(i, i, -0.5, -0.5)) / step[i] ** 2
        for b in range(a):
            j = idx[b]
            H[a, b] = H[b, a] = (
                f(i, j, 1, 1) - f(i, j, 1, -1) - f(i, j, -1, 1) + f(i, j, -1, -1)
            ) / (4 * step[i] * step[j])
    return H


def _polish(theta, s, reml, lower, steps: int = 6) -> tuple[np.ndarray, float]:
    """Newton steps from the optimizer's solution; returns theta and its scaled gradient
    (``max |chol(H)^-1 g|`` over the components not held at a bound, lme4's check; the
    plain gradient when the Hessian is not positive definite)."""
    scaled = np.inf
    for _ in range(steps + 1):
        g = _central_gradient(theta, s, reml, lower)
        free = ~((theta <= lower + 1e-8) & (g > 0))  # at a bound and pushing into it: fixed
        if not free.any():
            return theta, 0.0
        H = _hessian(theta, s, reml, free)
        try:
            L = np.linalg.cholesky(H)
        except np.linalg.LinAlgError:
            return theta, float(np.max(np.abs(g[free])))
        scaled = float(np.max(np.abs(np.linalg.solve(L, g[free]))))
        if scaled < GRAD_TOL / 100:
            break
        trial = theta.copy()
        trial[free] -= np.linalg.solve(H, g[free])
        trial = np.maximum(trial, lower)
        if not _deviance(trial, s, reml) < _deviance(theta, s, reml):
            break
        theta = trial
    return theta, scaled


def fit(y, X, groups, Z, reml: bool = True, method: str = "lbfgs", theta0=None) -> LMMResult:
    """Fit the model by minimising the profiled deviance over theta with ``method``
    (``"lbfgs"`` or ``"powell"``, bounded). Raises ``ValueError`` on unusable input."""
    from scipy.optimize import minimize

    s = sums(y, X, Z, groups)
    if s.n <= s.p:
        raise ValueError("fewer observations than fixed effects")
    if np.linalg.matrix_rank(s.XtX) < s.p:
        raise ValueError("the fixed-effects design is rank deficient")
    lower = _lower(s.q)
    start = np.eye(s.q)[np.tril_indices(s.q)] if theta0 is None else np.asarray(theta0, float)
    bounds = [(lo if np.isfinite(lo) else None, None) for lo in lower]
    # the optimizer gets near; Newton steps (:func:`_polish`) finish the job
    opts = (
        {"ftol": 1e-10, "gtol": 1e-6, "maxiter": 500}
        if method == "lbfgs"
        else {"xtol": 1e-6, "ftol": 1e-10, "maxiter": 20000}
    )
    jac = (lambda th, *args: _central_gradient(th, s, reml, lower)) if method == "lbfgs" else None
    res = minimize(
        _deviance,
        start,
        args=(s, reml),
        method=METHODS[method],
        bounds=bounds,
        jac=jac,
        options=opts,
    )
    theta, grad = _polish(np.maximum(np.asarray(res.x, dtype=float), lower), s, reml, lower)
    dev, beta, XVX, r2 = _profile(theta, s, reml)
    scale = r2 / (s.n - s.p if reml else s.n)
    lam = _lambda(theta, s.q)
    diag = theta[[i * (i + 1) // 2 + i for i in range(s.q)]]
    return LMMResult(
        fe_params=beta,
        cov_fe=scale * np.linalg.inv(XVX),
        scale=float(scale),
        cov_re=scale * lam @ lam.T,
        theta=theta,
        llf=-dev / 2.0,
        reml=reml,
        converged=bool(np.isfinite(dev) and grad < GRAD_TOL),
        boundary=bool(np.any(diag < BOUNDARY)),
        gradient=float(grad),
        method=method,
    )
