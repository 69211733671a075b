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
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import numpy as np
import pandas as pd
from scipy import stats as _st

__all__ = [
    "ALPHA", "CONF",
    "PairedT", "SignRank", "OneSampleT", "TwoSampleT", "ProportionTest",
    "LevelEstimate", "LogitResult", "LinearResult", "MeanCI",
    "paired_t", "signrank", "ttest1_summary", "ttest_summary",
    "proportion_ttest_summary", "proportion_test", "logistic_simple",
    "linear_simple", "mean_ci",
    "round_half_up", "decimals_of", "format_number", "format_p",
    "format_mean_sd", "format_n_pct", "format_estimate_ci", "matches_printed",
]

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
    s = s.map(lambda v: np.nan if v is None or v is pd.NA or
              (isinstance(v, float) and math.isnan(v)) else v)
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
    common = dict(n=n, mean_before=_mean(b), sd_before=_sd(b), mean_after=_mean(a),
                  sd_after=_sd(a), mean_diff=_mean(d), conf=conf)
    if n == 0:
        return PairedT(**common, sd_diff=NAN, se_diff=NAN, t=NAN, df=NAN, p=NAN,
                       ci_low=NAN, ci_high=NAN, note="no complete pairs")
    if n < 2:
        return PairedT(**common, sd_diff=NAN, se_diff=NAN, t=NAN, df=0, p=NAN,
                       ci_low=NAN, ci_high=NAN, note="fewer than 2 complete pairs: no test")
    sd = _sd(d)
    se = sd / math.sqrt(n)
    df = n - 1
    if sd == 0:
        what = "all differences are zero" if common["mean_diff"] == 0 else \
            "all differences are identical"
        return PairedT(**common, sd_diff=0.0, se_diff=0.0, t=NAN, df=df, p=NAN,
                       ci_low=common["mean_diff"], ci_high=common["mean_diff"],
                       note=f"{what} (SD 0): t undefined, p not computed")
    t = common["mean_diff"] / se
    h = _tcrit(df, conf) * se
    return PairedT(**common, sd_diff=sd, se_diff=se, t=t, df=df, p=_two_sided_t(t, df),
                   ci_low=common["mean_diff"] - h, ci_high=common["mean_diff"] + h)


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
        return SignRank(n=0, n_pos=0, n_neg=0, n_zero=0, sum_pos=NAN, sum_neg=NAN,
                        sum_zero=NAN, statistic=NAN, expected=NAN, var_unadjusted=NAN,
                        adj_ties=NAN, adj_zeros=NAN, var=NAN, z=NAN, p=NAN,
                        note="no complete pairs")
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
    common = dict(n=n, n_pos=int(pos.sum()), n_neg=int(neg.sum()), n_zero=n0,
                  sum_pos=sum_pos, sum_neg=float(ranks[neg].sum()),
                  sum_zero=float(ranks[zero].sum()), statistic=sum_pos, expected=expected,
                  var_unadjusted=var_unadj, adj_ties=adj_ties + 0.0, adj_zeros=adj_zeros + 0.0)
    if n0 == n:
        return SignRank(**common, var=0.0, z=NAN, p=1.0,
                        note="all differences are zero: z undefined, p set to 1.0")
    z = (sum_pos - expected) / math.sqrt(var)
    return SignRank(**common, var=var, z=z, p=float(2 * _st.norm.sf(abs(z))),
                    note=f"{n0} zero difference(s) ranked and unsigned (Pratt)" if n0 else "")


# ============================================================ t from summary
@dataclass(frozen=True)
class OneSampleT(_Result):
    """One-sample t test from summary statistics (``ttesti n mean sd mu0``)."""

    n: int
    mean: float
    sd: float
    se: float
    mu0: float
    t: float
    df: float
    p: float
    ci_low: float
    ci_high: float
    conf: float = CONF
    note: str = ""


