"""How often the `validate` rule's orientation check flags real masks, right and turned.

For every 4th mask of the shared real sets (``../shared/data``, offset 1), the check
(:func:`traitrack.mask_fit.mask_fit`) on the mask as given (a flag is a false alarm) and on
the mask turned 180 degrees, flipped top-bottom and flipped left-right (a flag is a
detection; the EXIF cases that keep the size). Prints one line per set.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/mask_orientation.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))

from traitrack.io import read_mask  # noqa: E402
from traitrack.mask_fit import mask_fit, read_small  # noqa: E402
from traitrack.structures import StructureTable  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
TURNS = {
    "turned 180": lambda a: np.rot90(a, 2),
    "flipped top-bottom": lambda a: a[::-1],
    "flipped left-right": lambda a: a[:, ::-1],
}


def main() -> None:
    for name in ("beetles-5part", "ants-4part"):
        if not (DATA / name).is_dir():
            print(f"{name}: absent ({DATA / name})")
            continue
        config = yaml.safe_load((ROOT / "config" / "datasets" / f"{name}.yaml").read_text())
        structures = StructureTable.from_config(config)
        masks = sorted((DATA / name / "masks").glob("*.png"))[1::4]
        false_alarms = 0
        detected = dict.fromkeys(TURNS, 0)
        for mask in masks:
            image = DATA / name / "images" / mask.name
            labels = read_mask(mask, structures, str(image))
            small = read_small(image)
            false_alarms += mask_fit(labels, small).misplaced()
            for turn, apply in TURNS.items():
                detected[turn] += mask_fit(np.ascontiguousarray(apply(labels)), small).misplaced()
        found = ", ".join(f"{turn} {count}/{len(masks)}" for turn, count in detected.items())
        print(
            f"{name}: {len(masks)} masks; false alarms {false_alarms}/{len(masks)}; detected {found}"
        )


if __name__ == "__main__":
    main()
