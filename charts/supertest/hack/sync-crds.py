#!/usr/bin/env python3
"""Copy the repository's CRDs (crds/*.yaml, the one source of truth) into the chart (files/crds/).

Helm's .Files only sees files inside the chart, so the chart carries a byte-identical copy;
templates/crds/customresourcedefinition.yaml renders it (so `crds.install` / `crds.keep` work, which Helm's own
crds/ folder cannot do).
tests/unit/chart/test_chart_static.py fails when the copy drifts: run this script after changing crds/.
  python charts/supertest/hack/sync-crds.py [--check]
"""

from __future__ import annotations

import sys
from pathlib import Path

CHART = Path(__file__).resolve().parents[1]
SOURCE = CHART.parents[1] / "crds"
TARGET = CHART / "files" / "crds"


def drift() -> list[str]:
    src = {p.name: p.read_bytes() for p in SOURCE.glob("*.yaml")}
    dst = {p.name: p.read_bytes() for p in TARGET.glob("*.yaml")}
    return sorted(name for name in src.keys() | dst.keys() if src.get(name) != dst.get(name))


def main(argv: list[str]) -> int:
    stale = drift()
    if "--check" in argv:
        if stale:
            print(f"chart CRDs differ from crds/: {stale}; run {Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    TARGET.mkdir(parents=True, exist_ok=True)
    for old in TARGET.glob("*.yaml"):
        if not (SOURCE / old.name).exists():
            old.unlink()
    for crd in SOURCE.glob("*.yaml"):
        (TARGET / crd.name).write_bytes(crd.read_bytes())
    print(f"synced {len(stale)} file(s): {stale}" if stale else "already in sync")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
