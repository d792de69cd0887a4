"""Could an unread label's value be inferred from the other readings of the run?

For each ``ok`` reading of a readings table (``benchmarks/scalebar.py --all --table``), leave it
out, pretend its label unread, and give it the usual length whose pixel size (its bar's length
/ that length) lies nearest to the median pixel size of the other ``ok`` readings, when that is
within ``--tolerance`` (relative) of the median. The shared ants carry no species names, so the
run is taken as one collection; this measures whether a collection's magnification says
anything about a label's value when it holds many species.

    .venv/bin/python benchmarks/scalebar_infer.py readings.tsv

Prints how many values would be inferred, right and wrong, at several tolerances.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))

from traitrack.scalebar.parse import USUAL_MM  # noqa: E402


def infer(bar_px: float, others: np.ndarray, tolerance: float) -> float:
    """The usual length that puts ``bar_px`` nearest the median of ``others`` (px/mm), NaN
    when none comes within ``tolerance``."""
    median = float(np.median(others))
    usual = np.asarray(USUAL_MM)
    distance = np.abs(np.log(bar_px / usual / median))
    best = int(np.argmin(distance))
    return float(usual[best]) if distance[best] <= np.log1p(tolerance) else np.nan


def main() -> None:
    """Print the leave-one-out counts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("table", type=Path, help="readings of benchmarks/scalebar.py --all")
    args = parser.parse_args()
    table = pd.read_csv(args.table, sep="\t")
    ok = table[table.status.eq("ok")].reset_index(drop=True)
    px_per_mm = ok.px_per_mm.to_numpy(float)
    rows = {}
    for tolerance in (0.05, 0.1, 0.25):
        inferred = np.array(
            [
                infer(row.bar_length_px, np.delete(px_per_mm, index), tolerance)
                for index, row in enumerate(ok.itertuples())
            ]
        )
        taken = np.isfinite(inferred)
        right = taken & np.isclose(inferred, ok.value_mm.to_numpy(float))
        rows[f"within {tolerance:.0%}"] = {
            "ok readings": len(ok),
            "inferred": int(taken.sum()),
            "right": int(right.sum()),
            "wrong": int((taken & ~right).sum()),
        }
    print(f"run median {np.median(px_per_mm):.1f} px/mm, ok readings' values:")
    print(ok.value_mm.value_counts().sort_index().to_string())
    print()
    print(pd.DataFrame(rows).to_string())


if __name__ == "__main__":
    main()
