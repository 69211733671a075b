"""Glue outputs for myst-nb, sent to the notebook in batches.

A chapter glues hundreds of values (every recorded number, for ``{glue:text}``).
``myst_nb.glue`` sends each one as its own display message, and ipykernel flushes
stdout and stderr before every display message: two round trips to the kernel's I/O
thread, about 1.3 ms per value, a second or more per notebook. Here the messages
are queued and sent together, with one flush per batch, at the next displayed table,
figure or sentence and at the end of the cell. Each value is still its own
``display_data`` output with myst-nb's bundle and ``scrapbook`` metadata, so myst-nb
reads the executed notebook exactly as before; only their place among a cell's
outputs can move (after text printed in the same cell). The batches are sent at
fixed points of the code, so the executed notebooks stay deterministic.

Outside a Jupyter kernel (IPython terminal, plain Python) each value goes through
``myst_nb.glue`` at once, as before.
"""

from __future__ import annotations

from typing import Any

#: myst-nb's mime prefix of glued, not displayed, values (``myst_nb.ext.glue.GLUE_PREFIX``)
GLUE_PREFIX = "application/papermill.record/"

_pending: list[tuple[dict, dict]] = []
_hooked: set[int] = set()


def message(key: str, variable: Any) -> tuple[dict, dict]:
    """The (data, metadata) that ``myst_nb.glue(key, variable, display=False)`` displays,
    for a text (``str``) or an ``IPython.display.Markdown``; built without running
    every IPython formatter (what it costs), to the same bundle."""
    from IPython.display import Markdown
    from IPython.lib.pretty import pretty

    bundle = {"text/plain": pretty(variable, max_width=79, newline="\n", max_seq_length=1000)}
    if isinstance(variable, Markdown):
        bundle = {"text/markdown": variable.data, **bundle}
    elif not isinstance(variable, str):
        raise TypeError(
            f"glue value of {key!r} must be a str or Markdown, not {type(variable).__name__}"
        )
    data = {GLUE_PREFIX + mime: value for mime, value in bundle.items()}
    return data, {"scrapbook": {"name": key, "mime_prefix": GLUE_PREFIX}}


def _kernel_shell():
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with the kernel
        return None
    shell = get_ipython()
    return shell if shell is not None and getattr(shell, "kernel", None) is not None else None


def glue(key: str, variable: Any) -> None:
    """Glue ``variable`` (a str or Markdown) under ``key`` without displaying it."""
    shell = _kernel_shell()
    if shell is None:
        from myst_nb import glue as myst_glue

        myst_glue(key, variable, display=False)
        return
    _pending.append(message(key, variable))
    if id(shell) not in _hooked:  # send what is left when the cell ends
        shell.events.register("post_run_cell", lambda *_: flush())
        _hooked.add(id(shell))


def flush() -> None:
    """Send the queued glue messages: one stream flush, then every message."""
    if not _pending:
        return
    batch = list(_pending)
    _pending.clear()
    shell = _kernel_shell()
    if shell is None:  # pragma: no cover - queued only inside a kernel
        return
    pub = shell.display_pub
    flush_streams = getattr(pub, "_flush_streams", None)
    if callable(flush_streams):
        flush_streams()  # text printed before the batch stays before it
        pub._flush_streams = _nothing  # nothing can print between the messages below
    try:
        for data, metadata in batch:
            pub.publish(data, metadata=metadata)
    finally:
        if callable(flush_streams):
            del pub._flush_streams


def _nothing() -> None:
    return None
