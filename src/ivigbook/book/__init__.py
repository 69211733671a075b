"""Stage 7, book: notebook execution (papermill), ``results.json``, the output folder,
the Sphinx build, ``ivigbook run`` and the reference edition (``ivigbook book``)."""
