"""Scale-bar reading on the shared ants against the hand-made truth table.

Prints, for the truth table (tests/data/scalebar_truth.tsv, 45 ants chosen with seed 44) split
into its tuning part (20 chosen with seed 0) and the rest: bar found (both ends within 2 px of
the truth), value read right (of the legible labels), px_per_mm within 2 % of the truth (of
all, and of the legible labels), and wrong values marked ``ok``. Then, with ``--all``, the statuses over all 400 ants.
Every specimen is read alone (no species check: the ants carry no species labels).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/scalebar.py [--all] [--table out.tsv]

Images: AntWeb (www.antweb.org), CC BY 4.0; masks by the EPFL CS-433 project with the
University of Lausanne (../shared/data/README.md).
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))

from traitrack.scalebar.calibrate import read_scale  # noqa: E402

IMAGES = ROOT.parent / "shared" / "data" / "ants-4part" / "images"
TRUTH = ROOT / "tests" / "data" / "scalebar_truth.tsv"


def tuning_names(names: list[str]) -> set[str]:
    """The 20 specimens of the truth table that thresholds were tuned on (seed 0)."""
    return set(random.Random(0).sample(sorted(names), 20))


def read_all(names: list[str]) -> pd.DataFrame:
    """read_scale on each named ant, one row each, with the seconds it took."""
    rows = []
    for name in names:
        image = np.asarray(Image.open(IMAGES / f"{name}.png").convert("RGB"))
        start = time.perf_counter()
        reading = read_scale(image)
        row = {"specimen": name, **reading.row(), "seconds": time.perf_counter() - start}
        rows.append(row)
    return pd.DataFrame(rows)


def score(truth: pd.DataFrame, found: pd.DataFrame) -> dict:
    """The four goal numbers for one part of the truth table."""
    both = truth.merge(found, on="specimen")
    bar_found = (
        (both.bar_left_x_px - both.left_px).abs().le(2)
        & (both.bar_right_x_px - both.right_px).abs().le(2)
        & (both.bar_y_px - both.bar_row_px).abs().le(3)
    )
    legible = both.legible.eq("yes")
    value_right = np.isclose(both.value_mm_y, both.value_mm_x)
    close = (both.px_per_mm_y / both.px_per_mm_x - 1).abs().le(0.02)
    wrong = ~(value_right & bar_found)
    n, n_legible = len(both), int(legible.sum())
    return {
        "specimens": n,
        "bar found": f"{int(bar_found.sum())}/{n}",
        "value right (legible)": f"{int((value_right & legible).sum())}/{n_legible}",
        "px_per_mm within 2%": f"{int(close.sum())}/{n}",
        "px_per_mm within 2% (legible)": f"{int((close & legible).sum())}/{n_legible}",
        "ok": f"{int(both.status.eq('ok').sum())}/{n}",
        "wrong value marked ok": int((wrong & both.status.eq("ok")).sum()),
        "ok with px_per_mm off >2%": int((~close & both.status.eq("ok")).sum()),
    }


def main() -> None:
    """Print the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--all", action="store_true", help="also read all 400 ants")
    parser.add_argument("--table", type=Path, help="write the per-specimen readings here")
    args = parser.parse_args()
    if not IMAGES.is_dir():
        sys.exit(f"no shared ants at {IMAGES}")
    truth = pd.read_csv(TRUTH, sep="\t", comment="#")
    found = read_all(list(truth.specimen))
    tuning = tuning_names(list(truth.specimen))
    parts = {
        "tuning (20)": truth[truth.specimen.isin(tuning)],
        "held out (25)": truth[~truth.specimen.isin(tuning)],
        "all (45)": truth,
    }
    table = pd.DataFrame({name: score(part, found) for name, part in parts.items()})
    print(table.to_string())
    both = truth.merge(found, on="specimen")
    print("\nper specimen where something is off:")
    for row in both.itertuples():
        off = (
            not math.isclose(row.value_mm_x, row.value_mm_y)
            or abs(row.px_per_mm_y / row.px_per_mm_x - 1) > 0.02
            or row.status != "ok"
        )
        if off:
            print(
                f"  {row.specimen:20s} truth {row.text_x!r:10s} {row.bar_px:6.2f}px "
                f"legible {row.legible:3s} | read {row.text_y!r:14s} {row.bar_length_px:6.2f}px "
                f"{row.status:9s} conf {row.confidence:.2f} {row.note}"
            )
    print(
        f"\nseconds per image: median {found.seconds.median():.2f}, max {found.seconds.max():.2f}"
    )
    if args.all:
        names = sorted(p.stem for p in IMAGES.glob("*.png"))
        every = read_all(names)
        print(f"\nall {len(names)} ants, status counts:")
        print(every.status.value_counts().to_string())
        if args.table:
            every.to_csv(args.table, sep="\t", index=False)
    elif args.table:
        found.to_csv(args.table, sep="\t", index=False)


if __name__ == "__main__":
    main()
