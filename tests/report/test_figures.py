"""Figures: artist counts, sampling, determinism, literal text, empty input."""

from __future__ import annotations

import re

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import LineCollection, PathCollection, PolyCollection
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.text import Text

from ivigbook.report import figures as F

NASTY = ["<script>alert(1)</script>", 'A & B $x$ "q"']


# ------------------------------------------------------------------ helpers / data
def texts(fig: Figure) -> list[str]:
    """Every string the figure holds (titles, labels, ticks, legends, annotations)."""
    out = [t.get_text() for t in fig.findobj(Text)]
    for ax in fig.axes:
        out += [t.get_text() for t in ax.get_xticklabels() + ax.get_yticklabels()]
    return out


def all_text(fig: Figure) -> str:
    return "\n".join(texts(fig))


def flat(s: str) -> str:
    return re.sub(r"\s+", " ", s)


def render(fig: Figure) -> bytes:
    data = F.to_png_bytes(fig)
    assert data.startswith(b"\x89PNG")
    return data


def line_collections(ax) -> list[LineCollection]:
    """The per-patient line collections (error bars are LineCollections too)."""
    return [
        c for c in ax.collections if isinstance(c, LineCollection) and c.get_gid() == "patients"
    ]


def flow_df(
    labels=(
        "Patients treated with IVIG",
        "Active diffuse skin disease",
        "At least 3 cycles in 6 months",
        "Included in the analysis",
    ),
    ex_label=("Not active diffuse", "Too few cycles", "No baseline mRSS"),
) -> pd.DataFrame:
    k = len(labels)
    n = [45 - 5 * i for i in range(k)]
    return pd.DataFrame(
        {
            "box": range(1, k + 1),
            "label": list(labels),
            "n": n,
            "excluded_n": pd.array([5] * (k - 1) + [pd.NA], dtype="Int64"),
            "excluded_label": list(ex_label[: k - 1]) + [pd.NA],
        }
    )


def cycles_df(npat: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    length = rng.integers(3, 10, npat)
    subj = np.repeat(np.arange(1, npat + 1), length)
    offset = np.concatenate([np.arange(k) for k in length])
    cyc = pd.DataFrame({"SUBJSEQ": subj, "offset": offset, "round": 1})
    later = pd.DataFrame({"SUBJSEQ": [1, 1], "offset": [14, 15], "round": [2, 2]})
    cyc = pd.concat([cyc, later], ignore_index=True)
    reasons = np.array(["Improvement", "Adverse event", "Ongoing", "Insurance denial"])
    stop = pd.DataFrame(
        {"SUBJSEQ": np.arange(1, npat + 1), "stop_label": reasons[np.arange(npat) % 4]}
    )
    return cyc, stop


def summary_df(series: str | None = None) -> pd.DataFrame:
    df = pd.DataFrame(
        {
            "month": [-6, 0, 6, 12, 18, 24],
            "n": [20, 30, 29, 25, 23, 15],
            "mean": [27.0, 29.6, 24.1, 22.5, 20.6, 15.3],
        }
    )
    df["ci_low"], df["ci_high"] = df["mean"] - 3, df["mean"] + 3
    if series is not None:
        df["series"] = series
    return df


def long_df(npat: int, months=(-6, 0, 6, 12), seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    m = np.tile(np.asarray(months), npat)
    return pd.DataFrame(
        {
            "SUBJSEQ": np.repeat(np.arange(1, npat + 1), len(months)),
            "month": m,
            "value": rng.normal(25, 6, len(m)) - 0.3 * m,
        }
    )


def forest_df() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "label": [
                "Prednisone",
                "Mycophenolate",
                "Separated",
                "Prednisone",
                "Mycophenolate",
                "Separated",
            ],
            "estimate": [0.4, 2.0, np.nan, 0.5, 1.5, 3.0],
            "ci_low": [0.1, 0.5, np.nan, 0.1, 0.3, 0.0],
            "ci_high": [1.6, 8.0, np.nan, 2.5, 7.5, np.inf],
            "group": ["Month 6"] * 3 + ["Month 12"] * 3,
            "p": [0.19, 0.33, np.nan, 0.4, 0.62, 0.0004],
        }
    )


