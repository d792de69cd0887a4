"""Peak memory and time of describe, propagate and measure for one target at 1 to 50 megapixels.

Three real beetles of ``../shared/data/beetles-5part`` (two templates and one target; NEON
carabid images, BeetleFlow masks, see ``../shared/data/README.md``) are upscaled (bicubic;
masks nearest) to 1, 12, 24 and 50 megapixels and saved as JPEG (quality 95), as a camera
writes them, in a scratch project; the whole workflow runs on each through Snakemake
(``--cores 1``, the registration engine with ``config/datasets/beetles-5part.yaml``), and each
rule's ``benchmark:`` file gives its wall time, CPU time and peak RSS (Snakemake's psutil
monitor of the job's processes). Then the target's label map at 12 MP is compared with the run on the native
images, the native labels scaled to 12 MP (nearest): the mean IoU over the parts present in
either, and the IoU of the whole specimen.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/large_images.py [--sizes 1 12 24 50]
        [--working-megapixels 1] [--keep DIR]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))

from traitrack.io import read_label_png  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "beetles-5part"
SPECIMENS = ("0000", "0001", "0002")  # templates, templates, target
SPECIES = "beetle"
SNAKEMAKE = Path(sys.executable).with_name("snakemake")
RULES = ("describe", "propagate", "measure")
Image.MAX_IMAGE_PIXELS = None  # the benchmark's own upscaled files


def make_project(folder: Path, megapixels: float | None, working_megapixels: float) -> Path:
    """A scratch project of the three beetles at ``megapixels`` (None: native PNGs)."""
    folder.mkdir(parents=True)
    for name in ("workflow", "config", "envs"):
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, folder / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, folder / name)
    rows = []
    for index, name in enumerate(SPECIMENS):
        image = Image.open(DATA / "images" / f"{name}.png").convert("RGB")
        mask = Image.open(DATA / "masks" / f"{name}.png").convert("RGB")
        if megapixels is None:
            image_path, mask_path = f"data/{name}.png", f"data/{name}_mask.png"
        else:
            scale = (megapixels * 1e6 / (image.width * image.height)) ** 0.5
            size = (round(image.width * scale), round(image.height * scale))
            image = image.resize(size, Image.BICUBIC)
            mask = mask.resize(size, Image.NEAREST)
            image_path, mask_path = f"data/{name}.jpg", f"data/{name}_mask.png"
        (folder / "data").mkdir(exist_ok=True)
        image.save(folder / image_path, quality=95)
        is_template = index < len(SPECIMENS) - 1
        if is_template:
            mask.save(folder / mask_path)
        rows.append(
            {
                "specimen": f"b{name}",
                "species": SPECIES,
                "image": image_path,
                "mask": mask_path if is_template else "",
                "px_per_mm": "",
            }
        )
    pd.DataFrame(rows).to_csv(folder / "samples.tsv", sep="\t", index=False)
    config = yaml.safe_load((ROOT / "config" / "datasets" / "beetles-5part.yaml").read_text())
    config.update(
        samples="samples.tsv",
        select={"k": 2},
        limits={"working_megapixels": working_megapixels},
    )
    (folder / "bench.yaml").write_text(yaml.safe_dump(config))
    return folder


def run(folder: Path) -> dict[str, tuple[float, float, float]]:
    """Run the workflow; {rule: (wall s, CPU s, peak RSS MB)} from the rules' benchmark files."""
    result = subprocess.run(
        [
            str(SNAKEMAKE),
            "--directory",
            str(folder),
            "--snakefile",
            str(folder / "workflow" / "Snakefile"),
            "--configfile",
            str(folder / "config" / "config.yaml"),
            str(folder / "bench.yaml"),
            "--cores",
            "1",
            f"results/traits/{SPECIES}.csv",
        ],
        capture_output=True,
        text=True,
    )
    if result.returncode:
        print(result.stdout[-3000:], result.stderr[-3000:])
        raise SystemExit(f"the workflow failed in {folder}")
    numbers = {}
    for rule in RULES:
        files = sorted((folder / "results" / "benchmarks" / rule).rglob("*.tsv"))
        table = pd.concat([pd.read_csv(f, sep="\t") for f in files])
        numbers[rule] = (
            float(table["s"].sum()),
            float(table["cpu_time"].sum()),
            float(table["max_rss"].max()),
        )
    return numbers


def target_labels(folder: Path) -> np.ndarray:
    return read_label_png(folder / "results" / SPECIES / "labels" / f"b{SPECIMENS[-1]}.png")


def agreement(native: np.ndarray, large: np.ndarray) -> tuple[float, float]:
    """Mean per-part IoU (parts present in either) and whole-specimen IoU, native scaled up."""
    scaled = np.asarray(Image.fromarray(native).resize(large.shape[::-1], Image.NEAREST))
    ious = []
    for label in sorted(set(np.unique(scaled)) | set(np.unique(large)) - {0}):
        a, b = scaled == label, large == label
        ious.append((a & b).sum() / max(1, (a | b).sum()))
    a, b = scaled > 0, large > 0
    return float(np.mean(ious)), float((a & b).sum() / max(1, (a | b).sum()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[1, 12, 24, 50])
    parser.add_argument("--working-megapixels", type=float, default=1)
    parser.add_argument("--keep", type=Path, help="keep the scratch projects here")
    args = parser.parse_args()
    if not DATA.is_dir():
        raise SystemExit(f"{DATA} is absent")
    scratch = args.keep or Path(tempfile.mkdtemp(prefix="large_images_"))
    native = make_project(scratch / "native", None, args.working_megapixels)
    native_numbers = run(native)
    shape = Image.open(native / "data" / f"{SPECIMENS[-1]}.png").size
    print(f"native target {shape[0]} x {shape[1]} px: " + describe_numbers(native_numbers))
    print(f"working_megapixels: {args.working_megapixels:g}")
    print(
        "size_MP  "
        + "  ".join(f"{r}_wall_s/cpu_s/peak_MB" for r in RULES)
        + "  mIoU_vs_native  IoU_specimen"
    )
    base = None
    for megapixels in args.sizes:
        folder = make_project(scratch / f"{megapixels:g}mp", megapixels, args.working_megapixels)
        numbers = run(folder)
        base = base or numbers
        miou, whole = agreement(target_labels(native), target_labels(folder))
        cells = "  ".join("{:.1f}/{:.1f}/{:.0f}".format(*numbers[r]) for r in RULES)
        print(f"{megapixels:g}  {cells}  {miou:.3f}  {whole:.3f}")
        if not args.keep:
            shutil.rmtree(folder)
    if not args.keep:
        shutil.rmtree(scratch)


def describe_numbers(numbers: dict[str, tuple[float, float, float]]) -> str:
    return ", ".join(
        f"{r} {s:.1f} s wall {cpu:.1f} s CPU {mb:.0f} MB" for r, (s, cpu, mb) in numbers.items()
    )


if __name__ == "__main__":
    main()
