"""The SYNTHETIC cohort-space generator (``ivigbook synth cohort_space``).

* same shape and seed -> byte-identical files; another seed -> other data;
* each knob of :class:`Shape` does what it says (on the tables, and on the derived
  analysis visits and inclusion where the knob is about them);
* every named shape validates with zero errors (and derives with its parameters);
  ``patients=0`` writes header-only tables, which the validator rejects;
* ``ivigbook synth cohort_space --shape NAME`` writes a named shape.
"""

from __future__ import annotations

import filecmp
import json
import random

import numpy as np
import pandas as pd
import pytest

from ivigbook.cli import main
from ivigbook.data.params import parse_overrides
from ivigbook.data.problems import DataError
from ivigbook.data.schema import MEASURES, TABLES
from ivigbook.data.validate import load_cohort
from ivigbook.derive.context import load_context
from ivigbook.synth import cohort_space as CS
from ivigbook.synth.cohort_space import NAMED, Shape, generate, write

SEED = 5
FILES = ("README.md",) + tuple(TABLES[t].file for t in CS.TABLE_NAMES)


def _context(tmp_path, shape: Shape, overrides: dict | None = None, seed: int = SEED):
    out = tmp_path / "pkg"
    write(out, shape, seed)
    return load_context(out, json.dumps(overrides or {}))


def _dates(s: pd.Series) -> np.ndarray:
    return np.asarray(s.to_numpy(dtype=object), dtype="datetime64[D]")


