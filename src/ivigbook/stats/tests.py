"""The paper's statistical tests (DESIGN §4) with Stata 13 semantics.

Poelman et al. (J Rheumatol 2015) analysed their cohort in Stata 13. Every
function here reproduces one Stata command on the same numbers and returns a
small frozen dataclass that carries every quantity a table or the narrative
needs (counts, estimates, confidence interval, statistic, degrees of freedom,
p-value) plus a ``note`` that explains any degenerate case in words.

===============================  ==========================================
function                          Stata equivalent
===============================  ==========================================
:func:`paired_t`                  ``ttest after == before``
:func:`signrank`                  ``signrank after = before``
:func:`ttest1_summary`            ``ttesti n mean sd 0`` (one-sample)
:func:`ttest_summary`             ``ttesti n1 m1 s1 n2 m2 s2`` [, unequal]
:func:`proportion_ttest_summary`  ``ttesti`` on 0/1 data; ``tabi, chi2 exact``
:func:`proportion_test`           the same from counts
:func:`logistic_simple`           ``logistic y x`` / ``logistic y i.x`` + ``testparm``
:func:`linear_simple`             ``regress y x`` / ``regress y i.x``
:func:`mean_ci`                   ``ci means x``
===============================  ==========================================

Conventions
-----------
* **Direction.** Paired differences are ``after - before`` (a change; negative
  = the score fell). Stata's ``ttest before == after`` reports the opposite
  sign; the p-value and the width of the interval are identical.
* **Missing values.** ``None``/``NaN``/``pd.NA`` are allowed anywhere. Paired
  functions keep only complete pairs (a missing side drops the pair); the
  regressions keep complete cases. ``n`` always counts what was analysed.
  Inputs are paired by position, not by pandas index.
* **Degenerate input never raises.** Results carry ``NaN`` and a ``note``:

  - no complete pairs / cases: everything ``NaN``;
  - ``paired_t`` with ``n < 2``: means reported, test ``NaN``;
    all differences identical (SD of the differences 0): ``t`` and ``p`` are
    ``NaN`` (Stata prints a missing t), the CI collapses to the mean;
  - ``signrank`` with every difference zero: ``z = NaN`` and **p = 1.0**
    (no pair moved, so there is no evidence of change; Stata prints missing
    z/p, we choose 1.0 so tables show "1.000" - e.g. the paper's renal
    severity score "remained unchanged for all patients");
  - ``logistic_simple``: outcome or predictor without variation, perfect or
    quasi-perfect separation, non-convergence: estimates ``NaN`` with a note
    (Stata drops the perfectly predicted observations and prints a note);
  - ``linear_simple``: fewer than 3 cases or a constant predictor: ``NaN``.

* **Rounding for display** is round-half-up on the decimal representation
  (:func:`round_half_up`), i.e. what a person rounding the printed digits does.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats as _st

#: Two-sided significance level used throughout (the paper: p < 0.05).
ALPHA = 0.05


#: Confidence level of every interval.
CONF = 0.95


NAN = float("nan")


# ===================================================================== helpers
class _Result:
    """Mixin: plain-dict export (for results.json and tables)."""

    def to_dict(self) -> dict:
        return asdict(self)  # type: ignore[arg-type]


def _numeric(x, name: str) -> np.ndarray:
    """1-D float array; None/NaN/pd.NA -> NaN. Non-numeric text raises."""
    fast = _numeric_fast(x)
    if fast is not None:
        return fast
    if isinstance(x, (pd.Series, pd.Index)):
        s = pd.Series(np.asarray(x, dtype=object))
    else:
        arr = np.asarray(x, dtype=object)
        if arr.ndim == 0:
            arr = arr.reshape(1)
        if arr.ndim != 1:
            raise ValueError(f"{name} must be one-dimensional")
        s = pd.Series(arr)
    s = s.map(
        lambda v: (
            np.nan if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)) else v
        )
    )
    if s.map(lambda v: isinstance(v, str)).any():
        s = s.map(lambda v: (np.nan if v.strip() == "" else v) if isinstance(v, str) else v)
    try:
        out = pd.to_numeric(s, errors="raise")
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{name} must be numeric: {exc}") from None
    return np.asarray(out, dtype=float)


def _numeric_fast(x) -> np.ndarray | None:
    """Float array of already-numeric (or boolean) 1-D input without looking at each
    value; ``None`` when the input needs the general, element-by-element path."""
    dtype = getattr(x, "dtype", None)
    if dtype is None or getattr(x, "ndim", 1) != 1:
        return None
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
        try:
            return np.asarray(pd.array(x, dtype="Float64").to_numpy(dtype=float, na_value=np.nan))
        except (TypeError, ValueError):
            return None
    return None


def _pairs(before, after) -> tuple[np.ndarray, np.ndarray]:
    b = _numeric(before, "before")
    a = _numeric(after, "after")
    if len(a) != len(b):
        raise ValueError(f"before and after differ in length ({len(b)} vs {len(a)})")
    keep = ~(np.isnan(a) | np.isnan(b))
    return b[keep], a[keep]


def _sd(x: np.ndarray) -> float:
    return float(np.std(x, ddof=1)) if len(x) >= 2 else NAN


def _mean(x: np.ndarray) -> float:
    return float(np.mean(x)) if len(x) else NAN


def _tcrit(df: float, conf: float = CONF) -> float:
    return float(_st.t.ppf(0.5 + conf / 2, df)) if df > 0 else NAN


def _zcrit(conf: float = CONF) -> float:
    return float(_st.norm.ppf(0.5 + conf / 2))


def _count(n) -> int | None:
    """A sample size as int, or None when missing/not finite (never raises)."""
    try:
        f = float(n)
    except (TypeError, ValueError):
        return None
    return int(f) if math.isfinite(f) else None


def _two_sided_t(t: float, df: float) -> float:
    if not np.isfinite(t) or not df > 0:
        return NAN
    return float(2 * _st.t.sf(abs(t), df))


def _no_t(df: float, estimate: float = NAN) -> dict:
    """The t fields of a result whose test cannot be computed (CI collapsed to ``estimate``)."""
    return {"t": NAN, "df": df, "p": NAN, "ci_low": estimate, "ci_high": estimate}


def _t_inference(est: float, se: float, df: float, conf: float, null: float = 0.0) -> dict:
    """Student t statistic, two-sided p and CI of an estimate with its SE on ``df``."""
    t = (est - null) / se
    h = _tcrit(df, conf) * se
    return {"t": t, "df": df, "p": _two_sided_t(t, df), "ci_low": est - h, "ci_high": est + h}


# ================================================================== paired t
@dataclass(frozen=True)
class PairedT(_Result):
    """Paired Student t test of ``after - before`` over complete pairs."""

    n: int
    mean_before: float
    sd_before: float
    mean_after: float
    sd_after: float
    mean_diff: float  # after - before
    sd_diff: float
    se_diff: float
    t: float
    df: float
    p: float
    ci_low: float  # CI of mean_diff
    ci_high: float
    conf: float = CONF
    note: str = ""


def paired_t(before, after, *, conf: float = CONF) -> PairedT:
    """Paired t test (Stata ``ttest after == before``) on complete pairs.

    Means and SDs of both sides are over the complete pairs only, so they can
    differ from the all-available means a table prints (the paper's baseline
    mRSS 29.6 is over 30 patients, the 6-month test over 29 pairs).
    """
    b, a = _pairs(before, after)
    n = len(d := a - b)
    common = dict(
        n=n,
        mean_before=_mean(b),
        sd_before=_sd(b),
        mean_after=_mean(a),
        sd_after=_sd(a),
        mean_diff=_mean(d),
        conf=conf,
    )
    if n == 0:
        return PairedT(
            **common,
            sd_diff=NAN,
            se_diff=NAN,
            **_no_t(NAN),
            note="no complete pairs",
        )
    if n < 2:
        return PairedT(
            **common,
            sd_diff=NAN,
            se_diff=NAN,
            **_no_t(0),
            note="fewer than 2 complete pairs: no test",
        )
    sd = _sd(d)
    se = sd / math.sqrt(n)
    df = n - 1
    if sd == 0:
        what = (
            "all differences are zero"
            if common["mean_diff"] == 0
            else "all differences are identical"
        )
        return PairedT(
            **common,
            sd_diff=0.0,
            se_diff=0.0,
            **_no_t(df, common["mean_diff"]),
            note=f"{what} (SD 0): t undefined, p not computed",
        )
    return PairedT(
        **common, sd_diff=sd, se_diff=se, **_t_inference(common["mean_diff"], se, df, conf)
    )


# ================================================================== signrank
@dataclass(frozen=True)
class SignRank(_Result):
    """Wilcoxon signed-rank test exactly as Stata's ``signrank``.

    ``statistic`` is the sum of the ranks of the positive differences
    (``sum_pos``); ``expected`` its null expectation and ``var`` its null
    variance after the tie and zero adjustments, so
    ``z = (statistic - expected) / sqrt(var)``.
    """

    n: int
    n_pos: int
    n_neg: int
    n_zero: int
    sum_pos: float
    sum_neg: float
    sum_zero: float
    statistic: float
    expected: float
    var_unadjusted: float
    adj_ties: float
    adj_zeros: float
    var: float
    z: float
    p: float
    note: str = ""


def signrank(before, after, *, decimals: int = 10) -> SignRank:
    """Wilcoxon signed-rank test of ``after - before`` (Stata ``signrank after = before``).

    Stata semantics (Pratt 1959 treatment of zeros):

    * ``d = after - before`` over complete pairs, rounded to ``decimals`` places
      so that floating-point noise does not split ties;
    * ranks of ``|d|`` over **all** pairs, zeros included, ties get average
      ranks; zeros carry no sign (they count in neither sum);
    * statistic ``T+`` = sum of ranks of positive ``d``;
    * ``E(T+) = [n(n+1) - n0(n0+1)] / 4`` (n0 = number of zeros);
    * ``Var(T+)`` = a quarter of the sum of the squared ranks of the non-zero
      differences = ``n(n+1)(2n+1)/24`` (unadjusted) ``- n0(n0+1)(2n0+1)/24``
      (adjustment for zeros) ``- sum(t^3 - t)/48`` over tie groups ``t`` of the
      non-zero ``|d|`` (adjustment for ties), the three lines Stata prints;
    * ``z = (T+ - E) / sqrt(Var)`` (Stata: ``(T+ - T-) / (2 sqrt(Var))``, the
      same number), **no continuity correction**, two-sided normal p.

    The rounding of ``d`` is the one deliberate departure: Stata ranks the raw
    double-precision differences, so e.g. ``1.21 - 1.29`` and ``2.0 - 2.08``
    could fall into different ranks there; integer (ordinal) scores are
    unaffected.

    This equals ``scipy.stats.wilcoxon(d, zero_method="pratt", correction=False,
    method="approx")``. All differences zero: ``z = NaN`` and ``p = 1.0`` with a
    note (see the module docstring).
    """
    b, a = _pairs(before, after)
    d = np.round(a - b, decimals)
    n = len(d)
    if n == 0:
        return SignRank(
            n=0,
            n_pos=0,
            n_neg=0,
            n_zero=0,
            sum_pos=NAN,
            sum_neg=NAN,
            sum_zero=NAN,
            statistic=NAN,
            expected=NAN,
            var_unadjusted=NAN,
            adj_ties=NAN,
            adj_zeros=NAN,
            var=NAN,
            z=NAN,
            p=NAN,
            note="no complete pairs",
        )
    ranks = _st.rankdata(np.abs(d))  # average ranks, zeros included
    pos, neg, zero = d > 0, d < 0, d == 0
    n0 = int(zero.sum())
    sum_pos = float(ranks[pos].sum())
    expected = (n * (n + 1) - n0 * (n0 + 1)) / 4
    var_unadj = n * (n + 1) * (2 * n + 1) / 24
    adj_zeros = -n0 * (n0 + 1) * (2 * n0 + 1) / 24
    # Stata computes the variance directly as a quarter of the sum of the squared
    # (average) ranks of the non-zero differences and reports the tie adjustment as
    # the remainder; this equals -sum(t^3 - t)/48 over tie groups of non-zero |d|.
    var = float(np.sum(ranks[~zero] ** 2)) / 4
    adj_ties = var - var_unadj - adj_zeros
    if abs(adj_ties) < 1e-9 * max(1.0, var_unadj):
        adj_ties = 0.0
    common = dict(
        n=n,
        n_pos=int(pos.sum()),
        n_neg=int(neg.sum()),
        n_zero=n0,
        sum_pos=sum_pos,
        sum_neg=float(ranks[neg].sum()),
        sum_zero=float(ranks[zero].sum()),
        statistic=sum_pos,
        expected=expected,
        var_unadjusted=var_unadj,
        adj_ties=adj_ties + 0.0,
        adj_zeros=adj_zeros + 0.0,
    )
    if n0 == n:
        return SignRank(
            **common,
            var=0.0,
            z=NAN,
            p=1.0,
            note="all differences are zero: z undefined, p set to 1.0",
        )
    z = (sum_pos - expected) / math.sqrt(var)
    return SignRank(
        **common,
        var=var,
        z=z,
        p=float(2 * _st.norm.sf(abs(z))),
        note=f"{n0} zero difference(s) ranked and unsigned (Pratt)" if n0 else "",
    )


# ==================================================================== mean CI
@dataclass(frozen=True)
class MeanCI(_Result):
    """Mean with a t-based confidence interval (Stata ``ci means``)."""

    n: int
    mean: float
    sd: float
    se: float
    ci_low: float
    ci_high: float
    conf: float = CONF
    note: str = ""


def mean_ci(values, *, conf: float = CONF) -> MeanCI:
    """Mean, SD and t-based CI of the non-missing values."""
    v = _numeric(values, "values")
    v = v[~np.isnan(v)]
    n = len(v)
    if n == 0:
        return MeanCI(
            n=0, mean=NAN, sd=NAN, se=NAN, ci_low=NAN, ci_high=NAN, conf=conf, note="no values"
        )
    m = float(v.mean())
    if n == 1:
        return MeanCI(
            n=1,
            mean=m,
            sd=NAN,
            se=NAN,
            ci_low=NAN,
            ci_high=NAN,
            conf=conf,
            note="one value: no SD or interval",
        )
    sd = _sd(v)
    se = sd / math.sqrt(n)
    h = _tcrit(n - 1, conf) * se
    return MeanCI(n=n, mean=m, sd=sd, se=se, ci_low=m - h, ci_high=m + h, conf=conf)
