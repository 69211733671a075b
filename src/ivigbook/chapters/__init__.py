"""Stage 5, chapters: one module per chapter's computations, helpers shared by chapters,
the one ordered list of chapters (:mod:`ivigbook.chapters.catalog`) and the compute-only
analysis that runs it."""
