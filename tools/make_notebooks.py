"""Write the source notebooks (outputs stripped) from the cell lists below.

The notebooks in notebooks/ are the sources of truth for readers of the repo;
this script only exists to keep their boilerplate (parameters, start, finish)
identical. Run: .venv/bin/python tools/make_notebooks.py
"""
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]

PARAMS = '''# Parameters (papermill). Paths are relative to the executed notebook's folder.
data_dir = "../../data/synthetic/hopkins2015"
cohort_name = "hopkins2015"
params_json = "{}"  # analysis-rule overrides, e.g. '{"window_halfwidth_months": 1}'
results_dir = "_results"
cache_dir = ""
comparators_path = "../../data/reference/historical_controls.csv"
published_path = "../../data/reference/published_poelman2015.csv"
synthetic = True
seed = 2015'''


def start(stem: str, imports: str) -> str:
    return (f"from ivigbook import book, {imports}\n"
            f'ctx, rec = book.start("{stem}", data_dir, params_json, results_dir, cache_dir, '
            "synthetic, cohort_name)")


def code(src, hide=True):
    c = new_code_cell(src)
    if hide:
        c.metadata["tags"] = ["hide-input"]
    return c


def md(src):
    return new_markdown_cell(src)


def notebook(stem, title_cells, imports, body):
    p = new_code_cell(PARAMS)
    p.metadata["tags"] = ["parameters", "hide-input"]
    cells = [md(title_cells), p, code(start(stem, imports))] + body + [code("book.finish(rec)")]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for i, c in enumerate(nb.cells):
        c["id"] = f"{stem[:2]}-{i:02d}"
    nbformat.write(nb, ROOT / "notebooks" / f"{stem}.ipynb")


NOTEBOOKS = {}

NOTEBOOKS["01_cohort"] = ("""# Cohort description

Who was treated, how they entered the analysis, what they had before IVIG and how they
were treated.""", "describe, figures, historical", [
    md("""## Inclusion flow

The package holds {glue:text}`flow_total_n` patients treated with IVIG;
{glue:text}`flow_included_n` met the inclusion criteria of the analysis and
{glue:text}`flow_excluded_n` were excluded, each for the first criterion they failed."""),
    code("flow = describe.flow(ctx, rec)\nbook.figure(figures.flow_diagram, describe.flow_boxes(flow), synthetic=ctx.synthetic)"),
    md("""## Baseline characteristics (Table 1)

Of the {glue:text}`table1_n` patients analysed, {glue:text}`table1_female_n`
({glue:text}`table1_female_pct`%) were women and {glue:text}`table1_white_n`
({glue:text}`table1_white_pct`%) were white. The mean age at IVIG start was
{glue:text}`table1_age_mean` years (SD {glue:text}`table1_age_sd`) and the mean disease
duration {glue:text}`table1_duration_mean` months (SD {glue:text}`table1_duration_sd`). The
mean baseline mRSS was {glue:text}`table1_mrss_mean` (SD {glue:text}`table1_mrss_sd`);
{glue:text}`table1_myositis_n` patients ({glue:text}`table1_myositis_pct`%) had concomitant
myositis.

The comparator columns are published summaries of three negative randomised trials
(relaxin, D-penicillamine, oral bovine collagen; {cite:t}`amjadi2009`) and of patients
treated with mycophenolate alone ({cite:t}`le2011`)."""),
    code("comparators = historical.load_comparators(comparators_path)\nbook.show(describe.table1(ctx, rec, comparators))"),
    md("""## Treatment (Table 2)

Patients received a mean of {glue:text}`treat_cycles_mean` IVIG cycles (SD
{glue:text}`treat_cycles_sd`, range {glue:text}`treat_cycles_min` to
{glue:text}`treat_cycles_max`) over a mean treatment length of
{glue:text}`treat_length_months_mean` months (SD {glue:text}`treat_length_months_sd`)."""),
    code("book.show(describe.table2(ctx, rec))"),
    md("""## IVIG cycles per patient

Each lane is one patient (anonymous number), each marker one cycle; the lane ends with
the reason IVIG was stopped."""),
    code("book.figure(figures.swimmer, *describe.swimmer_data(ctx), synthetic=ctx.synthetic)"),
])

