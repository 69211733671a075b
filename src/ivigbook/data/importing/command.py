"""``ivigbook import SOURCE --out PKG [--mapping MAP.toml] [--ids FILE]``."""

from __future__ import annotations

import argparse
import sys

from ivigbook.data.importing.importer import ImportUsageError, import_export
from ivigbook.data.importing.pseudonym import KEY_VARIABLE
from ivigbook.data.problems import DataError
from ivigbook.system.processes import signals_raise

HELP = "convert a REDCap export, or any export described by a mapping file, into a cohort package"


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "source",
        metavar="SOURCE",
        help="a REDCap export (CSV) of the project from `ivigbook template DIR --redcap`, or "
        "the export file or folder that --mapping describes",
    )
    p.add_argument("--out", required=True, metavar="PKG", help="the package folder to write")
    p.add_argument(
        "--mapping",
        default=None,
        metavar="MAP.toml",
        help="how the export maps to the contract (`ivigbook template DIR --mapping` writes a "
        "starter); not needed for a REDCap export of the project",
    )
    p.add_argument(
        "--report",
        default=None,
        metavar="FILE",
        help="on failure, also write every problem, one per line, to FILE (mode 0600)",
    )
    p.add_argument(
        "--ids",
        default=None,
        metavar="FILE",
        help="write the source key -> patient_id table here (outside PKG; only with "
        f'identifiers.patient_id = "sequence" or "hash", whose key is ${KEY_VARIABLE})',
    )


def handler(args: argparse.Namespace) -> int:
    """Import, validate, and say what was written; every problem at once on failure."""
    try:
        with signals_raise():  # SIGTERM / SIGHUP: the staged package is removed
            done = import_export(
                args.source,
                args.out,
                args.mapping,
                args.ids,
                emit=lambda line: print(line, file=sys.stderr),
            )
    except ImportUsageError as e:
        print(f"ivigbook import: error: {e}", file=sys.stderr)
        return 2
    except DataError as e:
        full = getattr(args, "report", None)
        print(e.report.format(None if full else "--report FILE"), file=sys.stderr)
        if full:
            n = e.report.write_full(full)
            print(f"full list ({n} problems, one per line) written to {full}", file=sys.stderr)
        print(f"ivigbook import: nothing was written to {args.out}", file=sys.stderr)
        return 1
    if done.report.problems:
        print(done.report.format())
    rows = ", ".join(f"{n} {t}" for t, n in done.rows.items())
    print(f"ivigbook import: {args.out} written ({rows}); source: {done.kind}")
    if done.link_table is not None:
        print(f"  identifier table: {done.link_table} (keep it safe; never share it)")
    print(f"  next: ivigbook validate {args.out}   (the inclusion flow of your patients)")
    print(f"        ivigbook run {args.out} --out OUT")
    return 0