def window_df() -> pd.DataFrame:
    rows = []
    for visit, mu in (("Month 6", -5.3), ("Month 12", -8.0)):
        for w, hw, n in (("±0", 0, 14), ("±1", 1, 24), ("±2 (paper)", 2, 29), ("±3", 3, 30)):
            rows.append((w, hw, visit, mu, mu - 3, mu + 3, n))
    return pd.DataFrame(
        rows, columns=["window", "halfwidth", "visit", "estimate", "ci_low", "ci_high", "n"]
    )


def paired_df(npat: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    base = rng.normal(29, 7, npat).round()
    return pd.DataFrame(
        {
            "SUBJSEQ": np.arange(1, npat + 1),
            "BASE": base,
            "AVAL": base + rng.normal(-5, 8, npat).round(),
        }
    )


def counts_df() -> pd.DataFrame:
    return pd.DataFrame(
        {"label": ["Fatigue", "Headache", "Fever"], "n": [4, 6, 2], "pct": [13.3, 20.0, 6.7]}
    )


# One builder per public figure function (small valid inputs).
BUILDERS = {
    "flow_diagram": lambda: F.flow_diagram(flow_df()),
    "swimmer": lambda: F.swimmer(*cycles_df(12)),
    "mean_trajectory": lambda: F.mean_trajectory(summary_df(), "mRSS"),
    "spaghetti": lambda: F.spaghetti(long_df(30), "mRSS"),
    "waterfall": lambda: F.waterfall(
        pd.DataFrame({"SUBJSEQ": range(1, 11), "CHG": np.arange(10) - 7.0})
    ),
    "forest": lambda: F.forest(forest_df()),
    "estimate_by_window": lambda: F.estimate_by_window(window_df()),
    "lab_course": lambda: F.lab_course(long_df(3)),
    "paired_change": lambda: F.paired_change(paired_df(20), "mRSS"),
    "bar_counts": lambda: F.bar_counts(counts_df(), "Patients, n"),
}


# ------------------------------------------------------------------ generic contract
@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_returns_figure_of_fixed_width_and_dpi(name):
    fig = BUILDERS[name]()
    assert isinstance(fig, Figure)
    assert fig.get_figwidth() == F.FIG_WIDTH
    assert fig.dpi == F.DPI
    render(fig)


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_png_bytes_are_deterministic(name):
    assert render(BUILDERS[name]()) == render(BUILDERS[name]())


def test_png_has_no_software_metadata():
    data = render(BUILDERS["bar_counts"]())
    assert b"matplotlib" not in data.lower()


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_figures_do_not_touch_pyplot(name):
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    BUILDERS[name]()
    assert plt.get_fignums() == before


def test_global_rcparams_do_not_leak_in():
    with matplotlib.rc_context({"font.size": 22, "text.usetex": False, "axes.spines.top": True}):
        a = render(BUILDERS["mean_trajectory"]())
    assert a == render(BUILDERS["mean_trajectory"]())


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_synthetic_caption(name):
    assert F.SYNTHETIC_CAPTION not in texts(BUILDERS[name]())
    assert F.SYNTHETIC_CAPTION in texts(_call_with(name, synthetic=True))


def _call_with(name: str, **kwargs):
    calls = {
        "flow_diagram": lambda: F.flow_diagram(flow_df(), **kwargs),
        "swimmer": lambda: F.swimmer(*cycles_df(12), **kwargs),
        "mean_trajectory": lambda: F.mean_trajectory(summary_df(), "mRSS", **kwargs),
        "spaghetti": lambda: F.spaghetti(long_df(30), "mRSS", **kwargs),
        "waterfall": lambda: F.waterfall(
            pd.DataFrame({"SUBJSEQ": [1, 2], "CHG": [1, -6]}), **kwargs
        ),
        "forest": lambda: F.forest(forest_df(), **kwargs),
        "estimate_by_window": lambda: F.estimate_by_window(window_df(), **kwargs),
        "lab_course": lambda: F.lab_course(long_df(3), **kwargs),
        "paired_change": lambda: F.paired_change(paired_df(20), "mRSS", **kwargs),
        "bar_counts": lambda: F.bar_counts(counts_df(), "Patients, n", **kwargs),
    }
    return calls[name]()


# ------------------------------------------------------------------ empty / bad input
EMPTY_CALLS = {
    "flow_diagram": lambda: F.flow_diagram(flow_df().iloc[:0]),
    "swimmer": lambda: F.swimmer(cycles_df(3)[0].iloc[:0], cycles_df(3)[1]),
    "mean_trajectory": lambda: F.mean_trajectory(summary_df().iloc[:0], "mRSS"),
    "spaghetti": lambda: F.spaghetti(long_df(3).iloc[:0], "mRSS"),
    "waterfall": lambda: F.waterfall(pd.DataFrame({"SUBJSEQ": [], "CHG": []})),
    "forest": lambda: F.forest(forest_df().iloc[:0]),
    "estimate_by_window": lambda: F.estimate_by_window(window_df().iloc[:0]),
    "lab_course": lambda: F.lab_course(long_df(3).iloc[:0]),
    "paired_change": lambda: F.paired_change(paired_df(3).iloc[:0], "mRSS"),
    "bar_counts": lambda: F.bar_counts(counts_df().iloc[:0], "n"),
}


@pytest.mark.parametrize("name", sorted(EMPTY_CALLS))
def test_empty_input_raises_clear_value_error(name):
    with pytest.raises(ValueError, match=rf"^{name}\(\): no ") as info:
        EMPTY_CALLS[name]()
    assert isinstance(info.value, F.NoDataError)


def test_contract_violations_are_not_no_data():
    with pytest.raises(ValueError) as info:
        F.spaghetti(long_df(3).drop(columns="value"), "mRSS")
    assert not isinstance(info.value, F.NoDataError)


def test_all_missing_values_count_as_empty():
    df = long_df(3)
    df["value"] = np.nan
    with pytest.raises(ValueError, match="no values to plot"):
        F.spaghetti(df, "mRSS")
    with pytest.raises(ValueError, match="no changes"):
        F.waterfall(pd.DataFrame({"SUBJSEQ": [1, 2], "CHG": [np.nan, np.nan]}))


def test_missing_column_names_the_contract():
    with pytest.raises(ValueError, match=r"spaghetti\(\): missing column\(s\) value"):
        F.spaghetti(long_df(3).drop(columns="value"), "mRSS")


def test_patient_identifiers_are_refused():
    df = long_df(2)
    df["SUBJSEQ"] = df["SUBJSEQ"].map(lambda i: f"JH-{i:03d}")
    with pytest.raises(ValueError, match="SUBJSEQ must be the anonymous integer"):
        F.spaghetti(df, "mRSS")


def test_extra_identifier_columns_are_never_drawn():
    df = paired_df(5)
    df["USUBJID"] = [f"SECRET-{i}" for i in range(5)]
    df["patient_id"] = [f"PID-{i}" for i in range(5)]
    for fig in (F.paired_change(df, "mRSS"), F.waterfall(df.assign(CHG=df.AVAL - df.BASE))):
        assert "SECRET" not in all_text(fig) and "PID-" not in all_text(fig)


# ------------------------------------------------------------------ literal text
@pytest.mark.parametrize("nasty", NASTY)
def test_text_is_literal_everywhere(nasty):
    figs = [
        F.flow_diagram(flow_df(labels=(nasty, "Next"), ex_label=(nasty,)), title=nasty),
        F.swimmer(
            cycles_df(4)[0],
            pd.DataFrame({"SUBJSEQ": [1, 2, 3, 4], "stop_label": [nasty] * 4}),
            title=nasty,
        ),
        F.mean_trajectory(summary_df(series=nasty), nasty, title=nasty),
        F.spaghetti(long_df(4), nasty, title=nasty),
        F.waterfall(
            pd.DataFrame({"SUBJSEQ": [1, 2], "CHG": [2.0, -7.0]}), ylabel=nasty, title=nasty
        ),
        F.forest(
            forest_df().assign(label=nasty + forest_df()["label"], group=nasty),
            xlabel=nasty,
            title=nasty,
        ),
        F.estimate_by_window(window_df().assign(visit=nasty, window=nasty), ylabel=nasty),
        F.lab_course(long_df(2), ylabel=nasty, title=nasty),
        F.paired_change(paired_df(4), nasty, labels=(nasty, nasty), title=nasty),
        F.bar_counts(counts_df().assign(label=[nasty, "b", "c"]), nasty, title=nasty),
    ]
    for fig in figs:
        found = [t for t in fig.findobj(Text) if nasty in t.get_text()]
        found += [
            t
            for ax in fig.axes
            for t in ax.get_yticklabels() + ax.get_xticklabels()
            if nasty in t.get_text()
        ]
        assert found, f"{nasty!r} not drawn literally"
        assert all(not t.get_parse_math() and not t.get_usetex() for t in found)
        render(fig)  # mathtext parsing of "$x$" would raise or rewrite; it must do neither


def test_flow_diagram_shows_every_label_and_n():
    df = flow_df()
    fig = F.flow_diagram(df)
    text = flat(all_text(fig))
    for label in list(df["label"]) + list(df["excluded_label"].dropna()):
        assert label in text
    for n in df["n"]:
        assert f"n = {n}" in text
    assert text.count("Excluded (n = 5)") == 3


@pytest.mark.parametrize("k", [1, 2, 8])
def test_flow_diagram_sizes(k):
    df = pd.DataFrame(
        {
            "box": range(k),
            "label": [f"Box {i}" for i in range(k)],
            "n": [100 - i for i in range(k)],
            "excluded_n": [1] * (k - 1) + [np.nan],
            "excluded_label": ["one lost"] * (k - 1) + [np.nan],
        }
    )
    fig = F.flow_diagram(df)
    boxes = [p for p in fig.axes[0].patches]
    assert len(boxes) == k + (k - 1)
    render(fig)


def test_flow_diagram_warns_when_boxes_do_not_add_up():
    df = flow_df()
    df.loc[1, "n"] = 41
    with pytest.warns(UserWarning, match="next box"):
        F.flow_diagram(df)


def test_flow_diagram_orders_by_box_and_wraps_long_labels():
    df = flow_df().iloc[::-1]
    df.loc[df.index[0], "label"] = "word " * 40
    fig = F.flow_diagram(df)
    main = [t.get_text() for t in fig.axes[0].texts if t.get_text().endswith("n = 45")]
    assert main and main[0].startswith("Patients treated")
    assert all(len(line) <= 46 for t in fig.axes[0].texts for line in t.get_text().split("\n"))


# ------------------------------------------------------------------ swimmer
def test_swimmer_lanes_markers_and_legend():
    cyc, stop = cycles_df(12)
    fig = F.swimmer(cyc, stop)
    ax = fig.axes[0]
    lanes = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert len(lanes) == 12
    offsets = np.concatenate([c.get_offsets() for c in ax.collections])
    # every cycle marker plus one end marker per patient
    assert len(offsets) == len(cyc) + 12
    # lanes sorted by round-1 length (longest on top), then total span, then SUBJSEQ
    per = cyc.groupby("SUBJSEQ").agg(span=("offset", "max"))
    per["length1"] = cyc[cyc["round"] == 1].groupby("SUBJSEQ")["offset"].max()
    expected = per.reset_index().sort_values(
        ["length1", "span", "SUBJSEQ"], ascending=[False, False, True]
    )["SUBJSEQ"]
    assert [int(t.get_text()) for t in ax.get_yticklabels()] == expected.tolist()
    assert sorted(lane.get_width() for lane in lanes) == sorted(per["span"] + 1)
    legend = flat(" ".join(t.get_text() for t in fig.legends[0].get_texts()))
    for reason in stop["stop_label"].unique():
        assert reason in legend
    assert "Later-round cycle" in legend


def test_swimmer_patient_without_stop_row_is_not_recorded():
    cyc, stop = cycles_df(4)
    fig = F.swimmer(cyc, stop.iloc[:2])
    legend = " ".join(t.get_text() for t in fig.legends[0].get_texts())
    assert "Not recorded (2)" in legend


def test_swimmer_switches_to_histogram_for_registries():
    cyc, stop = cycles_df(400)
    fig = F.swimmer(cyc, stop, max_lanes=150)
    ax = fig.axes[0]
    assert "too many for one lane" in ax.get_title(loc="left")
    assert len(ax.patches) < 400  # bars per (reason, length), not per patient
    heights = sum(p.get_height() for p in ax.patches)
    assert heights == 400


# ------------------------------------------------------------------ mean trajectory
def test_mean_trajectory_n_row_and_ivig_line():
    fig = F.mean_trajectory(summary_df(), "mRSS (0–51)", title="Mean mRSS")
    ax = fig.axes[0]
    ann = [t.get_text() for t in ax.texts]
    assert "N" in ann and "IVIG start" in ann
    for n in summary_df()["n"]:
        assert str(n) in ann
    assert ax.get_title(loc="left") == "Mean mRSS"
    dashed = [ln for ln in ax.get_lines() if ln.get_linestyle() == "--"]
    assert len(dashed) == 1 and list(dashed[0].get_xdata()) == [0, 0]


def test_mean_trajectory_series_get_own_lines_and_n_rows():
    df = pd.concat([summary_df("Complete case"), summary_df("Mixed model")])
    fig = F.mean_trajectory(df, "mRSS")
    ax = fig.axes[0]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("Complete case" in t for t in legend) and any("Mixed model" in t for t in legend)
    ann = [t.get_text() for t in ax.texts]
    assert "N, Complete case" in ann and "N, Mixed model" in ann
    assert ann.count("30") == 2


def test_mean_trajectory_without_ref_line():
    fig = F.mean_trajectory(summary_df(), "mRSS", ref_x=None)
    assert "IVIG start" not in [t.get_text() for t in fig.axes[0].texts]
    assert not [ln for ln in fig.axes[0].get_lines() if ln.get_linestyle() == "--"]


# ------------------------------------------------------------------ spaghetti
def test_spaghetti_samples_at_most_max_lines_of_10000():
    df = long_df(10_000)
    fig = F.spaghetti(df, "mRSS", max_lines=60, seed=3)
    ax = fig.axes[0]
    lcs = line_collections(ax)
    assert len(lcs) == 1
    assert len(lcs[0].get_segments()) == 60
    assert "60 of 10,000 patients shown" in ax.get_title(loc="left")
    mean = [ln for ln in ax.get_lines() if ln.get_linewidth() > 2]
    assert len(mean) == 1
    # the mean uses all patients
    expected = df.groupby("month")["value"].mean().to_numpy()
    np.testing.assert_allclose(mean[0].get_ydata(), expected)


def test_spaghetti_sample_is_seeded():
    df = long_df(500)

    def segs(seed):
        ax = F.spaghetti(df, "v", max_lines=10, seed=seed).axes[0]
        return [s.tolist() for s in line_collections(ax)[0].get_segments()]

    assert segs(1) == segs(1)
    assert segs(1) != segs(2)


def test_spaghetti_small_cohort_draws_everyone():
    fig = F.spaghetti(long_df(7), "mRSS")
    ax = fig.axes[0]
    assert len(line_collections(ax)[0].get_segments()) == 7
    assert "All 7 patients shown" in ax.get_title(loc="left")


def test_spaghetti_scales_to_100000_patients():
    fig = F.spaghetti(long_df(100_000, months=(0, 6, 12)), "mRSS")
    assert len(line_collections(fig.axes[0])[0].get_segments()) == F.MAX_LINES


# ------------------------------------------------------------------ waterfall
def test_waterfall_sorted_and_coloured_by_response():
    chg = pd.DataFrame({"SUBJSEQ": range(1, 9), "CHG": [-5.0, 3, -12, 0, -4.9, 8, -6, 1]})
    fig = F.waterfall(chg, mcid=5)
    ax = fig.axes[0]
    bars = ax.containers[0]
    heights = [b.get_height() for b in bars]
    assert heights == sorted(chg["CHG"], reverse=True)
    blue, orange = F.OKABE_ITO["blue"].lower(), F.OKABE_ITO["orange"].lower()
    colours = [to_hex(b.get_facecolor()) for b in bars]
    assert colours == [blue if h <= -5 else orange for h in heights]
    assert any(t.get_text() == "MCID (−5)" for t in ax.texts)
    mcid_line = [ln for ln in ax.get_lines() if ln.get_linestyle() == "--"]
    assert list(mcid_line[0].get_ydata()) == [-5, -5]
    legend = " ".join(t.get_text() for t in ax.get_legend().get_texts())
    assert "3 (38%)" in legend  # -5, -12, -6


def test_waterfall_summarises_large_cohorts():
    rng = np.random.default_rng(0)
    chg = pd.DataFrame({"SUBJSEQ": range(1, 5001), "CHG": rng.normal(-5, 8, 5000).round()})
    fig = F.waterfall(chg)
    ax = fig.axes[0]
    assert not ax.containers  # no per-patient bars
    assert any(isinstance(c, PolyCollection) for c in ax.collections)
    assert "too many for one bar each" in ax.get_title(loc="left")


# ------------------------------------------------------------------ forest
def test_forest_rows_groups_and_not_estimable():
    fig = F.forest(forest_df(), title="Predictors")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "Prednisone",
        "Mycophenolate",
        "Separated",
    ]
    ann = [t.get_text() for t in ax.texts]
    assert ann.count("not estimable") == 2  # in the plot and in the text column
    assert "0.40 (0.10–1.60)" in ann
    assert "3.00 (0.00–∞)" in ann  # infinite / zero bounds shown as given
    assert "0.0004" in ann and "0.190" in ann  # the one p-value formatter (tables, prose)

    assert ax.get_xscale() == "log"
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == ["Month 6", "Month 12"]
    nulls = [ln for ln in ax.get_lines() if list(ln.get_xdata()) == [1.0, 1.0]]
    assert nulls
    # one point marker per estimable row
    points = sum(len(c.get_offsets()) for c in ax.collections if isinstance(c, PathCollection))
    assert points >= 5
    # tick labels are plain numbers, never mathtext
    ax.figure.canvas.draw()
    assert all("$" not in t.get_text() for t in ax.get_xticklabels())


