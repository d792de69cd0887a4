"""Are the millimetres plausible? Head length of the shared ants from their scale bars.

Reads the per-specimen readings that ``benchmarks/scalebar.py --all --table T`` wrote, measures
the head of each ant read ``ok`` on its hand-made mask (``length_mm``: the extent along the
head's principal axis in the profile view, traitrack.traits) and plots it, with the range of
worker head lengths of ants in general (0.25-5 mm, from the smallest Strumigenys to the
largest Camponotus majors; not per species: the images carry no species names). Prints how
many fall outside.

    .venv/bin/python benchmarks/scalebar_headlength.py T docs/scalebar_head_length.png

Images: AntWeb (www.antweb.org), CC BY 4.0; masks by the EPFL CS-433 project with the
University of Lausanne.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import yaml  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))

from traitrack.io import read_image, read_mask  # noqa: E402
from traitrack.structures import StructureTable  # noqa: E402
from traitrack.traits import measure_specimen  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "ants-4part"
PLAUSIBLE_MM = (0.25, 5.0)


def head_lengths(readings: pd.DataFrame) -> pd.DataFrame:
    """Head length (mm) of every ``ok`` reading, on its hand-made mask."""
    config = yaml.safe_load((ROOT / "config" / "datasets" / "ants-4part.yaml").read_text())
    structures = StructureTable.from_config(config)
    rows = []
    for row in readings[readings.status.eq("ok")].itertuples():
        image = read_image(DATA / "images" / f"{row.specimen}.png")
        labels = read_mask(DATA / "masks" / f"{row.specimen}.png", structures)
        traits = measure_specimen(labels, image, structures, px_per_mm=row.px_per_mm)
        head = traits.set_index("structure").loc["head"]
        if head["present"]:
            rows.append(
                {"specimen": row.specimen, "px_per_mm": row.px_per_mm,
                 "head_length_mm": head["length_mm"], "value_mm": row.value_mm}
            )  # fmt: skip
    return pd.DataFrame(rows)


def main() -> None:
    """Plot and print."""
    readings_path, plot_path = Path(sys.argv[1]), Path(sys.argv[2])
    heads = head_lengths(pd.read_csv(readings_path, sep="\t"))
    low, high = PLAUSIBLE_MM
    outside = heads[(heads.head_length_mm < low) | (heads.head_length_mm > high)]
    print(f"ants read ok with a head: {len(heads)}")
    print(f"head length (mm): median {heads.head_length_mm.median():.2f}, "
          f"range {heads.head_length_mm.min():.2f}-{heads.head_length_mm.max():.2f}")  # fmt: skip
    print(f"outside {low}-{high} mm: {len(outside)}")
    for row in outside.itertuples():
        print(f"  {row.specimen} {row.head_length_mm:.2f} mm (bar {row.value_mm} mm)")
    figure, axis = plt.subplots(figsize=(6.4, 3.0))
    axis.axvspan(low, high, color="0.9", label=f"ant heads, {low}-{high} mm")
    jitter = np.random.default_rng(0).uniform(-0.3, 0.3, len(heads))
    colours = heads.value_mm.map({0.2: "C0", 0.5: "C1", 1.0: "C2", 2.0: "C3"}).fillna("C4")
    axis.scatter(heads.head_length_mm, jitter, s=9, c=colours)
    for value, colour in (("0.2", "C0"), ("0.5", "C1"), ("1", "C2"), ("2", "C3")):
        axis.scatter([], [], s=9, c=colour, label=f"bar {value} mm")
    axis.set_xscale("log")
    ticks = [0.25, 0.5, 1, 2, 5, 10]
    axis.set_xticks(ticks, [f"{t:g}" for t in ticks])
    axis.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    axis.set_xlim(0.15, 15)
    axis.set_yticks([])
    axis.set_xlabel("head length (mm), hand-made mask x scale bar")
    axis.set_title(f"{len(heads)} shared ants read ok (AntWeb, CC BY 4.0)", fontsize=9)
    axis.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.3), ncol=5)
    figure.tight_layout()
    figure.savefig(plot_path, dpi=120)


if __name__ == "__main__":
    main()
