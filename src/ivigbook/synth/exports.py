"""SYNTHETIC centre exports of a contract package, for the import tests and the docs.

* :func:`redcap_export`: what REDCap's Data Export gives for a project built from
  ``ivigbook template --redcap`` (raw or label CSV, classic with repeating instruments,
  or longitudinal with events, where the measurement visits are events).
* :func:`spanish_export`: a Spanish-language registry export as centres keep them:
  one row per patient visit (``;``-separated, DD/MM/YYYY dates, decimal commas,
  Spanish labels, an MRN and a name), and a pharmacy infusion log keyed by MRN with
  total grams and body weight. The mapping file that reads it is
  :data:`ivigbook.data.importing.example.EXAMPLE_MAPPING`.

Both are built from the contract tables, so an import can be compared with them.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd

from ivigbook.data.importing import redcap
from ivigbook.data.importing.example import EXAMPLE_MAPPING
from ivigbook.data.schema import MEASURES, TABLES
from ivigbook.synth import cohort_space

# ---------------------------------------------------------------- REDCap


def _visits(measurements: pd.DataFrame) -> pd.DataFrame:
    """Long measurements as one row per patient and date, a column per measure field."""
    wide = measurements.pivot_table(
        index=["patient_id", "date"], columns="measure", values="value", aggfunc="first"
    )
    wide.columns = [c.lower() for c in wide.columns]
    return wide.reset_index().fillna("")


def redcap_export(
    tables: dict[str, pd.DataFrame], labels: bool = False, events: bool = False
) -> bytes:
    """The CSV bytes of an export of the ivigbook REDCap project holding ``tables``."""
    fields = redcap.fields()
    header = ["record_id"] + (["redcap_event_name"] if events else [])
    header += ["redcap_repeat_instrument", "redcap_repeat_instance"]
    for f in fields:
        if f.name == redcap.RECORD_ID:
            continue
        col = None if f.measure else TABLES[f.form.table].column(f.column)
        if col is not None and col.kind == "vocab_list":
            header += list(redcap.checkbox_columns(f).values())
        else:
            header.append(f.name)
    header += [f"{form.name}_complete" for form in redcap.FORMS]
    rows: list[dict] = []
    patients = tables["patients"]
    for p in patients.to_dict("records"):
        row = {"record_id": p["patient_id"], "redcap_event_name": "baseline_arm_1"}
        for f in fields:
            if f.form.name != "patient" or f.name == redcap.RECORD_ID:
                continue
            col = TABLES["patients"].column(f.column)
            cell = p.get(f.column, "")
            if col.kind == "vocab_list":
                items = set(filter(None, cell.split(";")))
                for code, name in redcap.checkbox_columns(f).items():
                    row[name] = "1" if code in items else "0"
            else:
                row[f.name] = cell
        row["patient_complete"] = "2"
        rows.append(row)
    for form in redcap.FORMS[1:]:
        frame = tables.get(form.table)
        if frame is None or frame.empty:
            continue
        if form.table == "measurements":
            frame = _visits(frame)
        instance = frame.groupby("patient_id", sort=False).cumcount() + 1
        for k, r in zip(instance, frame.to_dict("records")):
            row = {"record_id": r["patient_id"], f"{form.name}_complete": "2"}
            if events and form.table == "measurements":
                row["redcap_event_name"] = f"visit_{k}_arm_1"
            else:
                row |= {
                    "redcap_event_name": "treatment_arm_1",
                    "redcap_repeat_instrument": form.name,
                }
                row["redcap_repeat_instance"] = str(k)
            for f in redcap.fields():
                if f.form is not form:
                    continue
                if f.measure:
                    row[f.name] = r.get(f.name, "")
                elif f.name == "ae_term_other":
                    continue
                elif f.column == "term" and r["term"] not in redcap.AE_TERMS:
                    row["ae_term"], row["ae_term_other"] = redcap.OTHER_TERM, r["term"]
                else:
                    row[f.name] = r.get(f.column, "")
            rows.append(row)
    order = {p: i for i, p in enumerate(patients["patient_id"])}
    rows.sort(key=lambda r: order.get(r["record_id"], len(order)))  # stable: patient first
    if labels:
        header, rows = _labelled(header, rows)
    buf = io.StringIO()
    w = csv.DictWriter(buf, header, restval="", extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue().encode("utf-8")


def _labelled(header: list[str], rows: list[dict]) -> tuple[list[str], list[dict]]:
    """Headers and choice values as REDCap's label export writes them."""
    to_label = {raw: label for label, raw in redcap.label_headers().items()}
    choices = {}
    for f in redcap.fields():
        if f.measure or f.name == redcap.RECORD_ID or f.name == "ae_term_other":
            continue
        col = TABLES[f.form.table].column(f.column)
        if f.column == "term":
            choices[f.name] = {**redcap.AE_TERMS, redcap.OTHER_TERM: "Other (specify)"}
        elif col.kind == "vocab":
            choices[f.name] = {c: redcap.choice_label(c) for c in col.vocab}
        elif col.kind == "vocab_list":
            for name in redcap.checkbox_columns(f).values():
                choices[name] = {"1": "Checked", "0": "Unchecked"}
    forms = {f.name: f.label for f in redcap.FORMS}
    complete = {"2": "Complete", "1": "Unverified", "0": "Incomplete"}
    out = []
    for r in rows:
        new = {}
        for k, v in r.items():
            if k in choices:
                v = choices[k].get(v, v)
            elif k == "redcap_repeat_instrument":
                v = forms.get(v, v)
            elif k.endswith("_complete"):
                v = complete.get(v, v)
            new[to_label.get(k, redcap.STATUS_LABEL if k.endswith("_complete") else k)] = v
        out.append(new)
    return [
        to_label.get(h, redcap.STATUS_LABEL if h.endswith("_complete") else h) for h in header
    ], out


