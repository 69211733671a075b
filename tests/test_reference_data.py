"""Integrity of data/reference/*.csv and book/references.bib.

These files are transcriptions of printed numbers; the checks below catch typos
(percentages that do not match their counts, decimals that do not match the
value, counts that do not add up) and keep the key scheme of DESIGN §5.
"""

from __future__ import annotations

import csv
import re
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from ivigbook.data import schema
from ivigbook.stats.printed import decimals_of, round_half_up

ROOT = Path(__file__).resolve().parents[1]
REF = ROOT / "data" / "reference"
BIB = ROOT / "book" / "references.bib"

PUBLISHED = ("published_poelman2015.csv", "published_spain_multicentre.csv")
PUB_COLUMNS = [
    "key",
    "value",
    "decimals",
    "relation",
    "n",
    "population",
    "source",
    "comparison",
    "note",
]
COMPARISONS = {
    "exact",
    "rounded",
    "p_value",
    "summary_stat_test",
    "not_reproducible",
    "parameter",
    "reference_input",
}
HIST_COLUMNS = [
    "comparator",
    "quantity",
    "key",
    "ivig_key",
    "mean",
    "sd",
    "pct",
    "n",
    "n_source",
    "n_implied",
    "n_repro_lo",
    "n_repro_hi",
    "p_key",
    "published_p",
    "published_significant",
    "citation",
    "source_in_seed",
    "note",
]
COMPARATORS = ("relaxin", "dpen", "collagen", "mmf")
KEY_RE = re.compile(r"^[a-z0-9_]+$")
PREFIXES = (
    "cohort_",
    "table1_",
    "hist_",
    "skin_",
    "logit_",
    "haq_",
    "physician_",
    "tfr_",
    "organ_",
    "myositis_",
    "treat_",
    "safety_",
    "stop_",
    "method_",
    "lit_",
    "overlap_",
    "indication_",
    "gi_",
)

#: Percentages whose printed value is not k/n for the N the paper gives (Table 1 column
#: header); they are consistent with the denominator in historical_controls.n_implied.
KNOWN_DENOMINATOR_MISMATCH = {
    "hist_relaxin_bl_female_pct",
    "hist_relaxin_bl_black_pct",
    "hist_relaxin_bl_other_pct",
    "hist_mmf_bl_white_pct",
    "hist_mmf_bl_black_pct",
    "hist_mmf_bl_other_pct",
}


