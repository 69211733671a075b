"""``ivigbook book``: the committed reference edition (both cohorts) executed and built."""

from __future__ import annotations

import concurrent.futures as cf
import os
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

from ivigbook.book.execute import (
    Workers,
    _emitter,
    contract_parameters,
    discover_notebooks,
    execute_notebooks,
)
from ivigbook.book.merge import RESULTS_DIRNAME, RESULTS_FILENAME, merge_results, write_results_json
from ivigbook.book.outdir import _check_replaceable, install, staging_for, write_stamp
from ivigbook.book.run import _cohort_params, _data_sha, _load_and_validate, _prime
from ivigbook.book.sphinx import _check_toc, build_book
from ivigbook.config import (
    BOOK_CACHE_DIR,
    DEFAULT_SEED,
    REFERENCE_COHORTS,
    SYNTHETIC_DIR,
    comparators_file,
    project_root,
)
from ivigbook.data.dictionary import write_dictionary_page
from ivigbook.errors import RunError, UsageError
from ivigbook.system.processes import signals_held, signals_raise
from ivigbook.system.scratch import scratch_roots, sweep


def build_reference_book(
    jobs: int | None = None,
    only: str | None = None,
    *,
    root: str | os.PathLike | None = None,
    registry: dict | None = None,
    progress: bool | Callable[[str], None] = True,
    build: bool = True,
    timeout: int | None = None,
) -> Path | None:
    """``ivigbook book`` / ``make book``: execute every notebook for each reference
    cohort into ``book/<cohort>/`` and build the repository's book into ``_build/html``.

    Each cohort is executed into a temporary sibling folder; the ``book/<cohort>``
    folders are replaced only when every cohort succeeded. Then the whole book is built
    with ``-W`` (any Sphinx warning fails). Returns the HTML index (None if not built).
    """
    emit = _emitter(progress)
    root = project_root(root)
    registry = REFERENCE_COHORTS if registry is None else registry

    write_dictionary_page(root)  # the data-dictionary page always follows the schema
    if only is not None:
        if only not in registry:
            raise UsageError(
                f"unknown reference cohort {only!r}; known: "
                f"{', '.join(sorted(registry)) or '(none)'}"
            )
        if not (root / registry[only]["data_dir"]).exists():
            raise UsageError(f"the data of {only} ({registry[only]['data_dir']}) do not exist")
        selected = [only]
    else:
        selected = [name for name, c in registry.items() if (root / c["data_dir"]).exists()]
        for name in sorted(set(registry) - set(selected)):
            emit(
                f"note: skipping reference cohort {name}: {registry[name]['data_dir']} "
                f"does not exist"
            )
        if not selected:
            raise RunError(
                "no reference cohort has data: "
                + ", ".join(f"{c['data_dir']}" for c in registry.values())
            )
    jobs = jobs or min(4, os.cpu_count() or 1)
    notebooks = discover_notebooks(root / "notebooks")
    _check_toc(root, selected, notebooks)
    book_dir = root / "book"
    sweep([*scratch_roots(), book_dir], emit)
    for name in selected:
        _check_replaceable(book_dir / name, "the output folder")

    loaded, cohorts = {}, {}
    for name in selected:  # validate everything before executing
        data_dir = (root / registry[name]["data_dir"]).resolve()
        cohorts[name] = _load_and_validate(data_dir)
        loaded[name] = _data_sha(cohorts[name], data_dir)

    with signals_raise():  # SIGTERM / SIGHUP clean up as Ctrl-C does
        return _execute_and_install(
            root,
            registry,
            selected,
            notebooks,
            cohorts,
            loaded,
            jobs,
            emit,
            progress,
            build,
            timeout,
        )


def _execute_and_install(
    root, registry, selected, notebooks, cohorts, loaded, jobs, emit, progress, build, timeout
) -> Path | None:
    """Execute each selected cohort's notebooks into a staged edition, install them all
    once all succeeded, build the book."""
    book_dir = root / "book"
    staged: list[tuple[Path, Path]] = []
    ok = False
    try:
        runs = []
        for name in selected:
            entry = registry[name]
            emit(f"== {name}: {entry.get('title', name)} ==")
            data_dir = (root / entry["data_dir"]).resolve()
            params, params_json = _cohort_params(dict(entry.get("params", {})), {})
            target = book_dir / name
            tmp = staging_for(target)
            staged.append((tmp, target))
            results_dir = tmp / RESULTS_DIRNAME
            results_dir.mkdir()
            cache_dir = root / BOOK_CACHE_DIR / name
            shutil.rmtree(cache_dir, ignore_errors=True)
            cache_dir.mkdir(parents=True)
            _prime(cohorts.pop(name), data_dir, params, cache_dir)
            published = entry.get("published")
            parameters = contract_parameters(
                data_dir=data_dir,
                cohort_name=name,
                params_json=params_json,
                results_dir=results_dir,
                cache_dir=cache_dir,
                comparators_path=comparators_file(root, entry),
                published_path=(root / published) if published else None,
                synthetic=data_dir.is_relative_to((root / SYNTHETIC_DIR).resolve()),
                seed=int(entry.get("seed", DEFAULT_SEED)),
            )
            runs.append((name, tmp, results_dir, params, parameters))

        # the cohorts run side by side and share the `jobs` notebook slots, so one
        # cohort's late reproduction notebook never leaves a core idle
        slots = threading.Semaphore(jobs)

        def run_cohort(name, tmp, results_dir, params, parameters) -> None:
            def merge() -> None:
                payload = merge_results(results_dir, name, params, loaded[name])
                write_results_json(tmp / RESULTS_FILENAME, payload)

            execute_notebooks(
                notebooks,
                tmp,
                parameters,
                jobs,
                lambda line: emit(f"{name}: {line}"),
                between=merge,
                source_root=root,
                timeout=timeout,
                slots=slots,
                registry=registry,
            )
            merge()
            write_stamp(tmp, "ivigbook book")

        registry = Workers()  # one cancel (Ctrl-C, SIGTERM) stops both cohorts' workers
        with cf.ThreadPoolExecutor(max_workers=len(runs), thread_name_prefix="cohort") as pool:
            futures = [pool.submit(run_cohort, *r) for r in runs]
            errors = []
            try:
                for (name, *_), fut in zip(runs, futures):
                    try:
                        fut.result()
                    except RunError as exc:
                        errors.append(f"{name}: {exc}")
            except BaseException:
                registry.cancel()
                raise
        if errors:
            raise RunError("\n\n".join(errors))
        for tmp, target in staged:
            install(tmp, target)
        ok = True
    finally:
        if not ok:
            with signals_held():
                for tmp, _ in staged:
                    shutil.rmtree(tmp, ignore_errors=True)
    return build_book(root, progress) if build else None
