"""Checks that a sentence of the book is well formed, whatever cohort it describes."""

from __future__ import annotations

import re

#: (pattern, what is wrong) - each is a way a templated sentence goes wrong on a new cohort
_BAD = (
    (re.compile(r"\bnan\b|\bNaN\b|\bNone\b|\binf\b"), "a missing value printed as text"),
    (re.compile(r"\bNA \(NA\)|\(SD NA\b|\bNA%"), "a missing statistic printed as NA"),
    (re.compile(r"(?<![\d.])1 (patients|cycles|months|events|p-values)\b"), "a plural after 1"),
    (re.compile(r"\{|\}|<<|>>"), "an unfilled template"),
    (re.compile(r"\(\s*\)|\(\s*[,;]"), "an empty or dangling parenthesis"),
    (re.compile(r"\s[,;.]"), "space before punctuation"),
    (re.compile(r"[,;]\s*[.]|\.\.(?!\.)"), "punctuation twice"),
    (re.compile(r"\b(\w+) \1\b"), "a word twice"),
)


def problems(text: str) -> list[str]:
    """What is wrong with a glued sentence (empty list: nothing)."""
    text = str(text)
    if not text.strip():
        return []
    found = [f"{what}: {m.group(0)!r}" for pattern, what in _BAD if (m := pattern.search(text))]
    if text.count("(") != text.count(")"):
        found.append("unbalanced parentheses")
    body = text.strip().rstrip("*_` ")
    if body and body[-1] not in ".:!?)" and len(body.split()) > 4:
        found.append("no final full stop")
    return found
