"""The complete example mapping (documented in the book, tested on a synthetic export)
and the starter file that ``ivigbook template DIR --mapping`` writes."""

from __future__ import annotations

from ivigbook.data.schema import MEASURES, TABLES

#: Reads :func:`ivigbook.synth.exports.spanish_export`: a per-visit registry with
#: Spanish labels, DD/MM/YYYY dates and decimal commas, and a pharmacy log by MRN.
EXAMPLE_MAPPING = """\
# ivigbook import mapping (format 1): how this centre's export becomes the contract.
format = 1

[defaults]
date_format = "%d/%m/%Y"   # 31/01/2015 (ISO dates are always read too)
decimal = ","              # 1,5 is one and a half
list_separator = ","       # "Miositis, Sjögren"

[identifiers]
# Direct identifiers and free text of the sources: never copied into the package.
columns = ["nhc", "nombre", "comentarios"]
# patient_id: copy the key as it is (record_id is a study number, not an identifier);
# "sequence" numbers the patients, "hash" uses a keyed hash (IVIGBOOK_ID_KEY).
patient_id = "copy"

[sources.registro]
file = "registro.csv"      # one row per patient visit
patient = "record_id"

[sources.farmacia]
file = "farmacia.csv"      # the pharmacy's infusion log, by medical record number
patient = "nhc"
link = { source = "registro", column = "nhc" }   # nhc -> the registry's record_id

[sources.tratamientos]
file = "tratamientos.csv"
patient = "record_id"

[sources.efectos]
file = "efectos.csv"
patient = "record_id"

[tables.patients]
source = "registro"        # patient columns repeat on every visit row: one value each
[tables.patients.columns]
center = "centro"
sex = "sexo"
race = "raza"
birth_year = { year_of = "fecha_nacimiento" }
ssc_subtype = "subtipo"
onset_date = "inicio_sintomas"
overlap = "overlap"
ivig_indication = "ivig_indication"
ana = "ana"
anti_centromere = "anti_centromere"
anti_scl70 = "anti_scl70"
anti_rnapol3 = "anti_rnapol3"
anti_rnp = "anti_rnp"
active_skin_disease = "piel_activa"
stop_reason = "motivo_suspension"
physician_assessment = "valoracion_medica"
death_date = "fecha_defuncion"

[tables.measurements]
source = "registro"
date = "fecha_visita"      # wide to long: one column per measure
[tables.measurements.measures]
MRSS = "mrss"
FVC_PCT = "cvf_pct"
DLCO_PCT = "dlco_pct"
HAQ_DI = "haq_di"
HAQ_VAS_SEVERITY = "haq_eva_gravedad"
CK_UL = "ck"
RVSP_MMHG = "psap"
TFR = "roces_tendinosos"
MEDSGER_GENERAL = "medsger_general"
MEDSGER_VASCULAR = "medsger_vascular"
MEDSGER_SKIN = "medsger_skin"
MEDSGER_JOINT = "medsger_joint"
MEDSGER_MUSCLE = "medsger_muscle"
MEDSGER_GI = "medsger_gi"
MEDSGER_LUNG = "medsger_lung"
MEDSGER_HEART = "medsger_heart"
MEDSGER_KIDNEY = "medsger_kidney"
MRC_STRENGTH = "fuerza_mrc"
UCLA_GIT_TOTAL = "ucla_git"
RENAL_CRISIS = "crisis_renal"

[tables.infusions]
source = "farmacia"
[tables.infusions.columns]
start_date = "fecha_inicio"
dose_g_per_kg = { divide = ["gramos_totales", "peso_kg"] }   # total grams / weight
days = "dias"

[tables.medications]
source = "tratamientos"
[tables.medications.columns]
drug = "farmaco"
start_date = "inicio"
stop_date = "fin"

[tables.adverse_events]
source = "efectos"
[tables.adverse_events.columns]
onset_date = "fecha"
term = "termino"
serious = "grave"
led_to_discontinuation = "suspension"

# Value maps: source text -> contract code ("" = blank). Codes themselves
# (F, diffuse, yes ...) are always accepted, in any case.
[values.sex]
Mujer = "F"
Hombre = "M"

[values.race]
Blanca = "white"
Negra = "black"
"Asiática" = "asian"
Otra = "other"
Desconocida = "unknown"

[values.ssc_subtype]
Difusa = "diffuse"
Limitada = "limited"
"Sine esclerodermia" = "sine"

[values.overlap]
Miositis = "myositis"
"Sjögren" = "sjogren"
AR = "ra"
LES = "sle"
Otra = "other"

[values.ivig_indication]
Piel = "skin"
Miositis = "myositis"
Digestiva = "gi"
Otra = "other"

[values.ana]
Positivo = "pos"
Negativo = "neg"
"No realizado" = ""

[values.anti_centromere]
Positivo = "pos"
Negativo = "neg"
"No realizado" = ""

[values.anti_scl70]
Positivo = "pos"
Negativo = "neg"
"No realizado" = ""

[values.anti_rnapol3]
Positivo = "pos"
Negativo = "neg"
"No realizado" = ""

[values.anti_rnp]
Positivo = "pos"
Negativo = "neg"
"No realizado" = ""

[values.active_skin_disease]
"Sí" = "yes"
No = "no"

[values.serious]
"Sí" = "yes"
No = "no"

[values.led_to_discontinuation]
"Sí" = "yes"
No = "no"

[values.stop_reason]
"Mejoría" = "improvement"
Estable = "stable"
"Progresión" = "progressing"
"Efecto adverso" = "adverse_event"
"Denegado por el seguro" = "insurance"
Traslado = "moved"
Fallecimiento = "death"
"En curso" = "ongoing"
Otro = "other"

[values.drug]
Micofenolato = "mycophenolate"
Metotrexato = "methotrexate"
Ciclofosfamida = "cyclophosphamide"
Prednisona = "prednisone"
Hidroxicloroquina = "hydroxychloroquine"
Azatioprina = "azathioprine"
D-penicilamina = "d_penicillamine"
Minociclina = "minocycline"
Colchicina = "colchicine"
Anti-TNF = "tnf_inhibitor"
Leflunomida = "leflunomide"
Rapamicina = "rapamycin"
Otro = "other"

[values.physician_assessment]
Mejor = "improved"
Igual = "stable"
Peor = "worse"
"""


def starter_mapping() -> str:
    """A starter mapping: the example, then every contract column and measure to map."""
    lines = [
        "# Starter mapping for `ivigbook import SOURCE --out PKG --mapping THIS_FILE`.",
        "# It is the book's complete example (a Spanish per-visit registry and a pharmacy",
        "# log): rename the files and columns to those of your export, keep what applies,",
        "# and delete the rest. Every contract column you may map is listed at the end.",
        "",
        EXAMPLE_MAPPING,
        "# ---------------------------------------------------------------- reference",
        "# Contract columns (table.column: description; * = required):",
    ]
    for t in TABLES.values():
        for c in t.columns:
            star = "*" if c.required else " "
            unit = f" ({c.unit})" if c.unit and c.unit != "year" else ""
            codes = f"; codes: {', '.join(c.vocab)}" if c.vocab and c.name != "measure" else ""
            lines.append(f"#  {star} {t.name}.{c.name}: {c.description}{unit}{codes}")
    lines.append("# Measures (keys of [tables.measurements.measures]):")
    lines += [
        f"#    {m.code}: {m.description} ({m.unit}, {m.lo:g} to {m.hi:g})"
        for m in MEASURES.values()
    ]
    return "\n".join(lines) + "\n"