# ---------------------------------------------------------------- a Spanish registry
SPANISH = {
    "sex": {"F": "Mujer", "M": "Hombre"},
    "race": {
        "white": "Blanca",
        "black": "Negra",
        "asian": "Asiática",
        "other": "Otra",
        "unknown": "Desconocida",
    },
    "ssc_subtype": {"diffuse": "Difusa", "limited": "Limitada", "sine": "Sine esclerodermia"},
    "overlap": {
        "myositis": "Miositis",
        "sjogren": "Sjögren",
        "ra": "AR",
        "sle": "LES",
        "other": "Otra",
    },
    "antibody": {"pos": "Positivo", "neg": "Negativo", "": "No realizado"},
    "ivig_indication": {"skin": "Piel", "myositis": "Miositis", "gi": "Digestiva", "other": "Otra"},
    "yes_no": {"yes": "Sí", "no": "No"},
    "stop_reason": {
        "improvement": "Mejoría",
        "stable": "Estable",
        "progressing": "Progresión",
        "adverse_event": "Efecto adverso",
        "insurance": "Denegado por el seguro",
        "moved": "Traslado",
        "death": "Fallecimiento",
        "ongoing": "En curso",
        "other": "Otro",
    },
    "physician_assessment": {"improved": "Mejor", "stable": "Igual", "worse": "Peor"},
}
#: Spanish column of each measure in the registry.
SPANISH_MEASURES = {
    "MRSS": "mrss",
    "FVC_PCT": "cvf_pct",
    "DLCO_PCT": "dlco_pct",
    "HAQ_DI": "haq_di",
    "HAQ_VAS_SEVERITY": "haq_eva_gravedad",
    "CK_UL": "ck",
    "RVSP_MMHG": "psap",
    "TFR": "roces_tendinosos",
    "MRC_STRENGTH": "fuerza_mrc",
    "UCLA_GIT_TOTAL": "ucla_git",
    "RENAL_CRISIS": "crisis_renal",
    **{c: c.lower() for c in MEASURES if c.startswith("MEDSGER")},
}
_ANTIBODIES = ("ana", "anti_centromere", "anti_scl70", "anti_rnapol3", "anti_rnp")


