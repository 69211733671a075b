"""Write the source notebooks (outputs stripped) from the cell lists below.

The notebooks in notebooks/ are the sources of truth for readers of the repo;
this script only exists to keep their boilerplate (parameters, start, finish)
identical. Run: .venv/bin/python notebooks/make_notebooks.py
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
    md("""## Centres

{glue:md}`cohort_centers_text`"""),
    code("book.show(describe.centres(ctx, rec), absent='Single-centre cohort.')"),
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
predicted response, and the patients' and physicians' view.""", "figures, imputation, longitudinal, outcomes, skin", [
    code("sctx = skin.population(ctx, rec)"),
    md("""## mRSS over time

{glue:md}`skin_population_text` {glue:md}`skin_mrss_text` The number of patients falls at
later visits, so each complete-case mean describes fewer patients."""),
    code('book.show(outcomes.course_table(sctx, rec, caption="mRSS at baseline and follow-up"))'),
    md("""## Trend before and after IVIG start (Figure 1)

Mean mRSS with 95% confidence intervals over all recorded visits, by calendar month from
the first IVIG cycle (values grouped in 3-month bins, N under each point), and each
patient's course (anonymous numbers; a random sample when there are many)."""),
    code('book.figure(figures.mean_trajectory, outcomes.trajectory(sctx, "MRSS"), ylabel="mRSS (points)", synthetic=ctx.synthetic)'),
    code('book.figure(figures.spaghetti, skin.spaghetti_data(sctx), ylabel="mRSS (points)", synthetic=ctx.synthetic)'),
    md("""## Responders

{glue:md}`skin_responders_text` The threshold is the minimal clinically important
difference of the mRSS {cite:p}`khanna2006`."""),
    code("book.show(skin.responders(sctx, rec))"),
    code('book.figure(figures.waterfall, skin.waterfall_data(sctx), mcid=ctx.params.responder_mcid, synthetic=ctx.synthetic)'),
    md("""## Predictors of response

Simple logistic regression of responder status, and simple linear regression of the change
in mRSS, on each candidate predictor. {glue:md}`skin_predictors_text` With this few patients
and this many predictors, some p-values below 0.05 are expected by chance alone."""),
    code("reg = skin.regressions(sctx, rec)\nbook.figure(figures.forest, skin.forest_rows(reg), synthetic=ctx.synthetic)\nbook.show(skin.regression_table(reg, ctx.synthetic))"),
    md("""## Disability and patient-reported severity

HAQ disability index and the patient's rating of disease severity (HAQ visual analogue
scale, 0–3). {glue:md}`skin_haq_di_text` For the patient's global severity:
{glue:md}`skin_haq_vas_text`"""),
    code('book.show(outcomes.course_table(sctx, rec, "HAQ_DI", "haq_di", decimals=2, caption="HAQ disability index"))\nbook.show(outcomes.course_table(sctx, rec, "HAQ_VAS_SEVERITY", "haq_vas", decimals=2, caption="Patient global severity (HAQ VAS)"))'),
    md("""## Physician assessment and tendon friction rubs

The treating physician judged {glue:text}`skin_physician_improved_n` patients
({glue:text}`skin_physician_improved_pct`%) improved and {glue:text}`skin_physician_stable_n`
({glue:text}`skin_physician_stable_pct`%) stable. {glue:md}`skin_tfr_text`"""),
    code("book.show(skin.physician(sctx, rec))\nbook.show(skin.tfr_resolution(sctx, rec))"),
    md("""## Beyond the paper: all visits in one model

The paired comparisons above use, at each visit, only the patients with a value in that
visit's window, and ignore every other visit. A linear mixed model {cite:p}`lairdware1982`
uses every recorded mRSS of every patient, before and after IVIG start, with a random
intercept and slope per patient, and estimates the mean change from IVIG start to each
visit for all patients. It is valid when visits are missing at random.

{glue:md}`lmm_mrss_text`"""),
    code("lmm = longitudinal.mrss_model(sctx, rec)\n"
         "book.figure(figures.mean_trajectory, **longitudinal.figure_args(lmm, sctx), synthetic=ctx.synthetic, absent='No mixed model in this cohort.')\n"
         "book.show(longitudinal.terms_table(lmm, ctx.synthetic), absent='No mixed model in this cohort.')"),
    md("""### Why the two estimates differ

{glue:md}`lmm_mrss_why_text`

### Multiple imputation

A second way to handle the missing visits: each missing follow-up value is imputed from
the patient's baseline, other visits and characteristics by chained equations with
predictive mean matching {cite:p}`vanbuuren2018`, many times over, and the results are
pooled with Rubin's rules {cite:p}`rubin1987` and small-sample degrees of freedom
{cite:p}`barnard1999`. Like the mixed model, it assumes the visits are missing at random.

{glue:md}`mi_mrss_text`"""),
    code("mi = imputation.mrss_change(sctx, rec, seed)\n"
         "book.show(imputation.comparison_table(sctx, lmm, mi), absent='No model-based estimate in this cohort.')"),
])

