"""The ``ivigbook`` command (also ``python -m ivigbook.cli``).

Sub-commands live in :data:`COMMANDS`. A module adds one with::

    register("name", "one-line help", configure, handler)

``configure(parser)`` adds the argparse arguments; ``handler(args)`` runs the command
and returns the exit status (``None`` = 0).

Exit status: 0 success (warnings allowed), 1 bad data, missing files or any other
failure, 2 usage errors. Handlers raise :class:`~ivigbook.data.problems.DataError` for bad
data and ``OSError`` for file problems; :func:`main` turns both into a message, and
never shows a traceback unless ``--debug`` is given.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ivigbook import __version__
from ivigbook.book.reference import build_reference_book
from ivigbook.book.run import run
from ivigbook.data.cohort import Cohort
from ivigbook.data.importing import command as import_command
from ivigbook.data.io import read_package
from ivigbook.data.params import AnalysisParams, parse_overrides
from ivigbook.data.problems import MAX_LISTED, DataError
from ivigbook.data.rules import DEFAULT_SEED, format_rules, rules_markdown
from ivigbook.data.template import DEFAULT_KINDS, MAPPING_FILE, template_folders, write_template
from ivigbook.data.terms import read_term_map, term_warning
from ivigbook.data.validate import validate_package
from ivigbook.derive.context import inclusion_lines
from ivigbook.errors import InvalidDataError, RunError, UsageError
from ivigbook.synth.cli import main_synth
from ivigbook.system.processes import Terminated

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2

Handler = Callable[[argparse.Namespace], "int | None"]


@dataclass(frozen=True)
class Command:
    """A sub-command: its help line, its arguments and what it runs."""

    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    handler: Handler


COMMANDS: dict[str, Command] = {}


def register(
    name: str, help: str, configure: Callable[[argparse.ArgumentParser], None], handler: Handler
) -> None:
    """Add (or replace) the sub-command ``name``."""
    COMMANDS[name] = Command(name, help, configure, handler)


# ---------------------------------------------------------------- argument types
def _positive_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return n


def _seed(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more: {text!r}")
    return n


class _SetParameter(argparse.Action):
    """``--set name=value`` (repeatable): collects the texts; :class:`_Parser` checks them
    all at once when the command line has been read."""

    def __call__(self, parser, namespace, text, option_string=None):
        texts = getattr(namespace, self.dest, None)
        setattr(namespace, self.dest, [*(texts if isinstance(texts, list) else []), text])


class _Parser(argparse.ArgumentParser):
    """An argument parser whose ``--set`` texts become ``{name: typed value}`` through the
    one parser (:func:`ivigbook.data.params.parse_overrides`) before any command runs:
    every bad name or value is reported at once, with the allowed values, and exits 2."""

    def parse_known_args(self, args=None, namespace=None):
        namespace, rest = super().parse_known_args(args, namespace)
        texts = getattr(namespace, "set", None)
        if isinstance(texts, list):
            try:
                namespace.set = parse_overrides(texts)
            except UsageError as e:
                self.error(str(e))
        return namespace, rest


# ---------------------------------------------------------------- validate / template
def _configure_validate(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "path", metavar="DIR", help="package folder (CSV, .dta, parquet files) or .xlsx workbook"
    )
    p.add_argument(
        "--limit",
        type=_positive_int,
        default=None,
        metavar="N",
        help="lines (distinct values) listed per file, column and rule (default 50); "
        "all problems are counted",
    )
    p.add_argument(
        "--report",
        default=None,
        metavar="FILE",
        help="also write every problem, one per line, to FILE (created with mode 0600: "
        "it holds patient ids; written only when asked)",
    )
    _configure_terms(p)
    p.add_argument(
        "--set",
        action=_SetParameter,
        default={},
        metavar="name=value",
        help="an analysis parameter for the inclusion flow shown (repeatable)",
    )


def _configure_terms(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--terms",
        default=None,
        metavar="FILE",
        help="map of adverse-event terms to codes: a CSV file 'term,code' (header optional)",
    )


def _validate(args: argparse.Namespace) -> int:
    """Every problem of the package and of the ``--terms`` map in one report; a valid
    package also gets one warning naming the terms still outside the vocabulary. With
    ``--report FILE`` every problem is also written to FILE, one per line."""
    limit = args.limit or MAX_LISTED
    full = getattr(args, "report", None)
    target = Path(full).resolve() if full else None
    root = Path(args.path).resolve()
    if target is not None and target.exists() and (target == root or root in target.parents):
        print(
            f"ivigbook validate: error: --report {full} would overwrite a file of the package",
            file=sys.stderr,
        )
        return EXIT_USAGE
    raw = read_package(args.path)
    report = validate_package(raw, limit=limit)
    terms = {}
    if getattr(args, "terms", None):
        try:
            terms = read_term_map(args.terms)
        except DataError as e:
            report.problems += e.report.problems
    events = raw.tables.get("adverse_events")
    if report.ok and events is not None:
        warning = term_warning(events.frame, events.file, terms, limit)
        if warning is not None:
            report.problems.append(warning)
    print(report.format(None if full else "--report FILE"))
    if full:
        n = report.write_full(full)
        print(f"full list ({n} problem{'s' * (n != 1)}, one per line) written to {full}")
    if not report.ok:
        return EXIT_FAILURE
    sizes = ", ".join(f"{len(t)} {name}" for name, t in raw.tables.items())
    print(f"{args.path}: valid cohort package ({raw.format}: {sizes}; sha256 {raw.sha256})")
    frames = {t: raw.tables[t].frame.astype("string") for t in raw.tables}
    cohort = Cohort.from_frames(name=raw.name, source=str(args.path), sha256=raw.sha256, **frames)
    params = AnalysisParams.from_mapping(getattr(args, "set", None) or {})
    print("\n".join(inclusion_lines(cohort, params)))
    return EXIT_OK


def _configure_template(p: argparse.ArgumentParser) -> None:
    p.add_argument("directory", metavar="DIR", help="folder to write the template into")
    p.add_argument("--force", action="store_true", help="overwrite existing template files")
    p.add_argument(
        "--redcap",
        action="store_true",
        help="write DIR/redcap/: the REDCap data dictionary of the contract (upload it in "
        "REDCap's Data Dictionary page) and its repeating instruments",
    )
    p.add_argument(
        "--mapping",
        action="store_true",
        help="write DIR/mapping.toml: a starter mapping file for `ivigbook import`",
    )


def _template(args: argparse.Namespace) -> int:
    kinds = tuple(k for k in ("redcap", "mapping") if getattr(args, k, False))
    files = write_template(args.directory, overwrite=args.force, kinds=kinds or DEFAULT_KINDS)
    print(f"wrote the cohort template to {args.directory}:")
    for folder in dict.fromkeys(f.parent for f in files):
        print(f"  {folder}: " + ", ".join(f.name for f in files if f.parent == folder))
    folders = template_folders(args.directory)
    if "redcap" in kinds:
        print(
            "Build the REDCap project from it: upload the dictionary (Project Setup > Data "
            "Dictionary), make the instruments listed in the second file repeating, enter the "
            "data, export all records as CSV (raw or labels), then:\n"
            "  ivigbook import EXPORT.csv --out PKG"
        )
    if "mapping" in kinds:
        print(
            "Describe your export in it (sources, columns, value maps, date format), then:\n"
            f"  ivigbook import EXPORT --out PKG --mapping {folders['mapping'] / MAPPING_FILE}"
        )
    if not kinds:
        print(
            "Fill in one of the two, the CSV files or the workbook (its read_me sheet explains "
            f"it), then check it:\n  ivigbook validate {folders['csv']}\n"
            f"  ivigbook validate {folders['xlsx']}"
        )
    return EXIT_OK


# ---------------------------------------------------------------- synth / run / book
def _configure_synth(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", metavar="NAME", help="synthetic cohort to generate")
    p.add_argument("--seed", type=int, default=None, metavar="S", help="random seed")
    p.add_argument("--out", default=None, metavar="DIR", help="output folder")
    p.add_argument(
        "--patients", type=_positive_int, default=None, metavar="N", help="number of patients"
    )
    p.add_argument(
        "--shape",
        default=None,
        metavar="NAME",
        help="named shape (cohort_space; exports: spanish_registry, redcap_raw, redcap_labels, "
        "redcap_events)",
    )


def _configure_jobs(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--jobs",
        type=_positive_int,
        default=1,
        metavar="N",
        help="notebooks executed in parallel (default 1)",
    )


def _configure_run(p: argparse.ArgumentParser) -> None:
    p.add_argument("data_dir", metavar="DATA_DIR", help="cohort package (folder or .xlsx)")
    p.add_argument("--out", required=True, metavar="OUT", help="output folder")
    p.add_argument(
        "--set",
        action=_SetParameter,
        default={},
        metavar="name=value",
        help="set an analysis rule (repeatable; the rules are listed below and by "
        "`ivigbook rules`)",
    )
    p.add_argument(
        "--seed",
        type=_seed,
        default=None,
        metavar="S",
        help="random seed of the multiple imputation and the MAIC bootstrap (default: the "
        f"registered seed of a reference cohort, else {DEFAULT_SEED}); recorded in "
        "results.json",
    )
    _configure_jobs(p)
    p.add_argument(
        "--cohort-name",
        default=None,
        metavar="NAME",
        help="name shown in the book (default: the folder name)",
    )
    _configure_terms(p)
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = format_rules(_width())


# ---------------------------------------------------------------- rules
def _width() -> int:
    """Columns for the rules: the terminal's, at most 100."""
    return min(100, shutil.get_terminal_size((88, 24)).columns)


