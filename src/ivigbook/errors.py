"""Errors of a run: each message is complete for the user (no traceback), with its exit code."""

from __future__ import annotations

from typing import Any


class RunError(Exception):
    """A run failed. ``str(err)`` is a complete message for the user; no traceback."""

    exit_code = 1


class UsageError(RunError):
    """Bad command-line usage (unknown --set name, bad OUT, ...): exit 2."""

    exit_code = 2


class InvalidDataError(RunError):
    """The cohort package failed validation; ``report`` is the validator's report."""

    def __init__(self, message: str, report: Any = None):
        super().__init__(message)
        self.report = report


class ResultsConflictError(RunError):
    """Two partial results define the same key with different values."""