def test_forest_height_grows_with_rows():
    small = F.forest(forest_df().iloc[:2].drop(columns="group"))
    big_df = pd.DataFrame(
        {"label": [f"Row {i}" for i in range(20)], "estimate": 1.2, "ci_low": 0.8, "ci_high": 1.9}
    )
    big = F.forest(big_df)
    assert big.get_figheight() > small.get_figheight()


def test_forest_linear_scale_uses_to_for_negative_intervals():
    rows = pd.DataFrame(
        {"label": ["IVIG vs D-pen"], "estimate": [-5.5], "ci_low": [-9.0], "ci_high": [-2.0]}
    )
    fig = F.forest(rows, null=0, log=False, xlabel="Difference in mean change")
    ax = fig.axes[0]
    assert ax.get_xscale() == "linear"
    assert "−5.50 (−9.00 to −2.00)" in [t.get_text() for t in ax.texts]


# ------------------------------------------------------------------ window sensitivity
def test_estimate_by_window_lines_ticks_and_n():
    fig = F.estimate_by_window(window_df())
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["±0", "±1", "±2 (paper)", "±3"]
    assert len(ax.containers) == 2  # one errorbar container per visit
    ann = [t.get_text() for t in ax.texts]
    assert "N, Month 6" in ann and "N, Month 12" in ann
    assert ann.count("29") == 2


