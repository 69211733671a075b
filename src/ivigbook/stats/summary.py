"""Tests from published summary statistics (the historical comparisons): one- and two-sample
Student t from means, SDs and Ns, and comparisons of proportions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as _st

from ivigbook.stats.printed import decimals_of, round_half_up
from ivigbook.stats.tests import CONF, NAN, _count, _no_t, _Result, _t_inference


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


def ttest1_summary(
    mean: float, sd: float, n: int, mu0: float = 0.0, *, conf: float = CONF
) -> OneSampleT:
    """One-sample t from summary statistics (Stata ``ttesti n mean sd mu0``).

    With the mean and SD of paired differences this is the paired t test, e.g.
    the paper's mean change of mRSS at 6 months (-5.3, SD 7.9, N=29).
    """
    n = _count(n) or 0
    if n < 2 or not np.isfinite(mean) or not np.isfinite(sd):
        return OneSampleT(
            n=n,
            mean=mean,
            sd=sd,
            se=NAN,
            mu0=mu0,
            **_no_t(max(n - 1, 0)),
            conf=conf,
            note="need n >= 2 and finite mean and SD",
        )
    se = sd / math.sqrt(n)
    if se == 0:
        return OneSampleT(
            n=n,
            mean=mean,
            sd=sd,
            se=0.0,
            mu0=mu0,
            **_no_t(n - 1, mean),
            conf=conf,
            note="SD 0: t undefined",
        )
    return OneSampleT(
        n=n,
        mean=mean,
        sd=sd,
        se=se,
        mu0=mu0,
        **_t_inference(mean, se, n - 1, conf, null=mu0),
        conf=conf,
    )


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


def ttest_summary(
    mean1: float,
    sd1: float,
    n1: int,
    mean2: float,
    sd2: float,
    n2: int,
    *,
    equal_var: bool = True,
    conf: float = CONF,
) -> TwoSampleT:
    """Student t with pooled variance from summary statistics (Stata ``ttesti``).

    ``equal_var=False`` gives Welch's test with Satterthwaite degrees of
    freedom (Stata ``ttesti ..., unequal``), offered as a sensitivity analysis;
    the paper used the pooled test.
    """
    c1, c2 = _count(n1), _count(n2)
    n1, n2 = (c1 if c1 is not None else 0), (c2 if c2 is not None else 0)
    mean1, sd1, mean2, sd2 = (float(v) if v is not None else NAN for v in (mean1, sd1, mean2, sd2))
    base = dict(
        n1=n1,
        mean1=mean1,
        sd1=sd1,
        n2=n2,
        mean2=mean2,
        sd2=sd2,
        diff=mean1 - mean2,
        equal_var=equal_var,
        conf=conf,
    )
    finite = all(np.isfinite(v) for v in (mean1, sd1, mean2, sd2))
    if not finite or n1 < 1 or n2 < 1 or n1 + n2 < 3 or (not equal_var and min(n1, n2) < 2):
        return TwoSampleT(
            **base,
            se_diff=NAN,
            **_no_t(NAN),
            note="insufficient data (need finite summaries and n1 + n2 >= 3)",
        )
    if equal_var:
        df = n1 + n2 - 2
        sp2 = ((n1 - 1) * sd1**2 + (n2 - 1) * sd2**2) / df
        se = math.sqrt(sp2 * (1 / n1 + 1 / n2))
    else:
        v1, v2 = sd1**2 / n1, sd2**2 / n2
        se = math.sqrt(v1 + v2)
        df = (v1 + v2) ** 2 / (v1**2 / (n1 - 1) + v2**2 / (n2 - 1)) if se > 0 else NAN
    if se == 0:
        return TwoSampleT(
            **base,
            se_diff=0.0,
            **_no_t(df, base["diff"]),
            note="both SDs 0: t undefined",
        )
    return TwoSampleT(**base, se_diff=se, **_t_inference(base["diff"], se, df, conf))


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
    return ProportionTest(
        n1=n1,
        k1=k1,
        p1=p1,
        n2=n2,
        k2=k2,
        p2=p2,
        diff=p1 - p2,
        t=NAN,
        df=NAN,
        p_ttest=NAN,
        ci_low=NAN,
        ci_high=NAN,
        chi2=NAN,
        p_chi2=NAN,
        p_fisher=NAN,
        method=method,
        p=NAN,
        note=note,
    )


def _proportion(
    p1: float, n1: int, k1: int, p2: float, n2: int, k2: int, method: str, conf: float, note: str
) -> ProportionTest:
    if n1 < 1 or n2 < 1:
        return _proportion_nan(
            n1, k1, p1, n2, k2, p2, method, "; ".join(x for x in (note, "empty group") if x)
        )
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
    return ProportionTest(
        n1=n1,
        k1=k1,
        p1=p1,
        n2=n2,
        k2=k2,
        p2=p2,
        diff=p1 - p2,
        t=tt.t,
        df=tt.df,
        p_ttest=tt.p,
        ci_low=tt.ci_low,
        ci_high=tt.ci_high,
        chi2=chi2,
        p_chi2=p_chi2,
        p_fisher=p_fisher,
        method=method,
        p=chosen,
        note="; ".join(notes),
    )


def proportion_test(
    k1: int, n1: int, k2: int, n2: int, *, method: str = "ttest", conf: float = CONF
) -> ProportionTest:
    """Compare k1/n1 with k2/n2: Student t on 0/1 data (default), chi-square, Fisher.

    The paper compared baseline percentages "by the Student's t-test"; on 0/1
    data that is ``ttesti n1 p1 sd1 n2 p2 sd2`` with ``sd = sqrt(p(1-p)n/(n-1))``.
    Pearson chi-square (no continuity correction) and Fisher's exact test are
    returned alongside. The t test reproduces every asterisk of Table 1 and
    the myositis p = 0.004 (see ``tests/stats/test_tests.py``); uncorrected
    chi-square agrees; Fisher does not (myositis p = 0.012).
    """
    if method not in _PROP_METHODS:
        raise ValueError(f"method must be one of {_PROP_METHODS}, got {method!r}")
    counts = [_count(v) for v in (k1, n1, k2, n2)]
    if any(c is None for c in counts):
        return _proportion_nan(
            counts[1] or 0,
            counts[0] or 0,
            NAN,
            counts[3] or 0,
            counts[2] or 0,
            NAN,
            method,
            "missing count",
        )
    k1, n1, k2, n2 = counts
    if not (0 <= k1 <= n1 and 0 <= k2 <= n2):
        raise ValueError("counts must satisfy 0 <= k <= n")
    p1 = k1 / n1 if n1 else NAN
    p2 = k2 / n2 if n2 else NAN
    return _proportion(p1, n1, k1, p2, n2, k2, method, conf, "")


def proportion_ttest_summary(
    pct1: float, n1: int, pct2: float, n2: int, *, method: str = "ttest", conf: float = CONF
) -> ProportionTest:
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
        return _proportion_nan(
            n1, 0, pct1 / 100, n2, 0, pct2 / 100, method, "missing percentage or empty group"
        )
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
    return _proportion(
        pct1 / 100, n1, counts[0], pct2 / 100, n2, counts[1], method, conf, "; ".join(notes)
    )
