"""Self-retrieval: does a perturbed copy of a specimen's part come first among 50?

For each query specimen of a shared set, the pool is 49 other specimens of the set and a copy of
the query's photograph and mask turned by a random angle (any, the canvas grown to keep the
specimen), rescaled (0.7-1.3) and colour-jittered (brightness and contrast +-15%, each channel
+-8%); the query is the original. :mod:`traitrack.retrieval` scores the pool (traits without a
pixel size, so the copy's size differs by the rescale) and the benchmark prints how often the
copy ranks first, and its mean rank, by the combined rank and by each score alone. The images
and masks are read as the workflow reads them (config/datasets/<set>.yaml), the parts taken
as they are, in pieces included. Deterministic from --seed.

Data: ../shared/data (beetles-5part: NEON "Beetles as Sentinel Taxa" images, CC BY 4.0, masks
from Imageomics BeetleFlow; ants-4part: AntWeb images, CC BY 4.0, masks by EPFL CS-433
"ml-project-2-kalamariunionen" with UNIL). Example::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/retrieval.py --set both --queries 40
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import yaml
from skimage.transform import rescale, rotate

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))

from traitrack.io import read_image, read_mask  # noqa: E402
from traitrack.retrieval import (  # noqa: E402
    SCORES,
    combine_by_rank,
    part_profile,
    score_candidates,
)
from traitrack.structures import StructureTable  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
SETS = {"beetles-5part": ("pronotum", "elytra", "head"), "ants-4part": ("head", "gaster")}
POOL = 50


def perturb(image: np.ndarray, mask: np.ndarray, rng: np.random.Generator):
    """The photograph and mask turned, rescaled and colour-jittered alike (module docstring)."""
    angle = float(rng.uniform(0, 360))
    factor = float(rng.uniform(0.7, 1.3))
    turned = rotate(image, angle, resize=True, order=1, mode="edge", preserve_range=True)
    turned_mask = rotate(mask.astype(float), angle, resize=True, order=0) > 0.5
    scaled = rescale(turned, factor, order=1, channel_axis=2, preserve_range=True)
    scaled_mask = rescale(turned_mask.astype(float), factor, order=0) > 0.5
    gain = rng.uniform(0.85, 1.15) * rng.uniform(0.92, 1.08, size=3)
    contrast = rng.uniform(0.85, 1.15)
    mean = scaled.mean(axis=(0, 1))
    jittered = (scaled - mean) * contrast + mean * gain
    return np.clip(jittered, 0, 255).astype(np.uint8), scaled_mask


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=[*SETS, "both"], default="both")
    parser.add_argument("--queries", type=int, default=40, help="queries per set and part")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not DATA.exists():
        sys.exit(f"{DATA} is absent: the benchmark needs the shared data")
    for name in SETS if args.set == "both" else (args.set,):
        config = yaml.safe_load((ROOT / "config" / "datasets" / f"{name}.yaml").read_text())
        structures = StructureTable.from_config(config)
        images = sorted((DATA / name / "images").glob("*.png"))
        specimens = {}
        for path in images:
            specimens[path.stem] = (
                read_image(path),
                read_mask(DATA / name / "masks" / path.name, structures),
            )
        names = sorted(specimens)
        for part in SETS[name]:
            label = next(s.label for s in structures if s.name == part)
            having = [n for n in names if (specimens[n][1] == label).any()]
            rng = np.random.default_rng(args.seed)
            queries = [having[i] for i in np.linspace(0, len(having) - 1, args.queries).astype(int)]
            profiles = {
                n: part_profile(n, specimens[n][0], specimens[n][1] == label) for n in having
            }
            first = {score: 0 for score in ("combined_rank", *SCORES)}
            ranks = {score: [] for score in first}
            for query in queries:
                others = [n for n in having if n != query]
                pool = [others[i] for i in rng.choice(len(others), POOL - 1, replace=False)]
                image, labels = specimens[query]
                copy_image, copy_mask = perturb(image, labels == label, rng)
                copy = part_profile("copy", copy_image, copy_mask)
                table = combine_by_rank(
                    score_candidates(profiles[query], [copy, *(profiles[n] for n in pool)])
                )
                row = table.set_index("specimen").loc["copy"]
                for score in first:
                    rank = row["rank"] if score == "combined_rank" else row[f"rank_{score}"]
                    ranks[score].append(float(rank))
                    first[score] += int(rank == 1)
            print(f"{name} {part}: {len(queries)} queries, pool of {POOL} (the copy and 49 others)")
            for score in first:
                share = first[score] / len(queries)
                print(
                    f"  {score:22} copy first {first[score]:3d}/{len(queries)} ({share:.0%}), "
                    f"mean rank {np.mean(ranks[score]):.2f}, worst {max(ranks[score]):.0f}"
                )


if __name__ == "__main__":
    main()
