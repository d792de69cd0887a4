"""The vote reader alone on every label of the scale-bar truth table.

``calibrate`` asks the vote (:mod:`traitrack.scalebar.vote`) only where its other readers left a
label unsure; this benchmark asks it on all 45 labels of tests/data/scalebar_truth.tsv (the
bar taken as the candidate nearest to the hand-placed ends), to see how often a vote that is
taken is wrong. Prints, for the legible and the illegible labels of the tuning part, the rest
and all: votes taken and right, taken and wrong, and settling nothing.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/scalebar_vote.py

Images: AntWeb (www.antweb.org), CC BY 4.0 (../shared/data/README.md).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from scalebar import IMAGES, TRUTH, tuning_names  # noqa: E402

from traitrack.scalebar.detect import find_bars  # noqa: E402
from traitrack.scalebar.read import rapidocr_engine, text_region  # noqa: E402
from traitrack.scalebar.vote import vote_read  # noqa: E402


def main() -> None:
    """Print the benchmark."""
    if not IMAGES.is_dir():
        sys.exit(f"no shared ants at {IMAGES}")
    truth = pd.read_csv(TRUTH, sep="\t", comment="#")
    engine = rapidocr_engine(1)
    rows = []
    for row in truth.itertuples():
        image = np.asarray(Image.open(IMAGES / f"{row.specimen}.png").convert("RGB"))
        bar = min(
            find_bars(image), key=lambda b: abs(b.left - row.left_px) + abs(b.right - row.right_px)
        )
        voted = vote_read(image, bar, text_region(bar, image.shape), engine)
        value = voted[2].value_mm if voted else np.nan
        outcome = "none" if voted is None else ("right" if value == row.value_mm else "wrong")
        votes = f"{voted[4]}/{voted[5]} {voted[0]!r}" if voted else ""
        rows.append({"specimen": row.specimen, "legible": row.legible, "outcome": outcome})
        print(
            f"  {row.specimen:20s} truth {row.value_mm:4g} legible {row.legible:3s} {outcome:5s} {votes}"
        )
    found = pd.DataFrame(rows)
    tuning = tuning_names(list(truth.specimen))
    parts = {
        "tuning (20)": found.specimen.isin(tuning),
        "held out (25)": ~found.specimen.isin(tuning),
        "all (45)": found.specimen.notna(),
    }
    table = {}
    for name, part in parts.items():
        for legible in ("yes", "no"):
            each = found[part & found.legible.eq(legible)]
            counts = each.outcome.value_counts()
            label = "legible" if legible == "yes" else "illegible"
            table[(name, label)] = {
                "labels": len(each),
                "taken, right": int(counts.get("right", 0)),
                "taken, wrong": int(counts.get("wrong", 0)),
                "nothing taken": int(counts.get("none", 0)),
            }
    print()
    print(pd.DataFrame(table).to_string())


if __name__ == "__main__":
    main()
