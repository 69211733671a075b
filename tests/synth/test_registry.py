"""The SYNTHETIC registry generator (``ivigbook synth registry``) and the pipeline at scale.

* ``ivigbook synth registry --patients 2000`` writes a package that validates with zero
  errors and has the registry shape (centres, subtypes, visits about twice a year with
  several measures, IVIG rounds, medications, adverse events, every exclusion reason);
* deterministic: same seed and N give byte-identical files whatever the chunk size;
  another seed gives other data;
* ``ivigbook run`` on it (every notebook and the book) exits 0 and writes results.json;
* the parquet cache of ``load_context`` gives back the frames ``load_cohort`` gives.
"""

from __future__ import annotations

import filecmp
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ivigbook.data.params import PAPER
from ivigbook.data.validate import load_cohort_with_report
from ivigbook.derive.context import cached_cohort, derive_all, load_context, package_key, params_key
from ivigbook.synth import registry as R

N = 2000
SEED = 11
FILES = (
    "adverse_events.csv",
    "infusions.csv",
    "measurements.csv",
    "medications.csv",
    "patients.csv",
    "README.md",
)


def _ivigbook() -> list[str]:
    exe = Path(sys.executable).with_name("ivigbook")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "ivigbook.cli"]


@pytest.fixture(scope="module")
def package(tmp_path_factory) -> Path:
    """The registry written through the command line (default chunk size)."""
    out = tmp_path_factory.mktemp("registry") / "pkg"
    proc = subprocess.run(
        _ivigbook()
        + ["synth", "registry", "--patients", str(N), "--seed", str(SEED), "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert "wrote 6 files" in proc.stdout
    return out


@pytest.fixture(scope="module")
def loaded(package):
    cohort, report = load_cohort_with_report(package)
    return cohort, report


# ------------------------------------------------------------------ determinism
@pytest.mark.parametrize("chunk", [R.BLOCK, 3 * R.BLOCK])
def test_chunk_size_does_not_change_the_files(package, tmp_path, chunk):
    R.write(tmp_path, SEED, N, chunk_size=chunk)
    for name in FILES:
        assert filecmp.cmp(package / name, tmp_path / name, shallow=False), name


def test_same_seed_same_bytes_other_seed_other_data(package, tmp_path):
    R.write(tmp_path / "again", SEED, 700)
    R.write(tmp_path / "again2", SEED, 700, chunk_size=1)
    R.write(tmp_path / "other", SEED + 1, 700)
    for name in FILES:
        assert filecmp.cmp(tmp_path / "again" / name, tmp_path / "again2" / name, shallow=False)
    assert (tmp_path / "again" / "measurements.csv").read_bytes() != (
        tmp_path / "other" / "measurements.csv"
    ).read_bytes()


def test_files_are_plain_sorted_csv(package):
    for name in FILES[:-1]:
        data = (package / name).read_bytes()
        assert b"\r" not in data and b'"' not in data and data.endswith(b"\n")
    meas = pd.read_csv(package / "measurements.csv", dtype=str, keep_default_na=False)
    key = list(zip(meas["patient_id"], meas["date"], meas["measure"]))
    assert key == sorted(key)


# ------------------------------------------------------------------ validity and shape
def test_validates_with_zero_errors(loaded):
    cohort, report = loaded
    assert report.n_errors == 0, report.format()
    # the only warnings: the few registry patients without any infusion
    assert {p.rule for p in report.warnings} <= {"patient has no infusions"}
    assert len(cohort.patients) == N
    assert cohort.present == frozenset(
        ("patients", "infusions", "measurements", "medications", "adverse_events")
    )


def test_registry_shape(loaded):
    cohort, _ = loaded
    p, meas, inf = cohort.patients, cohort.measurements, cohort.infusions
    assert p["center"].nunique() >= 30
    subtype = p["ssc_subtype"].value_counts(normalize=True)
    assert 0.5 < subtype["diffuse"] < 0.7 and 0.25 < subtype["limited"] < 0.45
    assert p["stop_reason"].nunique() >= 8 and p["ivig_indication"].nunique() >= 6
    assert p["death_date"].notna().mean() > 0.02
    # visits: about two a year, spans up to 10 years, several measures per visit
    visits = meas.groupby("patient_id")["date"].agg(["nunique", "min", "max"])
    years = (visits["max"] - visits["min"]).dt.days / 365.25
    assert years.max() <= 10.05 and years.median() > 2
    per_year = visits["nunique"][years > 2] / years[years > 2]
    assert 1.6 < per_year.median() < 2.6
    assert 4 < (len(meas) / meas.groupby(["patient_id", "date"]).ngroups) < 12
    for m in ("MRSS", "FVC_PCT", "DLCO_PCT", "HAQ_DI", "MEDSGER_SKIN", "CK_UL"):
        assert (meas["measure"] == m).sum() > N, m
    assert len(cohort.medications) > N and len(cohort.adverse_events) > N / 5
    assert inf.groupby("patient_id").size().median() >= 5


def test_rounds_and_every_exclusion_reason(loaded):
    cohort, _ = loaded
    d = derive_all(cohort, PAPER)
    assert (d["cycles"]["round"] > 1).any()
    reasons = d["inclusion"]["reason"].value_counts()
    for code in ("no_ivig", "not_active_diffuse_skin", "fewer_cycles_6m", "no_baseline_mrss"):
        assert reasons.get(code, 0) > 0, code
    included = d["inclusion"]["included"].mean()
    assert 0.25 < included < 0.6
    # mRSS falls after IVIG in the analysis set (about half are responders)
    bds = d["bds"]
    m12 = bds[(bds["PARAMCD"] == "MRSS") & (bds["ANL01FL"] == "Y") & (bds["AVISITN"] == 12)]
    m12 = m12[m12["USUBJID"].isin(d["inclusion"].loc[d["inclusion"]["included"], "patient_id"])]
    assert m12["CHG"].mean() < -2
    assert 0.3 < (m12["CHG"] <= -5).mean() < 0.7


# ------------------------------------------------------------------ cache
def test_cached_cohort_and_context_equal_fresh(package, loaded, tmp_path):
    cohort, _ = loaded
    first = cached_cohort(package, tmp_path)
    again = cached_cohort(package, tmp_path, name="other")  # from parquet now
    assert again.name == "other" and first.name == cohort.name == "pkg"
    for c in (first, again):
        assert c.sha256 == cohort.sha256 and c.present == cohort.present
        for t in R.TABLE_NAMES:
            pd.testing.assert_frame_equal(getattr(c, t), getattr(cohort, t), check_exact=True)
    ctx = load_context(package, "{}", tmp_path)
    fresh = derive_all(cohort, PAPER)
    for name, frame in fresh.items():
        got = getattr(ctx, name)
        assert list(got.columns) == list(frame.columns) and len(got) == len(frame)
        pd.testing.assert_frame_equal(got.astype(object), frame.astype(object), check_exact=True)
    stored = sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("."))
    assert stored == sorted([f"cohort-{package_key(package)}", params_key(cohort.sha256, PAPER)])


def test_chosen_rows_match_a_plain_filter(package, tmp_path):
    ctx = load_context(package, "{}", tmp_path)
    b = ctx.bds
    included = ctx.adsl.loc[ctx.adsl["included"], "USUBJID"]
    for m in ("MRSS", "CK_UL", "NOT_A_MEASURE"):
        want = b[(b["PARAMCD"] == m) & (b["ANL01FL"] == "Y")]
        pd.testing.assert_frame_equal(
            ctx.chosen(m, included_only=False), want.reset_index(drop=True)
        )
        pd.testing.assert_frame_equal(
            ctx.chosen(m), want[want["USUBJID"].isin(list(included))].reset_index(drop=True)
        )
    narrowed = ctx.restrict(included.iloc[:10])
    assert narrowed.n == 10
    assert set(narrowed.chosen("MRSS")["USUBJID"]) <= set(included.iloc[:10])


# ------------------------------------------------------------------ the whole pipeline
@pytest.mark.slow
def test_ivigbook_run_on_the_registry(package, tmp_path):
    out = tmp_path / "book"
    proc = subprocess.run(
        _ivigbook() + ["run", str(package), "--out", str(out), "--jobs", "2"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert results["results"]["cohort_patients_n"] == N
    assert 0 < results["results"]["cohort_analysed_n"] < N
    assert (out / "_build" / "html" / "index.html").is_file()
    assert not (out / "_cache").exists()  # patient-level parquet never left behind
    assert np.isfinite(results["results"]["skin_mrss_m6_mean"])


def test_prime_cache_then_load_context_reads_it(package, loaded, tmp_path, monkeypatch):
    from ivigbook.derive import context
    from ivigbook.derive.context import prime_cache

    cohort, _ = loaded
    prime_cache(cohort, package, PAPER, tmp_path)

    def no_validation(*a, **k):
        raise AssertionError("load_context validated again instead of reading the cache")

    monkeypatch.setattr(context, "load_cohort", no_validation)
    monkeypatch.setattr(context, "derive_all", no_validation)
    ctx = load_context(package, "{}", tmp_path)
    assert ctx.cohort.sha256 == cohort.sha256 and len(ctx.adsl) == N


_COUNTING = """
import sys
from ivigbook.derive import context
real = context.load_cohort
def counted(*a, **k):
    print("VALIDATED", flush=True)
    return real(*a, **k)
context.load_cohort = counted
ctx = context.load_context(sys.argv[1], "{}", sys.argv[2])
print("N", len(ctx.adsl))
"""


def test_parallel_notebooks_validate_and_derive_once(package, tmp_path):
    """Two processes loading the same package into one cache: one works, one reads."""
    cmd = [sys.executable, "-c", _COUNTING, str(package), str(tmp_path / "cache")]
    procs = [
        subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outs]
    text = "".join(o[0] for o in outs)
    assert text.count("VALIDATED") == 1 and text.count(f"N {N}") == 2
