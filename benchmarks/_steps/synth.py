"""``synth``: ``ivigbook.synth.registry.write`` (the registry package)."""

from __future__ import annotations

from ivigbook.synth import registry

from . import timed


def run(a) -> dict:
    _, sec, cpu = timed(lambda: registry.write(a.data, a.seed, a.patients))
    return {"seconds": sec, "cpu_seconds": cpu}
