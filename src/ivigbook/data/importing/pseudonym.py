"""Pseudonymous ``patient_id`` from a patient key (an MRN, a record number ...).

* ``copy``: the key is already pseudonymous (a REDCap record id, a study number);
* ``sequence``: ``P001``, ``P002`` ... in the order patients first appear;
* ``hash``: ``P-`` and 16 hex digits of HMAC-SHA256 of the key, with a secret key
  from the environment variable ``IVIGBOOK_ID_KEY`` (the same key gives the same ids
  in every export, so later exports line up; without the key they cannot be reversed
  by trying MRNs).

The key -> ``patient_id`` table is written only where the user asks
(:func:`write_link_table`), never inside the package.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import os
from pathlib import Path

KEY_VARIABLE = "IVIGBOOK_ID_KEY"


class PseudonymError(Exception):
    """The ids cannot be made (e.g. no key for ``hash``)."""


def pseudonyms(method: str, keys: list[str], env: dict | None = None) -> dict[str, str]:
    """``{key: patient_id}`` for the distinct ``keys`` (in their order)."""
    keys = list(dict.fromkeys(k for k in keys if k != ""))
    if method == "copy":
        return {k: k for k in keys}
    if method == "sequence":
        width = max(3, len(str(len(keys))))
        return {k: f"P{i:0{width}d}" for i, k in enumerate(keys, start=1)}
    secret = (env if env is not None else os.environ).get(KEY_VARIABLE, "")
    if len(secret) < 16:
        raise PseudonymError(
            f'patient_id = "hash" needs a secret key of 16 characters or more in the '
            f"environment variable {KEY_VARIABLE} (keep it outside the repository; the same "
            "key gives the same ids in later exports)"
        )
    return {
        k: "P-" + hmac.new(secret.encode(), k.encode(), hashlib.sha256).hexdigest()[:16]
        for k in keys
    }


def write_link_table(path: str | Path, ids: dict[str, str], package: str | Path) -> Path:
    """Write ``key,patient_id`` to ``path`` (mode 0600); refuse a path inside ``package``."""
    target = Path(path).resolve()
    pkg = Path(package).resolve()
    if target == pkg or pkg in target.parents:
        raise PseudonymError(
            f"the identifier table may not be written inside the package ({package}): "
            "choose a place outside it"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["source_key", "patient_id"])
        w.writerows(ids.items())
    return target
