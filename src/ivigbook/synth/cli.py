"""``ivigbook synth NAME --seed S --out DIR [--patients N]``.

Dispatches on ``args.name`` to a generator module. Each entry of
:data:`GENERATORS` names a module that provides ``DEFAULT_SEED``,
``DEFAULT_OUT`` and ``write(out_dir, seed, ...)``; optional ``verify(out_dir)``
returns (name, published, recomputed, ok) rows that are printed after writing,
and optional ``SUPPORTS_PATIENTS = True`` lets ``--patients`` through
(``write(out_dir, seed=S, patients=N)``); a module with named shapes (``NAMED``,
``DEFAULT_SHAPE``) takes ``--shape NAME`` (``write(out_dir, seed=S, shape=NAME)``).

"""

from __future__ import annotations

import argparse
import sys

from ivigbook.synth import cohort_space, exports, hopkins2015, registry, spain_multicentre
from ivigbook.synth.common import CalibrationError

#: synthetic cohort name -> module implementing it
GENERATORS = {
    "hopkins2015": hopkins2015,
    "spain_multicentre": spain_multicentre,
    "registry": registry,
    "cohort_space": cohort_space,
    "exports": exports,
}


def main_synth(args: argparse.Namespace) -> int:
    """Generate the synthetic cohort ``args.name``; print what was written and the check.

    Exit status: 0 written (and every published figure reproduced, where the module can
    check), 1 a figure not reproduced, 2 a usage error.
    """
    if args.name not in GENERATORS:
        print(
            f"ivigbook synth: unknown synthetic cohort {args.name!r}; choose one of "
            f"{', '.join(sorted(GENERATORS))}",
            file=sys.stderr,
        )
        return 2
    mod = GENERATORS[args.name]
    seed = mod.DEFAULT_SEED if getattr(args, "seed", None) is None else int(args.seed)
    out = getattr(args, "out", None) or mod.DEFAULT_OUT
    patients = getattr(args, "patients", None)
    kwargs = {}
    if patients is not None:
        if not getattr(mod, "SUPPORTS_PATIENTS", False):
            fixed = getattr(mod, "N_INCLUDED", None)
            print(
                f"ivigbook synth {args.name}: --patients is not supported; this cohort is "
                f"calibrated to the published study"
                + (f" ({fixed} included patients)" if fixed else ""),
                file=sys.stderr,
            )
            return 2
        kwargs["patients"] = patients
    shape = getattr(args, "shape", None)
    named = getattr(mod, "NAMED", None)
    if named is None and shape is not None:
        print(f"ivigbook synth {args.name}: --shape is not supported", file=sys.stderr)
        return 2
    if named is not None:
        shape = shape or mod.DEFAULT_SHAPE
        if shape not in named:
            print(
                f"ivigbook synth {args.name}: unknown shape {shape!r}; choose one of "
                f"{', '.join(sorted(named))}",
                file=sys.stderr,
            )
            return 2
        kwargs["shape"] = shape

    try:
        paths = mod.write(out, seed=seed, **kwargs)
    except CalibrationError as e:
        print(
            f"ivigbook synth {args.name}: seed {seed} could not be calibrated: {e}", file=sys.stderr
        )
        return 1
    print(
        f"ivigbook synth {args.name}: seed {seed}, wrote {len(paths)} files to {out}: "
        + ", ".join(p.name for p in paths)
    )
    verify = getattr(mod, "verify", None)
    if verify is not None:
        try:
            rows = verify(out)
        except Exception as e:  # noqa: BLE001 - the package is written; the check is a bonus
            print(
                f"ivigbook synth {args.name}: the pipeline check could not run "
                f"({type(e).__name__}: {e})",
                file=sys.stderr,
            )
            return 0
        if not rows:
            print("no published figures to check")
            return 0
        bad = [r for r in rows if not r[3]]
        width = max(len(r[0]) for r in rows)
        print(f"{'figure':<{width}}  {'published':>10}  {'recomputed':>12}  ok")
        for name, published, recomputed, ok in rows:
            print(f"{name:<{width}}  {published:>10}  {recomputed:>12}  {'yes' if ok else 'NO'}")
        print(f"{len(rows) - len(bad)}/{len(rows)} published figures reproduced by the pipeline")
        if bad:
            return 1
    return 0
