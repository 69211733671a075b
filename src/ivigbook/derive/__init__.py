"""Stage 2, derive: calendar months, treatment rounds, the subject-level table (ADSL-like),
analysis visits from a window table (BDS-like), and one cached analysis context per run."""