NOTEBOOKS["02_skin_outcomes"] = ("""# Skin outcomes

The modified Rodnan skin score (mRSS, 0–51) before and after IVIG, who responded, what
predicted response, and the patients' and physicians' view.""", "figures, outcomes, skin", [
    md("""## mRSS over time

The mean baseline mRSS was {glue:text}`skin_mrss_bl_mean` (SD {glue:text}`skin_mrss_bl_sd`,
N={glue:text}`skin_mrss_bl_n`). At 6 months it was {glue:text}`skin_mrss_m6_mean`
(SD {glue:text}`skin_mrss_m6_sd`, N={glue:text}`skin_mrss_m6_n`, p={glue:text}`skin_mrss_m6_p`)
and at 12 months {glue:text}`skin_mrss_m12_mean` (SD {glue:text}`skin_mrss_m12_sd`,
N={glue:text}`skin_mrss_m12_n`, p={glue:text}`skin_mrss_m12_p`); p-values compare each visit
with baseline among the patients with both values (paired t test). The number of patients
falls at later visits: the complete-case means describe fewer and fewer patients."""),
    code('book.show(skin.course_table(ctx, rec, caption="mRSS at baseline and follow-up"))'),
    md("""## Trend before and after IVIG start (Figure 1)

Mean mRSS with 95% confidence intervals over all recorded visits, by calendar month from
the first IVIG cycle (values grouped in 3-month bins, N under each point)."""),
    code('book.figure(figures.mean_trajectory, outcomes.trajectory(ctx, "MRSS"), ylabel="mRSS (points)", synthetic=ctx.synthetic)'),
    code('book.figure(figures.spaghetti, skin.spaghetti_data(ctx), ylabel="mRSS (points)", synthetic=ctx.synthetic)'),
    md("""## Responders

A responder's mRSS fell by at least 5 points, the minimal clinically important difference
{cite:p}`khanna2006`: {glue:text}`skin_responders_m6_k` of {glue:text}`skin_responders_m6_n`
patients with data at 6 months and {glue:text}`skin_responders_m12_k` of
{glue:text}`skin_responders_m12_n` at 12 months."""),
    code("book.show(skin.responders(ctx, rec))"),
    code('book.figure(figures.waterfall, skin.waterfall_data(ctx, 12), mcid=ctx.params.responder_mcid, synthetic=ctx.synthetic)'),
    md("""## Predictors of response

Simple logistic regression of responder status, and simple linear regression of the change
in mRSS, on each candidate predictor at 6 and 12 months. Concomitant prednisone at 12
months: odds ratio {glue:text}`logit_prednisone_m12_or` (95% CI
{glue:text}`logit_prednisone_m12_ci_low` to {glue:text}`logit_prednisone_m12_ci_high`,
p={glue:text}`logit_prednisone_m12_p`). Predictors with p < 0.05 in any model:
{glue:text}`skin_predictors_significant`. With this few patients and this many
predictors, some p-values below 0.05 are expected by chance alone."""),
    code("reg = skin.regressions(ctx, rec)\nbook.figure(figures.forest, skin.forest_rows(reg), synthetic=ctx.synthetic)\nbook.show(skin.regression_table(reg, ctx.synthetic))"),
    md("""## Disability and patient-reported severity

HAQ-DI and the patient's rating of disease severity (HAQ visual analogue scale, 0–3),
baseline vs follow-up (paired t test)."""),
    code('book.show(skin.course_table(ctx, rec, "HAQ_DI", "haq_di", decimals=2, caption="HAQ disability index"))\nbook.show(skin.course_table(ctx, rec, "HAQ_VAS_SEVERITY", "haq_vas", decimals=2, caption="Patient global severity (HAQ VAS)"))'),
    md("""## Physician assessment and tendon friction rubs

The treating physician judged {glue:text}`skin_physician_improved_n` patients
({glue:text}`skin_physician_improved_pct`%) improved and {glue:text}`skin_physician_stable_n`
({glue:text}`skin_physician_stable_pct`%) stable. Of the {glue:text}`skin_tfr_bl_n` patients
with tendon friction rubs at baseline, {glue:text}`skin_tfr_m6_resolved_n` had none at
6 months, {glue:text}`skin_tfr_m6_persisting_n` still had them and
{glue:text}`skin_tfr_m6_missing_n` had no assessment in the window."""),
    code("book.show(skin.physician(ctx, rec))\nbook.show(skin.tfr_resolution(ctx, rec))"),
])