NOTEBOOKS["03_organ_outcomes"] = ("""# Pulmonary and organ outcomes

Lung function, organ severity (Medsger scale), muscle and gastrointestinal outcomes at
baseline and follow-up.""", "figures, organ", [
    md("""## Pulmonary function

{glue:md}`organ_pulmonary_text`"""),
    code("book.show(organ.pulmonary(ctx, rec), absent='No lung function values in this cohort.')"),
    md("""## Organ severity (Medsger)

Severity scores are ordinal (0–4), so baseline and follow-up are compared with the
Wilcoxon signed-rank test {cite:p}`medsger1999`."""),
    code("book.show(organ.medsger(ctx, rec), absent='No Medsger severity scores in this cohort.')"),
    md("""## Muscle: CK and strength

{glue:md}`organ_myositis_text` {glue:md}`organ_ck_text`"""),
    code("book.show(organ.myositis(ctx, rec), absent='No muscle outcomes in this cohort.')"),
    code('book.figure(figures.lab_course, organ.ck_course(ctx, rec), ylabel="CK (U/L)", uln=organ.CK_ULN, synthetic=ctx.synthetic, absent="No CK values in the myositis group.")'),
    md("""## Gastrointestinal: UCLA GIT 2.0

{glue:md}`organ_gi_text`"""),
    code("book.show(organ.gastrointestinal(ctx, rec), absent='No UCLA GIT 2.0 scores in this cohort.')"),
])

