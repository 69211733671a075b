"""Glued values sent in batches (ivigbook.report.glue): the same outputs as myst_nb.glue, one
per value, in a fixed order, readable by myst-nb."""

from __future__ import annotations

import nbformat
import papermill
import pytest
from IPython.core.formatters import format_display_data
from IPython.display import Markdown
from nbformat.v4 import new_code_cell, new_notebook

from ivigbook.report import glue
from ivigbook.results.recorder import Recorder, _Text


def myst_message(key, variable):
    """What myst_nb.glue(key, variable, display=False) displays (its own recipe)."""
    bundle, metadata = format_display_data(variable)
    metadata["scrapbook"] = {"name": key, "mime_prefix": glue.GLUE_PREFIX}
    return {glue.GLUE_PREFIX + k: v for k, v in bundle.items()}, metadata


@pytest.mark.parametrize(
    "variable",
    [
        "12.5",
        'it\'s "quoted"',
        "ünïcode – 0.0011",
        _Text("p<0.0001"),
        _Text("two\nlines"),
        _Text(""),
        Markdown("At month 6, **mRSS** fell by 5.3 points."),
        Markdown("line one\n\n- item"),
        "x" * 300,
    ],
)
def test_message_is_myst_nb_s_bundle(variable):
    assert glue.message("k_1", variable) == myst_message("k_1", variable)


def test_message_rejects_other_objects():
    with pytest.raises(TypeError, match="k_1"):
        glue.message("k_1", 3.0)


def test_outside_a_kernel_each_value_is_displayed_at_once(monkeypatch):
    sent = []
    monkeypatch.setattr("myst_nb.glue", lambda k, v, display=True: sent.append((k, v, display)))
    Recorder("nb", glue=glue.glue).value("skin_mrss_m6_mean", 12.345, 1)
    assert sent == [("skin_mrss_m6_mean", "12.3", False)]
    assert glue._pending == []


def test_in_a_kernel_values_are_batched_in_order(tmp_path):
    """Values, a shown sentence, printed text and the cell end, in a real kernel."""
    cells = [
        new_code_cell(
            "from ivigbook.results.recorder import Recorder\n"
            "from ivigbook.report import glue, page\n"
            "rec = Recorder('nb', glue=glue.glue)"
        ),
        new_code_cell(
            "rec.value('a_x_m6_mean', 1.25, 2)\n"
            "rec.text('a_x_m6_word', 'fell')\n"
            "page._markdown('shown')\n"
            "print('printed')\n"
            "rec.prose('a_x_text', 'A *sentence*.')\n"
            "_ = rec.value('a_x_m6_p', 0.0004, kind='p')"
        ),
        new_code_cell("_ = rec.value('a_y_m6_mean', 2, 0)"),
    ]
    nb = new_notebook(
        cells=cells,
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
    )
    src, out = tmp_path / "in.ipynb", tmp_path / "out.ipynb"
    nbformat.write(nb, src)
    papermill.execute_notebook(
        str(src),
        str(out),
        progress_bar=False,
        kernel_name="python3",
        request_save_on_cell_execute=False,
    )
    ran = nbformat.read(out, as_version=4)

    def names(cell):
        return [
            o.get("metadata", {}).get("scrapbook", {}).get("name")
            or (o.get("text") or o.get("data", {}).get("text/markdown", "")).strip()
            for o in cell.outputs
        ]

    # glued values before the sentence shown after them; the rest at the cell's end,
    # after the printed text
    assert names(ran.cells[1]) == [
        "a_x_m6_mean",
        "a_x_m6_word",
        "shown",
        "printed",
        "a_x_text",
        "a_x_m6_p",
    ]
    assert names(ran.cells[2]) == ["a_y_m6_mean"]
    by_key = {
        o.metadata["scrapbook"]["name"]: o
        for c in ran.cells
        for o in c.outputs
        if "scrapbook" in o.get("metadata", {})
    }
    for key, variable in (
        ("a_x_m6_mean", "1.25"),
        ("a_x_m6_word", _Text("fell")),
        ("a_x_text", Markdown("A *sentence*.")),
        ("a_x_m6_p", "0.0004"),
        ("a_y_m6_mean", "2"),
    ):
        data, metadata = myst_message(key, variable)
        assert by_key[key].output_type == "display_data"
        assert dict(by_key[key].data) == data and dict(by_key[key].metadata) == metadata

    # myst-nb finds every key (as the book build does)
    from myst_nb.ext.glue import extract_glue_data

    found = extract_glue_data(ran, list(range(len(ran.cells))), None)
    assert sorted(found) == sorted(by_key)