def _offsets(t: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Calendar-month offset of each measurement from the first cycle, treated mask, first."""
    first = t["infusions"].groupby("patient_id")["start_date"].min()
    m = t["measurements"]
    f = np.asarray(m["patient_id"].map(first).fillna("").to_numpy(dtype=object), "datetime64[D]")
    month = _dates(m["date"]).astype("datetime64[M]").astype(int)
    treated = ~np.isnat(f)
    return np.where(treated, month - f.astype("datetime64[M]").astype(int), 0), treated, f


# ------------------------------------------------------------------ determinism
def test_same_shape_and_seed_same_bytes_other_seed_other_data(tmp_path):
    shape = Shape(patients=40, centres=3, date_ties=True, early_death_share=0.2, eligible=4)
    write(tmp_path / "a", shape, SEED)
    write(tmp_path / "b", shape, SEED)
    write(tmp_path / "c", shape, SEED + 1)
    for name in FILES:
        assert filecmp.cmp(tmp_path / "a" / name, tmp_path / "b" / name, shallow=False), name
    assert (tmp_path / "a/measurements.csv").read_bytes() != (
        tmp_path / "c/measurements.csv"
    ).read_bytes()


def test_frames_follow_the_contract_and_readme_says_synthetic(tmp_path):
    shape = Shape(patients=12, absent_columns=frozenset({"autoantibodies"}))
    tables = generate(shape, SEED)
    assert set(tables) == set(CS.TABLE_NAMES)
    dropped = CS.COLUMN_GROUPS["autoantibodies"]
    for name, frame in tables.items():
        expected = [c for c in TABLES[name].column_names if c not in dropped]
        assert list(frame.columns) == expected, name
    assert len(tables["patients"]) == 12
    paths = write(tmp_path, shape, SEED)
    assert [p.name for p in paths] == sorted(FILES)
    readme = (tmp_path / "README.md").read_text(encoding="utf-8")
    assert "SYNTHETIC" in readme and f"seed {SEED}" in readme and "autoantibodies" in readme


def test_a_smaller_shape_is_a_prefix_of_a_bigger_one():
    small = generate(Shape(patients=20), SEED)["patients"]
    big = generate(Shape(patients=60), SEED)["patients"]
    assert small["ssc_subtype"].tolist() == big["ssc_subtype"].iloc[:20].tolist()


def test_zero_patients_gives_header_only_tables_the_validator_rejects(tmp_path):
    tables = generate(Shape(patients=0), SEED)
    assert all(len(f) == 0 for f in tables.values())
    write(tmp_path, Shape(patients=0), SEED)
    assert (tmp_path / "patients.csv").read_text() == ",".join(
        TABLES["patients"].column_names
    ) + "\n"
    with pytest.raises(DataError) as e:
        load_cohort(tmp_path)
    problems = {(p.file, p.rule) for p in e.value.report.problems}
    assert problems == {
        ("patients.csv", "no data rows"),
        ("infusions.csv", "no data rows"),
        ("measurements.csv", "no data rows"),
    }


def test_invalid_shapes_are_refused():
    for bad in (
        dict(subtypes="sine"),
        dict(absent_tables={"patients"}),
        dict(absent_tables={"medications"}, empty_tables={"medications"}),
        dict(absent_measures=frozenset(MEASURES)),
        dict(absent_columns={"sex"}),
        dict(no_indication={"other"}),
        dict(blank_activity_share=1.5),
        dict(followup="later"),
        dict(eligible=31),
    ):
        with pytest.raises(ValueError):
            Shape(**bad)
    assert Shape(absent_measures={"CK_UL"}).absent_measures == frozenset({"CK_UL"})


# ------------------------------------------------------------------ patient knobs
@pytest.mark.parametrize("subtype", ["diffuse", "limited"])
def test_subtypes(subtype):
    p = generate(Shape(patients=50, subtypes=subtype), SEED)["patients"]
    assert set(p["ssc_subtype"]) == {subtype}


@pytest.mark.parametrize("k", [1, 4])
def test_centres(k):
    p = generate(Shape(patients=30, centres=k), SEED)["patients"]
    assert p["center"].nunique() == k


def test_tables_absent_or_empty(tmp_path):
    shape = Shape(
        absent_tables=frozenset({"adverse_events"}), empty_tables=frozenset({"medications"})
    )
    (tmp_path / "adverse_events.csv").write_text("stale\n")  # removed by write
    write(tmp_path, shape, SEED)
    assert not (tmp_path / "adverse_events.csv").exists()
    assert (tmp_path / "medications.csv").read_text().count("\n") == 1
    cohort = load_cohort(tmp_path)
    assert not cohort.has("adverse_events") and cohort.has("medications")


def test_absent_measures_and_columns(tmp_path):
    shape = Shape(
        absent_measures=frozenset({"HAQ_DI", "CK_UL"}),
        absent_columns=frozenset(CS.COLUMN_GROUPS),
    )
    t = generate(shape, SEED)
    assert not t["measurements"]["measure"].isin(["HAQ_DI", "CK_UL"]).any()
    assert "MRSS" in set(t["measurements"]["measure"])
    dropped = {c for cols in CS.COLUMN_GROUPS.values() for c in cols}
    assert not dropped & set(t["patients"].columns)
    write(tmp_path, shape, SEED)
    load_cohort(tmp_path)


def test_blank_activity_share_is_exact():
    for share, n in ((0.0, 0), (0.25, 10), (1.0, 40)):
        p = generate(Shape(patients=40, blank_activity_share=share), SEED)["patients"]
        assert int((p["active_skin_disease"] == "").sum()) == n


def test_no_indication():
    p = generate(Shape(patients=200, no_indication=frozenset({"myositis", "skin"})), SEED)
    p = p["patients"]
    codes = set(";".join(p["ivig_indication"]).split(";"))
    assert not codes & {"skin", "myositis"} and "gi" in codes
    assert not p["overlap"].str.contains("myositis").any()
    assert (p["ivig_indication"] != "").all()


# ------------------------------------------------------------------ treatment and follow-up
def test_first_round_only(tmp_path):
    ctx = _context(tmp_path, Shape(patients=80, later_rounds=False))
    assert int(ctx.cycles["round"].max()) == 1
    natural = generate(Shape(patients=80), SEED)["infusions"]
    assert len(natural) > len(ctx.cycles)


def test_early_deaths():
    t = generate(Shape(patients=40, early_death_share=0.25), SEED)
    p = t["patients"]
    first = t["infusions"].groupby("patient_id")["start_date"].min()
    death = _dates(p["death_date"])
    f = np.asarray(p["patient_id"].map(first).fillna(""), dtype="datetime64[D]")
    early = ~np.isnat(death) & ((death - f).astype(int) <= 91)
    assert early.sum() >= 10
    assert (p["stop_reason"][early] == "death").all()
    m = t["measurements"]
    last = m.groupby("patient_id")["date"].max()
    assert (_dates(p["patient_id"][early].map(last)) <= death[early]).all()
    off, _, _ = _offsets(t)
    dead = m["patient_id"].isin(p["patient_id"][early]).to_numpy()
    assert off[dead].max() <= 3  # before any follow-up window


def test_followup_pre_only_none_one():
    t = generate(Shape(patients=60, followup="pre_only"), SEED)
    off, treated, f = _offsets(t)
    assert (_dates(t["measurements"]["date"])[treated] <= f[treated]).all()
    t = generate(Shape(patients=60, followup="none"), SEED)
    off, treated, _ = _offsets(t)
    assert off[treated].max() <= 0
    t = generate(Shape(patients=60, followup="one"), SEED)
    off, treated, _ = _offsets(t)
    later = t["measurements"][treated & (off >= 1)]
    counts = later.groupby(["patient_id", "measure"]).size()
    assert len(counts) > 100 and (counts == 1).all()


def test_outside_windows(tmp_path):
    ctx = _context(tmp_path, Shape(patients=60, outside_windows=True))
    assert not (ctx.bds["AVISITN"] > 0).any()
    assert (ctx.bds["AVISITN"] == 0).any()
    off, treated, _ = _offsets(generate(Shape(patients=60, outside_windows=True), SEED))
    assert set(off[treated & (off >= 1)] % 6) == {3}


def test_date_ties(tmp_path):
    shape = Shape(patients=60, date_ties=True)
    t = generate(shape, SEED)
    m = t["measurements"]
    month = m["date"].str[:7]
    assert m.assign(month=month).duplicated(["patient_id", "measure", "month"]).any()
    first = t["infusions"].groupby("patient_id")["start_date"].min()
    assert (m["date"] == m["patient_id"].map(first)).any()
    ctx = _context(tmp_path, shape)
    b = ctx.bds[(ctx.bds["AVISITN"] > 0).to_numpy()]
    distance = (b["AOFFSET"] - b["AWTARGET"]).abs()
    ties = b.assign(d=distance).duplicated(["USUBJID", "PARAMCD", "AVISITN", "d"])
    assert ties.any()


def test_long_followup():
    t = generate(Shape(patients=40, long_followup=True), SEED)
    off, treated, f = _offsets(t)
    last = pd.Series(off[treated]).groupby(t["measurements"]["patient_id"][treated].to_numpy())
    assert (last.max() == CS.LONG_MONTHS).mean() > 0.9
    assert (f[treated].astype("datetime64[Y]").astype(int) + 1970 <= 2014).all()
    assert t["measurements"]["date"].max() <= "2024-12-31"


# ------------------------------------------------------------------ outcomes and inclusion
@pytest.mark.parametrize("mode", ["none", "all"])
def test_responders(tmp_path, mode):
    ctx = _context(tmp_path, Shape(patients=60, responders=mode))
    b = ctx.bds
    b = b[(b["PARAMCD"] == "MRSS").to_numpy() & (b["AVISITN"] > 0).to_numpy()]
    b = b[b["BASE"].notna()]
    assert len(b) > 50
    if mode == "none":
        assert (b["CHG"] > -5).all()
    else:
        assert (b["CHG"] <= -5).all()


def test_natural_responders_are_mixed(tmp_path):
    ctx = _context(tmp_path, Shape(patients=60))
    b = ctx.bds[(ctx.bds["PARAMCD"] == "MRSS").to_numpy() & (ctx.bds["AVISITN"] > 0).to_numpy()]
    assert (b["CHG"] <= -5).any() and (b["CHG"] > -5).any()


@pytest.mark.parametrize(
    "name, n", [("zero_eligible", 0), ("one_eligible", 1), ("two_patients", 2)]
)
def test_named_eligible_counts(tmp_path, name, n):
    shape, overrides = NAMED[name]
    ctx = _context(tmp_path, shape, overrides)
    assert ctx.n == n


def test_eligible_promotes_and_demotes(tmp_path):
    assert _context(tmp_path / "a", Shape(patients=12, eligible=11)).n == 11
    ctx = _context(tmp_path / "b", Shape(patients=40, eligible=3, responders="all"))
    assert ctx.n == 3
    reasons = set(ctx.inclusion["reason"].dropna().astype(str))
    assert {"not_active_diffuse_skin", "fewer_cycles_6m", "no_baseline_mrss"} <= reasons
    with pytest.raises(ValueError, match="cannot have eligible"):
        generate(Shape(patients=5, subtypes="limited", eligible=1), SEED)


# ------------------------------------------------------------------ named shapes
@pytest.mark.parametrize("name", sorted(n for n in NAMED if n != "large"))
def test_named_shape_validates_and_derives(tmp_path, name):
    shape, overrides = NAMED[name]
    parse_overrides(overrides)
    write(tmp_path, name, SEED)
    ctx = load_context(tmp_path, json.dumps(overrides))
    assert len(ctx.adsl) == shape.patients


def test_named_shapes_required_by_the_book_runs():
    assert {
        "zero_eligible",
        "one_eligible",
        "no_myositis",
        "no_ck",
        "no_haq",
        "no_adverse_events",
        "all_limited_all_treated",
        "single_centre",
        "large",
    } <= set(NAMED)
    assert NAMED["all_limited_all_treated"][1] == {"inclusion": "all_treated"}
    assert NAMED["large"][0].patients == 3000


def test_large_shape_validates(tmp_path):
    write(tmp_path, "large", SEED)
    assert len(load_cohort(tmp_path).patients) == 3000


def test_random_knob_combinations_validate(tmp_path):
    """A fixed sample of knob combinations (the lead's property tests explore more)."""
    rnd = random.Random(20240)
    for i in range(8):
        kw = dict(
            patients=rnd.choice([1, 2, 5, 25]),
            subtypes=rnd.choice(CS.SUBTYPES),
            centres=rnd.choice([0, 1, 3]),
            absent_measures=frozenset(m for m in MEASURES if rnd.random() < 0.2),
            absent_columns=frozenset(g for g in CS.COLUMN_GROUPS if rnd.random() < 0.2),
            blank_activity_share=rnd.choice([0.0, 0.3]),
            responders=rnd.choice(CS.RESPONDERS),
            early_death_share=rnd.choice([0.0, 0.5]),
            later_rounds=rnd.random() < 0.5,
            followup=rnd.choice(CS.FOLLOWUP),
            outside_windows=rnd.random() < 0.3,
            date_ties=rnd.random() < 0.5,
            long_followup=rnd.random() < 0.3,
        )
        write(tmp_path / str(i), Shape(**kw), rnd.randint(0, 1000))
        load_cohort(tmp_path / str(i))


# ------------------------------------------------------------------ command line
def test_command_line_writes_a_named_shape(tmp_path, capsys):
    out = tmp_path / "pkg"
    args = ["synth", "cohort_space", "--shape", "single_centre", "--seed", "3", "--out"]
    assert main([*args, str(out)]) == 0
    assert "wrote 6 files" in capsys.readouterr().out
    assert "--shape single_centre --seed 3" in (out / "README.md").read_text()
    assert main(["synth", "cohort_space", "--shape", "nope", "--out", str(out)]) == 2
    assert main(["synth", "registry", "--shape", "large", "--out", str(out)]) == 2
    assert main(["synth", "cohort_space", "--patients", "4", "--out", str(tmp_path / "p4")]) == 0
    assert len(load_cohort(tmp_path / "p4").patients) == 4
