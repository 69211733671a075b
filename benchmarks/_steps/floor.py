"""``floor``: what the reference book cannot take less than, measured WITHOUT the project's
code (nothing here imports ``ivigbook``):

* ``--repeat`` bare Jupyter kernels, ``--jobs`` at a time, each started with
  ``jupyter_client`` directly (kernel ``python3``, Unix-socket transport, the kernel
  environment ``--env``, an in-memory IPython history as nbclient gives its kernels),
  executing one cell: ``--code``, the third-party imports the chapter notebooks pay for
  (``run.py`` passes ``FLOOR_IMPORTS``), then shut down as nbclient shuts its kernels
  down (gracefully);
* an empty Jupyter Book: a minimal ``_config.yml`` / ``_toc.yml`` and one page with a
  title only, built with the command of the real book,
  ``jupyter-book build --all -W -n --keep-going DIR`` (environment as the real build's:
  ``PYTHONHASHSEED=0``, ``TZ=UTC``, no ``SOURCE_DATE_EPOCH``).

``seconds`` = the wall time of all the kernels + the wall time of the empty build.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager

from . import timed

KERNEL_NAME = "python3"
#: what nbclient (papermill's executor) passes to an IPython kernel it starts
KERNEL_ARGUMENTS = ["--HistoryManager.hist_file=:memory:"]
EMPTY_CONFIG = """\
title: "Empty book (benchmark floor)"
execute:
  execute_notebooks: "off"
only_build_toc_files: true
"""
EMPTY_TOC = """\
format: jb-book
root: intro
"""
EMPTY_PAGE = "# Empty\n"


async def _kernel(code: str, env: dict, slots: asyncio.Semaphore, scratch: str) -> dict:
    async with slots:
        folder = tempfile.mkdtemp(prefix="k", dir=scratch)  # short: socket paths <~100 chars
        t0 = time.perf_counter()
        km = AsyncKernelManager(
            kernel_name=KERNEL_NAME, transport="ipc", ip=os.path.join(folder, "kernel")
        )
        await km.start_kernel(extra_arguments=KERNEL_ARGUMENTS, env=env, cwd=folder)
        kc = km.client()
        kc.start_channels()
        errors: list[str] = []

        def hook(msg):
            if msg["msg_type"] == "error":
                errors.append(f"{msg['content']['ename']}: {msg['content']['evalue']}")

        try:
            await kc.wait_for_ready(timeout=120)
            reply = await kc.execute_interactive(code, timeout=600, output_hook=hook)
            status = reply["content"]["status"]
        finally:
            kc.stop_channels()
            await km.shutdown_kernel()
        return {
            "seconds": time.perf_counter() - t0,
            "status": "ok" if status == "ok" and not errors else f"error {'; '.join(errors)}",
        }


async def _kernels(n: int, jobs: int, code: str, env: dict, scratch: str) -> list[dict]:
    slots = asyncio.Semaphore(max(1, jobs))
    return await asyncio.gather(*(_kernel(code, env, slots, scratch) for _ in range(n)))


def _jupyter_book() -> list[str]:
    exe = Path(sys.executable).with_name("jupyter-book")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("jupyter-book")
    return (
        [found]
        if found
        else [sys.executable, "-c", "from jupyter_book.cli.main import main; main()"]
    )


def empty_book(folder: Path) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "_config.yml").write_text(EMPTY_CONFIG, encoding="utf-8")
    (folder / "_toc.yml").write_text(EMPTY_TOC, encoding="utf-8")
    (folder / "intro.md").write_text(EMPTY_PAGE, encoding="utf-8")
    env = {**os.environ, "PYTHONHASHSEED": "0", "TZ": "UTC"}
    env.pop("SOURCE_DATE_EPOCH", None)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [*_jupyter_book(), "build", "--all", "-W", "-n", "--keep-going", str(folder)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
    )
    sec = time.perf_counter() - t0
    ok = proc.returncode == 0 and (folder / "_build" / "html" / "index.html").is_file()
    tail = "\n".join(((proc.stdout or "") + (proc.stderr or "")).strip().splitlines()[-10:])
    return {
        "seconds": sec,
        "status": "ok" if ok else f"exit {proc.returncode}",
        "output": "" if ok else tail,
    }


def run(a) -> dict:
    work = Path(a.out)
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **json.loads(a.env or "{}")}
    with tempfile.TemporaryDirectory(prefix="ivfl-") as scratch:
        kernels, sec, cpu = timed(
            lambda: asyncio.run(_kernels(a.repeat, a.jobs, a.code, env, scratch))
        )
    book = empty_book(work / "empty-book")
    bad = [k["status"] for k in kernels if k["status"] != "ok"]
    if bad:
        print("\n".join(bad[:3]), file=sys.stderr)
    if book["status"] != "ok":
        print(book["output"], file=sys.stderr)
    status = (
        "ok"
        if not bad and book["status"] == "ok"
        else (f"kernels: {bad[0]}" if bad else f"empty book: {book['status']}")
    )
    return {
        "seconds": sec + book["seconds"],
        "status": status,
        "kernels_seconds": sec,
        "kernels_cpu_seconds": cpu,
        "per_notebook": sec * a.jobs / max(1, a.repeat),
        "empty_book_seconds": book["seconds"],
        "all": [k["seconds"] for k in kernels],
    }
