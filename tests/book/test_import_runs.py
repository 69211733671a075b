"""An imported export runs through the whole book with the results of the contract package.

The same synthetic patients are run three ways: written directly in the contract, exported
from REDCap (label CSV of a longitudinal project) and imported with no mapping, and
exported as a Spanish per-visit registry with a pharmacy log and imported through the
book's example mapping. The three ``results.json`` must hold the same results.
"""

from __future__ import annotations

import json

import pytest

from ivigbook.book.run import run
from ivigbook.data.importing.example import EXAMPLE_MAPPING
from ivigbook.data.importing.importer import import_export
from ivigbook.data.schema import TABLES
from ivigbook.synth import cohort_space, exports


def _results(out) -> dict:
    return json.loads((out / "results.json").read_text(encoding="utf-8"))["results"]


@pytest.mark.slow
def test_imported_exports_give_the_results_of_the_contract(tmp_path):
    tables = cohort_space.generate(cohort_space.NAMED["typical"][0], 2)
    contract = tmp_path / "contract"
    contract.mkdir()
    for name, frame in tables.items():  # the free text the example mapping leaves out
        frame.drop(columns=["stop_detail"], errors="ignore").to_csv(
            contract / TABLES[name].file, index=False
        )
    redcap_csv = tmp_path / "redcap.csv"
    redcap_csv.write_bytes(exports.redcap_export(tables, labels=True, events=True))
    import_export(redcap_csv, tmp_path / "from_redcap")
    spanish = tmp_path / "spanish"
    spanish.mkdir()
    for name, data in exports.spanish_export(tables, seed=2).items():
        (spanish / name).write_bytes(data)
    (tmp_path / "map.toml").write_text(EXAMPLE_MAPPING, encoding="utf-8")
    import_export(spanish, tmp_path / "from_registry", tmp_path / "map.toml")

    direct = run(contract, tmp_path / "out_contract", {}, jobs=2, progress=False)
    expected = _results(direct.out)
    assert expected["flow_total_n"] == len(tables["patients"])
    for package in ("from_redcap", "from_registry"):
        summary = run(tmp_path / package, tmp_path / f"out_{package}", {}, jobs=2, progress=False)
        assert summary.html_index is not None
        assert _results(summary.out) == expected, package
