"""Multiple imputation by chained equations with predictive mean matching, and Rubin's rules.

The engine of the imputation analysis (:mod:`ivigbook.chapters.imputation`): exact
vectorised donor search, chains updated in place, threads from ``PARALLEL_MIN_ROWS``
rows (bit-identical for any thread count).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

M_DEFAULT = 40  #: imputations (>= 100 x the largest fraction of missing information seen)


N_ITER = 10  #: chained-equation iterations per imputation


DONORS = 5  #: predictive-mean-matching donors


RIDGE = 1e-5


#: stream number of the imputation RNG (other analyses use other streams of the same seed)
STREAM = 1


MAX_WORKERS = 4  #: most threads running imputations (each chain holds copies of the data)


#: rows from which the imputations run on several threads (below, small array operations
#: dominate and threads only contend for the interpreter)
PARALLEL_MIN_ROWS = 12_000


@dataclass(frozen=True)
class RubinResult:
    """Rubin's rules for one scalar estimand."""

    estimate: float  # pooled estimate Q-bar
    within: float  # mean within-imputation variance U-bar
    between: float  # between-imputation variance B
    variance: float  # total variance T = U-bar + (1 + 1/m) B
    df: float  # Barnard-Rubin degrees of freedom
    ci_low: float
    ci_high: float
    p: float  # two-sided, H0: estimand = 0
    lam: float  # lambda = (1 + 1/m) B / T, proportion of variance due to missingness
    fmi: float  # fraction of missing information ((nu+1)/(nu+3)) lambda + 2/(nu+3)
    m: int

    @property
    def se(self) -> float:
        return float(np.sqrt(self.variance))


def rubin(estimates, variances, n: int, k: int = 1, conf: float = 0.95) -> RubinResult:
    """Pool ``m`` completed-data estimates and their variances (Rubin 1987).

    ``n`` is the complete-data sample size and ``k`` the number of parameters of the
    complete-data model, so the complete-data degrees of freedom are ``n - k``. Degrees of
    freedom as Barnard and Rubin (1999): ``nu = 1 / (1/nu_old + 1/nu_obs)`` with
    ``nu_old = (m-1)/lambda^2`` and ``nu_obs = (nu_com+1)/(nu_com+3) nu_com (1-lambda)``
    (``nu_old`` infinite when B = 0). FMI as in van Buuren (2018, eq. 2.24).
    """
    from scipy import stats as sps

    q = np.asarray(estimates, dtype=float)
    u = np.asarray(variances, dtype=float)
    m = q.size
    if m < 2 or u.size != m:
        raise ValueError("rubin() needs at least 2 estimates with one variance each")
    qbar = float(q.mean())
    ubar = float(u.mean())
    b = float(q.var(ddof=1))
    t = ubar + (1 + 1 / m) * b
    lam = (1 + 1 / m) * b / t if t > 0 else 0.0
    nu_com = float(n - k)
    nu_obs = (nu_com + 1) / (nu_com + 3) * nu_com * (1 - lam)
    nu_old = (m - 1) / lam**2 if lam > 0 else np.inf
    nu = (
        1 / (1 / nu_old + 1 / nu_obs) if nu_obs > 0 else (nu_old if np.isfinite(nu_old) else np.nan)
    )
    fmi = ((nu + 1) / (nu + 3)) * lam + 2 / (nu + 3) if np.isfinite(nu) else lam
    se = np.sqrt(t)
    if se > 0 and np.isfinite(nu):
        h = sps.t.ppf(0.5 + conf / 2, nu) * se
        p = float(2 * sps.t.sf(abs(qbar / se), nu))
    else:
        h, p = np.nan, np.nan
    return RubinResult(
        estimate=qbar,
        within=ubar,
        between=b,
        variance=t,
        df=float(nu),
        ci_low=qbar - h,
        ci_high=qbar + h,
        p=p,
        lam=float(lam),
        fmi=float(fmi),
        m=m,
    )


# ----------------------------------------------------------------------------- imputation
_FIT_LIMIT = 1e300