def ttest1_summary(mean: float, sd: float, n: int, mu0: float = 0.0, *,
                   conf: float = CONF) -> OneSampleT:
    """One-sample t from summary statistics (Stata ``ttesti n mean sd mu0``).

    With the mean and SD of paired differences this is the paired t test, e.g.
    the paper's mean change of mRSS at 6 months (-5.3, SD 7.9, N=29).
    """
    n = _count(n) or 0
    if n < 2 or not np.isfinite(mean) or not np.isfinite(sd):
        return OneSampleT(n=n, mean=mean, sd=sd, se=NAN, mu0=mu0, t=NAN, df=max(n - 1, 0),
                          p=NAN, ci_low=NAN, ci_high=NAN, conf=conf,
                          note="need n >= 2 and finite mean and SD")
    se = sd / math.sqrt(n)
    if se == 0:
        return OneSampleT(n=n, mean=mean, sd=sd, se=0.0, mu0=mu0, t=NAN, df=n - 1, p=NAN,
                          ci_low=mean, ci_high=mean, conf=conf, note="SD 0: t undefined")
    t = (mean - mu0) / se
    h = _tcrit(n - 1, conf) * se
    return OneSampleT(n=n, mean=mean, sd=sd, se=se, mu0=mu0, t=t, df=n - 1,
                      p=_two_sided_t(t, n - 1), ci_low=mean - h, ci_high=mean + h, conf=conf)


@dataclass(frozen=True)
class TwoSampleT(_Result):
    """Two-sample t test from summary statistics; ``diff = mean1 - mean2``."""

    n1: int
    mean1: float
    sd1: float
    n2: int
    mean2: float
    sd2: float
    diff: float
    se_diff: float
    t: float
    df: float
    p: float
    ci_low: float
    ci_high: float
    equal_var: bool = True
    conf: float = CONF
    note: str = ""


def ttest_summary(mean1: float, sd1: float, n1: int, mean2: float, sd2: float, n2: int, *,
                  equal_var: bool = True, conf: float = CONF) -> TwoSampleT:
    """Student t with pooled variance from summary statistics (Stata ``ttesti``).

    ``equal_var=False`` gives Welch's test with Satterthwaite degrees of
    freedom (Stata ``ttesti ..., unequal``), offered as a sensitivity analysis;
    the paper used the pooled test.
    """
    c1, c2 = _count(n1), _count(n2)
    n1, n2 = (c1 if c1 is not None else 0), (c2 if c2 is not None else 0)
    mean1, sd1, mean2, sd2 = (float(v) if v is not None else NAN
                              for v in (mean1, sd1, mean2, sd2))
    base = dict(n1=n1, mean1=mean1, sd1=sd1, n2=n2, mean2=mean2, sd2=sd2,
                diff=mean1 - mean2, equal_var=equal_var, conf=conf)
    finite = all(np.isfinite(v) for v in (mean1, sd1, mean2, sd2))
    if not finite or n1 < 1 or n2 < 1 or n1 + n2 < 3 or (not equal_var and min(n1, n2) < 2):
        return TwoSampleT(**base, se_diff=NAN, t=NAN, df=NAN, p=NAN, ci_low=NAN, ci_high=NAN,
                          note="insufficient data (need finite summaries and n1 + n2 >= 3)")
    if equal_var:
        df = n1 + n2 - 2
        sp2 = ((n1 - 1) * sd1 ** 2 + (n2 - 1) * sd2 ** 2) / df
        se = math.sqrt(sp2 * (1 / n1 + 1 / n2))
    else:
        v1, v2 = sd1 ** 2 / n1, sd2 ** 2 / n2
        se = math.sqrt(v1 + v2)
        df = (v1 + v2) ** 2 / (v1 ** 2 / (n1 - 1) + v2 ** 2 / (n2 - 1)) if se > 0 else NAN
    if se == 0:
        return TwoSampleT(**base, se_diff=0.0, t=NAN, df=df, p=NAN, ci_low=base["diff"],
                          ci_high=base["diff"], note="both SDs 0: t undefined")
    t = base["diff"] / se
    h = _tcrit(df, conf) * se
    return TwoSampleT(**base, se_diff=se, t=t, df=df, p=_two_sided_t(t, df),
                      ci_low=base["diff"] - h, ci_high=base["diff"] + h)