def _es_date(s: pd.Series) -> pd.Series:
    d = pd.to_datetime(s, format="%Y-%m-%d", errors="coerce")
    return d.dt.strftime("%d/%m/%Y").fillna("")


def _comma(s: pd.Series) -> pd.Series:
    return s.astype(str).str.replace(".", ",", regex=False)


def _semicolon_csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False, sep=";", lineterminator="\n").encode("utf-8")


def spanish_export(tables: dict[str, pd.DataFrame], seed: int = 0) -> dict[str, bytes]:
    """``registro.csv``, ``farmacia.csv``, ``tratamientos.csv`` and ``efectos.csv``."""
    rng = np.random.default_rng(seed)
    p = tables["patients"].copy()
    n = len(p)
    nhc = [f"{int(x):08d}" for x in rng.choice(90_000_000, size=n, replace=False) + 10_000_000]
    person = pd.DataFrame(
        {
            "record_id": p["patient_id"],
            "nhc": nhc,
            "nombre": [f"Paciente sintético {i + 1}" for i in range(n)],
            "centro": p.get("center", ""),
            "sexo": p["sex"].map(SPANISH["sex"]),
            "raza": p.get("race", pd.Series([""] * n)).map(lambda v: SPANISH["race"].get(v, "")),
            "fecha_nacimiento": [f"01/07/{y}" for y in p["birth_year"]],
            "subtipo": p["ssc_subtype"].map(SPANISH["ssc_subtype"]),
            "inicio_sintomas": _es_date(p.get("onset_date", pd.Series([""] * n))),
        }
    )
    for col, vocab in (("overlap", "overlap"), ("ivig_indication", "ivig_indication")):
        cells = p.get(col, pd.Series([""] * n))
        person[col] = cells.map(
            lambda v, m=SPANISH[vocab]: ", ".join(m[c] for c in v.split(";") if c)
        )
    for col in _ANTIBODIES:
        person[col] = p.get(col, pd.Series([""] * n)).map(SPANISH["antibody"])
    person["piel_activa"] = p.get("active_skin_disease", pd.Series([""] * n)).map(
        lambda v: SPANISH["yes_no"].get(v, "")
    )
    person["motivo_suspension"] = p.get("stop_reason", pd.Series([""] * n)).map(
        lambda v: SPANISH["stop_reason"].get(v, "")
    )
    person["comentarios"] = p.get("stop_detail", pd.Series([""] * n))
    person["valoracion_medica"] = p.get("physician_assessment", pd.Series([""] * n)).map(
        lambda v: SPANISH["physician_assessment"].get(v, "")
    )
    person["fecha_defuncion"] = _es_date(p.get("death_date", pd.Series([""] * n)))
    visits = _visits(tables["measurements"]).rename(
        columns={c.lower(): v for c, v in SPANISH_MEASURES.items()}
    )
    for c in visits.columns.drop(["patient_id", "date"]):
        visits[c] = _comma(visits[c])
    visits["fecha_visita"] = _es_date(visits.pop("date"))
    registro = person.merge(
        visits.rename(columns={"patient_id": "record_id"}), on="record_id", how="left"
    ).fillna("")
    files = {"registro.csv": _semicolon_csv(registro)}
    weight = pd.Series(np.round(rng.uniform(45, 95, n), 1), index=p["patient_id"])
    inf = tables["infusions"]
    dose = pd.to_numeric(inf["dose_g_per_kg"], errors="coerce")
    kg = inf["patient_id"].map(weight).to_numpy()
    grams = [f"{round(d * w, 6):.10g}" if np.isfinite(d) else "" for d, w in zip(dose, kg)]
    farmacia = pd.DataFrame(
        {
            "nhc": inf["patient_id"].map(dict(zip(p["patient_id"], nhc))),
            "fecha_inicio": _es_date(inf["start_date"]),
            "gramos_totales": _comma(pd.Series(grams)),
            "peso_kg": _comma(pd.Series([f"{w:g}" for w in kg])),
            "dias": inf.get("days", ""),
        }
    )
    files["farmacia.csv"] = _semicolon_csv(farmacia)
    if "medications" in tables:
        med = tables["medications"]
        files["tratamientos.csv"] = _semicolon_csv(
            pd.DataFrame(
                {
                    "record_id": med["patient_id"],
                    "farmaco": med["drug"].map(SPANISH_DRUGS),
                    "inicio": _es_date(med["start_date"]),
                    "fin": _es_date(med["stop_date"]),
                }
            )
        )
    if "adverse_events" in tables:
        ae = tables["adverse_events"]
        yes_no = lambda s: s.map(lambda v: SPANISH["yes_no"].get(v, ""))  # noqa: E731
        files["efectos.csv"] = _semicolon_csv(
            pd.DataFrame(
                {
                    "record_id": ae["patient_id"],
                    "fecha": _es_date(ae["onset_date"]),
                    "termino": ae["term"],
                    "grave": yes_no(ae.get("serious", pd.Series([""] * len(ae)))),
                    "suspension": yes_no(
                        ae.get("led_to_discontinuation", pd.Series([""] * len(ae)))
                    ),
                }
            )
        )
    return files