NOTEBOOKS["03_organ_outcomes"] = ("""# Pulmonary and organ outcomes

Lung function, organ severity (Medsger scale) and muscle enzymes at baseline and
follow-up.""", "figures, organ", [
    md("""## Pulmonary function

Mean FVC went from {glue:text}`organ_fvc_m12_base_mean`% to {glue:text}`organ_fvc_m12_mean`%
predicted (N={glue:text}`organ_fvc_m12_n`, p={glue:text}`organ_fvc_m12_p`), and DLCO from
{glue:text}`organ_dlco_m12_base_mean`% to {glue:text}`organ_dlco_m12_mean`% predicted
(N={glue:text}`organ_dlco_m12_n`, p={glue:text}`organ_dlco_m12_p`). The baseline means here
are those of the patients with both values, so they differ from Table 1."""),
    code('book.show(organ.paired_table(ctx, rec, {"FVC_PCT": "fvc", "DLCO_PCT": "dlco", "RVSP_MMHG": "rvsp"}))'),
    md("""## Organ severity (Medsger)

Severity scores are ordinal (0–4), so baseline and follow-up are compared with the
Wilcoxon signed-rank test {cite:p}`medsger1999`."""),
    code("book.show(organ.medsger(ctx, rec), absent='No Medsger severity scores in this cohort.')"),
    md("""## Creatine kinase in patients with myositis

Of the {glue:text}`organ_ck_myositis_n` patients with overlap myositis,
{glue:text}`organ_ck_serial_n` had serial CK values; in {glue:text}`organ_ck_normalised_n`
the last value was below the upper limit of normal (200 U/L)."""),
    code('book.figure(figures.lab_course, organ.ck_course(ctx, rec), ylabel="CK (U/L)", uln=organ.CK_ULN, synthetic=ctx.synthetic, absent="No CK values in patients with myositis.")'),
])

NOTEBOOKS["04_safety"] = ("""# Safety

Adverse events reported during IVIG and why IVIG was stopped.""", "figures, safety", [
    md("""## Adverse events

{glue:text}`safety_patients_any_n` of {glue:text}`cohort_analysed_n` patients
({glue:text}`safety_patients_any_pct`%) had at least one adverse event, with
{glue:text}`safety_events_n` events in total; {glue:text}`safety_patients_serious_n` had a
serious event and {glue:text}`safety_patients_discontinued_n` stopped IVIG because of an
adverse event."""),
    code("book.show(safety.aet02(ctx, rec), absent='No adverse-event table in this cohort package.')"),
    code("book.figure(figures.bar_counts, safety.ae_by_term(ctx), xlabel='Patients, n', sort=False, synthetic=ctx.synthetic, absent='No adverse events recorded.')"),
    md("""## Reasons for stopping IVIG

{glue:text}`stop_improvement_or_stable_n` patients ({glue:text}`stop_improvement_or_stable_pct`%)
stopped because of improvement or stability, as judged by the treating physician."""),
    code("book.show(safety.record_stop_reasons(ctx, rec))\nbook.show(safety.serious_events(ctx), absent='No serious events or events leading to stopping.')"),
])

