"""A small example tray: six synthetic Carabus specimens in one photograph.

Written beside the bundled example (``resources/example/trays/``) by ``write_example_tray``,
from its own random streams, so the example's other files stay byte for byte what they were.
The specimens keep their pixel size (the tray's ``px_per_mm`` is their mean), lie on cream
card with a label, a scale bar and a pin line, two of them touching a neighbour.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from traitrack.example.anatomy import BODY_PLANS
from traitrack.example.synthetic import _save, _sheet_path, render_specimen
from traitrack.trays.compose import compose_tray

TRAY_SPECIMENS = 6
TRAY_COLUMNS = ["tray", "image", "species", "n_expected", "px_per_mm"]


def write_example_tray(
    out_dir: str | os.PathLike, seed: int = 0, root: str | os.PathLike | None = None
) -> pd.DataFrame:
    """Write ``trays/tray_01.png``, its truth ``trays/tray_01.truth.png`` and ``trays.tsv``.

    Parameters
    ----------
    out_dir : str or os.PathLike
        The example's folder.
    seed : int
        The same seed writes byte-identical files.
    root : str or os.PathLike, optional
        What sheet paths are relative to; the working directory when None.

    Returns
    -------
    pandas.DataFrame
        The tray sheet, as written to ``trays.tsv``.
    """
    out_dir = Path(out_dir)
    root = Path.cwd() if root is None else Path(root)
    plan = BODY_PLANS[0]
    specimens, sizes = [], []
    for number in range(1, TRAY_SPECIMENS + 1):
        specimen = render_specimen(plan, np.random.default_rng([seed, 100, number]))
        specimens.append((specimen.image, specimen.labels > 0))
        sizes.append(specimen.px_per_mm)
    composed = compose_tray(
        specimens,
        shape=(900, 1300),
        background="cream_card",
        rng=np.random.default_rng([seed, 100]),
        touching_fraction=0.35,
        rescale=False,
    )
    image_path = out_dir / "trays" / "tray_01.png"
    _save(composed.image, image_path)
    truth_path = out_dir / "trays" / "tray_01.truth.png"
    truth_path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(truth_path), composed.instances)
    sheet = pd.DataFrame(
        [
            {
                "tray": "tray_01",
                "image": _sheet_path(image_path, root),
                "species": plan.species,
                "n_expected": int(composed.instances.max()),
                "px_per_mm": round(float(np.mean(sizes)), 1),
            }
        ],
        columns=TRAY_COLUMNS,
    )
    temporary = out_dir / ".trays.tsv.part"
    sheet.to_csv(temporary, sep="\t", index=False)
    os.replace(temporary, out_dir / "trays.tsv")
    return sheet
