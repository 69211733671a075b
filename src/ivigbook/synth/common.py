"""Shared machinery of the calibrated synthetic cohorts.

Everything here is deterministic: no wall clock, no dict/set iteration whose
order depends on hashing, explicit sort orders, fixed float formatting and
``\\n`` line endings. A generator passes a seeded :class:`numpy.random.Generator`
to the helpers that draw.

Contents
--------
* calendar-month date arithmetic (:func:`month_index`, :func:`month_date`,
  :func:`add_months`, :func:`offset_of`) with the same month convention as the
  analysis (DESIGN §4);
* printed-precision targets (:class:`Target`, :func:`printed_interval`) and a
  seeded integer local search (:func:`integer_search`) that nudges values by one
  unit until every target statistic rounds to its printed value;
* convenience solvers built on it (:func:`solve_mean_sd`);
* small fast statistics used *during* calibration (closed-form t statistics,
  Stata-style signed-rank p, a Newton logistic regression). The book's own
  :mod:`ivigbook.stats` is the authority; tests check both agree;
* writing a package deterministically (:func:`write_package`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats as _st

from ivigbook.data.schema import TABLES

# =============================================================== calendar months


def month_index(d: date) -> int:
    """``year*12 + month`` (the analysis' month index)."""
    return d.year * 12 + d.month


def offset_of(d: date, anchor: date) -> int:
    """Calendar-month offset of ``d`` from ``anchor`` (day of month ignored)."""
    return month_index(d) - month_index(anchor)


def days_in_month(year: int, month: int) -> int:
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    return (nxt - timedelta(days=1)).day


def month_date(anchor: date, offset: int, day: int) -> date:
    """The date on ``day`` (clamped to the month's length) of the month ``offset``
    calendar months after ``anchor``'s month."""
    m = month_index(anchor) + int(offset) - 1  # 0-based month count
    year, month = divmod(m, 12)
    month += 1
    return date(year, month, min(max(int(day), 1), days_in_month(year, month)))


def add_months(d: date, k: int) -> date:
    """``d`` shifted by ``k`` calendar months, same day (clamped to month end)."""
    return month_date(d, k, d.day)


def iso(d: date | None) -> str:
    return "" if d is None else d.isoformat()


# =============================================================== printed precision


def printed_interval(value: float, decimals: int, margin: float = 0.02) -> tuple[float, float]:
    """Open interval of numbers that print as ``value`` at ``decimals`` places.

    ``margin`` (a fraction of the half-width) keeps clear of the rounding
    boundary so that half-up, half-even and binary-representation rounding all
    agree.
    """
    h = 0.5 * 10.0 ** (-decimals)
    return value - h * (1 - margin), value + h * (1 - margin)


def prints_as(x: float, value: float, decimals: int) -> bool:
    """Does ``x`` round to ``value`` at ``decimals`` places (with the safety margin)?"""
    lo, hi = printed_interval(value, decimals)
    return lo < x < hi


@dataclass(frozen=True)
class Target:
    """One calibration target: a statistic of the state that must fall in [lo, hi].

    ``fn(x)`` returns the statistic; ``centre`` (default the middle) is where the
    search mildly pulls it; ``scale`` makes different statistics comparable
    (one unit of ``scale`` outside the interval costs 1).
    """

    name: str
    fn: Callable[[np.ndarray], float]
    lo: float
    hi: float
    centre: float | None = None
    scale: float = 1.0
    weight: float = 1.0
    pull: float = 1e-3  # weight of the (small) pull towards the centre

    @classmethod
    def printed(
        cls, name: str, fn: Callable[[np.ndarray], float], value: float, decimals: int, **kw
    ) -> Target:
        lo, hi = printed_interval(value, decimals)
        kw.setdefault("scale", 10.0 ** (-decimals))
        kw.setdefault("centre", value)
        return cls(name, fn, lo, hi, **kw)

    @classmethod
    def at_most(cls, name: str, fn, hi: float, scale: float = 1.0, **kw) -> Target:
        return cls(name, fn, -math.inf, hi, scale=scale, pull=0.0, **kw)

    @classmethod
    def at_least(cls, name: str, fn, lo: float, scale: float = 1.0, **kw) -> Target:
        return cls(name, fn, lo, math.inf, scale=scale, pull=0.0, **kw)

    def cost(self, x: np.ndarray) -> float:
        v = self.fn(x)
        if v is None or not np.isfinite(v):
            return 1e6 * self.weight
        if v < self.lo:
            out = (self.lo - v) / self.scale
        elif v > self.hi:
            out = (v - self.hi) / self.scale
        else:
            out = 0.0
        c = self.weight * (out * out + (out > 0) * 1.0)
        if self.pull and self.centre is not None:
            c += self.pull * ((v - self.centre) / self.scale) ** 2
        return c

    def ok(self, x: np.ndarray) -> bool:
        v = self.fn(x)
        return v is not None and bool(np.isfinite(v)) and self.lo <= v <= self.hi


def total_cost(targets: Sequence[Target], x: np.ndarray) -> float:
    return float(sum(t.cost(x) for t in targets))


def failing(targets: Sequence[Target], x: np.ndarray) -> list[str]:
    """Names (with values) of the targets not met."""
    out = []
    for t in targets:
        if not t.ok(x):
            out.append(f"{t.name}={t.fn(x):.6g} not in [{t.lo:.6g}, {t.hi:.6g}]")
    return out


class CalibrationError(RuntimeError):
    """A synthetic cohort could not be calibrated to its published targets."""


def integer_search(
    x0: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    targets: Sequence[Target],
    rng: np.random.Generator,
    *,
    extra_cost: Callable[[np.ndarray], float] | None = None,
    group_moves: Sequence[np.ndarray] = (),
    pair_blocks: Sequence[np.ndarray] = (),
    max_steps: int = 20000,
    max_kicks: int = 60,
    step: int = 1,
    singles: bool = True,
) -> np.ndarray:
    """Seeded first-improvement local search over integer vectors.

    Moves: every single coordinate by ``±step`` within [lo, hi], every index
    array of ``group_moves`` shifted together by ``±step``, and for each index
    array of ``pair_blocks`` every transfer of ``step`` from one member to
    another (keeps the block's sum: tunes an SD or a test statistic without
    disturbing a mean). ``singles=False`` keeps only the group and transfer
    moves, so every block sum stays fixed. The move order is
    reshuffled (by ``rng``) each pass; the first move that lowers the cost is
    taken. At a local minimum that still misses a target the state is kicked
    (a few random moves) and the search continues; the best state is returned.
    The cost is the sum of the targets' costs plus ``extra_cost(x)`` (soft
    realism terms); targets are met when every target's cost carries no
    "outside" part, checked with :func:`failing`.
    """
    x = np.asarray(x0, dtype=np.int64).copy()
    lo = np.asarray(lo, dtype=np.int64)
    hi = np.asarray(hi, dtype=np.int64)
    x = np.clip(x, lo, hi)
    n = len(x)

    def cost(v: np.ndarray) -> float:
        c = total_cost(targets, v)
        if extra_cost is not None:
            c += extra_cost(v)
        return c

    moves: list[tuple[np.ndarray, int]] = []
    for i in range(n if singles else 0):
        for s in (step, -step):
            moves.append((np.array([i]), s))
    for g in group_moves:
        g = np.asarray(g, dtype=np.int64)
        for s in (step, -step):
            moves.append((g, s))
    pair_moves: list[tuple[np.ndarray, np.ndarray]] = []
    for block in pair_blocks:
        block = [int(i) for i in block]
        for i in block:
            for j in block:
                if i != j:
                    pair_moves.append((np.array([i, j]), np.array([step, -step])))
    moves += pair_moves  # type: ignore[arg-type]

    cur = cost(x)
    # the best state: fewest missed targets first, then the lowest cost (soft terms may
    # outweigh a missed target's cost, so the cost alone does not rank states)
    best, best_key = x.copy(), (len(failing(targets, x)), cur)
    if not moves:
        return best
    kicks = 0
    steps = 0
    while steps < max_steps:
        improved = False
        for k in rng.permutation(len(moves)):
            idx, s = moves[k]
            y = x[idx] + s
            if np.any(y < lo[idx]) or np.any(y > hi[idx]):
                continue
            old = x[idx].copy()
            x[idx] = y
            c = cost(x)
            if c < cur - 1e-12:
                cur = c
                improved = True
                steps += 1
                break
            x[idx] = old
        if improved or kicks:
            key = (len(failing(targets, x)), cur)
            if key < best_key:
                best, best_key = x.copy(), key
        if not improved:
            if not failing(targets, x) or kicks >= max_kicks:
                break
            kicks += 1
            for _ in range(int(rng.integers(2, 6))):
                idx, s = moves[int(rng.integers(len(moves)))]
                y = x[idx] + s
                if np.all(y >= lo[idx]) and np.all(y <= hi[idx]):
                    x[idx] = y
            cur = cost(x)
    key = (len(failing(targets, x)), cur)
    if key < best_key:
        best = x.copy()
    return best


def solve_mean_sd(
    rng: np.random.Generator,
    n: int,
    mean: float,
    sd: float,
    decimals: int,
    lo: int,
    hi: int,
    unit: float = 1.0,
    init: np.ndarray | None = None,
    extra: Sequence[Target] = (),
    what: str = "sample",
) -> np.ndarray:
    """Integers ``k`` (values ``k*unit``) in [lo, hi] whose mean and SD print as given.

    Starts from ``init`` (in units) or a seeded normal draw, then runs
    :func:`integer_search` with the two printed-precision targets plus ``extra``.
    Raises :class:`CalibrationError` if it fails.
    """
    if init is None:
        init = np.rint(rng.normal(mean / unit, sd / unit, n))
    x0 = np.clip(np.asarray(init, dtype=np.int64), lo, hi)
    targets = [
        Target.printed(f"{what} mean", lambda v: float(np.mean(v)) * unit, mean, decimals),
        Target.printed(f"{what} sd", lambda v: float(np.std(v, ddof=1)) * unit, sd, decimals),
        *extra,
    ]
    out = integer_search(x0, np.full(n, lo), np.full(n, hi), targets, rng)
    bad = failing(targets, out)
    if bad:
        raise CalibrationError(f"{what}: " + "; ".join(bad))
    return out


def sums_for_mean(n: int, unit: float, value: float, decimals: int) -> list[int]:
    """Integer sums (in units) of ``n`` values whose mean prints as ``value``, closest first."""
    lo, hi = printed_interval(value, decimals)
    a, b = math.ceil(lo * n / unit - 1e-9), math.floor(hi * n / unit + 1e-9)
    sums = [k for k in range(a, b + 1) if lo < k * unit / n < hi]
    return sorted(sums, key=lambda k: (abs(k * unit / n - value), k))


def fix_sum(x: np.ndarray, total: int, lo: int, hi: int, rng: np.random.Generator) -> np.ndarray:
    """Move random elements by one unit (within [lo, hi]) until ``x`` sums to ``total``."""
    x = np.clip(np.asarray(x, dtype=np.int64).copy(), lo, hi)
    if not (lo * len(x) <= total <= hi * len(x)):
        raise CalibrationError(f"sum {total} impossible for {len(x)} values in [{lo}, {hi}]")
    while x.sum() != total:
        s = 1 if x.sum() < total else -1
        i = int(rng.integers(len(x)))
        if lo <= x[i] + s <= hi:
            x[i] += s
    return x


def solve_paired(
    rng: np.random.Generator,
    *,
    n_base: int,
    pair_idx: np.ndarray,
    unit: float,
    lo: int,
    hi: int,
    decimals: int,
    base: tuple[float, float],
    paired_base: tuple[float, float],
    follow: tuple[float, float],
    p_band: tuple[float, float],
    what: str,
    base_init: np.ndarray | None = None,
    change_sd: float | None = None,
    attempts: int = 12,
) -> tuple[np.ndarray, np.ndarray]:
    """Baseline values (``n_base``) and follow-up values (for ``pair_idx`` of them), in
    integer units of ``unit``, such that

    * all baselines print as ``base`` = (mean, SD), the paired subset as ``paired_base``;
    * the follow-up values print as ``follow`` = (mean, SD);
    * the paired Student t p-value of follow-up minus baseline lies in ``p_band``
      (the sign of the mean change follows ``follow`` minus ``paired_base``).

    Means are fixed first by choosing integer sums that print right (the closest
    to the published value); SDs and the t statistic are then tuned by transfer
    moves that keep those sums, in two stages (baselines, then follow-up).
    Restarts from a fresh draw if a stage fails; raises :class:`CalibrationError`
    after ``attempts`` draws.
    """
    pair_idx = np.asarray(pair_idx, dtype=np.int64)
    rest = np.setdiff1d(np.arange(n_base), pair_idx)
    npair = len(pair_idx)
    sign = 1.0 if follow[0] >= paired_base[0] else -1.0
    t_hi, t_lo = t_for_p(p_band[0], npair - 1), t_for_p(p_band[1], npair - 1)
    change_sd = change_sd if change_sd is not None else 0.7 * follow[1]
    all_sums = sums_for_mean(n_base, unit, base[0], decimals)
    pair_sums = sums_for_mean(npair, unit, paired_base[0], decimals)
    follow_sums = sums_for_mean(npair, unit, follow[0], decimals)

    def reachable(s_pair: int, s_follow: int) -> bool:
        # the t statistic fixes the sum of squared changes (in units) to a window; it
        # must hold an integer of the parity of the sum of changes (d*d = d mod 2)
        md = (s_follow - s_pair) / npair
        if md == 0:
            return False
        ss = [npair * md * md + (npair - 1) * npair * md * md / t**2 for t in (t_hi, t_lo)]
        lo_ss, hi_ss = math.ceil(min(ss)), math.floor(max(ss))
        parity = (s_follow - s_pair) % 2
        return any(k % 2 == parity for k in range(lo_ss, hi_ss + 1))

    combos = [
        (a, p, f)
        for a in all_sums
        for p in pair_sums
        for f in follow_sums
        if (len(rest) > 0 or a == p) and reachable(p, f)
    ]
    if not combos:
        raise CalibrationError(
            f"{what}: no integer sums print as the published means and allow the published p-value"
        )
    problems: list[str] = []
    for attempt in range(attempts):
        s_all, s_pair, s_follow = combos[attempt % len(combos)]
        if attempt == 0 and base_init is not None:
            b0 = np.rint(np.asarray(base_init, dtype=float))
        else:
            b0 = np.rint(rng.normal(base[0] / unit, base[1] / unit, n_base))
        b0 = np.clip(b0, lo, hi).astype(np.int64)
        b0[pair_idx] = fix_sum(b0[pair_idx], s_pair, lo, hi, rng)
        if len(rest):
            b0[rest] = fix_sum(b0[rest], s_all - s_pair, lo, hi, rng)
        t1 = [
            Target.printed(
                f"{what} baseline sd", lambda v: float(np.std(v, ddof=1)) * unit, base[1], decimals
            ),
            Target.printed(
                f"{what} paired baseline sd",
                lambda v: float(np.std(v[pair_idx], ddof=1)) * unit,
                paired_base[1],
                decimals,
            ),
        ]
        blocks = [pair_idx] + ([rest] if len(rest) > 1 else [])
        b = integer_search(
            b0,
            np.full(n_base, lo),
            np.full(n_base, hi),
            t1,
            rng,
            pair_blocks=blocks,
            singles=False,
            max_kicks=30,
        )
        problems = failing(t1, b)
        if problems:
            continue
        pb = b[pair_idx].astype(float)
        # bivariate-normal start: the correlation that gives the SD of the changes the
        # target t implies (regression to the mean included)
        delta = follow[0] - paired_base[0]
        sd_d = abs(delta) * math.sqrt(npair) / ((t_lo + t_hi) / 2) if delta else change_sd
        sb, sf = paired_base[1], follow[1]
        r = (sb**2 + sf**2 - sd_d**2) / (2 * sb * sf)
        if -0.95 < r < 0.98:
            z = (pb - pb.mean()) / max(float(np.std(pb, ddof=1)), 1e-9)
            f0 = (follow[0] + sf * (r * z + math.sqrt(1 - r * r) * rng.normal(0, 1, npair))) / unit
        else:
            f0 = pb + rng.normal(delta / unit, change_sd / unit, npair)
        f0 = fix_sum(np.rint(f0), s_follow, lo, hi, rng)
        t2 = [
            Target.printed(
                f"{what} follow-up sd",
                lambda v: float(np.std(v, ddof=1)) * unit,
                follow[1],
                decimals,
            ),
            Target(
                f"{what} paired t",
                lambda v: sign * paired_t_stat((v - pb) * unit),
                t_lo,
                t_hi,
                centre=(t_lo + t_hi) / 2,
                scale=0.02,
            ),
        ]
        f = integer_search(
            f0,
            np.full(npair, lo),
            np.full(npair, hi),
            t2,
            rng,
            pair_blocks=[np.arange(npair)],
            singles=False,
            max_kicks=30,
        )
        problems = failing(t2, f)
        if not problems:
            return b, f
    raise CalibrationError(f"{what}: " + "; ".join(problems))


# =============================================================== fast statistics


def t_for_p(p: float, df: float) -> float:
    """|t| whose two-sided p (df) is ``p``."""
    return float(_st.t.isf(p / 2.0, df))


def paired_t_stat(d: np.ndarray) -> float:
    """t statistic of the mean of differences (NaN if SD 0)."""
    n = len(d)
    if n < 2:
        return math.nan
    s = float(np.std(d, ddof=1))
    if s == 0:
        return math.nan
    return float(np.mean(d)) / (s / math.sqrt(n))


def t_p(t: float, df: float) -> float:
    return float(2 * _st.t.sf(abs(t), df))


def pooled_t_p(m1: float, s1: float, n1: int, m2: float, s2: float, n2: int) -> float:
    """Two-sided p of Student's t with pooled variance from summary statistics (``ttesti``)."""
    df = n1 + n2 - 2
    sp2 = ((n1 - 1) * s1 * s1 + (n2 - 1) * s2 * s2) / df
    se = math.sqrt(sp2 * (1.0 / n1 + 1.0 / n2))
    return t_p((m1 - m2) / se, df)


def corr_t(x: np.ndarray, y: np.ndarray) -> float:
    """t statistic of the slope of a simple linear regression of y on x (NaN if undefined)."""
    n = len(x)
    if n < 3:
        return math.nan
    xc = x - x.mean()
    yc = y - y.mean()
    sxx = float(xc @ xc)
    syy = float(yc @ yc)
    if sxx == 0 or syy == 0:
        return math.nan
    r = float(xc @ yc) / math.sqrt(sxx * syy)
    if abs(r) >= 1:
        return math.copysign(math.inf, r)
    return r * math.sqrt((n - 2) / (1 - r * r))


def signrank_p(d: np.ndarray) -> float:
    """Two-sided p of Stata's ``signrank`` (Pratt zeros, tie-corrected, no continuity)."""
    d = np.asarray(d, dtype=float)
    n = len(d)
    zero = d == 0
    n0 = int(zero.sum())
    if n == 0 or n0 == n:
        return 1.0
    r = _st.rankdata(np.abs(d))
    sp = float(r[d > 0].sum())
    e = (n * (n + 1) - n0 * (n0 + 1)) / 4
    var = float((r[~zero] ** 2).sum()) / 4
    return float(2 * _st.norm.sf(abs(sp - e) / math.sqrt(var)))


def _signrank_p_counts(n: int, counts: dict[int, int]) -> float:
    """Stata signrank p from counts of integer differences (closed form, no ranking)."""
    n0 = n - sum(counts.values())
    if n0 == n:
        return 1.0
    pos_sum = 0.0
    var4 = 0.0  # sum of squared ranks of the non-zero differences
    below = n0
    for a in sorted({abs(v) for v in counts}):
        k = counts.get(a, 0) + counts.get(-a, 0)
        if k == 0:
            continue
        r = below + (k + 1) / 2.0
        pos_sum += counts.get(a, 0) * r
        var4 += k * r * r
        below += k
    e = (n * (n + 1) - n0 * (n0 + 1)) / 4.0
    return math.erfc(abs(pos_sum - e) / math.sqrt(var4 / 4.0) / math.sqrt(2.0))


def signrank_designs(
    n: int, target: float, decimals: int, max_abs: int = 2, max_changed: int | None = None
) -> list[dict[int, int]]:
    """Every vector of counts of integer differences in [-max_abs, max_abs] (n pairs)
    whose signed-rank p prints as ``target``; as {difference: count} dicts, fewest
    total absolute change first, then fewest changed pairs. The p depends only on
    these counts."""
    vals = [v for v in range(-max_abs, max_abs + 1) if v != 0]
    out: list[tuple[int, int, tuple[int, ...]]] = []
    limit = n if max_changed is None else max_changed

    def rec(i: int, left: int, counts: list[int]):
        if i == len(vals):
            cd = {v: c for v, c in zip(vals, counts) if c}
            if prints_as(_signrank_p_counts(n, cd), target, decimals):
                size = sum(abs(v) * c for v, c in zip(vals, counts))
                out.append((size, sum(counts), tuple(counts)))
            return
        for c in range(0, left + 1):
            rec(i + 1, left - c, counts + [c])

    rec(0, limit, [])
    out.sort()
    return [{v: c for v, c in zip(vals, counts) if c} for _, _, counts in out]


def logit_wald(y: np.ndarray, x: np.ndarray) -> tuple[float, float]:
    """(odds ratio, Wald p) of a simple logistic regression by Newton's method.

    NaN for separation / no variation / non-convergence (as the book's
    ``stats.logistic_simple`` reports "not estimable").
    """
    y = np.asarray(y, dtype=float)
    x = np.asarray(x, dtype=float)
    keep = ~(np.isnan(x) | np.isnan(y))
    y, x = y[keep], x[keep]
    if len(y) < 3 or y.min() == y.max() or x.min() == x.max():
        return math.nan, math.nan
    levels = np.unique(x)
    if len(levels) == 2:
        for lv in levels:
            g = y[x == lv]
            if g.min() == g.max():
                return math.nan, math.nan
    X = np.column_stack([np.ones_like(x), x])
    b = np.zeros(2)
    for _ in range(100):
        eta = X @ b
        p = 1 / (1 + np.exp(-eta))
        w = p * (1 - p)
        H = X.T @ (X * w[:, None])
        g = X.T @ (y - p)
        try:
            step = np.linalg.solve(H, g)
        except np.linalg.LinAlgError:
            return math.nan, math.nan
        b = b + step
        if np.max(np.abs(step)) < 1e-10:
            break
    else:
        return math.nan, math.nan
    eta = X @ b
    p = 1 / (1 + np.exp(-eta))
    H = X.T @ (X * (p * (1 - p))[:, None])
    cov = np.linalg.inv(H)
    se = math.sqrt(cov[1, 1])
    if not np.isfinite(se) or se > 50:
        return math.nan, math.nan
    return math.exp(b[1]), float(2 * _st.norm.sf(abs(b[1] / se)))


# =============================================================== writing a package

#: Row order of each table (then every remaining column, for total determinism).
SORT_KEYS = {
    "patients": ["patient_id"],
    "infusions": ["patient_id", "start_date"],
    "measurements": ["patient_id", "date", "measure"],
    "medications": ["patient_id", "drug", "start_date", "stop_date"],
    "adverse_events": ["patient_id", "onset_date", "term"],
}


def format_cell(v, decimals: int | None = None) -> str:
    """Text of one cell: '' for missing, ISO dates, fixed decimals for floats."""
    if v is None:
        return ""
    if isinstance(v, float):
        if math.isnan(v):
            return ""
        if decimals is None:
            raise TypeError("float cell without a declared number of decimals")
        text = f"{v:.{decimals}f}"
        return "0" + text[2:] if text.startswith("-0") and float(text) == 0 else text
    if isinstance(v, (np.integer,)):
        return str(int(v))
    if isinstance(v, (np.floating,)):
        return format_cell(float(v), decimals)
    if isinstance(v, date):
        return v.isoformat()
    return str(v)


def _csv_field(text: str) -> str:
    if any(ch in text for ch in ',"\n\r'):
        return '"' + text.replace('"', '""') + '"'
    return text


def table_text(
    name: str,
    rows: Iterable[Mapping],
    float_decimals: Mapping[str, int] | None = None,
    value_decimals: Callable[[Mapping], int] | None = None,
) -> str:
    """CSV text of one contract table: schema column order, sorted rows, '\\n' endings.

    ``float_decimals`` maps float columns to their decimals; ``value_decimals(row)``
    gives the decimals of the ``value`` column of measurements per row (by measure).
    """
    columns = TABLES[name].column_names
    float_decimals = dict(float_decimals or {})
    lines = [",".join(columns)]
    rendered = []
    for row in rows:
        unknown = set(row) - set(columns)
        if unknown:
            raise KeyError(f"{name}: columns outside the contract: {sorted(unknown)}")
        cells = []
        for c in columns:
            v = row.get(c)
            dec = float_decimals.get(c)
            if c == "value" and value_decimals is not None:
                dec = value_decimals(row)
            cells.append(format_cell(v, dec))
        rendered.append(cells)
    keys = [columns.index(k) for k in SORT_KEYS[name]]
    rendered.sort(key=lambda cells: ([cells[k] for k in keys], cells))
    lines += [",".join(_csv_field(c) for c in cells) for cells in rendered]
    return "\n".join(lines) + "\n"


def write_text(path: Path, text: str) -> None:
    """Write UTF-8 text with '\\n' line endings (byte-stable across platforms)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)


def write_package(out_dir: str | Path, texts: Mapping[str, str]) -> list[Path]:
    """Write ``{file name: text}`` into ``out_dir`` (sorted by name); return the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in sorted(texts):
        p = out / name
        write_text(p, texts[name])
        paths.append(p)
    return paths


def frames_from_texts(texts: Mapping[str, str]) -> dict[str, pd.DataFrame]:
    """Raw string frames of the contract tables (for :meth:`Cohort.from_frames`)."""
    import io

    out = {}
    for name in TABLES:
        fname = f"{name}.csv"
        if fname in texts:
            out[name] = pd.read_csv(io.StringIO(texts[fname]), dtype=str, keep_default_na=False)
    return out
