"""Execute chapter notebooks with papermill: workers, kernels, and the notebook contract.

Used by ``ivigbook run`` (:mod:`ivigbook.book.run`) and ``ivigbook book``
(:mod:`ivigbook.book.reference`). Notebook contract (what every chapter notebook
``notebooks/NN_name.md`` of :data:`ivigbook.chapters.catalog.CHAPTERS` receives from papermill,
see :data:`CONTRACT_PARAMETERS`):

``data_dir``         path of the cohort package
``cohort_name``      short name of the cohort
``params_json``      JSON object of :class:`~ivigbook.data.params.AnalysisParams` overrides
``results_dir``      folder where the notebook writes its partial results ``<stem>.json``
``cache_dir``        folder for derived tables cached as parquet (run-scoped, may be absent)
``comparators_path`` published historical controls (CSV)
``published_path``   published results of the study ("" when there are none)
``synthetic``        whether the data are synthetic
``seed``             seed for anything random

Every notebook is executed with its working directory set to the folder of the
*executed* notebook, and every path above is relative to that folder, so committed
notebooks re-run from any clone (``pytest --nbval book/hopkins2015``).

Independent notebooks run in parallel, ``--jobs`` at a time, each in a fresh worker
process (papermill changes the working directory of its process, so notebooks cannot
share one); a notebook whose name contains ``reproduction`` runs after all others, once
their partial results have been merged into ``results.json`` next to it (it may read
that file or the partials in ``results_dir``).
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from ivigbook.book import notebook_source
from ivigbook.book.notebook_clean import scrub_file, stderr_outputs
from ivigbook.errors import RunError
from ivigbook.system.processes import kill_tree, lifeline, signals_held
from ivigbook.system.scratch import run_scratch, socket_folder

KERNEL_NAME = "python3"

#: Environment of every kernel: hash order, headless matplotlib, a fixed "build date"
#: for tools that embed one, UTC. (The Sphinx build gets PYTHONHASHSEED and TZ only.)
KERNEL_ENV = {
    "PYTHONHASHSEED": "0",
    # headless like Agg, but registers the PNG formatter for Figure objects, without
    # which glue(fig) and a returned figure render as "<Figure ...>" text only
    "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    "SOURCE_DATE_EPOCH": "315532800",  # 1980-01-01T00:00:00Z, never changes
    "TZ": "UTC",
    "PYDEVD_DISABLE_FILE_VALIDATION": "1",  # silence debugpy's frozen-modules note
}


CONTRACT_PARAMETERS = (
    "data_dir",
    "cohort_name",
    "params_json",
    "results_dir",
    "cache_dir",
    "comparators_path",
    "published_path",
    "synthetic",
    "seed",
)


def contract_parameters(
    *,
    data_dir: Path,
    cohort_name: str,
    params_json: dict,
    results_dir: Path,
    cache_dir: Path,
    comparators_path: Path,
    published_path: Path | None,
    synthetic: bool,
    seed: int,
) -> dict:
    """The :data:`CONTRACT_PARAMETERS` of every chapter notebook, in their order."""
    values = {
        "data_dir": data_dir,
        "cohort_name": cohort_name,
        "params_json": json.dumps(params_json, sort_keys=True),
        "results_dir": results_dir,
        "cache_dir": cache_dir,
        "comparators_path": comparators_path,
        "published_path": published_path if published_path is not None else "",
        "synthetic": synthetic,
        "seed": seed,
    }
    return {name: values[name] for name in CONTRACT_PARAMETERS}


#: a notebook whose stem contains this runs after all others (it reads merged results)
LATE_MARKER = "reproduction"


_NB_NAME = notebook_source.NUMBERED


#: lines of the kernels' own stderr that are noise, not news
_KERNEL_NOISE = re.compile(
    r"Kernel is running over TCP without encryption|Debugger warning|"
    r"frozen modules|PYDEVD_DISABLE_FILE_VALIDATION|Xfrozen_modules|"
    r"Debugging will proceed|KeyboardInterrupt caught in kernel|^\s*$"
)


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@dataclass
class NotebookResult:
    """Outcome of executing one notebook."""

    name: str
    source: Path
    output: Path
    ok: bool
    seconds: float
    error: dict | None = None
    stderr: list = field(default_factory=list)  # stderr outputs inside the notebook
    log: list = field(default_factory=list)  # kernel / papermill messages (noise removed)


def _emitter(progress: bool | Callable[[str], None]) -> Callable[[str], None]:
    if callable(progress):
        return progress
    if progress:
        return lambda line: print(line, file=sys.stderr, flush=True)
    return lambda line: None


def _rel(path: Path, start: Path) -> str:
    """``path`` relative to ``start`` in POSIX form (absolute if on another drive)."""
    try:
        return Path(os.path.relpath(Path(path).resolve(), Path(start).resolve())).as_posix()
    except ValueError:  # pragma: no cover - different drives on Windows
        return Path(path).resolve().as_posix()


def is_late(path: Path) -> bool:
    """Does this notebook run after all others (it reads the merged results)?"""
    return LATE_MARKER in Path(path).stem


def discover_notebooks(folder: str | os.PathLike, include_late: bool = True) -> list[Path]:
    """``NN_name.md``/``.ipynb`` notebooks of ``folder`` in order, then the
    ``*reproduction*`` ones."""
    folder = Path(folder)
    if not folder.is_dir():
        raise RunError(f"notebook folder {folder} does not exist")
    found = notebook_source.sources_in(folder)
    numbered = sorted(p for p in found if _NB_NAME.match(p.name) and not is_late(p))
    late = sorted(p for p in found if is_late(p))
    return numbered + (late if include_late else [])


def _parameters_cell(nb) -> list:
    return [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]


def _check_contract(sources: list[Path], parameters: dict, emit) -> None:
    """Each notebook has exactly one `parameters` cell; warn about undeclared names."""
    problems = []
    for src in sources:
        try:
            nb = notebook_source.read(src)
        except Exception as exc:  # noqa: BLE001 - unreadable JSON etc., reported
            problems.append(f"{src}: cannot read the notebook ({exc})")
            continue
        cells = _parameters_cell(nb)
        if len(cells) != 1:
            problems.append(
                f"{src}: needs exactly one cell tagged 'parameters', found {len(cells)}"
            )
            continue
        text = cells[0].source
        missing = [
            n for n in parameters if not re.search(rf"(?m)^\s*{re.escape(n)}\s*(:[^=\n]*)?=", text)
        ]
        if missing:
            emit(
                f"warning: {src.name} does not declare parameter(s) {', '.join(missing)} "
                f"in its 'parameters' cell"
            )
    if problems:
        raise RunError("notebook contract violated:\n  " + "\n  ".join(problems))


class Workers:
    """The live worker processes of one or more concurrent executions, and whether they
    were cancelled: once :meth:`cancel` ran, no worker starts and every live one (and
    its kernel) is killed."""

    def __init__(self):
        self.active: set = set()
        self.lock = threading.Lock()
        self.cancelled = False

    def start(self, cmd: list[str], **kwargs) -> subprocess.Popen | None:
        """Start a worker (None once cancelled)."""
        with self.lock:
            if self.cancelled:
                return None
            proc = subprocess.Popen(cmd, **kwargs)
            self.active.add(proc)
            return proc

    def done(self, proc: subprocess.Popen) -> None:
        with self.lock:
            self.active.discard(proc)

    def cancel(self) -> None:
        """Start no more workers; kill the live ones and their kernels (signals wait)."""
        with signals_held(), self.lock:
            self.cancelled = True
            kill_tree([p.pid for p in self.active])


def _execute_one(task: dict, workers: Workers, scratch: Path) -> dict:
    """Execute one notebook in a fresh Python process (``_worker_main``); called from a
    thread of :func:`execute_notebooks`.

    A subprocess per notebook rather than a multiprocessing pool: papermill changes the
    working directory of its process (so threads cannot share one), and unlike
    ``spawn``/``forkserver`` pools this never re-imports the caller's ``__main__``
    (scripts without an ``if __name__ == "__main__"`` guard, Jupyter, Windows all work).
    The kernel inherits the worker's stderr, which is captured and filtered. The worker
    dies with this process (:func:`~ivigbook.system.processes.lifeline`) and is listed in
    ``workers`` while it runs, so that an interrupted run can kill it and its kernel.
    Its socket folder lies in the run's private ``scratch`` folder.
    """
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="nb-", dir=scratch) as ipc:
        result_path = Path(ipc) / "result.json"
        payload = json.dumps({**task, "result_path": str(result_path), "ipc_dir": ipc})
        env = {**os.environ, **task["env"]}
        cmd = [
            sys.executable,
            "-c",
            "from ivigbook.book.execute import _worker_main; _worker_main()",
        ]
        try:
            proc = workers.start(
                lifeline(cmd),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
                encoding="utf-8",
                errors="replace",
            )
        except OSError as exc:
            proc, text, returncode = None, str(exc), -1
        else:
            text, returncode = "the run was cancelled", -1
        if proc is not None:
            try:
                stdout, stderr = proc.communicate(payload)
            finally:
                workers.done(proc)
            text, returncode = (stdout or "") + (stderr or ""), proc.returncode
        if result_path.is_file():
            out = json.loads(result_path.read_text(encoding="utf-8"))
        else:
            tail = [ln for ln in _ANSI.sub("", text).splitlines() if ln.strip()][-15:]
            out = {
                "ok": False,
                "stderr": [],
                "error": {
                    "kind": "other",
                    "ename": "WorkerDied",
                    "evalue": f"the notebook worker exited with status {returncode}"
                    + (": " + tail[-1] if tail else ""),
                },
            }
    out["log"] = [ln for ln in _ANSI.sub("", text).splitlines() if not _KERNEL_NOISE.search(ln)]
    out["seconds"] = time.monotonic() - start
    return out


def _worker_main() -> None:
    """Entry point of a notebook worker process: task JSON on stdin, result to a file."""
    task = json.loads(sys.stdin.read())
    os.environ.update(task["env"])
    out = {"ok": False, "error": None, "stderr": []}
    try:
        _run_papermill(task, out)
    except BaseException as exc:  # scrubbing failed, interrupted, ...
        out["ok"] = False
        out["error"] = {"kind": "other", "ename": type(exc).__name__, "evalue": str(exc)}
        raise
    finally:
        with open(task["result_path"], "w", encoding="utf-8") as fh:
            json.dump(out, fh)


def _ipc_kernel_manager(folder: str):
    """A kernel manager whose kernel talks over Unix sockets in ``folder`` instead of TCP
    ports on localhost. With TCP the manager picks free ports, releases them and the
    kernel binds them a moment later: kernels starting at the same time can race for a
    port ("Address already in use", the kernel dies). Unix sockets have no such race
    and no unencrypted-TCP warning. ``folder`` is the worker's scratch folder (a short
    path: socket paths are limited to about 100 characters)."""
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    class IPCKernelManager(AsyncKernelManager):
        def format_kernel_cmd(self, extra_arguments=None):
            return lifeline(super().format_kernel_cmd(extra_arguments))

        @default("transport")
        def _transport_default(self) -> str:
            return "ipc"

        @default("ip")
        def _ip_default(self) -> str:
            return os.path.join(folder, "kernel")

        @default("connection_file")
        def _connection_file_default(self) -> str:  # not a stray file in /tmp
            return os.path.join(folder, "kernel.json")

    return IPCKernelManager


def _run_papermill(task: dict, out: dict) -> None:
    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError, strip_color

    manager = {}
    if os.name == "posix" and task.get("ipc_dir"):
        manager["kernel_manager_class"] = _ipc_kernel_manager(task["ipc_dir"])
    try:
        papermill.execute_notebook(
            notebook_source.executable(task["source"], task.get("ipc_dir")),
            task["output"],
            parameters=task["parameters"],
            kernel_name=task["kernel"],
            cwd=task["cwd"],
            progress_bar=False,
            log_output=False,
            request_save_on_cell_execute=False,
            execution_timeout=task["timeout"],
            **manager,
        )
    except PapermillExecutionError as exc:
        out["error"] = {
            "kind": "cell",
            "cell_index": exc.cell_index,
            "exec_count": exc.exec_count,
            "source": exc.source,
            "ename": exc.ename,
            "evalue": strip_color(str(exc.evalue)),
            "traceback": strip_color("\n".join(exc.traceback or [])),
        }
        # index of the failing cell in the *source* notebook (papermill inserted the
        # injected-parameters cell after the `parameters` cell)
        try:
            nb = nbformat.read(task["output"], as_version=4)
            cells = [
                c for c in nb.cells if "papermill-error-cell-tag" not in c.metadata.get("tags", [])
            ]
            injected = [
                i
                for i, c in enumerate(cells)
                if "injected-parameters" in c.metadata.get("tags", [])
            ]
            shift = 1 if injected and injected[0] < exc.cell_index else 0
            out["error"]["source_cell"] = exc.cell_index - shift + 1
        except Exception:  # noqa: BLE001  # pragma: no cover - best effort only
            out["error"]["source_cell"] = None
    except Exception as exc:  # noqa: BLE001 - kernel died, timeout, bad notebook: reported
        out["error"] = {
            "kind": "other",
            "ename": type(exc).__name__,
            "evalue": _ANSI.sub("", str(exc)),
            "traceback": "",
        }
    else:
        nb = scrub_file(task["output"], input_path=task["record_input"], redact=task.get("redact"))
        out["stderr"] = stderr_outputs(nb)
        out["ok"] = True


def _format_failure(res: NotebookResult) -> str:
    err = res.error or {}
    if err.get("kind") == "cell":
        where = f"cell {err.get('source_cell') or '?'} (In [{err.get('exec_count')}])"
        lines = [f"notebook {res.source.name} failed at {where}:"]
        src_lines = (err.get("source") or "").strip("\n").splitlines()
        for line in src_lines[:12]:
            lines.append(f"    | {line}")
        if len(src_lines) > 12:
            lines.append(f"    | ... ({len(src_lines) - 12} more lines)")
        lines.append(f"  {err.get('ename')}: {err.get('evalue')}")
        tb = [ln for ln in (err.get("traceback") or "").splitlines() if ln.strip()]
        if len(tb) > 1:
            lines.append("  traceback (last lines):")
            lines += [f"    {ln}" for ln in tb[-15:]]
    else:
        lines = [
            f"notebook {res.source.name} could not be executed:",
            f"  {err.get('ename')}: {err.get('evalue')}",
        ]
    if res.log:
        lines.append("  kernel / papermill messages:")
        lines += [f"    {ln}" for ln in res.log[-15:]]
    return "\n".join(lines)


def _execute_in_slot(task: dict, slots: threading.Semaphore | None, workers, scratch) -> dict:
    """:func:`_execute_one`, holding one of the shared ``slots`` (if any) while it runs."""
    if slots is None:
        return _execute_one(task, workers, scratch)
    with slots:
        return _execute_one(task, workers, scratch)


class _CancellingPool(cf.ThreadPoolExecutor):
    """A thread pool that, when its block is left by an exception (Ctrl-C, SIGTERM, a
    failed stage), drops the notebooks not yet started and kills the workers (and their
    kernels) still running instead of waiting for them."""

    def __init__(self, *args, workers: Workers | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.workers = workers or Workers()

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.shutdown(wait=False, cancel_futures=True)
            self.workers.cancel()
        self.shutdown(wait=True, cancel_futures=exc_type is not None)
        return False


def execute_notebooks(
    sources: Iterable[str | os.PathLike],
    out_dir: str | os.PathLike,
    parameters: dict,
    jobs: int = 1,
    progress: bool | Callable[[str], None] = True,
    *,
    kernel_name: str = KERNEL_NAME,
    timeout: int | None = None,
    between: Callable[[], None] | None = None,
    source_root: str | os.PathLike | None = None,
    redact: dict[str, str] | None = None,
    slots: threading.Semaphore | None = None,
    scratch: str | os.PathLike | None = None,
    registry: Workers | None = None,
) -> list[NotebookResult]:
    """Execute ``sources`` (``.md`` or ``.ipynb``) with papermill into ``out_dir/<stem>.ipynb``.

    ``parameters``: injected into every notebook; :class:`~pathlib.Path` values are
    made relative to ``out_dir``, which is also each kernel's working directory.
    Independent notebooks run ``jobs`` at a time, each in its own worker process;
    ``*reproduction*``
    notebooks run after all others, after ``between()`` was called (the runner merges
    the partial results there). Each executed notebook is scrubbed
    (:mod:`ivigbook.book.notebook_clean`). Progress lines go to ``progress`` (stderr by
    default). Raises :class:`RunError` naming every failed notebook, its cell and error.
    ``redact``: ``{parameter: text}`` recorded instead of the real value in the executed
    notebooks (see :func:`ivigbook.book.notebook_clean.scrub_notebook`). ``slots``: a
    semaphore shared by several concurrent calls (the reference book runs its cohorts
    side by side), so that together they never run more than its value of notebooks.
    ``scratch``: the run's private scratch folder for the workers' sockets (by default one
    of their own, :func:`~ivigbook.system.scratch.run_scratch`).
    """
    emit = _emitter(progress)
    sources = [Path(s).resolve() for s in sources]
    if not sources:
        raise RunError("no notebooks to execute")
    names = [notebook_source.executed_name(s) for s in sources]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise RunError(f"two notebooks have the same name: {', '.join(dupes)}")
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    params = {k: (_rel(v, out_dir) if isinstance(v, Path) else v) for k, v in parameters.items()}
    _check_contract(sources, params, emit)
    source_root = Path(source_root).resolve() if source_root else None
    env = dict(KERNEL_ENV)

    def task(src: Path) -> dict:
        try:
            record = src.relative_to(source_root).as_posix() if source_root else src.name
        except ValueError:
            record = src.name
        return {
            "source": str(src),
            "output": str(out_dir / notebook_source.executed_name(src)),
            "parameters": params,
            "kernel": kernel_name,
            "cwd": str(out_dir),
            "timeout": timeout,
            "record_input": record,
            "env": env,
            "redact": redact,
        }

    stages = [[s for s in sources if not is_late(s)], [s for s in sources if is_late(s)]]
    stages = [s for s in stages if s]
    total = len(sources)
    workers = max(1, min(int(jobs or 1), max(len(s) for s in stages)))
    emit(
        f"executing {total} notebook{'s' if total != 1 else ''} in {out_dir} "
        f"({workers} worker{'s' if workers != 1 else ''})"
    )
    with nullcontext(Path(scratch)) if scratch else run_scratch() as folder:
        with socket_folder(folder) as sockets:
            return _run_stages(
                stages, names, task, workers, sockets, slots, between, emit, registry
            )


def _run_stages(stages, names, task, workers, scratch, slots, between, emit, registry):
    """The stages of :func:`execute_notebooks`, one after the other."""
    total = sum(len(s) for s in stages)
    results: list[NotebookResult] = []
    done = 0
    with _CancellingPool(
        max_workers=workers, thread_name_prefix="notebook", workers=registry
    ) as pool:
        for number, stage in enumerate(stages):
            if number > 0 and between is not None:
                between()
            futures = {
                pool.submit(_execute_in_slot, task(src), slots, pool.workers, scratch): src
                for src in stage
            }
            failed = []
            for fut in cf.as_completed(futures):
                src = futures[fut]
                done += 1
                try:
                    raw = fut.result()
                except Exception as exc:  # noqa: BLE001 - worker crashed: reported
                    raw = {
                        "ok": False,
                        "seconds": 0.0,
                        "stderr": [],
                        "log": [],
                        "error": {"kind": "other", "ename": type(exc).__name__, "evalue": str(exc)},
                    }
                res = NotebookResult(
                    name=src.stem,
                    source=src,
                    output=Path(task(src)["output"]),
                    ok=raw["ok"],
                    seconds=raw["seconds"],
                    error=raw["error"],
                    stderr=raw["stderr"],
                    log=raw["log"],
                )
                results.append(res)
                if res.ok:
                    emit(f"[{done}/{total}] {src.stem} ... done in {res.seconds:.1f} s")
                    for line in res.log[:20]:
                        emit(f"      {src.stem} (kernel/papermill): {line}")
                    for count, text in res.stderr:
                        first = text.strip().splitlines()[0] if text.strip() else ""
                        emit(
                            f"      note: {src.stem} wrote to stderr in In [{count}]: {first[:160]}"
                        )
                else:
                    res.error = res.error or {
                        "kind": "other",
                        "ename": "UnknownError",
                        "evalue": "the worker reported no error",
                    }
                    emit(
                        f"[{done}/{total}] {src.stem} ... FAILED after {res.seconds:.1f} s "
                        f"({res.error.get('ename')})"
                    )
                    failed.append(res)
            if failed:
                skipped = [s.stem for later in stages[number + 1 :] for s in later]
                msg = "\n\n".join(_format_failure(r) for r in sorted(failed, key=lambda r: r.name))
                if skipped:
                    msg += f"\n\nnot run because of the failure(s): {', '.join(skipped)}"
                raise RunError(msg)
    return sorted(results, key=lambda r: names.index(r.output.name))