def _read(name: str) -> list[dict]:
    with open(REF / name, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def poelman() -> dict[str, dict]:
    return {r["key"]: r for r in _read("published_poelman2015.csv")}


@pytest.fixture(scope="module")
def spain() -> dict[str, dict]:
    return {r["key"]: r for r in _read("published_spain_multicentre.csv")}


@pytest.fixture(scope="module")
def hist() -> list[dict]:
    return _read("historical_controls.csv")


def _val(rows: dict, key: str) -> float:
    return float(rows[key]["value"])


def _pct_ok(pct: str, n: int) -> bool:
    """Is there an integer k with 100*k/n printing as ``pct``?"""
    d = decimals_of(pct)
    return any(round_half_up(100 * k / n, d) == float(pct) for k in range(n + 1))


# ================================================================ structure
@pytest.mark.parametrize("name", PUBLISHED)
def test_published_structure(name):
    df = pd.read_csv(REF / name, dtype=str, keep_default_na=False)
    assert list(df.columns) == PUB_COLUMNS
    assert len(df) > 0
    assert df["key"].is_unique, df.loc[df["key"].duplicated(), "key"].tolist()
    for r in df.to_dict("records"):
        k = r["key"]
        assert KEY_RE.match(k), k
        assert k.startswith(PREFIXES), k
        assert r["relation"] in ("=", "<"), k
        assert r["comparison"] in COMPARISONS, k
        assert r["source"].strip() and r["population"].strip(), k
        Decimal(r["value"])  # parses as a number
        assert not r["value"].startswith(("<", "+")) and r["value"] == r["value"].strip(), k
        assert int(r["decimals"]) == decimals_of(r["value"]), (k, r["value"], r["decimals"])
        if r["n"]:
            assert re.fullmatch(r"[1-9][0-9]*", r["n"]), (k, r["n"])
        if r["comparison"] == "not_reproducible":
            assert r["note"].strip(), f"{k}: not_reproducible needs a note"
        if k.endswith(("_n", "_k")) and r["comparison"] == "exact":
            assert r["decimals"] == "0" and float(r["value"]) >= 0, k
        if k.endswith("_p") or "_p_" in k:
            assert float(r["value"]) <= 1, k
            assert r["comparison"] in ("p_value", "summary_stat_test"), k


@pytest.mark.parametrize("name", PUBLISHED)
def test_counts_within_denominator(name):
    for r in _read(name):
        if r["key"].endswith(("_n", "_k")) and r["n"] and r["comparison"] == "exact":
            assert float(r["value"]) <= int(r["n"]), r["key"]


# ================================================================ percentages
def test_poelman_percentages_match_counts(poelman):
    mismatched = set()
    checked = 0
    for k, r in poelman.items():
        if not k.endswith("_pct") or not r["n"]:
            continue
        n, d = int(r["n"]), int(r["decimals"])
        count_key = next((k[:-4] + s for s in ("_n", "_k") if k[:-4] + s in poelman), None)
        if count_key:
            expected = round_half_up(100 * _val(poelman, count_key) / n, d)
            assert expected == float(r["value"]), (k, r["value"], expected)
            checked += 1
        elif not _pct_ok(r["value"], n):
            mismatched.add(k)
        else:
            checked += 1
    assert checked > 60
    assert mismatched == KNOWN_DENOMINATOR_MISMATCH


def test_known_mismatches_fit_their_implied_denominator(poelman, hist):
    implied = {f"{r['key']}_pct": int(r["n_implied"]) for r in hist if r["n_implied"]}
    assert set(implied) >= KNOWN_DENOMINATOR_MISMATCH
    for key, n in implied.items():
        assert _pct_ok(poelman[key]["value"], n), key
    # the race percentages of a column fit their implied denominator jointly, and
    # no other N up to the header N + 10
    for comp, n_implied in (("relaxin", 196), ("mmf", 82)):
        fits = [
            n
            for n in range(5, int(_val(poelman, f"hist_{comp}_n")) + 11)
            if all(
                _pct_ok(poelman[f"hist_{comp}_bl_{q}_pct"]["value"], n)
                for q in ("white", "black", "other")
            )
        ]
        assert n_implied in fits and int(_val(poelman, f"hist_{comp}_n")) not in fits


def test_spain_percentages(spain):
    for k, r in spain.items():
        if k.endswith("_pct") and r["n"]:
            count_key = k[:-4] + "_n"
            if count_key in spain:
                expected = round_half_up(
                    100 * _val(spain, count_key) / int(r["n"]), int(r["decimals"])
                )
                assert expected == float(r["value"]), k
            else:
                assert _pct_ok(r["value"], int(r["n"])), k
        if k.endswith("_pct") and not r["n"] and r["comparison"] == "rounded":
            assert "denominator" in r["note"] or "words" in r["note"], (
                f"{k}: a percentage without n must say why in its note"
            )


# ================================================================ arithmetic
def test_poelman_internal_sums(poelman):
    def v(k):
        return _val(poelman, k)

    n = v("cohort_n")
    assert n == 30
    stops = [
        k
        for k in poelman
        if k.startswith("stop_") and k.endswith("_n") and k not in ("stop_adverse_event_n",)
    ]
    assert sum(v(k) for k in stops) == n  # every patient stopped for one reason or is ongoing
    assert v("stop_adverse_event_n") == (
        v("stop_adverse_event_aseptic_meningitis_n")
        + v("stop_adverse_event_transient_ischemic_attack_n")
    )
    assert round_half_up(100 * (v("stop_improvement_n") + v("stop_stable_n")) / n, 1) == v(
        "stop_improvement_or_stable_pct"
    )
    assert round_half_up(100 * v("stop_improvement_n") / n, 0) == v("skin_physician_improved_pct")
    assert v("skin_tfr_m6_resolved_n") + v("skin_tfr_m6_persisting_n") + v(
        "skin_tfr_m6_missing_n"
    ) == v("table1_tfr_n")
    assert v("cohort_first_line_n") + round(v("table1_prior_any_pct") * n / 100) == n
    assert abs(sum(v(f"table1_{q}_pct") for q in ("white", "black", "other")) - 100) < 0.25
    for c in COMPARATORS:
        total = sum(v(f"hist_{c}_bl_{q}_pct") for q in ("white", "black", "other"))
        assert abs(total - 100) < 0.25, c
    for visit in ("m6", "m12"):
        assert v(f"skin_responders_{visit}_k") <= v(f"skin_responders_{visit}_n")
        assert (
            v(f"skin_responders_{visit}_n")
            == v(f"skin_mrss_{visit}_n")
            == v(f"skin_mrss_change_{visit}_n")
        )
    ns = [v(f"skin_mrss_{m}_n") for m in ("m6", "m12", "m18", "m24")]
    assert ns == sorted(ns, reverse=True) and max(ns) <= n
    assert v("safety_aseptic_meningitis_n") <= v("safety_headache_n")
    assert v("organ_ck_serial_n") <= v("table1_myositis_n")
    assert (
        v("logit_prednisone_m12_ci_low")
        < v("logit_prednisone_m12_or")
        < v("logit_prednisone_m12_ci_high")
    )
    assert v("treat_cycles_min") <= v("treat_cycles_mean") <= v("treat_cycles_max")
    # the paper contradicts itself on baseline lung function: both versions kept
    assert v("table1_fvc_mean") != v("organ_fvc_m12_base_mean")
    assert v("table1_dlco_mean") != v("organ_dlco_m12_base_mean")
    # every hist p that the abstract rounds agrees with the text
    for c in ("mmf_m6", "mmf_m12"):
        assert round_half_up(v(f"hist_{c}_p"), 2) == v(f"hist_{c}_p_abstract")


def test_spain_internal_sums(spain):
    def v(k):
        return _val(spain, k)

    assert v("table1_female_n") + v("table1_male_n") == v("cohort_n") == 78
    assert v("table1_subtype_diffuse_n") + v("table1_subtype_limited_n") == v("cohort_n")
    assert v("table1_subtype_diffuse_pct") + v("table1_subtype_limited_pct") == 100
    assert v("safety_patients_any_n") <= v("safety_events_n")
    assert v("safety_patients_serious_discontinued_n") <= v("safety_patients_discontinued_n")
    assert v("skin_mrss_bl_mean") + v("skin_mrss_change_m3_mean") == v("skin_mrss_m3_mean")
    assert v("myositis_ck_bl_mean") / v("myositis_ck_m3_mean") > 5  # "more than five times"


# ================================================================ vocabulary
def test_poelman_codes_follow_the_schema(poelman):
    organs = {m.split("_", 1)[1].lower() for m in schema.MEASURES if m.startswith("MEDSGER_")}
    for k in poelman:
        m = re.fullmatch(r"safety_(.+)_(n|pct)", k)
        if m:
            assert m.group(1) in schema.AE_TERMS, k
        m = re.fullmatch(r"(?:table1_prior|treat_concomitant)_(.+)_(n|pct)", k)
        details = k.startswith("table1_prior_other_") or k == "table1_prior_any_pct"
        if m and not details:
            assert m.group(1) in schema.DRUG, k
        m = re.fullmatch(r"stop_(.+)_(n|pct)", k)
        if m and m.group(1) != "improvement_or_stable":
            reason = m.group(1)
            assert reason in schema.STOP_REASON or (
                reason.startswith("adverse_event_")
                and reason[len("adverse_event_") :] in schema.AE_TERMS
            ), k
        m = re.fullmatch(r"organ_medsger_([a-z]+)_m12_.+", k)
        if m:
            assert m.group(1) in organs, k
    assert {f"safety_{t}_n" for t in schema.AE_TERMS} & set(poelman)  # uses the codes
    missing_ae = [
        t
        for t in (
            "headache",
            "fatigue",
            "nausea_emesis",
            "acute_kidney_injury",
            "aseptic_meningitis",
        )
        if f"safety_{t}_n" not in poelman
    ]
    assert not missing_ae


def test_every_table2_and_results_number_is_present(poelman):
    required = [
        "skin_mrss_bl_mean",
        "skin_mrss_bl_sd",
        "skin_mrss_m6_n",
        "skin_mrss_m6_p",
        "skin_mrss_m24_p",
        "skin_mrss_change_m6_mean",
        "skin_responders_m6_k",
        "logit_prednisone_m12_or",
        "logit_prednisone_m12_ci_low",
        "logit_prednisone_m12_ci_high",
        "organ_fvc_m12_base_mean",
        "organ_fvc_m12_p",
        "organ_medsger_gi_m12_p",
        "organ_medsger_vascular_m12_p",
        "organ_medsger_heart_m12_p",
        "organ_medsger_lung_m12_p",
        "organ_medsger_muscle_m12_p",
        "organ_medsger_general_m12_p",
        "table1_fvc_mean",
        "safety_headache_n",
        "safety_headache_pct",
        "stop_improvement_n",
        "stop_ongoing_n",
        "table1_prior_prednisone_n",
        "table1_female_pct",
        "hist_relaxin_m6_p",
        "hist_dpen_m12_p",
        "hist_collagen_m12_p",
        "hist_mmf_m6_p",
        "hist_mmf_m12_p",
        "hist_dpen_bl_mrss_mean",
        "hist_mmf_bl_mrss_p",
        "hist_mmf_bl_myositis_p",
        "skin_haq_vas_m12_p",
        "skin_haq_di_m12_p",
        "table1_ck_mean",
        "table1_rvsp_mean",
        "table1_anti_rnapol3_tested_n",
        "treat_length_months_mean",
        "treat_cycles_max",
        "skin_physician_stable_pct",
        "skin_tfr_m6_resolved_n",
        "organ_ck_normalised_n",
        "safety_death_months_from_start",
        "safety_acute_kidney_injury_months_after_stop",
        "stop_improvement_or_stable_pct",
    ]
    assert not [k for k in required if k not in poelman]
    aes = [k for k in poelman if k.startswith("safety_") and k.endswith("_n")]
    assert len(aes) == 24  # 23 rows of Table 2 + aseptic meningitis


# ================================================================ historical controls
def test_historical_controls_structure(hist, poelman):
    assert list(hist[0].keys()) == HIST_COLUMNS
    seen = set()
    for r in hist:
        assert r["comparator"] in COMPARATORS
        assert (r["comparator"], r["quantity"]) not in seen
        seen.add((r["comparator"], r["quantity"]))
        assert r["citation"].strip(), r
        assert r["n"] and int(r["n"]) > 0 and r["n_source"].strip()
        assert r["published_significant"] in ("", "yes", "no")
        assert KEY_RE.match(r["key"])
        if r["quantity"] == "n":
            assert _val(poelman, r["key"]) == int(r["n"])
            continue
        if r["mean"]:
            for stat in ("mean", "sd"):
                pub = poelman[f"{r['key']}_{stat}"]["value"]
                assert round_half_up(float(r[stat]), decimals_of(pub)) == float(pub), (
                    r["key"],
                    stat,
                    r[stat],
                    pub,
                )
        else:
            assert r["pct"] == poelman[f"{r['key']}_pct"]["value"], r["key"]
        root = r["ivig_key"]
        assert any(f"{root}_{s}" in poelman for s in ("mean", "pct")), root
        if r["p_key"]:
            p = poelman[r["p_key"]]
            assert r["published_p"] == ("<" if p["relation"] == "<" else "") + p["value"]
    for c in COMPARATORS:
        for q in ("n", "age", "duration", "female", "white", "black", "other", "mrss_bl"):
            assert (c, q) in seen, (c, q)
    assert {(c, q) for c, q in seen if q.startswith("mrss_change")} == {
        ("relaxin", "mrss_change_m6"),
        ("mmf", "mrss_change_m6"),
        ("dpen", "mrss_change_m12"),
        ("collagen", "mrss_change_m12"),
        ("mmf", "mrss_change_m12"),
    }
    assert ("mmf", "haq_di_bl") in seen and ("mmf", "myositis") in seen


def test_follow_up_n_is_flagged_as_inferred(hist):
    for r in hist:
        if r["quantity"].startswith("mrss_change"):
            assert "NOT REPORTED" in r["n_source"]
            assert int(r["n_repro_lo"]) <= int(r["n"]) <= int(r["n_repro_hi"])
        if r["n_repro_lo"]:
            assert int(r["n_repro_lo"]) <= int(r["n_repro_hi"])


def test_citations_resolve_to_bib_keys(hist):
    keys = _bib_keys()
    for r in hist:
        cited = re.findall(r"\[([a-z0-9_]+)\]", r["citation"])
        assert cited and all(c in keys for c in cited), r["citation"]
    assert {re.findall(r"\[([a-z0-9_]+)\]", r["citation"])[0] for r in hist} == {
        "amjadi2009",
        "le2011",
    }


# ================================================================ bibliography
def _bib_entries() -> list[tuple[str, str, str]]:
    text = BIB.read_text(encoding="utf-8")
    return re.findall(r"@(\w+)\s*\{\s*([^,\s]+)\s*,(.*?)\n\}", text, flags=re.S)


def _bib_keys() -> set[str]:
    return {k for _, k, _ in _bib_entries()}


def test_bibliography():
    entries = _bib_entries()
    keys = [k for _, k, _ in entries]
    assert len(keys) == len(set(keys))
    for required in (
        "poelman2015",
        "amjadi2009",
        "le2011",
        "khanna2006",
        "medsger1999",
        "leroy1988",
        "merkel2012",
        "takehara2013",
        "signorovitch2010",
        "phillippo2016",
        "rubin1987",
        "pratt1959",
        "spain_multicentre",
    ):
        assert required in keys, required
    text = BIB.read_text(encoding="utf-8")
    assert text.count("{") == text.count("}")
    for _, key, body in entries:
        assert re.search(r"\btitle\s*=", body), key
        for doi in re.findall(r"\bdoi\s*=\s*\{([^}]*)\}", body):
            assert re.fullmatch(r"10\.\d{4,9}/\S+", doi), (key, doi)
    assert "10.3899/jrheum.140833" in text
