"""Calibrated SYNTHETIC cohorts (DESIGN §1, §3).

The studies' patient-level data are not public; the book runs on cohorts the
project constructs so that its own analysis pipeline reproduces the published
summaries. One module per cohort, each exposing ``generate(seed)`` (file texts,
deterministic) and ``write(out_dir, seed)``:

* :mod:`ivigbook.synth.hopkins2015` - Poelman et al., J Rheumatol 2015 (30 patients);
* :mod:`ivigbook.synth.spain_multicentre` - the Spanish multicentre study (78 patients);
* :mod:`ivigbook.synth.registry` - registries of any size, for scale;

Shared helpers (calendar months, printed-precision calibration, deterministic
CSV writing) live in :mod:`ivigbook.synth.common`.
"""
