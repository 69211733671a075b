"""Stage 6, report: what renders to a page. Glue transport to the kernel, figures by kind,
and the notebook page helpers (start, show, figure, finish)."""
