"""Trait measuring on large photographs: time, traced memory, and how far the bounded traits move.

The three beetles of ``../shared/data/beetles-5part`` (NEON carabid images, BeetleFlow masks,
see ``../shared/data/README.md``; native 151 x 308 px) are upscaled to each size (image
bicubic, saved as JPEG quality 95; mask nearest) and measured as ``measure`` does: the label
map at full size, the photograph read at ``traits.colour_megapixels``
(:func:`traitrack.working_size.read_working_image`, ``reduced_image=True``). Printed per size,
summed over the three specimens: CPU seconds of reading the label map, reading the photograph
and :func:`traitrack.traits.measure_specimen`; the largest memory traced by ``tracemalloc``
during the measuring (numpy's arrays; OpenCV's own scratch is not traced, the workflow's RSS is
in ``benchmarks/large_images.py``). Then the same traits measured the unbounded way, as the
reference: the full-size photograph for colour and every centre line skeletonised at full size
(``CENTRELINE_THICKNESS_PX`` infinite). Printed: the largest relative difference of the size,
shape and position traits (equal up to float rounding), of the centre lines, and the largest
absolute difference of the colour means and medians (RGB 0-255, CIELab). ``job_cpu_s`` adds
what every ``measure`` job spends before its first specimen (a fresh interpreter importing the
stage, the least of ``--repeats`` child processes), and ``x_first`` is that job time over the
first size's. With ``--repeats N`` every size is measured N times (the reference once):
``cpu_s`` is the least of the N sums (the least disturbed by other work on a shared machine),
``median_s`` their median; the load average is printed before each size.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/measure_large.py [--sizes 1 12 24 50]
        [--colour-megapixels 2] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))

from traitrack import centreline, traits  # noqa: E402
from traitrack.io import read_image, read_label_png  # noqa: E402
from traitrack.structures import StructureTable  # noqa: E402
from traitrack.working_size import read_working_image  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "beetles-5part"
SPECIMENS = ("0000", "0001", "0002")
Image.MAX_IMAGE_PIXELS = None  # the benchmark's own upscaled files
CENTRELINES = ["centreline_length_px", "centreline_longest_px"]
COLOURS = list(traits.COLOUR_TRAITS)


def upscale(folder: Path, name: str, megapixels: float, structures: StructureTable) -> tuple:
    """(JPEG path, label PNG path) of one beetle at ``megapixels``."""
    image = Image.open(DATA / "images" / f"{name}.png").convert("RGB")
    mask = Image.open(DATA / "masks" / f"{name}.png").convert("RGB")
    scale = (megapixels * 1e6 / (image.width * image.height)) ** 0.5
    size = (round(image.width * scale), round(image.height * scale))
    image_path, labels_path = folder / f"{name}.jpg", folder / f"{name}.png"
    image.resize(size, Image.BICUBIC).save(image_path, quality=95)
    colours = np.asarray(mask.resize(size, Image.NEAREST))
    labels = np.zeros(colours.shape[:2], dtype=np.uint8)
    for rgb, label in structures.rgb_lookup().items():
        labels[(colours == rgb).all(axis=-1)] = label
    Image.fromarray(labels).save(labels_path)
    return image_path, labels_path


def bounded(image_path: Path, labels_path: Path, structures, colour_megapixels: float):
    """The stage's way: (table, CPU s, traced peak MB)."""
    start = time.process_time()
    tracemalloc.start()
    labels = read_label_png(labels_path)
    image = read_working_image(image_path, colour_megapixels)
    table = traits.measure_specimen(labels, image, structures, reduced_image=True)
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return table, time.process_time() - start, peak


def unbounded(image_path: Path, labels_path: Path, structures) -> pd.DataFrame:
    """The reference: full-size colour, every centre line at full size."""
    saved = centreline.CENTRELINE_THICKNESS_PX
    centreline.CENTRELINE_THICKNESS_PX = np.inf
    try:
        return traits.measure_specimen(
            read_label_png(labels_path), read_image(image_path), structures
        )
    finally:
        centreline.CENTRELINE_THICKNESS_PX = saved


def job_start_seconds() -> float:
    """CPU seconds of a fresh interpreter importing the measure stage (a job's fixed cost)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(
        [sys.executable, "-c", "import traitrack.stages.measure"],
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "workflow")},
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[1, 12, 24, 50])
    parser.add_argument("--colour-megapixels", type=float, default=2)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    if not DATA.is_dir():
        raise SystemExit(f"{DATA} is absent")
    config = yaml.safe_load((ROOT / "config" / "datasets" / "beetles-5part.yaml").read_text())
    structures = StructureTable.from_config(config)
    start = min(job_start_seconds() for _ in range(args.repeats))
    print(
        f"colour_megapixels {args.colour_megapixels:g}, three specimens per size; "
        f"a job's start (interpreter and imports): {start:.2f} s CPU"
    )
    print(
        "size_MP  cpu_s  median_s  job_cpu_s  x_first  traced_peak_MB  shape_max_rel_diff  "
        "centreline_rel_diff_min..max  rgb_mean/median_max_abs_diff  lab_mean/median_max_abs_diff  "
        "load_average"
    )
    first_job = None
    for megapixels in args.sizes:
        sums, peak, shape_diff, line_diff, colour_diff = np.zeros(args.repeats), 0.0, 0.0, [], {}
        load = os.getloadavg()[0]
        with tempfile.TemporaryDirectory() as folder:
            for name in SPECIMENS:
                paths = upscale(Path(folder), name, megapixels, structures)
                for repeat in range(args.repeats):
                    table, cpu, traced = bounded(*paths, structures, args.colour_megapixels)
                    sums[repeat] += cpu
                    peak = max(peak, traced)
                reference = unbounded(*paths, structures)
                numbers = [
                    c
                    for c in table.select_dtypes("number").columns
                    if c not in COLOURS and c not in CENTRELINES
                ]
                relative = (table[numbers] - reference[numbers]).abs() / reference[
                    numbers
                ].abs().clip(lower=1e-12)
                shape_diff = max(shape_diff, float(np.nanmax(relative.to_numpy())))
                lines = (table[CENTRELINES] / reference[CENTRELINES] - 1).to_numpy().ravel()
                line_diff += list(lines[np.isfinite(lines)])
                for group in ("rgb_mean", "rgb_median", "lab_mean", "lab_median"):
                    columns = [c for c in COLOURS if c.startswith(group)]
                    change = (table[columns] - reference[columns]).abs().to_numpy()
                    colour_diff[group] = max(colour_diff.get(group, 0.0), float(np.nanmax(change)))
        seconds = float(sums.min())
        first_job = first_job or start + seconds
        print(
            f"{megapixels:g}  {seconds:.2f}  {np.median(sums):.2f}  {start + seconds:.2f}  "
            f"{(start + seconds) / first_job:.1f}  {peak:.0f}  {shape_diff:.1e}  "
            f"{100 * min(line_diff):+.2f}%..{100 * max(line_diff):+.2f}%  "
            f"{colour_diff['rgb_mean']:.2f}/{colour_diff['rgb_median']:.2f}  "
            f"{colour_diff['lab_mean']:.2f}/{colour_diff['lab_median']:.2f}  {load:.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