NOTEBOOKS["05_historical_comparisons"] = ("""# Historical comparisons

The change in mRSS under IVIG compared with the published course of patients in three
large negative trials {cite:p}`amjadi2009` and with patients treated with mycophenolate
alone {cite:p}`le2011`, using Student's t test from summary statistics as the paper did.""",
    "figures, historical", [
    md("""## Change in mRSS against each comparator

At 6 months the mean change under IVIG was {glue:text}`hist_ivig_m6_mean` (SD
{glue:text}`hist_ivig_m6_sd`, N={glue:text}`hist_ivig_m6_n`); at 12 months
{glue:text}`hist_ivig_m12_mean` (SD {glue:text}`hist_ivig_m12_sd`,
N={glue:text}`hist_ivig_m12_n`)."""),
    code("comparators = historical.load_comparators(comparators_path)\ncomp = historical.change_comparisons(ctx, rec, comparators)\nbook.show(historical.change_table(comp, ctx.synthetic))\nbook.figure(figures.forest, historical.forest_rows(comp), null=0.0, log=False, xlabel='Mean change in mRSS (95% CI)', synthetic=ctx.synthetic)"),
    md("""## How the p-value depends on the comparator's N

The published summaries do not say how many comparator patients had follow-up data. The
table recomputes each p-value over a range of plausible comparator Ns."""),
    code("book.show(historical.n_sensitivity(ctx, comparators))"),
    md("""## Caveats

- **Baseline severity.** Patients with higher baseline mRSS tend to improve more
  {cite:p}`merkel2012`; this cohort's baseline mRSS is compared with each comparator in
  Table 1 (chapter 1).
- **Responders vs refractory patients.** The mycophenolate group were mostly patients who
  responded to mycophenolate, whereas IVIG was typically added for patients who had not
  {cite:p}`poelman2015`. The comparison is therefore biased *against* IVIG, not for it.
- **Historical controls** differ in era, entry criteria and visit schedules; these
  comparisons describe, they do not estimate a causal effect."""),
])

NOTEBOOKS["06_sensitivity_windows"] = ("""# Sensitivity to the visit windows

The paper accepted a follow-up value within ±2 months of the target month. Here the skin
analysis is repeated with the exact month only, ±1 month, and a wider ±3 months.""",
    "figures, sensitivity", [
    md("""## mRSS change by window width

With the exact month only, {glue:text}`sens_hw0_mrss_m12_n` patients had a 12-month value
(mean change {glue:text}`sens_hw0_mrss_m12_change_mean`); with ±2 months,
{glue:text}`sens_hw2_mrss_m12_n` (mean change {glue:text}`sens_hw2_mrss_m12_change_mean`)."""),
    code("win = sensitivity.by_window(ctx, rec)\nbook.show(sensitivity.window_table(win, ctx.synthetic))\nbook.figure(figures.estimate_by_window, win, synthetic=ctx.synthetic)"),
])

NOTEBOOKS["07_reproduction"] = ("""# Reproduction and reproducibility

Each number published for this cohort, side by side with the value this book recomputes
from the cohort data. The analysis itself never reads the published values; this page
only compares.""", "reproduce", [
    md("""## Published vs recomputed

{glue:text}`repro_match_n` of {glue:text}`repro_rows_n` published numbers
({glue:text}`repro_match_pct`%) are reproduced at their printed precision."""),
    code("table = reproduce.comparison(results_dir, published_path)\nbook.show(reproduce.summary_table(table, rec, ctx.synthetic))\nbook.show(reproduce.detail_table(table, ctx.synthetic))"),
    md("""## Reproducibility

The package versions, analysis parameters and the SHA-256 hash of the cohort data used
for this edition."""),
    code("book.show(reproduce.environment_table(ctx))"),
])


if __name__ == "__main__":
    for stem, (title, imports, body) in NOTEBOOKS.items():
        notebook(stem, title, imports, body)
    print("wrote", len(NOTEBOOKS), "notebooks")
