"""``ivigbook run``: an analyst's cohort validated, every chapter executed, ``results.json``
written, the book built, and OUT replaced atomically.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import time
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ivigbook.book.bookconfig import cohort_book_config, cohort_book_toc, run_intro_page
from ivigbook.book.execute import (
    NotebookResult,
    _emitter,
    contract_parameters,
    discover_notebooks,
    execute_notebooks,
)
from ivigbook.book.merge import (
    RESULTS_DIRNAME,
    RESULTS_FILENAME,
    _normalize,
    merge_results,
    write_results_json,
)
from ivigbook.book.outdir import (
    _check_creatable,
    _check_replaceable,
    _privacy_warning,
    install,
    staging_for,
    write_stamp,
)
from ivigbook.book.sphinx import build_book
from ivigbook.config import (
    DEFAULT_COHORT_NAME,
    DEFAULT_SEED,
    REFERENCE_COHORTS,
    SYNTHETIC_DIR,
    comparators_file,
    project_root,
)
from ivigbook.data.cohort import Cohort
from ivigbook.data.params import AnalysisParams, parse_overrides
from ivigbook.data.problems import DataError
from ivigbook.data.terms import adverse_events_file, read_term_map, term_warning, write_term_map
from ivigbook.data.validate import load_cohort_with_report
from ivigbook.derive.context import TERM_MAP_FILE, inclusion_lines, prime_cache
from ivigbook.errors import InvalidDataError, UsageError
from ivigbook.system.processes import signals_held, signals_raise
from ivigbook.system.scratch import run_scratch, scratch_roots, sweep

RUN_CACHE_DIRNAME = "cache"  # derived tables, in the run's private scratch folder


#: prose pages of book/ copied into an analyst's book (`ivigbook run`); they must not
#: link to or glue from the reference cohorts' pages. Missing ones are skipped.
RUN_PROSE_PAGES = (
    "methods.md",
    "data_dictionary.md",
    "data_import.md",
    "reproducibility.md",
    "bibliography.md",
)


RUN_PROSE_FILES = ("references.bib",)


RUN_PROSE_DIRS = ("images", "figures", "_static")


@dataclass
class RunSummary:
    """What a successful run produced."""

    out: Path
    results_path: Path
    html_index: Path | None
    notebooks: list[NotebookResult]
    seconds: float


def package_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a cohort package (a file, or every non-hidden file of a folder)."""
    path = Path(path)
    digest = hashlib.sha256()
    files = (
        [path]
        if path.is_file()
        else sorted(
            p
            for p in path.rglob("*")
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
        )
    )
    for f in files:
        digest.update((f.relative_to(path).as_posix() if f != path else f.name).encode())
        digest.update(b"\0")
        digest.update(hashlib.sha256(f.read_bytes()).hexdigest().encode())
        digest.update(b"\n")
    return digest.hexdigest()


def _load_and_validate(
    data_dir: Path, emit: Callable[[str], None] | None = None, terms: dict[str, str] | None = None
):
    """The validated cohort at ``data_dir`` (the term map not applied); bad data ->
    :class:`InvalidDataError`.

    The warnings of a valid package (a BOM removed, a ``;``-separated file, extra
    columns ignored, adverse-event terms outside the vocabulary once ``terms`` is
    applied, ...) go to ``emit``, as ``ivigbook validate`` prints them.
    """
    try:
        cohort, report = load_cohort_with_report(data_dir)
    except DataError as exc:
        raise InvalidDataError(
            f"the cohort package {data_dir} is not valid:\n{exc.report.format()}", exc.report
        ) from None
    if isinstance(cohort, Cohort):
        warning = term_warning(cohort.adverse_events, adverse_events_file(data_dir), terms)
        if warning is not None:
            report.problems.append(warning)
    if emit is not None and report.n_warnings:
        emit(f"the cohort package {data_dir} is valid, with warnings:\n{report.format()}")
    return cohort