# ------------------------------------------------------------------ lab course
def test_lab_course_uln_and_log_scale():
    df = pd.DataFrame(
        {
            "SUBJSEQ": [1, 1, 1, 2, 2, 2],
            "month": [0, 3, 6, 0, 3, 6],
            "value": [12000, 900, 150, 5000, 400, 90],
        }
    )
    fig = F.lab_course(df, uln=190)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    assert len(line_collections(ax)[0].get_segments()) == 2
    assert any(t.get_text().startswith("ULN") for t in ax.texts)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["Patient 1", "Patient 2"]
    lo, hi = ax.get_ylim()
    assert lo < 90 and hi > 12000


def test_lab_course_linear_when_narrow():
    df = pd.DataFrame({"SUBJSEQ": [1, 1, 2, 2], "month": [0, 6, 0, 6], "value": [70.0, 75, 60, 66]})
    assert F.lab_course(df, ylabel="FVC (% predicted)").axes[0].get_yscale() == "linear"


# ------------------------------------------------------------------ paired change
def test_paired_change_lines_means_and_sampling():
    fig = F.paired_change(paired_df(500), "mRSS", max_lines=40)
    ax = fig.axes[0]
    lcs = line_collections(ax)
    assert len(lcs) == 1 and len(lcs[0].get_segments()) == 40
    assert "N = 500 patients with both values" in ax.get_title(loc="left")
    assert "40 of 500 patients shown" in ax.get_title(loc="left")
    assert len(ax.containers) == 1  # the means with CI