# =============================================================== proportions
@dataclass(frozen=True)
class ProportionTest(_Result):
    """Comparison of two proportions three ways; ``p`` is the chosen method.

    ``p1``/``p2`` are proportions (0-1); ``k1``/``k2`` the counts used for the
    chi-square and Fisher tests (rounded from the percentages when only
    percentages are known - ``note`` says so if a percentage is not exactly
    k/n at its printed precision).
    """

    n1: int
    k1: int
    p1: float
    n2: int
    k2: int
    p2: float
    diff: float  # p1 - p2
    t: float
    df: float
    p_ttest: float
    ci_low: float  # t-based CI of diff
    ci_high: float
    chi2: float
    p_chi2: float
    p_fisher: float
    method: str
    p: float
    note: str = ""


_PROP_METHODS = ("ttest", "chi2", "fisher")


def _proportion_nan(n1, k1, p1, n2, k2, p2, method, note) -> ProportionTest:
    return ProportionTest(n1=n1, k1=k1, p1=p1, n2=n2, k2=k2, p2=p2, diff=p1 - p2, t=NAN,
                          df=NAN, p_ttest=NAN, ci_low=NAN, ci_high=NAN, chi2=NAN, p_chi2=NAN,
                          p_fisher=NAN, method=method, p=NAN, note=note)


def _proportion(p1: float, n1: int, k1: int, p2: float, n2: int, k2: int,
                method: str, conf: float, note: str) -> ProportionTest:
    if n1 < 1 or n2 < 1:
        return _proportion_nan(n1, k1, p1, n2, k2, p2, method,
                               "; ".join(x for x in (note, "empty group") if x))
    # Student t on 0/1 data: mean = p, SD = sqrt(p(1-p) n/(n-1)).
    sd1 = math.sqrt(p1 * (1 - p1) * n1 / (n1 - 1)) if n1 > 1 else NAN
    sd2 = math.sqrt(p2 * (1 - p2) * n2 / (n2 - 1)) if n2 > 1 else NAN
    tt = ttest_summary(p1, sd1, n1, p2, sd2, n2, conf=conf)
    table = np.array([[k1, n1 - k1], [k2, n2 - k2]], dtype=float)
    if (table.sum(axis=0) == 0).any() or (table.sum(axis=1) == 0).any():
        chi2, p_chi2 = NAN, NAN
    else:
        res = _st.chi2_contingency(table, correction=False)
        chi2, p_chi2 = float(res.statistic), float(res.pvalue)
    p_fisher = float(_st.fisher_exact(table.astype(int)).pvalue) if n1 and n2 else NAN
    notes = [x for x in (note, tt.note) if x]
    chosen = {"ttest": tt.p, "chi2": p_chi2, "fisher": p_fisher}[method]
    return ProportionTest(n1=n1, k1=k1, p1=p1, n2=n2, k2=k2, p2=p2, diff=p1 - p2, t=tt.t,
                          df=tt.df, p_ttest=tt.p, ci_low=tt.ci_low, ci_high=tt.ci_high,
                          chi2=chi2, p_chi2=p_chi2, p_fisher=p_fisher, method=method,
                          p=chosen, note="; ".join(notes))