def _read_terms(path: str | os.PathLike | None) -> dict[str, str]:
    """The term map of ``--terms`` (``{}`` without one); a bad map -> :class:`InvalidDataError`."""
    if path is None:
        return {}
    try:
        return read_term_map(path)
    except DataError as exc:
        raise InvalidDataError(
            f"the term map {path} is not valid:\n{exc.report.format()}", exc.report
        ) from None


def _data_sha(cohort: Any, data_dir: Path) -> str:
    sha = getattr(cohort, "sha256", "") if cohort is not None else ""
    return sha or package_sha256(data_dir)


#: characters that are markup somewhere on the way to the page (HTML, MyST, YAML): the
#: book title is rendered unescaped by the theme, the footer is raw HTML
_UNSAFE_NAME = re.compile(r"[^\w .,()+-]")


def _display_name(name: str) -> str:
    """``name`` as shown in the book: every character outside letters, digits and
    `` .,()+-_`` becomes ``_`` (a folder named ``<img src=x onerror=...>`` or a
    ``--cohort-name`` with ``<script>`` must not become live markup)."""
    return _UNSAFE_NAME.sub("_", name).strip() or "cohort"


def _cohort_params(base: dict, overrides: dict) -> tuple[AnalysisParams, dict]:
    merged = {**base, **overrides}
    params = AnalysisParams.from_mapping(merged)
    return params, _normalize(merged)


def _prime(
    cohort,
    data_dir: Path,
    params: AnalysisParams,
    cache_dir: Path,
    emit: Callable[[str], None] = print,
) -> bool:
    """Store the cohort the runner validated, and its derived tables, in the run's cache,
    so that the notebooks read them instead of validating and deriving again. False (and
    nothing stored) for anything but a real :class:`~ivigbook.data.cohort.Cohort`. Prints
    the inclusion flow counts and their warnings through ``emit``."""

    if not isinstance(cohort, Cohort):
        return False
    derived = prime_cache(cohort, data_dir, params, cache_dir)
    for line in inclusion_lines(cohort, params, derived):
        emit(line)
    return True


