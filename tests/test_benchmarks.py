"""The benchmark report (benchmarks/run.py): verdicts, merged partial runs, README block,
procedure tags and previous figures.

The measurements themselves are not run here (``make bench`` does that); these tests keep
the code that turns them into the committed figures honest."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "benchmarks" / "run.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def rows_for(
    bench,
    run_s=80.0,
    rss_mb=4000.0,
    cached_s=18.0,
    derive=(0.3, 3.3),
    book=(40.0, 33.0),
    pair="same",
):
    """Rows of a full run; ``pair``: the alternating derivation ratio (default: the same as
    the per-size rows; None: no derive_pair row)."""
    label = "test machine"
    r = [bench.row(label, "", "machine", {"seconds": None}, note="{}")]
    for n, d, c in ((10_000, derive[0], 3.0), (100_000, derive[1], cached_s)):
        r.append(bench.row(label, n, "derive", {"seconds": d, "peak_rss_mb": 100.0}))
        r.append(bench.row(label, n, "compute_cached", {"seconds": c, "peak_rss_mb": 100.0}))
        r.append(bench.row(label, n, "compute", {"seconds": c + 20, "peak_rss_mb": 100.0}))
    r.append(bench.row(label, 100_000, "run", {"process_wall_s": run_s, "peak_rss_mb": rss_mb}))
    if pair is not None:
        r.append(
            bench.row(
                label,
                "100k/10k",
                "derive_pair",
                {"seconds": derive[1] / derive[0] if pair == "same" else pair},
            )
        )
    r.append(bench.row(label, "reference", "book_total", {"seconds": book[0]}))
    r.append(bench.row(label, "reference", "book_floor", {"seconds": book[1]}, note="floor"))
    r.append(bench.row(label, "reference", "book_over_floor", {"seconds": book[0] / book[1]}))
    return r + bench.ratios(r, label)


def test_verdict_passes_and_misses_on_the_targets(bench):
    ok = {name: status for name, _, _, status in bench.verdict(rows_for(bench))}
    assert set(ok.values()) == {"PASS"}, ok
    bad = rows_for(bench, run_s=130.0, rss_mb=7000.0, derive=(0.2, 3.0), book=(45.0, 33.0))
    status = {name: s for name, _, _, s in bench.verdict(bad)}
    assert status["100k: full ivigbook run, wall time"] == "MISS"
    assert status["100k: full ivigbook run, peak RSS"] == "MISS"
    assert status["time(100k)/time(10k), derivation"] == "MISS"  # 15 > 12
    assert status["reference book: make book / floor"] == "MISS"  # 1.36 > 1.3
    assert status["100k: compute-only analysis (cached cohort and derived tables)"] == "PASS"


def test_a_stopped_step_never_passes(bench):
    r = rows_for(bench)
    for row in r:
        if row["patients"] == 100_000 and row["step"] == "run":
            row["status"] = "timeout"
    status = {name: s for name, _, _, s in bench.verdict(r)}
    assert status["100k: full ivigbook run, wall time"] == "MISS"


def test_partial_run_replaces_only_its_rows(bench, tmp_path):
    old = rows_for(bench)
    new = [bench.row("test machine", 100_000, "derive", {"seconds": 2.4})]
    merged = bench.merge_rows(old, new, "test machine")
    by = {(r["patients"], r["step"]): r for r in merged}
    assert by[(100_000, "derive")]["wall_s"] == 2.4
    assert by[(10_000, "derive")]["wall_s"] == 0.3
    assert by[("100k/10k", "ratio:derive_separate")]["wall_s"] == pytest.approx(8.0)
    assert by[("100k/10k", "ratio:derive")]["wall_s"] == pytest.approx(11.0)  # the pair, kept
    path = tmp_path / "latest.csv"
    bench.write_csv(path, merged)
    back = {(r["patients"], r["step"]): r["wall_s"] for r in bench.read_csv(path)}
    assert back == {(r["patients"], r["step"]): r["wall_s"] for r in merged}  # CSV round trip


def test_a_ratio_is_dated_when_its_inputs_were_measured(bench):
    # a ratio recomputed after a partial run is not a measurement of that day
    old = rows_for(bench)
    for x in old:
        x["date"] = "2026-12-06"
    merged = bench.merge_rows(old, [bench.row("m", 1_000, "derive", {"seconds": 0.1})], "m")
    by = {(x["patients"], x["step"]): x for x in merged}
    assert by[("100k/10k", "ratio:derive")]["date"] == "2026-12-06"
    assert by[("100k/10k", "ratio:compute_cached")]["date"] == "2026-12-06"
    merged = bench.merge_rows(
        old, [bench.row("m", 100_000, "compute_cached", {"seconds": 9.0})], "m"
    )
    by = {(x["patients"], x["step"]): x for x in merged}
    assert by[("100k/10k", "ratio:compute_cached")]["date"] == bench.dt.date.today().isoformat()


def test_readme_block_is_replaced_between_its_markers(bench, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(
        f"# Title\n\n{bench.README_START}\nold figures\n{bench.README_END}\n\nafter\n"
    )
    assert bench.update_readme(readme, rows_for(bench))
    text = readme.read_text()
    assert "old figures" not in text and text.startswith("# Title") and text.endswith("after\n")
    today = bench.dt.date.today().isoformat()
    assert (
        f"| 100k: full ivigbook run, wall time | 120.0 s |  | 80.0 s | run_100k v1, {today} "
        "| PASS |"
    ) in text
    assert text.count(bench.README_START) == 1 and text.count(bench.README_END) == 1
    plain = tmp_path / "plain.md"
    plain.write_text("no markers here\n")
    assert not bench.update_readme(plain, rows_for(bench))
    assert plain.read_text() == "no markers here\n"


def test_derivation_ratio_comes_from_the_alternating_measurement(bench, tmp_path):
    # separate processes say 15 (a busy spell during the 100k step); measured alternately
    # in one process the ratio is 9: the verdict and ratio:derive use the latter, and the
    # per-size ratio stays visible as ratio:derive_separate
    r = rows_for(bench, derive=(0.2, 3.0), pair=None)
    r = [x for x in r if not x["step"].startswith("ratio:")]
    r.append(
        bench.row(
            "test machine",
            "100k/10k",
            "derive_pair",
            {"seconds": 9.0},
            note="one process, alternately",
        )
    )
    r += bench.ratios(r, "test machine")
    by = {(x["patients"], x["step"]): x for x in r}
    assert by[("100k/10k", "ratio:derive")]["wall_s"] == 9.0
    assert "alternately" in by[("100k/10k", "ratio:derive")]["note"]
    assert by[("100k/10k", "ratio:derive_separate")]["wall_s"] == pytest.approx(15.0)
    status = {name: s for name, _, _, s in bench.verdict(r)}
    assert status["time(100k)/time(10k), derivation"] == "PASS"
    # a later partial run of one size keeps the pair and redoes only the separate ratio
    merged = bench.merge_rows(
        r, [bench.row("test machine", 100_000, "derive", {"seconds": 2.0})], "test machine"
    )
    by = {(x["patients"], x["step"]): x for x in merged}
    assert by[("100k/10k", "ratio:derive")]["wall_s"] == 9.0
    assert by[("100k/10k", "ratio:derive_separate")]["wall_s"] == pytest.approx(10.0)
    # a failed pair is a MISS without a figure: the verdict never falls back to the
    # per-size ratio (a different measurement), which stays ratio:derive_separate
    failed = [x for x in r if not x["step"].startswith("ratio:")]
    for x in failed:
        if x["step"] == "derive_pair":
            x["status"], x["wall_s"] = "exit 1", ""
    failed += bench.ratios(failed, "test machine")
    by = {(x["patients"], x["step"]): x for x in failed}
    assert by[("100k/10k", "ratio:derive")]["wall_s"] == ""
    assert by[("100k/10k", "ratio:derive")]["status"] == "derive_pair exit 1"
    assert by[("100k/10k", "ratio:derive_separate")]["wall_s"] == pytest.approx(15.0)
    status = {name: (m, s) for name, _, m, s in bench.verdict(failed)}
    assert status["time(100k)/time(10k), derivation"] == ("no figure (derive_pair exit 1)", "MISS")
    # without a pair (the run did not derive both sizes) the derivation is not measured
    alone = [x for x in failed if x["step"] != "derive_pair" and not x["step"].startswith("ratio:")]
    status = {name: s for name, _, _, s in bench.verdict(alone + bench.ratios(alone, "m"))}
    assert status["time(100k)/time(10k), derivation"] == "not measured"


def test_readme_says_where_the_derivation_ratio_comes_from(bench):
    r = [x for x in rows_for(bench, pair=None) if not x["step"].startswith("ratio:")]
    r.append(
        bench.row(
            "test machine",
            "100k/10k",
            "derive_pair",
            {"seconds": 9.0},
            note="one process, alternately, best of 5 each: 10k 0.40 s, 100k 3.60 s",
        )
    )
    block = bench.readme_block(r + bench.ratios(r, "test machine"))
    assert (
        "The derivation ratio comes from one process, alternately, best of 5 each: "
        "10k 0.40 s, 100k 3.60 s"
    ) in block


def test_ivigbook_imports_in_benchmarks_are_at_the_top():
    # each step pays only for what its file imports, visibly (ruff's isort groups the names)
    import ast

    problems = []
    for path in sorted((ROOT / "benchmarks").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top = {id(n) for n in tree.body}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            if not any(n == "ivigbook" or n.startswith("ivigbook.") for n in names):
                continue
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            if id(node) not in top:
                problems.append(f"{where}: not at the top of the file")
    assert not problems, problems


def test_every_verdict_row_carries_its_procedure_and_old_files_still_read(bench, tmp_path):
    r = rows_for(bench)
    by = {(x["patients"], x["step"]): x for x in r}
    for key, target in bench.PROCEDURE_ROWS.items():
        if key in by:
            assert by[key]["procedure"] == f"{target} v{bench.PROCEDURES[target]}"
    assert by[(10_000, "derive")]["procedure"] == ""  # not read by a verdict
    path = tmp_path / "latest.csv"
    bench.write_csv(path, r)
    assert [x["procedure"] for x in bench.read_csv(path)] == [x["procedure"] for x in r]
    # a latest.csv from before the procedure column
    old = tmp_path / "old.csv"
    old.write_text(
        "date,machine,patients,step,status,wall_s,process_wall_s,cpu_s,peak_rss_mb,note\n"
        "2026-12-06,m,reference,book_over_floor,ok,1.17,,,,x\n"
    )
    (back,) = bench.read_csv(old)
    assert back["procedure"] == "" and back["wall_s"] == 1.17


def test_readme_block_shows_the_previous_figure_and_the_misses(bench):
    previous = rows_for(bench, book=(49.7, 42.5))
    for x in previous:
        x["date"] = "2026-12-06"
        if x["patients"] == "reference":
            x["procedure"] = "book_over_floor v2"
    new = rows_for(bench, book=(49.7, 33.0))  # 1.51 against 1.3
    block = bench.readme_block(new, previous, "`benchmarks/latest.csv` as committed in abc1234")
    tag = f"book_over_floor v{bench.PROCEDURES['book_over_floor']}, {bench.dt.date.today()}"
    assert (
        f"| reference book: make book / floor | 1.30 | 1.17 (book_over_floor v2, 2026-12-06) "
        f"| 1.51 | {tag} | MISS |"
    ) in block
    assert "5 of 6 targets PASS; MISS: reference book: make book / floor." in block
    assert "Previous floor 42.5 s (book_over_floor v2, 2026-12-06: floor)." in block
    assert "as committed in abc1234" in block
    # without previous figures the column stays empty, the verdicts do not change
    assert "| reference book: make book / floor | 1.30 |  | 1.51 |" in bench.readme_block(new)


def test_a_failed_measurement_is_a_miss_not_a_gap(bench):
    r = [x for x in rows_for(bench) if x["step"] not in ("book_floor", "book_over_floor")]
    r.append(
        bench.row(
            "test machine",
            "reference",
            "book_over_floor",
            {"seconds": None, "status": "book exit 1, no floor"},
        )
    )
    status = {name: (m, s) for name, _, m, s in bench.verdict(r)}
    assert status["reference book: make book / floor"] == (
        "no figure (book exit 1, no floor)",
        "MISS",
    )
    assert "MISS: reference book: make book / floor" in bench.readme_block(r)
    # a step the run did not include is "not measured", and says so
    r = [x for x in r if x["step"] != "book_over_floor"]
    status = {name: s for name, _, _, s in bench.verdict(r)}
    assert status["reference book: make book / floor"] == "not measured"


def test_previous_figures_come_from_the_committed_latest_csv(bench, tmp_path):
    # no git repository here: the file on disk (as it was before the run) is the fallback
    (tmp_path / "benchmarks").mkdir()
    bench.write_csv(tmp_path / "benchmarks" / "latest.csv", rows_for(bench))
    rows, source = bench.committed_latest(tmp_path)
    assert source == "`benchmarks/latest.csv` before this run"
    assert {(x["patients"], x["step"]) for x in rows} >= {("reference", "book_over_floor")}
    assert bench.committed_latest(tmp_path / "nowhere") == ([], "")


def test_benchmarks_readme_fixes_the_procedure_of_every_target(bench):
    # a version raised in run.py without its row and history entry in benchmarks/README.md
    # (or the reverse) is a procedure change that did not follow the rules written there
    text = (ROOT / "benchmarks" / "README.md").read_text(encoding="utf-8")
    targets = text.split("## The targets", 1)[1].split("\n## ", 1)[0]
    history = text.split("## Procedure history", 1)[1]
    rows = [ln for ln in targets.splitlines() if ln.startswith("| ")][1:]  # without the header
    assert len(rows) == len(bench.verdict([]))  # one row per target
    for key, version in bench.PROCEDURES.items():
        assert f"`{key} v{version}`" in targets, key
        if version > 1:
            assert f"| `{key}` | {version} |" in history, key


# ----------------------------------------------------------------- the floor (v3)
def test_floor_imports_are_the_chapters_third_party_imports(bench):
    # a new (or dropped) top-level third-party import in a chapter's module changes what the
    # notebooks pay for: FLOOR_IMPORTS must then follow, in a procedure-change commit
    assert list(bench.FLOOR_IMPORTS) == bench.chapter_imports(ROOT), bench.floor_imports_drift()
    assert bench.floor_imports_drift() == ""
    assert not any("ivigbook" in s for s in bench.FLOOR_IMPORTS)


def test_chapter_imports_follow_the_package_closure_without_importing_it(bench, tmp_path):
    pkg = tmp_path / "src" / "ivigbook"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text('"""pkg"""\nfrom __future__ import annotations\n')
    (pkg / "a.py").write_text(
        "import os\nimport numpy as np\nfrom .b import helper\n"
        "from ivigbook.sub import d\n\n"
        "def f():\n    import scipy  # lazy: not counted\n"
    )
    (pkg / "b.py").write_text(
        "from typing import TYPE_CHECKING\nfrom pandas import DataFrame\n"
        "if TYPE_CHECKING:\n    import matplotlib\n"
        "try:\n    import pyarrow.compute as pc\nexcept ImportError:\n"
        "    pc = None\nraise SystemExit('never imported')\n"
    )
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "d.py").write_text(
        "from ..b import DataFrame\nfrom pandas import Series\nimport yaml\n"
    )
    (pkg / "unused.py").write_text("import statsmodels\n")
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "01_x.md").write_text(
        "---\njupytext:\n  text_representation:\n    extension: .md\n    format_name: myst\n"
        "kernelspec:\n  name: python3\n  display_name: Python 3\n  language: python\n---\n\n"
        "from ivigbook import unused\n\n"
        "```{code-cell} ipython3\n%matplotlib inline\n```\n\n"
        "```{code-cell} ipython3\nfrom ivigbook import a\na.f()\n```\n\n"
        "```{code-cell} ipython3\nimport json, great_tables as gt\n```\n"
    )
    assert bench.chapter_imports(tmp_path) == [
        "import great_tables",
        "import numpy",
        "from pandas import DataFrame, Series",
        "import pyarrow.compute",
        "import yaml",
    ]


def test_floor_kernels_get_the_environment_of_the_books_kernels(bench):
    # KERNEL_ENV is read from the package's sources wherever it lives, never imported
    import ast

    found = []
    for path in (ROOT / "src" / "ivigbook").rglob("*.py"):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "KERNEL_ENV" for t in node.targets
            ):
                found.append(ast.literal_eval(node.value))
    assert found == [bench.FLOOR_KERNEL_ENV]


def test_the_floor_step_does_not_use_the_projects_code():
    import ast

    for path in (
        ROOT / "benchmarks" / "_steps" / "floor.py",
        ROOT / "benchmarks" / "_steps" / "__init__.py",
    ):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                assert not any(a.name.split(".")[0] == "ivigbook" for a in node.names), path
            elif isinstance(node, ast.ImportFrom):
                assert (node.module or "").split(".")[0] != "ivigbook", path
    text = (ROOT / "benchmarks" / "_steps" / "floor.py").read_text(encoding="utf-8")
    assert '"build", "--all", "-W", "-n", "--keep-going"' in text  # the real book's options


def _fake_steps(bench, monkeypatch, books, floors):
    """bench_book with the measured steps replaced by canned results (no process runs)."""
    calls = []
    results = {"book": list(books), "floor": list(floors)}

    def run_step(step, timeout, **kw):
        calls.append((step, kw))
        return dict(results[step].pop(0))

    monkeypatch.setattr(bench, "run_step", run_step)
    monkeypatch.setattr(bench.shutil, "copytree", lambda *a, **k: None)
    return calls


def _book(seconds, status="ok", n=14):
    return {
        "seconds": seconds,
        "status": status,
        "process_wall_s": seconds + 1,
        "cpu_s": 1.0,
        "peak_rss_mb": 900.0,
        "sphinx_seconds": 6.0,
        "notebooks": [{"cohort": "c", "notebook": f"{i:02d}", "seconds": 3.0} for i in range(n)],
    }


def _floor(kernels, empty, status="ok"):
    return {
        "seconds": kernels + empty,
        "status": status,
        "process_wall_s": kernels + empty + 1,
        "cpu_s": 1.0,
        "peak_rss_mb": 500.0,
        "kernels_seconds": kernels,
        "per_notebook": kernels * 2 / 14,
        "empty_book_seconds": empty,
    }


def test_book_over_floor_is_the_fastest_book_over_the_fastest_floor(bench, monkeypatch, tmp_path):
    calls = _fake_steps(
        bench, monkeypatch, [_book(52.0), _book(50.0)], [_floor(20.0, 2.0), _floor(21.0, 1.5)]
    )
    rows = []
    bench.bench_book(tmp_path, 2, 900, "m", rows)
    assert [c[0] for c in calls] == ["book", "floor", "book", "floor"]  # alternately
    floor_kw = calls[1][1]
    assert floor_kw["repeat"] == 14 and floor_kw["jobs"] == 2
    assert floor_kw["code"] == "\n".join(bench.FLOOR_IMPORTS)
    assert floor_kw["env"] == json.dumps(bench.FLOOR_KERNEL_ENV)
    by = {r["step"]: r for r in rows}
    assert by["book_total"]["wall_s"] == 50.0
    assert by["book_floor"]["wall_s"] == 22.0  # 20 + 2 beats 21 + 1.5
    assert by["book_over_floor"]["wall_s"] == pytest.approx(50.0 / 22.0, abs=0.01)
    assert by["floor_empty_book"]["wall_s"] == 2.0
    assert (
        by["book_over_floor"]["procedure"]
        == f"book_over_floor v{bench.PROCEDURES['book_over_floor']}"
    )
    status = {name: s for name, _, _, s in bench.verdict(rows)}
    assert status["reference book: make book / floor"] == "MISS"  # 2.27 > 1.3


def test_a_failed_floor_is_a_miss(bench, monkeypatch, tmp_path):
    _fake_steps(
        bench,
        monkeypatch,
        [_book(50.0), _book(50.0)],
        [_floor(20.0, 2.0, "kernels: error X"), _floor(20.0, 2.0, "empty book: exit 1")],
    )
    rows = []
    bench.bench_book(tmp_path, 2, 900, "m", rows)
    status = {name: (m, s) for name, _, m, s in bench.verdict(rows)}
    assert status["reference book: make book / floor"] == (
        "no figure (floor kernels: error X)",
        "MISS",
    )
