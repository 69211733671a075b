"""Results recorder, prose formatting, HTML tables and the reproduction judge."""

import json

import pandas as pd
import pytest

from ivigbook.chapters.reproduction import (
    STATUS_DIFF,
    STATUS_INPUT,
    STATUS_MATCH,
    STATUS_MISSING,
    STATUS_NA,
    STATUS_SIDE,
    judge,
)
from ivigbook.results.formatter import clean_value, fmt_number, fmt_p
from ivigbook.results.recorder import Recorder
from ivigbook.results.table import Table, cell_mean_sd, cell_n_pct


def test_recorder_stores_raw_and_returns_prose(tmp_path):
    rec = Recorder("02_skin", tmp_path)
    assert rec.value("skin_mrss_m6_mean", 24.0966) == "24.1"
    assert rec.value("skin_mrss_change_m6_mean", -5.2999) == "\u22125.3"
    assert rec.value("skin_mrss_m6_p", 0.00109, kind="p") == "0.0011"
    assert rec.value("skin_mrss_m24_p", 0.00001, kind="p") == "<0.0001"
    assert rec.value("skin_mrss_m6_n", 29, kind="int") == "29"
    rec.save()
    data = json.loads((tmp_path / "02_skin.json").read_text())
    assert data == {
        "skin_mrss_change_m6_mean": -5.2999,
        "skin_mrss_m24_p": 1e-05,
        "skin_mrss_m6_mean": 24.0966,
        "skin_mrss_m6_n": 29,
        "skin_mrss_m6_p": 0.00109,
    }
    assert list(data) == sorted(data)


def test_recorder_rejects_bad_keys_and_conflicts():
    rec = Recorder("x", None)
    with pytest.raises(ValueError):
        rec.value("Skin MRSS", 1)
    rec.value("a_b", 1.0)
    rec.value("a_b", 1.0)  # same value twice is fine
    with pytest.raises(ValueError):
        rec.value("a_b", 2.0)


def test_clean_value_is_json_safe():
    assert clean_value(float("nan")) is None
    assert clean_value(pd.NA) is None
    assert clean_value(0.1 + 0.2) == 0.3
    with pytest.raises(TypeError):
        clean_value(object())


def test_fmt_helpers():
    assert fmt_number(float("nan")) == "NA"
    assert fmt_number(-0.04) == "0.0"  # no negative zero
    assert fmt_p(0.0499) == "0.0499" and fmt_p(0.0011) == "0.0011" and fmt_p(0.674) == "0.674"


def test_table_escapes_every_cell():
    t = Table(
        pd.DataFrame({"Centre": ["<script>alert(1)</script>", 'A & B "q"'], "N": ["1", "2"]}),
        caption="<b>caption</b>",
        table_id="t",
    )
    html = t.to_html()
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "A &amp; B &quot;q&quot;" in html and "&lt;b&gt;caption&lt;/b&gt;" in html
    assert html.count('<th scope="col">') == 2


def test_table_cells():
    assert cell_mean_sd(29.63, 7.24) == "29.6 (7.2)"
    assert cell_n_pct(24, 30) == "24 (80.0)"
    assert cell_n_pct(0, 0) == "\u2014"


@pytest.mark.parametrize(
    "row, value, status",
    [
        ({"value": "30", "decimals": "0", "comparison": "exact"}, 30, STATUS_MATCH),
        ({"value": "30", "decimals": "0", "comparison": "exact"}, 29, STATUS_DIFF),
        ({"value": "29.6", "decimals": "1", "comparison": "rounded"}, 29.64, STATUS_MATCH),
        ({"value": "29.6", "decimals": "1", "comparison": "rounded"}, 29.66, STATUS_DIFF),
        ({"value": "-8", "decimals": "0", "comparison": "rounded"}, -7.96, STATUS_MATCH),
        ({"value": "0.0011", "decimals": "4", "comparison": "p_value"}, 0.00114, STATUS_MATCH),
        (
            {"value": "0.0001", "decimals": "4", "comparison": "p_value", "relation": "<"},
            0.00005,
            STATUS_MATCH,
        ),
        (
            {"value": "0.005", "decimals": "3", "comparison": "summary_stat_test"},
            0.0036,
            STATUS_SIDE,
        ),
        ({"value": "0.74", "decimals": "2", "comparison": "summary_stat_test"}, 0.02, STATUS_DIFF),
        ({"value": "1", "decimals": "0", "comparison": "rounded"}, None, STATUS_MISSING),
        ({"value": "2", "decimals": "0", "comparison": "not_reproducible"}, 2, STATUS_NA),
        ({"value": "13.0", "decimals": "1", "comparison": "parameter"}, None, STATUS_INPUT),
    ],
)
def test_reproduction_judge(row, value, status):
    assert judge(row, value) == status