def _sort_orders(fit_obs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The sorted fitted values and two orders of the observed rows that sort them: ``asc``
    lists equal values by increasing row position, ``desc`` by decreasing row position."""
    order = np.argsort(fit_obs)  # ties come out in some fixed order; set below
    ordered = fit_obs[order]
    tied = ordered[1:] == ordered[:-1]
    if not tied.any():
        return ordered, order, order
    run = np.zeros(ordered.size, dtype=np.intp)
    np.cumsum(~tied, out=run[1:])
    member = np.zeros(ordered.size, dtype=bool)
    member[1:] |= tied
    member[:-1] |= tied
    idx = np.flatnonzero(member)  # sorted positions inside runs of equal values
    rows, runs = order[idx], run[idx]
    asc, desc = order.copy(), order.copy()
    asc[idx] = rows[np.lexsort((rows, runs))]
    desc[idx] = rows[np.lexsort((-rows, runs))]
    return ordered, asc, desc


def _rounding_ties(
    ordered: np.ndarray, fit_mis: np.ndarray, dist: np.ndarray, k: int
) -> np.ndarray:
    """Missing rows for which two *different* fitted values on the same side of the row's
    own value round to the same distance, equal to the k-th smallest one.

    Only then can the merge in :func:`_donors` pick another set than the exact search
    (within one side, distances then no longer order the rows by position). Two values
    ``a < b`` can round to the same ``|v - f|`` only if ``b - a <= 2 eps (|v|max + |f|max)``,
    so only such close neighbours of the sorted values are checked; they practically never
    occur with continuous fitted values.
    """
    flag = np.zeros(fit_mis.size, dtype=bool)
    if ordered.size < 2:
        return flag
    gap = np.diff(ordered)
    bound = (
        2 * np.finfo(float).eps * (max(abs(ordered[0]), abs(ordered[-1])) + np.abs(fit_mis).max())
    )
    close = np.flatnonzero((gap > 0) & (gap <= bound))
    if close.size == 0:
        return flag
    kth = np.partition(dist, k - 1, axis=1)[:, k - 1]
    for i in close:
        lo, hi = ordered[i], ordered[i + 1]
        d = np.abs(lo - fit_mis)
        flag |= (d == np.abs(hi - fit_mis)) & (d == kth) & ((lo >= fit_mis) | (hi < fit_mis))
    return flag


def _donors(
    fit_obs: np.ndarray, fit_mis: np.ndarray, k: int, choice: np.ndarray | None = None
) -> np.ndarray:
    """Positions (into the observed rows) of the ``k`` donors of every missing row: the
    observed rows whose fitted values are nearest to the row's predicted value ``f``, ties
    broken by the lower position - as a set, the first ``k`` of
    ``np.argsort(np.abs(fit_obs - f), kind="stable")``. Shape ``(n_mis, k)``; a row lists
    its donors below ``f`` (nearest first), then those at or above ``f`` (nearest first).
    With ``choice`` (one integer in ``[0, k)`` per missing row), only the chosen donor of
    every row, ``_donors(fit_obs, fit_mis, k)[i, choice[i]]``.

    Exact and vectorised: the observed fitted values are sorted once; the k nearest lie
    among the k sorted values on either side of the insertion point of ``f`` (taken from
    two sort orders so that equal values come by increasing position when walking away from
    ``f``), and how many come from below follows from comparing the i-th nearest below with
    the (k+1-i)-th nearest at or above by (distance, position). The rare rows that
    floating-point rounding could upset (:func:`_rounding_ties`) are searched by brute force.
    """
    fit_obs = np.asarray(fit_obs, dtype=float)
    fit_mis = np.asarray(fit_mis, dtype=float)
    n_obs = fit_obs.size
    if not 1 <= k <= n_obs:
        raise ValueError(f"need 1 <= k <= {n_obs} observed values, got k = {k}")
    if fit_mis.size == 0:
        return np.empty((0, k) if choice is None else 0, dtype=np.intp)
    # finite, and small enough that no distance overflows (NaN fails the test too)
    if not (np.abs(fit_obs).max() <= _FIT_LIMIT and np.abs(fit_mis).max() <= _FIT_LIMIT):
        raise ValueError("predictive mean matching needs finite fitted values")
    ordered, asc, desc = _sort_orders(fit_obs)
    by_f = np.argsort(fit_mis)  # sorted keys make the binary searches fast
    ins = np.empty(fit_mis.size, dtype=np.intp)
    ins[by_f] = np.searchsorted(ordered, fit_mis[by_f])  # ordered[ins-1] < f <= ordered[ins]
    padded = np.concatenate([np.full(k, -np.inf), ordered, np.full(k, np.inf)])
    # distances to the k sorted values below and the k at or above (inf beyond the ends)
    dist = sliding_window_view(padded, 2 * k)[ins]
    np.abs(np.subtract(dist, fit_mis[:, None], out=dist), out=dist)
    below, above = dist[:, :k], dist[:, k:]  # column t: the (k-t)-th below, the (t+1)-th above
    closer = below < above
    tie = below == above  # never both infinite, as k <= n_obs
    if tie.any():
        r, t = np.nonzero(tie)
        closer[r, t] = desc[ins[r] - k + t] < asc[ins[r] + t]
    n_below = closer.sum(axis=1)
    q = np.arange(k)[None, :] if choice is None else np.asarray(choice)
    if choice is None:
        n_below = n_below[:, None]
        ins = ins[:, None]
    lower = q < n_below
    at = ins + np.where(lower, -1 - q, q - n_below)
    out = np.where(lower, desc[at], asc[at]) if desc is not asc else asc[at]
    for i in np.flatnonzero(_rounding_ties(ordered, fit_mis, dist, k)):
        exact = np.argsort(np.abs(fit_obs - fit_mis[i]), kind="stable")[:k]
        out[i] = exact if choice is None else exact[q[i]]
    return out


def _pmm_step(
    xo: np.ndarray,
    xm: np.ndarray,
    col: int,
    others: np.ndarray,
    rng: np.random.Generator,
    donors: int,
) -> np.ndarray:
    """Draw imputations of column ``col`` of the missing rows ``xm`` by predictive mean
    matching (type 1) from a regression on the columns ``others`` (intercept included)
    fitted to the observed rows ``xo`` (both: rows of the design matrix, all columns)."""
    # one BLAS call (syrk) gives X'X and X'y; np.dot, unlike the @ operator, lets other
    # threads run meanwhile
    gram = np.dot(xo.T, xo)
    p = others.size
    inv = np.linalg.inv(gram[np.ix_(others, others)] + RIDGE * np.eye(p))
    beta = np.zeros(xo.shape[1])  # zero weight on the target column
    beta[others] = inv @ gram[others, col]
    yo = xo[:, col]
    fit_obs = np.dot(xo, beta)
    resid = yo - fit_obs
    # not resid @ resid: BLAS runs long dot products on several threads, which here
    # costs far more (waking them) than the sum itself
    sigma2 = float(np.square(resid).sum()) / rng.chisquare(max(yo.size - p, 1))
    chol = np.linalg.cholesky((inv + inv.T) / 2 * sigma2 + 1e-12 * np.eye(p))
    beta_star = beta.copy()
    beta_star[others] += chol @ rng.standard_normal(p)
    fit_mis = np.dot(xm, beta_star)
    k = min(donors, yo.size)
    return yo[_donors(fit_obs, fit_mis, k, rng.integers(k, size=fit_mis.size))]


@dataclass(frozen=True)
class _Target:
    """An incomplete column of the design matrix (column 0 is the intercept)."""

    col: int
    others: np.ndarray  # the regressors: every other column
    obs: np.ndarray  # rows where it is observed
    mis: np.ndarray  # rows where it is missing
    #: where its imputations go in the row blocks of each target that uses them:
    #: (target index, rows of its observed block, rows of its missing block, and the
    #: matching entries of this column's imputations)
    links: tuple


def _plan(miss: np.ndarray) -> list[_Target]:
    """The incomplete columns (with at least one observed value), left to right, given the
    missing-value mask of the data."""
    n, n_cols = miss.shape
    cols = [j for j in range(n_cols) if miss[:, j].any() and (~miss[:, j]).any()]
    obs = {j: np.flatnonzero(~miss[:, j]) for j in cols}
    mis = {j: np.flatnonzero(miss[:, j]) for j in cols}
    plan = []
    for j in cols:
        where = np.full(n, -1, dtype=np.intp)  # row -> entry of column j's imputations
        where[mis[j]] = np.arange(mis[j].size)
        links = []
        for i, t in enumerate(cols):
            eo, em = where[obs[t]], where[mis[t]]
            ro, rm = np.flatnonzero(eo >= 0), np.flatnonzero(em >= 0)
            if ro.size or rm.size:
                links.append((i, ro, eo[ro], rm, em[rm]))
        others = np.array([c for c in range(n_cols + 1) if c != j + 1])
        plan.append(_Target(j + 1, others, obs[j], mis[j], tuple(links)))
    return plan


def _blocks(values: np.ndarray, plan: list[_Target]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per incomplete column, its observed and its missing rows of the design matrix
    (intercept, then the data; missing entries still NaN), column-major."""
    design = np.empty((values.shape[0], values.shape[1] + 1), order="F")
    design[:, 0] = 1.0
    design[:, 1:] = values
    out = []
    for t in plan:
        pair = []
        for rows in (t.obs, t.mis):
            block = np.empty((rows.size, design.shape[1]), order="F")
            for j in range(design.shape[1]):
                block[:, j] = design[rows, j]
            pair.append(block)
        out.append(tuple(pair))
    return out


def _chain(
    values: np.ndarray,
    plan: list[_Target],
    template,
    seed: np.random.SeedSequence,
    n_iter: int,
    donors: int,
) -> np.ndarray:
    """One imputation: a chain of ``n_iter`` rounds over the incomplete columns.

    Each incomplete column keeps its observed and its missing rows of the design matrix as
    two blocks (copies of ``template``, from :func:`_blocks`); an imputed column is written
    into the blocks of every column that has those rows, so no round copies the whole matrix.
    """
    rng = np.random.default_rng(seed)
    blocks = [(xo.copy(order="F"), xm.copy(order="F")) for xo, xm in template]

    def put(t: _Target, new: np.ndarray) -> None:
        for i, ro, eo, rm, em in t.links:
            bo, bm = blocks[i]
            bo[ro, t.col] = new[eo]
            bm[rm, t.col] = new[em]

    for t in plan:  # start: random draws of the observed values
        put(t, rng.choice(values[t.obs, t.col - 1], size=t.mis.size, replace=True))
    for _ in range(n_iter):
        for t, (xo, xm) in zip(plan, blocks):
            put(t, _pmm_step(xo, xm, t.col, t.others, rng, donors))
    out = values.copy()
    for t, (_, xm) in zip(plan, blocks):
        out[t.mis, t.col - 1] = xm[:, t.col]
    return out


def _workers() -> int:
    """Cores available to this process, at most :data:`MAX_WORKERS`."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_WORKERS))


def chained_pmm(
    data: pd.DataFrame,
    m: int,
    seed: int,
    n_iter: int = N_ITER,
    donors: int = DONORS,
    stream: int = STREAM,
    workers: int | None = None,
) -> list[pd.DataFrame]:
    """``m`` completed copies of ``data`` (all columns numeric), imputed by chained
    equations with predictive mean matching; deterministic for a given ``seed``.

    The imputations are independent chains, each with its own random stream, run on
    ``workers`` threads (default: one below :data:`PARALLEL_MIN_ROWS` rows, else the
    available cores, at most :data:`MAX_WORKERS`); the result does not depend on their number.
    """
    values = data.to_numpy(dtype=float)
    miss = ~np.isfinite(values)
    if miss.all(axis=0).any():
        raise ValueError(
            "no observed value in column(s) " + ", ".join(map(str, data.columns[miss.all(axis=0)]))
        )
    plan = _plan(miss)
    template = _blocks(values, plan)
    children = np.random.SeedSequence([int(seed), int(stream)]).spawn(m)

    def run(child):
        return _chain(values, plan, template, child, n_iter, donors)

    if workers is None:
        workers = _workers() if len(values) >= PARALLEL_MIN_ROWS else 1
    workers = max(1, min(m, int(workers)))
    if workers == 1 or not plan:
        chains = [run(child) for child in children]
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:  # numpy releases the GIL
            chains = list(pool.map(run, children))
    return [pd.DataFrame(x, index=data.index, columns=data.columns) for x in chains]
