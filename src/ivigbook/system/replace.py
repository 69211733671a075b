"""Replacing a file-system entry by another in as few visible steps as the system
allows: one atomic exchange where Linux offers it, else two renames with the old entry
kept aside (``.NAME.old-<pid>-<ticks>``) until the new one is in place.
"""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
from pathlib import Path

from ivigbook.system.scratch import staging_path

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def exchange(a: Path, b: Path) -> bool:
    """Swap ``a`` and ``b`` in one atomic step (Linux ``renameat2``); False when the
    system or file system cannot."""
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    rc = fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EPERM):
        return False
    raise OSError(err, os.strerror(err), str(a))


def replace_entry(new: Path, old: Path) -> None:
    """Put ``new`` where ``old`` is (or is not): atomically where the system can, else
    old renamed aside, new renamed in, old removed; a dead run's aside is put back by
    the next run (:func:`~ivigbook.system.scratch.sweep`)."""
    if not old.exists() and not old.is_symlink():
        os.rename(new, old)
        return
    if exchange(new, old):
        remove_entry(new)  # now the old one
        return
    aside = staging_path(old, "old")
    remove_entry(aside)
    os.rename(old, aside)
    try:
        os.rename(new, old)
    except BaseException:
        os.rename(aside, old)
        raise
    remove_entry(aside)


def remove_entry(path: Path) -> None:
    """Remove a file, a symlink or a folder tree (nothing when absent)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()