def proportion_test(k1: int, n1: int, k2: int, n2: int, *, method: str = "ttest",
                    conf: float = CONF) -> ProportionTest:
    """Compare k1/n1 with k2/n2: Student t on 0/1 data (default), chi-square, Fisher.

    The paper compared baseline percentages "by the Student's t-test"; on 0/1
    data that is ``ttesti n1 p1 sd1 n2 p2 sd2`` with ``sd = sqrt(p(1-p)n/(n-1))``.
    Pearson chi-square (no continuity correction) and Fisher's exact test are
    returned alongside. The t test reproduces every asterisk of Table 1 and
    the myositis p = 0.004 (see ``tests/test_stats.py``); uncorrected
    chi-square agrees; Fisher does not (myositis p = 0.012).
    """
    if method not in _PROP_METHODS:
        raise ValueError(f"method must be one of {_PROP_METHODS}, got {method!r}")
    counts = [_count(v) for v in (k1, n1, k2, n2)]
    if any(c is None for c in counts):
        return _proportion_nan(counts[1] or 0, counts[0] or 0, NAN, counts[3] or 0,
                               counts[2] or 0, NAN, method, "missing count")
    k1, n1, k2, n2 = counts
    if not (0 <= k1 <= n1 and 0 <= k2 <= n2):
        raise ValueError("counts must satisfy 0 <= k <= n")
    p1 = k1 / n1 if n1 else NAN
    p2 = k2 / n2 if n2 else NAN
    return _proportion(p1, n1, k1, p2, n2, k2, method, conf, "")


def proportion_ttest_summary(pct1: float, n1: int, pct2: float, n2: int, *,
                             method: str = "ttest", conf: float = CONF) -> ProportionTest:
    """Compare two published percentages (0-100) with their group sizes.

    The t test uses the percentages as printed (``p = pct/100``); chi-square and
    Fisher need counts, taken as ``round(pct/100 * n)``. A ``note`` flags a
    percentage that is not k/n for any integer k at its printed precision
    (a sign that the percentage has a smaller denominator than ``n``).
    """
    if method not in _PROP_METHODS:
        raise ValueError(f"method must be one of {_PROP_METHODS}, got {method!r}")
    n1, n2 = _count(n1) or 0, _count(n2) or 0
    pct1 = float(pct1) if pct1 is not None else NAN
    pct2 = float(pct2) if pct2 is not None else NAN
    if not (math.isfinite(pct1) and math.isfinite(pct2)) or n1 < 1 or n2 < 1:
        return _proportion_nan(n1, 0, pct1 / 100, n2, 0, pct2 / 100, method,
                               "missing percentage or empty group")
    notes = []
    counts = []
    for label, pct, n in (("group 1", pct1, n1), ("group 2", pct2, n2)):
        if not 0 <= pct <= 100:
            raise ValueError(f"{label}: percentage must be within 0-100, got {pct}")
        k = int(round_half_up(pct / 100 * n, 0))
        counts.append(k)
        # precision as printed, capped so that computed proportions (83.333...%) pass
        dec = min(max(decimals_of(repr(pct)), 1), 6)
        if round_half_up(100 * k / n, dec) != round_half_up(pct, dec):
            notes.append(f"{label}: {pct:g}% is not k/{n} for an integer k")
    return _proportion(pct1 / 100, n1, counts[0], pct2 / 100, n2, counts[1], method, conf,
                       "; ".join(notes))


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
    s = pd.Series(np.asarray(x, dtype=object)) if not isinstance(x, pd.Series) \
        else pd.Series(np.asarray(x.astype(object), dtype=object))
    s = s.map(lambda v: np.nan if v is None or v is pd.NA or
              (isinstance(v, float) and math.isnan(v)) or
              (isinstance(v, str) and v.strip() == "") else v)
    cat = _is_categorical(s) if categorical is None else bool(categorical)
    if cat:
        return "categorical", s, reference
    num = pd.to_numeric(s.map(lambda v: float(v) if isinstance(v, (bool, np.bool_)) else v),
                        errors="raise").astype(float)
    return _numeric_kind(num), num, None


def _numeric_kind(num: pd.Series) -> str:
    """'binary' for a 0/1 variable with both values present, else 'continuous'."""
    vals = set(num.dropna().unique())
    return "binary" if vals <= {0.0, 1.0} and len(vals) == 2 else "continuous"