def _configure_rules(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--markdown", action="store_true", help="print the README's Markdown table instead"
    )


def _rules(args: argparse.Namespace) -> int:
    """Every analysis rule with its default, allowed values, meaning and sources."""
    print(rules_markdown() if args.markdown else format_rules(_width()), end="")
    return EXIT_OK


def _configure_book(p: argparse.ArgumentParser) -> None:
    _configure_jobs(p)
    p.add_argument("--only", default=None, metavar="COHORT", help="build one cohort only")


# ---------------------------------------------------------------- run and book
def _jobs(args) -> int | None:
    value = getattr(args, "jobs", None)
    return int(value) if value else None


def _stopped(exc: KeyboardInterrupt) -> str:
    """How the run was stopped, in words."""
    if isinstance(exc, Terminated):
        return f"stopped by {signal.Signals(exc.signum).name}; its scratch files were removed"
    return "interrupted"


def _interrupted_status(exc: KeyboardInterrupt) -> int:
    """128 + the signal's number, as a shell reports a process killed by it."""
    return 128 + (exc.signum if isinstance(exc, Terminated) else signal.SIGINT)


def main_run(args) -> int:
    """Entry of ``ivigbook run DATA_DIR --out OUT [--set name=value ...] [--seed S]
    [--jobs N] [--cohort-name NAME] [--terms FILE]``; returns the exit code (0 ok, 1 failed run or
    bad data, 2 usage)."""
    overrides = getattr(args, "set", None) or getattr(args, "overrides", None) or {}
    try:
        summary = run(
            args.data_dir,
            args.out,
            overrides,
            _jobs(args),
            getattr(args, "cohort_name", None),
            terms=getattr(args, "terms", None),
            seed=getattr(args, "seed", None),
        )
    except InvalidDataError as exc:
        print(str(exc), file=sys.stderr)
        print(
            "ivigbook run: nothing was written (fix the problems above and run again)",
            file=sys.stderr,
        )
        return exc.exit_code
    except RunError as exc:
        print(f"ivigbook run: error: {exc}", file=sys.stderr)
        if not isinstance(exc, UsageError):
            print(f"ivigbook run: {args.out} was left unchanged", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        print(f"ivigbook run: {_stopped(exc)}; {args.out} was left unchanged", file=sys.stderr)
        return _interrupted_status(exc)
    n = len(summary.notebooks)
    built = "executed and the book built" if summary.html_index else "executed"
    print(f"ivigbook run: {n} notebooks {built} in {summary.seconds:.1f} s")
    print(f"  results: {summary.results_path}")
    print(f"  book:    {summary.html_index}")
    return 0


def main_book(args) -> int:
    """Entry of ``ivigbook book [--jobs N] [--only COHORT]``; returns the exit code."""
    t0 = time.monotonic()
    try:
        index = build_reference_book(_jobs(args), getattr(args, "only", None))
    except InvalidDataError as exc:
        print(str(exc), file=sys.stderr)
        return exc.exit_code
    except RunError as exc:
        print(f"ivigbook book: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        print(f"ivigbook book: {_stopped(exc)}", file=sys.stderr)
        return _interrupted_status(exc)
    print(f"ivigbook book: done in {time.monotonic() - t0:.1f} s")
    print(f"  book: {index}")
    return 0


register(
    "validate", "check a cohort package and list every problem", _configure_validate, _validate
)
register(
    "template",
    "write an empty cohort package to fill in: DIR/csv (CSV files) or DIR/xlsx (a workbook)",
    _configure_template,
    _template,
)
register("synth", "generate a calibrated synthetic cohort", _configure_synth, main_synth)
register("run", "validate a cohort and render the analysis book for it", _configure_run, main_run)
register(
    "rules",
    "list the analysis rules: default, allowed values, meaning",
    _configure_rules,
    _rules,
)
register("book", "render the reference edition of the book", _configure_book, main_book)
register("import", import_command.HELP, import_command.configure, import_command.handler)


# ---------------------------------------------------------------- main
def build_parser() -> argparse.ArgumentParser:
    """The parser with every registered sub-command."""
    parser = _Parser(prog="ivigbook", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"ivigbook {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for cmd in COMMANDS.values():
        p = sub.add_parser(cmd.name, help=cmd.help, description=cmd.help)
        p.add_argument(
            "--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
        )
        cmd.configure(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""

    args = build_parser().parse_args(argv)  # usage errors exit 2 here
    prog = f"ivigbook {args.command}"
    try:
        status = COMMANDS[args.command].handler(args)
    except DataError as e:
        print(e.report.format(), file=sys.stderr)
        print(f"{prog}: {e}", file=sys.stderr)
        return EXIT_FAILURE
    except OSError as e:
        where = f": {e.filename}" if getattr(e, "filename", None) else ""
        print(f"{prog}: error: {e.strerror or e}{where}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt as exc:
        print(f"{prog}: {_stopped(exc)}", file=sys.stderr)
        return _interrupted_status(exc)
    except Exception as e:
        if args.debug:
            raise
        print(
            f"{prog}: internal error ({type(e).__name__}: {e}); "
            "re-run with --debug to see the traceback",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    return EXIT_OK if status is None else int(status)


if __name__ == "__main__":  # python -m ivigbook.cli: use the registry of the imported module
    from ivigbook.cli import main as _main

    sys.exit(_main())