NOTEBOOKS["04_safety"] = ("""# Safety

Adverse events reported during IVIG and why IVIG was stopped.""", "figures, safety", [
    md("""## Adverse events

{glue:md}`safety_text`"""),
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
    "figures, historical, maic", [
    code("comparators = historical.load_comparators(comparators_path)\ncomp = historical.change_comparisons(ctx, rec, comparators)"),
    md("""## Change in mRSS against each comparator

{glue:md}`hist_change_text`"""),
    code("book.show(historical.change_table(comp, ctx.synthetic), absent='No comparison at the visits of this cohort.')\nbook.figure(figures.forest, historical.forest_rows(comp), null=0.0, log=False, xlabel='Mean change in mRSS (95% CI)', synthetic=ctx.synthetic, absent='No comparison to plot.')"),
    md("""## How the p-value depends on the comparator's N

The published summaries do not say how many comparator patients had follow-up data. The
table recomputes each p-value over a range of plausible comparator Ns."""),
    code("book.show(historical.n_sensitivity(ctx, comparators), absent='No comparison at the visits of this cohort.')"),
    md("""## Caveats

- **Baseline severity.** Patients with higher baseline mRSS tend to improve more
  {cite:p}`merkel2012`; this cohort's baseline mRSS is compared with each comparator in
  Table 1 (chapter 1).
- **Responders vs refractory patients.** The mycophenolate group were mostly patients who
  responded to mycophenolate, whereas IVIG was typically added for patients who had not
  {cite:p}`poelman2015`. The comparison is therefore biased *against* IVIG, not for it.
- **Historical controls** differ in era, entry criteria and visit schedules; these
  comparisons describe, they do not estimate a causal effect."""),
    md("""## Matching-adjusted indirect comparison

The comparators differed from the IVIG patients at baseline (Table 1, chapter 1). A
matching-adjusted indirect comparison (MAIC) {cite:p}`signorovitch2010` reweights the IVIG
patients with a value at the comparator's visit so that their mean age, disease duration
and baseline mRSS and their percentage of women equal the comparator's published values,
then sets the weighted mean change against the comparator's. The comparison is
**unanchored** (there is no common control arm), so it is unbiased only if every
prognostic factor and effect modifier is among the matched covariates, an assumption the
NICE technical support document calls very strong {cite:p}`phillippo2016`: antibodies,
prior treatment and the reason for adding IVIG are not matched, and the comparators' N
with follow-up is inferred (see the data notes).

{glue:md}`maic_text`"""),
    code("mres = maic.compare(ctx, rec, comparators, seed)\n"
         "book.show(maic.results_table(mres, ctx.synthetic), absent='No matching-adjusted comparison in this cohort.')\n"
         "book.figure(figures.forest, maic.forest_rows(mres), null=0.0, log=False, xlabel='Difference in mean change in mRSS, IVIG \u2212 comparator', header='Difference (95% CI)', synthetic=ctx.synthetic, absent='No matching-adjusted comparison to plot.')\n"
         "book.show(maic.balance_table(mres, ctx.synthetic), absent='No matching-adjusted comparison in this cohort.')"),
])

NOTEBOOKS["06_sensitivity_windows"] = ("""# Sensitivity to the visit windows

The analysis accepts a follow-up value within a window around the target month (±2
months in the paper). Here the skin analysis is repeated with the exact month only, ±1
month, the default and a wider ±3 months.""",
    "figures, longitudinal, sensitivity, skin", [
    code("sctx = skin.population(ctx, rec)\nwin = sensitivity.by_window(sctx, rec)"),
    md("""## mRSS change by window width

{glue:md}`sens_text`"""),
    code("book.show(sensitivity.window_table(win, ctx.synthetic))\nbook.figure(figures.estimate_by_window, win, synthetic=ctx.synthetic)"),
    md("""## A model that needs no window

The mixed model of the skin chapter uses every recorded mRSS, whatever its distance from
the target month, so its estimates do not depend on the window.
{glue:md}`sens_lmm_text`"""),
    code("book.show(longitudinal.window_comparison(sctx, rec, win), absent='No mixed model in this cohort.')"),
])

NOTEBOOKS["07_reproduction"] = ("""# Reproduction and reproducibility

Each number published for this cohort, side by side with the value this book recomputes
from the cohort data. The analysis itself never reads the published values; this page
only compares.""", "reproduce", [
    md("""## Published vs recomputed

{glue:text}`repro_match_n` of {glue:text}`repro_rows_n` published numbers
({glue:text}`repro_match_pct`%) are reproduced at their printed precision."""),
    code("table = reproduce.comparison(results_dir, published_path)\nbook.show(reproduce.summary_table(table, rec, ctx.synthetic))"),
    md("""### Numbers not matched exactly

Each published number that is not reproduced exactly, with the reason."""),
    code("book.show(reproduce.differences_table(table, ctx.synthetic), absent='Every published number is reproduced exactly.')"),
    md("""### Every published number"""),
    code("book.show(reproduce.detail_table(table, ctx.synthetic))"),
    md("""## Reproducibility

The package versions, analysis parameters and the SHA-256 hash of the cohort data used
for this edition."""),
    code("book.show(reproduce.environment_table(ctx))"),
])


if __name__ == "__main__":
    for stem, (title, imports, body) in NOTEBOOKS.items():
        notebook(stem, title, imports, body)
    print("wrote", len(NOTEBOOKS), "notebooks")