def _level_key(v) -> tuple:
    return (0, float(v), "") if isinstance(v, (int, float, np.integer, np.floating)) \
        else (1, 0.0, str(v))


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
        X = np.column_stack([np.ones(len(xs))] +
                            [(xs == lv).to_numpy(dtype=float) for lv in others]) \
            if len(xs) else np.empty((0, 1 + len(others)))
        terms = [f"{name}={lv}" for lv in others]
        groups = [(xs == lv).to_numpy() for lv in others]
        return kind, yv, X, terms, groups, str(ref) if ref is not None else "", levels
    xv = xs.to_numpy(dtype=float)
    X = np.column_stack([np.ones(len(xv)), xv])
    group = xv == 1 if kind == "binary" else np.ones(len(xv), dtype=bool)
    return kind, yv, X, [name], [group], "", sorted(set(xv))


def _nan_levels(terms, groups, yv, logistic: bool) -> tuple[LevelEstimate, ...]:
    return tuple(LevelEstimate(term=t, n=int(g.sum()),
                               n_events=int(yv[g].sum()) if logistic else -1,
                               coef=NAN, se=NAN, estimate=NAN, ci_low=NAN, ci_high=NAN, p=NAN)
                 for t, g in zip(terms, groups))


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


def _logit_newton(y: np.ndarray, X: np.ndarray, maxiter: int = 100,
                  tol: float = 1e-8, ridge: float = 1e-10) -> _LogitFit:
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
    return _LogitFit(params=new, bse=bse, cov=cov, llf=llf, converged=iterations < maxiter,
                     perfect=perfect)


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
    return _OLSFit(params=params, bse=bse, df_resid=float(df_resid), rsquared=float(rsquared),
                   f_pvalue=f_pvalue)


def logistic_simple(y, x, *, categorical: bool | None = None, reference=None,
                    name: str = "x", conf: float = CONF) -> LogitResult:
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
        return LogitResult(n=n, n_events=n_events, predictor=name, kind=kind, reference=ref,
                           odds_ratio=NAN, ci_low=NAN, ci_high=NAN, p=NAN, coef=NAN, se=NAN,
                           p_lr=NAN, p_overall_wald=NAN, df_overall=k,
                           levels=_nan_levels(terms, groups, yv, True), converged=converged,
                           note=note)

    if n == 0:
        return empty("no complete cases")
    if yv.min() == yv.max():
        return empty("outcome does not vary (all %d)" % int(yv[0]))
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
        lv.append(LevelEstimate(term=t, n=int(g.sum()), n_events=int(yv[g].sum()), coef=b,
                                se=se, estimate=math.exp(b), ci_low=math.exp(b - z * se),
                                ci_high=math.exp(b + z * se),
                                p=float(2 * _st.norm.sf(abs(b / se)))))
    b = params[1:]
    V = fit.cov[1:, 1:]
    wald = float(b @ np.linalg.solve(V, b))
    p_wald = float(_st.chi2.sf(wald, k))
    # null (intercept-only) log-likelihood in closed form
    p_lr = float(_st.chi2.sf(2 * (fit.llf - (n_events * math.log(n_events / n) + (n - n_events) * math.log1p(-n_events / n))), k))
    if k == 1:
        one = lv[0]
        return LogitResult(n=n, n_events=n_events, predictor=name, kind=kind, reference=ref,
                           odds_ratio=one.estimate, ci_low=one.ci_low, ci_high=one.ci_high,
                           p=one.p, coef=one.coef, se=one.se, p_lr=p_lr, p_overall_wald=p_wald,
                           df_overall=1, levels=tuple(lv), converged=True)
    return LogitResult(n=n, n_events=n_events, predictor=name, kind=kind, reference=ref,
                       odds_ratio=NAN, ci_low=NAN, ci_high=NAN, p=p_wald, coef=NAN, se=NAN,
                       p_lr=p_lr, p_overall_wald=p_wald, df_overall=k, levels=tuple(lv),
                       converged=True,
                       note=f"{k + 1} levels: p is the overall Wald test ({k} df); "
                            "odds ratios per level in `levels`")


