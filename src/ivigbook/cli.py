"""The ``ivigbook`` command (also ``python -m ivigbook.cli``).

Sub-commands live in :data:`COMMANDS`. A module adds one with::

    register("name", "one-line help", configure, handler)

``configure(parser)`` adds the argparse arguments; ``handler(args)`` runs the command
and returns the exit status (``None`` = 0). :func:`lazy` makes a handler that imports
its module only when the command runs, so ``ivigbook --help`` stays fast.

Exit status: 0 success (warnings allowed), 1 bad data, missing files or any other
failure, 2 usage errors. Handlers raise :class:`~ivigbook.validate.DataError` for bad
data and ``OSError`` for file problems; :func:`main` turns both into a message, and
never shows a traceback unless ``--debug`` is given.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass, fields

from . import __version__

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


def register(name: str, help: str, configure: Callable[[argparse.ArgumentParser], None],
             handler: Handler) -> None:
    """Add (or replace) the sub-command ``name``."""
    COMMANDS[name] = Command(name, help, configure, handler)


class CommandUnavailable(RuntimeError):
    """The module implementing a sub-command is not installed (yet)."""


def lazy(module: str, function: str) -> Handler:
    """A handler calling ``module.function(args)``, imported when the command runs."""
    def handler(args: argparse.Namespace) -> int | None:
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name and (module == e.name or module.startswith(e.name + ".")):
                raise CommandUnavailable(f"{module} is not available in this installation") from e
            raise
        target = getattr(mod, function, None)
        if target is None:
            raise CommandUnavailable(f"{module}.{function} is not available in this installation")
        return target(args)

    handler.__qualname__ = f"lazy({module}.{function})"
    return handler


# ---------------------------------------------------------------- argument types
def _positive_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return n


class _SetParameter(argparse.Action):
    """``--set name=value``: an analysis parameter, typed and checked against AnalysisParams.

    The namespace attribute becomes a dict ``{name: typed value}``.
    """

    def __call__(self, parser, namespace, text, option_string=None):
        from .params import AnalysisParams

        settings = dict(getattr(namespace, self.dest, None) or {})
        name, sep, value = text.partition("=")
        name = name.strip()
        known = {f.name: f for f in fields(AnalysisParams)}
        if not sep or name not in known:
            parser.error(f"{option_string} {text!r}: expected name=value with name one of "
                         + ", ".join(known))
        default = known[name].default
        try:
            if isinstance(default, tuple):
                typed = tuple(int(x) for x in value.replace(";", ",").split(",") if x.strip())
            else:
                typed = type(default)(value.strip())
            settings[name] = typed
            AnalysisParams.from_mapping(settings)
        except ValueError as e:
            parser.error(f"{option_string} {text!r}: {e}")
        setattr(namespace, self.dest, settings)


# ---------------------------------------------------------------- validate / template
def _configure_validate(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", metavar="DIR",
                   help="package folder (CSV, .dta, parquet files) or .xlsx workbook")
    p.add_argument("--limit", type=_positive_int, default=None, metavar="N",
                   help="problems listed per file, column and rule (default 50); all are counted")


def _validate(args: argparse.Namespace) -> int:
    from .io import read_package
    from .validate import MAX_LISTED, validate_package

    raw = read_package(args.path)
    report = validate_package(raw, limit=args.limit or MAX_LISTED)
    print(report.format())
    if not report.ok:
        return EXIT_FAILURE
    sizes = ", ".join(f"{len(t)} {name}" for name, t in raw.tables.items())
    print(f"{args.path}: valid cohort package ({raw.format}: {sizes}; sha256 {raw.sha256})")
    return EXIT_OK


def _configure_template(p: argparse.ArgumentParser) -> None:
    p.add_argument("directory", metavar="DIR", help="folder to write the template into")
    p.add_argument("--force", action="store_true", help="overwrite existing template files")


def _template(args: argparse.Namespace) -> int:
    from .template import write_template

    files = write_template(args.directory, overwrite=args.force)
    print(f"wrote {len(files)} files to {args.directory}: " + ", ".join(f.name for f in files))
    return EXIT_OK


# ---------------------------------------------------------------- synth / run / book
def _configure_synth(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", metavar="NAME", help="synthetic cohort to generate")
    p.add_argument("--seed", type=int, default=None, metavar="S", help="random seed")
    p.add_argument("--out", default=None, metavar="DIR", help="output folder")
    p.add_argument("--patients", type=_positive_int, default=None, metavar="N",
                   help="number of patients")


def _configure_jobs(p: argparse.ArgumentParser) -> None:
    p.add_argument("--jobs", type=_positive_int, default=1, metavar="N",
                   help="notebooks executed in parallel (default 1)")


def _configure_run(p: argparse.ArgumentParser) -> None:
    p.add_argument("data_dir", metavar="DATA_DIR", help="cohort package (folder or .xlsx)")
    p.add_argument("--out", required=True, metavar="OUT", help="output folder")
    p.add_argument("--set", action=_SetParameter, default={}, metavar="name=value",
                   help="set an analysis parameter (repeatable)")
    _configure_jobs(p)
    p.add_argument("--cohort-name", default=None, metavar="NAME",
                   help="name shown in the book (default: the folder name)")


def _configure_book(p: argparse.ArgumentParser) -> None:
    _configure_jobs(p)
    p.add_argument("--only", default=None, metavar="COHORT", help="build one cohort only")


register("validate", "check a cohort package and list every problem", _configure_validate,
         _validate)
register("template", "write an empty cohort package (CSV files and an .xlsx workbook)",
         _configure_template, _template)
register("synth", "generate a calibrated synthetic cohort", _configure_synth,
         lazy("ivigbook.synth.cli", "main_synth"))
register("run", "validate a cohort and render the analysis book for it", _configure_run,
         lazy("ivigbook.runner", "main_run"))
register("book", "render the reference edition of the book", _configure_book,
         lazy("ivigbook.runner", "main_book"))


# ---------------------------------------------------------------- main
def build_parser() -> argparse.ArgumentParser:
    """The parser with every registered sub-command."""
    parser = argparse.ArgumentParser(prog="ivigbook", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"ivigbook {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for cmd in COMMANDS.values():
        p = sub.add_parser(cmd.name, help=cmd.help, description=cmd.help)
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help=argparse.SUPPRESS)
        cmd.configure(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    from .validate import DataError

    args = build_parser().parse_args(argv)  # usage errors exit 2 here
    prog = f"ivigbook {args.command}"
    try:
        status = COMMANDS[args.command].handler(args)
    except DataError as e:
        print(e.report.format(), file=sys.stderr)
        print(f"{prog}: {e}", file=sys.stderr)
        return EXIT_FAILURE
    except CommandUnavailable as e:
        print(f"{prog}: {e}", file=sys.stderr)
        return EXIT_FAILURE
    except OSError as e:
        where = f": {e.filename}" if getattr(e, "filename", None) else ""
        print(f"{prog}: error: {e.strerror or e}{where}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 - the user sees a message, --debug the traceback
        if args.debug:
            raise
        print(f"{prog}: internal error ({type(e).__name__}: {e}); "
              "re-run with --debug to see the traceback", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_OK if status is None else int(status)


if __name__ == "__main__":  # python -m ivigbook.cli: use the registry of the imported module
    from ivigbook.cli import main as _main

    sys.exit(_main())