def run(
    data_dir: str | os.PathLike,
    out: str | os.PathLike,
    overrides: Iterable[str] | dict | None = None,
    jobs: int | None = None,
    cohort_name: str | None = None,
    *,
    root: str | os.PathLike | None = None,
    progress: bool | Callable[[str], None] = True,
    build: bool = True,
    timeout: int | None = None,
    terms: str | os.PathLike | None = None,
    seed: int | None = None,
) -> RunSummary:
    """``ivigbook run``: validate ``data_dir``, execute every notebook on it, write
    ``results.json``, build the book, then atomically replace ``out``.

    ``overrides``: ``--set`` strings or a ``{name: value}`` dict. ``terms``: a term map
    (``--terms``), checked first and written into the run's cache folder, where every
    notebook's :func:`~ivigbook.derive.context.load_context` applies it. Nothing in ``out`` is
    touched unless everything succeeded. ``seed`` (``--seed``): the notebooks' random seed,
    by default the registered seed of a reference cohort run on its own data, else
    :data:`~ivigbook.config.DEFAULT_SEED`; ``results.json`` records it as ``"seed"``.
    Raises :class:`UsageError` (exit 2),
    :class:`InvalidDataError` or :class:`RunError` (exit 1).
    """
    t0 = time.monotonic()
    emit = _emitter(progress)
    root = project_root(root)
    data_dir = Path(data_dir).resolve()
    out = Path(out).resolve()
    if not data_dir.exists():
        raise UsageError(f"the cohort package {data_dir} does not exist")
    overrides = parse_overrides(overrides)
    jobs = jobs or min(4, os.cpu_count() or 1)
    _check_out(out, data_dir, root)
    # reference cohort run on its own registered data: its parameters and published results
    ref_name, ref = next(
        (
            (name, c)
            for name, c in REFERENCE_COHORTS.items()
            if (root / c["data_dir"]).resolve() == data_dir
        ),
        (None, None),
    )
    cohort_name = _cohort_name(cohort_name, ref_name, emit)
    base = dict(ref["params"]) if ref else {}
    seed = int((ref or {}).get("seed", DEFAULT_SEED)) if seed is None else int(seed)
    if seed < 0:
        raise UsageError(f"--seed {seed}: the seed must be 0 or more")
    params, params_json = _cohort_params(base, overrides)
    published = (root / ref["published"]) if ref else None
    notebooks = discover_notebooks(root / "notebooks", include_late=published is not None)

    sweep([*scratch_roots(), out.parent, *([out] if out.is_dir() else [])], emit)
    _check_replaceable(out, "--out")
    _check_creatable(out, "--out")
    mapping = _read_terms(terms)
    cohort = _load_and_validate(data_dir, emit, mapping)  # (a) validate before touching OUT
    sha = _data_sha(cohort, data_dir)
    synthetic = data_dir.is_relative_to((root / SYNTHETIC_DIR).resolve())
    note = _privacy_warning(out, data_dir, root)
    if note:
        emit(note)
    if ref:
        emit(
            f"{data_dir} is the reference cohort {ref['title']}: using its registered "
            f"parameters and comparing with {ref['published']}"
        )

    out.parent.mkdir(parents=True, exist_ok=True)
    # from the swap on, signals wait until the handlers are restored: a SIGTERM then
    # ends the process as it always does, with OUT and the scratch already settled
    with ExitStack() as settled, signals_raise(), run_scratch() as scratch:
        tmp = staging_for(out)
        ok = False
        try:
            results_dir = tmp / RESULTS_DIRNAME
            cache_dir = scratch / RUN_CACHE_DIRNAME  # patient-level: never beside OUT
            results_dir.mkdir()
            cache_dir.mkdir()
            if mapping:  # read by every notebook's load_context (and by the priming below)
                write_term_map(mapping, cache_dir / TERM_MAP_FILE)
            t_prime = time.monotonic()
            if _prime(cohort, data_dir, params, cache_dir, emit):
                emit(
                    f"derived tables cached for the notebooks in {time.monotonic() - t_prime:.1f} s"
                )
            del cohort  # the runner lets go of it while the notebooks run
            parameters = contract_parameters(
                data_dir=data_dir,
                cohort_name=cohort_name,
                params_json=params_json,
                results_dir=results_dir,
                cache_dir=cache_dir,
                comparators_path=comparators_file(root, ref),
                published_path=published,
                synthetic=synthetic,
                seed=seed,
            )

            def merge() -> None:
                payload = merge_results(results_dir, cohort_name, params, sha)
                write_results_json(tmp / RESULTS_FILENAME, {**payload, "seed": seed})

            nb_results = execute_notebooks(
                notebooks,
                tmp,
                parameters,
                jobs,
                progress,
                between=merge,
                source_root=root,
                timeout=timeout,
                redact=_recorded_paths(parameters, root, synthetic),
                scratch=scratch,
            )
            merge()
            _write_run_book(
                root,
                tmp,
                cohort_name=cohort_name,
                sha=sha,
                synthetic=synthetic,
                params=params,
                overrides=params_json,
                notebooks=notebooks,
                title=ref["title"] if ref else None,
            )
            index = build_book(tmp, progress) if build else None
            write_stamp(tmp, "ivigbook run")
            settled.enter_context(signals_held())
            install(tmp, out)  # (c) only now is OUT touched
            ok = True
        finally:
            if not ok:
                settled.enter_context(signals_held())
                shutil.rmtree(tmp, ignore_errors=True)
    for res in nb_results:
        res.output = out / res.output.name
    html = out / "_build" / "html" / "index.html" if index is not None else None
    return RunSummary(
        out=out,
        results_path=out / RESULTS_FILENAME,
        html_index=html,
        notebooks=nb_results,
        seconds=time.monotonic() - t0,
    )