def linear_simple(y, x, *, categorical: bool | None = None, reference=None,
                  name: str = "x", conf: float = CONF) -> LinearResult:
    """Simple linear regression of ``y`` on one predictor (Stata ``regress``).

    Slope with a t-based 95% CI and p. Categorical predictors as in
    :func:`logistic_simple`, with the overall F test (``testparm``) as ``p``
    when there are more than two levels.
    """
    kind, yv, X, terms, groups, ref, levels = _prepare(y, x, categorical, reference, name)
    n, k = len(yv), X.shape[1] - 1

    def empty(note: str) -> LinearResult:
        return LinearResult(n=n, predictor=name, kind=kind, reference=ref, slope=NAN, se=NAN,
                            ci_low=NAN, ci_high=NAN, p=NAN, intercept=NAN, r2=NAN,
                            df_resid=max(n - k - 1, 0), p_overall_f=NAN, df_overall=k,
                            levels=_nan_levels(terms, groups, yv, False), note=note)

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
        lv.append(LevelEstimate(term=t, n=int(g.sum()), n_events=-1, coef=b, se=se, estimate=b,
                                ci_low=b - tc * se, ci_high=b + tc * se, p=p))
    if k == 1:
        one = lv[0]
        return LinearResult(n=n, predictor=name, kind=kind, reference=ref, slope=one.coef,
                            se=one.se, ci_low=one.ci_low, ci_high=one.ci_high, p=one.p,
                            intercept=float(params[0]), r2=r2, df_resid=df, p_overall_f=p_f,
                            df_overall=1, levels=tuple(lv), note=note)
    return LinearResult(n=n, predictor=name, kind=kind, reference=ref, slope=NAN, se=NAN,
                        ci_low=NAN, ci_high=NAN, p=p_f, intercept=float(params[0]), r2=r2,
                        df_resid=df, p_overall_f=p_f, df_overall=k, levels=tuple(lv),
                        note=note or f"{k + 1} levels: p is the overall F test ({k} df); "
                                     "effects per level in `levels`")


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
        return MeanCI(n=0, mean=NAN, sd=NAN, se=NAN, ci_low=NAN, ci_high=NAN, conf=conf,
                      note="no values")
    m = float(v.mean())
    if n == 1:
        return MeanCI(n=1, mean=m, sd=NAN, se=NAN, ci_low=NAN, ci_high=NAN, conf=conf,
                      note="one value: no SD or interval")
    sd = _sd(v)
    se = sd / math.sqrt(n)
    h = _tcrit(n - 1, conf) * se
    return MeanCI(n=n, mean=m, sd=sd, se=se, ci_low=m - h, ci_high=m + h, conf=conf)


# ================================================================ formatting
def _is_missing(x) -> bool:
    try:
        return x is None or x is pd.NA or math.isnan(float(x))
    except (TypeError, ValueError):
        return True


def round_half_up(x: float, decimals: int) -> float:
    """Round half away from zero on the shortest decimal representation of ``x``.

    ``round_half_up(2.675, 2) == 2.68`` (Python's ``round`` gives 2.67 because
    of binary representation); this is how a person rounds printed digits.
    """
    if _is_missing(x):
        return NAN
    q = Decimal(1).scaleb(-int(decimals))
    return float(Decimal(repr(float(x))).quantize(q, rounding=ROUND_HALF_UP))


def decimals_of(printed: str) -> int:
    """Number of decimals of a printed number: ``"0.0011" -> 4``, ``"-8" -> 0``."""
    s = str(printed).strip().lstrip("<>=").strip()
    if "e" in s.lower():
        try:
            return max(0, -Decimal(s).normalize().as_tuple().exponent)  # type: ignore[operator]
        except InvalidOperation:
            return 0
    return len(s.split(".", 1)[1]) if "." in s else 0