SPANISH_DRUGS = {
    "mycophenolate": "Micofenolato",
    "methotrexate": "Metotrexato",
    "cyclophosphamide": "Ciclofosfamida",
    "prednisone": "Prednisona",
    "hydroxychloroquine": "Hidroxicloroquina",
    "azathioprine": "Azatioprina",
    "d_penicillamine": "D-penicilamina",
    "minocycline": "Minociclina",
    "colchicine": "Colchicina",
    "tnf_inhibitor": "Anti-TNF",
    "leflunomide": "Leflunomida",
    "imatinib": "Imatinib",
    "rapamycin": "Rapamicina",
    "rituximab": "Rituximab",
    "tocilizumab": "Tocilizumab",
    "other": "Otro",
}


# ---------------------------------------------------------------- ivigbook synth exports
DEFAULT_SEED = 0
DEFAULT_OUT = "out/exports"
#: ``--shape``: which export of the cohort-space ``typical`` cohort to write.
NAMED = {
    "redcap_raw": "REDCap export, raw values, classic project with repeating instruments",
    "redcap_labels": "REDCap export with label headers and values",
    "redcap_events": "REDCap export of a longitudinal project (visits as events)",
    "spanish_registry": "Spanish per-visit registry and pharmacy log (needs a mapping)",
}
DEFAULT_SHAPE = "spanish_registry"
_README = """# SYNTHETIC export: {what}

Every value here is synthetic, generated by `ivigbook synth exports --shape {shape}
--seed {seed}` from the cohort-space `typical` cohort.{invented} Import it with:

    {command}
"""


def write(out_dir, seed: int = DEFAULT_SEED, shape: str = DEFAULT_SHAPE) -> list:
    """Write the export ``shape`` of the synthetic ``typical`` cohort into ``out_dir``."""
    tables = cohort_space.generate(cohort_space.NAMED["typical"][0], seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if shape == "spanish_registry":
        files = spanish_export(tables, seed) | {"mapping.toml": EXAMPLE_MAPPING.encode()}
        command = f"ivigbook import {out} --mapping {out / 'mapping.toml'} --out PKG"
    else:
        data = redcap_export(
            tables, labels=shape == "redcap_labels", events=shape == "redcap_events"
        )
        files = {"redcap_export.csv": data}
        command = f"ivigbook import {out / 'redcap_export.csv'} --out PKG"
    invented = (
        " The names and medical record numbers are invented." if shape == "spanish_registry" else ""
    )
    readme = _README.format(
        what=NAMED[shape], shape=shape, seed=seed, command=command, invented=invented
    )
    files["README.md"] = readme.encode()
    for name, data in files.items():
        (out / name).write_bytes(data)
    return sorted(out / name for name in files)