def _cohort_name(requested: str | None, reference: str | None, emit) -> str:
    """The cohort's name in the book: ``--cohort-name``, the name of a reference cohort
    run on its own data, or :data:`DEFAULT_COHORT_NAME`; never the package's file or
    folder name, which may carry a patient's name or record number."""
    if not requested:
        name = reference or DEFAULT_COHORT_NAME
        if reference is None:
            emit(
                f"note: no --cohort-name given: the book calls the cohort {name!r} (the "
                f"package's file and folder names are never shown)"
            )
        return name
    shown = _display_name(requested)
    if shown != requested:
        emit(
            f"note: the cohort name {requested!r} is shown as {shown!r} (characters "
            f"that are markup in a web page are replaced by '_')"
        )
    return shown


def _check_out(out: Path, data_dir: Path, root: Path) -> None:
    """OUT is neither the input, inside it, the project, nor a reference edition."""
    if out == data_dir or data_dir.is_relative_to(out):
        raise UsageError(
            f"--out {out} would contain the input data {data_dir}; choose another folder"
        )
    if out.is_relative_to(data_dir):
        raise UsageError(
            f"--out {out} lies inside the cohort package {data_dir}; input "
            f"folders are never written to: choose another folder"
        )
    if out == root or root.is_relative_to(out):
        raise UsageError(f"--out {out} would replace the project folder")
    if out.is_relative_to(root / "book"):
        raise UsageError(
            f"--out {out} lies in {root / 'book'}, which holds the book's reference "
            f"editions: only `ivigbook book` writes there. Choose a folder outside it."
        )


def _recorded_paths(parameters: dict, root: Path, synthetic: bool) -> dict[str, str]:
    """What the executed notebooks record for the path parameters: paths inside the
    project relative to it, the run's scratch not at all, and the location of real
    data never (folder names may carry patient names or record numbers). The book is
    then the same wherever OUT lies."""

    def recorded(path) -> str:
        if not path:
            return ""
        path = Path(path).resolve()
        if path.is_relative_to(root):
            return path.relative_to(root).as_posix()
        return "<not recorded: a path outside the project>"

    return {
        "data_dir": recorded(parameters["data_dir"])
        if synthetic
        else "<not recorded: path of the cohort package>",
        "cache_dir": "",
        "comparators_path": recorded(parameters["comparators_path"]),
        "published_path": recorded(parameters["published_path"]),
    }


def _write_run_book(
    root: Path,
    book: Path,
    *,
    cohort_name: str,
    sha: str,
    synthetic: bool,
    params: AnalysisParams,
    overrides: dict,
    notebooks: list[Path],
    title: str | None,
) -> None:
    """``_config.yml``, ``_toc.yml``, a generated ``intro.md`` and the prose pages."""

    prose = root / "book"
    pages = []
    for name in RUN_PROSE_PAGES:
        if (prose / name).is_file():
            shutil.copy2(prose / name, book / name)
            pages.append(Path(name).stem)
    bib = None
    for name in RUN_PROSE_FILES:
        if (prose / name).is_file():
            shutil.copy2(prose / name, book / name)
            if name.endswith(".bib"):
                bib = name
    for name in RUN_PROSE_DIRS:
        if (prose / name).is_dir():
            shutil.copytree(prose / name, book / name)
    stems = [nb.stem for nb in notebooks]
    (book / "intro.md").write_text(
        run_intro_page(
            cohort_name=cohort_name,
            data_sha256=sha,
            synthetic=synthetic,
            parameters=params.to_dict(),
            overrides=overrides,
            notebooks=stems,
        ),
        encoding="utf-8",
    )
    footer = (
        "All patient-level data shown in this book are synthetic."
        if synthetic
        else f"Computed by ivigbook from a cohort package (SHA-256 {sha[:12]}…); may "
        f"contain results from real patient data."
    )
    (book / "_config.yml").write_text(
        cohort_book_config(
            root, title=f"IVIG in systemic sclerosis: {cohort_name}", bibfile=bib, footer=footer
        ),
        encoding="utf-8",
    )
    (book / "_toc.yml").write_text(
        cohort_book_toc(caption=title or f"Cohort {cohort_name}", notebooks=stems, pages=pages),
        encoding="utf-8",
    )