def format_number(x: float, decimals: int = 1, missing: str = "NA") -> str:
    """Round half up to ``decimals`` and print (never ``-0.0``)."""
    if _is_missing(x):
        return missing
    r = round_half_up(x, decimals)
    if r == 0:
        r = 0.0
    return f"{r:.{int(decimals)}f}"


def format_p(p: float, *, prefix: bool = False, missing: str = "NA") -> str:
    """Format a p-value the way the paper (and most clinical journals) print them.

    Rule (documented on the methods page):

    * ``p < 0.0001``         -> ``"<0.0001"``
    * ``0.0001 <= p < 0.01`` -> 4 decimals (two significant digits: ``"0.0011"``)
    * ``p >= 0.01``          -> 3 decimals (``"0.256"``, ``"0.674"``, ``"1.000"``)
    * never round a p below 0.05 up to ``"0.050"``: more decimals are shown
      (``0.0497 -> "0.0497"``; the paper printed this one as "0.05").

    The paper itself is not uniform (it also prints 0.74, 0.26, 0.09 and
    0.005); ``matches_printed`` compares at the paper's own precision.
    ``prefix=True`` gives ``"p=0.256"`` / ``"p<0.0001"``.
    """
    if _is_missing(p):
        return missing
    p = float(p)
    if p < 0 or p > 1 + 1e-12:
        raise ValueError(f"not a probability: {p}")
    if p < 0.0001:
        s = "<0.0001"
    else:
        dec = 4 if p < 0.01 else 3
        s = format_number(p, dec)
        while p < ALPHA and float(s) >= ALPHA and dec < 8:
            dec += 1
            s = format_number(p, dec)
    if prefix:
        return "p" + (s if s.startswith("<") else "=" + s)
    return s


def format_mean_sd(mean: float, sd: float, decimals: int = 1, missing: str = "NA") -> str:
    """``"29.6 (7.2)"``; a missing SD prints as ``"29.6 (NA)"``."""
    if _is_missing(mean):
        return missing
    return f"{format_number(mean, decimals)} ({format_number(sd, decimals, missing)})"


def format_n_pct(k: int, n: int, decimals: int = 1, missing: str = "NA") -> str:
    """``"24 (80.0)"`` - count and percentage of ``n``."""
    if _is_missing(k):
        return missing
    if _is_missing(n) or int(n) == 0:
        return f"{int(k)} ({missing})"
    return f"{int(k)} ({format_number(100 * int(k) / int(n), decimals)})"


def format_estimate_ci(est: float, lo: float, hi: float, decimals: int = 2,
                       missing: str = "NA") -> str:
    """``"0.17 (0.03, 1.00)"`` - estimate with its confidence interval."""
    if _is_missing(est):
        return missing
    return (f"{format_number(est, decimals)} ({format_number(lo, decimals, missing)}, "
            f"{format_number(hi, decimals, missing)})")


def matches_printed(value: float, printed: str, relation: str = "=") -> bool:
    """Does a recomputed ``value`` reproduce a printed number?

    ``relation="="``: ``value`` rounded half-up to the printed number of
    decimals equals the printed number (``0.7369`` matches ``"0.74"``).
    ``relation="<"``: ``value`` is below the printed bound (``"<0.0001"``).
    A printed ``"<x"`` is accepted in place of ``relation="<"``.
    """
    if _is_missing(value):
        return False
    s = str(printed).strip()
    if s.startswith("<"):
        relation, s = "<", s[1:].strip()
    if relation == "<":
        return float(value) < float(s)
    if relation != "=":
        raise ValueError(f"relation must be '=' or '<', got {relation!r}")
    return round_half_up(value, decimals_of(s)) == float(Decimal(s))
