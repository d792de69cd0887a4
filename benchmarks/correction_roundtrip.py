"""How exactly the correction export comes back: labelme JSON and COCO read by traitrack.

Every mask of a shared set is exported as the ``export_corrections`` rule exports a prediction
(:func:`traitrack.correction.labelme_document`, :func:`traitrack.correction.coco_document`),
read back with :func:`traitrack.io.read_mask`, and compared with the mask it came from: per
part, the mean and the lowest IoU over the images that have it, and the share of images whose
part came back pixel for pixel.

Data: ../shared/data (beetles-5part: NEON "Beetles as Sentinel Taxa" images, CC BY 4.0, masks
from Imageomics BeetleFlow; ants-4part: AntWeb images, CC BY 4.0, masks by EPFL CS-433
"ml-project-2-kalamariunionen" with UNIL). Example::

    .venv/bin/python benchmarks/correction_roundtrip.py --set both --images 60
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))

from traitrack.correction import coco_document, labelme_document  # noqa: E402
from traitrack.io import read_mask  # noqa: E402
from traitrack.structures import StructureTable  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
SETS = ("beetles-5part", "ants-4part")


def structures_of(name: str) -> StructureTable:
    config = yaml.safe_load((ROOT / "config" / "datasets" / f"{name}.yaml").read_text())
    return StructureTable.from_config(config)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=[*SETS, "both"], default="both")
    parser.add_argument("--images", type=int, default=60, help="images per set, evenly spaced")
    args = parser.parse_args()
    if not DATA.exists():
        sys.exit(f"{DATA} is absent: the benchmark needs the shared data")
    for name in SETS if args.set == "both" else (args.set,):
        structures = structures_of(name)
        masks = sorted((DATA / name / "masks").glob("*.png"))
        masks = [masks[i] for i in np.linspace(0, len(masks) - 1, args.images).astype(int)]
        scores = {(kind, s.name): [] for kind in ("labelme", "coco") for s in structures}
        with tempfile.TemporaryDirectory() as folder:
            for path in masks:
                labels = read_mask(path, structures)
                for kind in ("labelme", "coco"):
                    if kind == "labelme":
                        document = labelme_document(labels, structures, path.name)
                    else:
                        document = coco_document([(path.name, labels)], structures)
                    out = Path(folder) / f"{kind}.json"
                    out.write_text(json.dumps(document))
                    back = read_mask(out, structures, path.name, labels.shape)
                    for s in structures:
                        truth, read = labels == s.label, back == s.label
                        if truth.any():
                            scores[kind, s.name].append((truth & read).sum() / (truth | read).sum())
        print(f"{name}: {len(masks)} masks; IoU of the part read back with the part exported")
        print(
            f"{'format':8} {'part':10} {'kind':5} {'n':>4} {'mean':>7} {'lowest':>7} {'exact':>6}"
        )
        for (kind, part), values in scores.items():
            values = np.asarray(values)
            structure = next(s for s in structures if s.name == part)
            print(
                f"{kind:8} {part:10} {structure.kind:5} {len(values):4d} {values.mean():7.4f} "
                f"{values.min():7.4f} {np.mean(values == 1.0):6.0%}"
            )


if __name__ == "__main__":
    main()
