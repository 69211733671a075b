"""CSV bytes to text and records, shared by :mod:`ivigbook.data.io` and
:mod:`ivigbook.data.importing.sources`.

Text must be UTF-8 (a UTF-8 byte-order mark is removed with a warning). UTF-16 and
UTF-32 files are recognised by their byte-order mark or, without one, by the pattern of
their NUL bytes, and rejected with the advice to save as UTF-8. Records keep the
physical line they start on (header = line 1).
"""

from __future__ import annotations

import codecs
import csv
import io

import numpy as np
import pandas as pd

from ivigbook.data.problems import Problem

_SAVE_AS = "save it as CSV UTF-8"
#: Byte-order marks of the encodings refused (UTF-32 first: its LE mark starts like UTF-16's).
_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)
#: Positions (mod 4) of the NUL bytes of ASCII text in each encoding.
_NUL_PATTERNS = (
    ("UTF-32", (1, 2, 3)),
    ("UTF-32", (0, 1, 2)),
    ("UTF-16", (1, 3)),
    ("UTF-16", (0, 2)),
)
_SAMPLE = 4096


def decode(display: str, data: bytes) -> tuple[str | None, list[Problem]]:
    """The UTF-8 text of ``data`` (None when it is not UTF-8) and the problems met."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            return None, [Problem(display, 1, None, None, f"file is {name} encoded; {_SAVE_AS}")]
    wide = _wide_encoding(data)
    if wide:
        rule = f"file is {wide} encoded (without a byte-order mark); {_SAVE_AS}"
        return None, [Problem(display, 1, None, None, rule)]
    problems = []
    offset = 0
    if data.startswith(codecs.BOM_UTF8):
        offset = len(codecs.BOM_UTF8)
        rule = "UTF-8 byte-order mark (BOM) removed"
        problems.append(Problem(display, 1, None, None, rule, "warning"))
    try:
        return data[offset:].decode("utf-8"), problems
    except UnicodeDecodeError as e:
        at = offset + e.start
        line = data.count(b"\n", 0, at) + 1
        value = f"byte 0x{data[at]:02X} at offset {at}"
        rule = f"file is not UTF-8 text ({_SAVE_AS})"
        return None, [*problems, Problem(display, line, None, value, rule)]


def _wide_encoding(data: bytes) -> str | None:
    """UTF-16 or UTF-32 when the NUL bytes of the file's start fall where those
    encodings put them for ASCII text (most bytes at those positions, few elsewhere)."""
    sample = np.frombuffer(data[: _SAMPLE - _SAMPLE % 4], dtype=np.uint8)
    sample = sample[: sample.size - sample.size % 4].reshape(-1, 4)
    if len(sample) < 2:
        return None
    zero = (sample == 0).mean(axis=0)
    for name, where in _NUL_PATTERNS:
        other = [k for k in range(4) if k not in where]
        if zero[list(where)].min() > 0.5 and zero[other].max() < 0.5:
            return name
    return None


Parsed = tuple[list[str], pd.DataFrame, np.ndarray, list[tuple[int, int]]]


def parse_csv(data: bytes, text: str, sep: str) -> Parsed:
    """Header, body (positional string columns), the line of each body record and the
    ragged records ``(line, fields)`` of ``text`` (the decoded ``data``). Blank lines
    are skipped."""
    parsed = None
    if '"' not in text and "\x00" not in text:
        parsed = _parse_fast(data.removeprefix(codecs.BOM_UTF8), text, sep)
    return parsed if parsed is not None else _parse_exact(text, sep)


def _parse_fast(data: bytes, text: str, sep: str) -> Parsed | None:
    """Quote-free CSV: pandas C parser; records = physical lines, counted with numpy.

    ``data`` are the UTF-8 bytes of ``text``. Returns None when pandas and the line
    count disagree (e.g. lone CR line ends); the caller then uses the exact parser.
    """
    buf = np.frombuffer(data, dtype=np.uint8)
    starts = np.concatenate(([0], np.flatnonzero(buf == 10) + 1))
    starts = starts[starts < buf.size]  # line i = bytes starts[i]:starts[i+1], line end included
    bounds = np.append(starts, buf.size)
    fields = np.diff(np.searchsorted(np.flatnonzero(buf == ord(sep)), bounds)) + 1
    width = int(fields[0])
    odd = np.flatnonzero(fields != width)  # few: check them one by one for blank lines
    junk = (" \t\r\n" + sep).encode()
    odd = odd[[bool(data[bounds[i] : bounds[i + 1]].strip(junk)) for i in odd]]
    too_long = np.zeros(len(starts), dtype=bool)
    too_long[odd[fields[odd] > width]] = True
    short = np.zeros(len(starts), dtype=bool)
    short[odd[fields[odd] < width]] = True
    lines = np.arange(1, len(starts) + 1)
    try:
        table = pd.read_csv(
            io.StringIO(text),
            sep=sep,
            header=None,
            dtype=str,
            na_filter=False,
            skip_blank_lines=False,
            index_col=False,
            quoting=csv.QUOTE_NONE,
            on_bad_lines="skip",
            engine="c",
        )
    except (pd.errors.ParserError, ValueError):
        return None
    kept = ~too_long
    if len(table) != kept.sum() or table.shape[1] != width:
        return None
    ok = ~short[kept][1:]
    body = table.iloc[1:][ok].reset_index(drop=True)
    body.columns = range(width)
    ragged = [(int(lines[i]), int(fields[i])) for i in np.flatnonzero(too_long | short)]
    return [str(h) for h in table.iloc[0]], body, lines[kept][1:][ok], ragged


def _parse_exact(text: str, sep: str) -> Parsed:
    """Any CSV, with Python's csv module: exact start lines of multi-line records."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep, strict=False)
    header: list[str] | None = None
    records: list[list[str]] = []
    lines: list[int] = []
    ragged: list[tuple[int, int]] = []
    previous = 0
    for record in reader:
        start, previous = previous + 1, reader.line_num
        if header is None:
            header = record
        elif not any(f.strip() for f in record):
            continue  # blank line
        elif len(record) != len(header):
            ragged.append((start, len(record)))
        else:
            records.append(record)
            lines.append(start)
    header = header or [""]
    body = (
        pd.DataFrame(records, columns=range(len(header)), dtype="str")
        if records
        else pd.DataFrame({i: pd.Series(dtype="str") for i in range(len(header))})
    )
    return header, body, np.asarray(lines, dtype=np.int64), ragged