def test_paired_change_drops_incomplete_pairs():
    df = paired_df(6)
    df.loc[0, "AVAL"] = np.nan
    fig = F.paired_change(df, "mRSS")
    assert "N = 5 patients" in fig.axes[0].get_title(loc="left")


# ------------------------------------------------------------------ bar counts
def test_bar_counts_sorted_and_annotated():
    fig = F.bar_counts(counts_df(), "Patients, n")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Headache", "Fatigue", "Fever"]
    assert len(ax.patches) == 3
    assert [t.get_text() for t in ax.texts] == ["6 (20%)", "4 (13%)", "2 (7%)"]


def test_bar_counts_can_keep_input_order():
    df = counts_df()
    fig = F.bar_counts(df, "Patients, n", sort=False)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == list(df["label"])


def test_n_row_thins_dense_months_but_keeps_ivig_start():
    months = np.arange(-24, 37, 3)
    df = pd.DataFrame({"month": months, "n": 10, "mean": 20.0, "ci_low": 18.0, "ci_high": 22.0})
    ticks = F.mean_trajectory(df, "mRSS").axes[0].get_xticks()
    assert 0 in ticks and set(ticks) <= set(months)
    monthly = pd.DataFrame(
        {"SUBJSEQ": np.repeat([1, 2], 61), "month": np.tile(np.arange(-24, 37), 2), "value": 1.0}
    )
    ax = F.spaghetti(monthly, "mRSS").axes[0]
    ticks = ax.get_xticks()
    assert 0 in ticks and len(ticks) < 61
    assert np.all(np.mod(ticks, 3) == 0)


def test_spaghetti_mean_skips_sparse_months():
    df = long_df(5, months=(0, 6, 12))
    df = pd.concat([df, pd.DataFrame({"SUBJSEQ": [1], "month": [30], "value": [99.0]})])
    ax = F.spaghetti(df, "mRSS", min_n=3).axes[0]
    mean = [ln for ln in ax.get_lines() if ln.get_linewidth() > 2][0]
    assert list(mean.get_xdata()) == [0, 6, 12]


def test_forest_prints_p_as_the_tables_do():
    df = forest_df().assign(p=[0.0497, 0.33, np.nan, 0.4, 0.62, 0.00001])
    ann = [t.get_text() for t in F.forest(df).axes[0].texts]
    assert "0.0497" in ann and "0.050" not in ann and "<0.0001" in ann
