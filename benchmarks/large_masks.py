"""Are a large photograph's masks as good as the native image's? Several real targets, in process.

Targets and templates come from ``../shared/data/beetles-5part`` (NEON carabid images, CC BY
4.0; BeetleFlow masks; see ``../shared/data/README.md``; native 100-800 px per side): every 4th
image by name is a target (``--targets`` of them, evenly spaced), each gets the ``--templates``
nearest pool images by the workflow's descriptor (as ``benchmarks/registration_real.py``).
Each target and its templates are upscaled to each size (image bicubic, saved as JPEG quality
95 as a camera writes it; mask nearest) and read the workflow's way
(:class:`traitrack.specimen_store.SpecimenStore` at ``--working-megapixels``: the photograph
reduced, the template masks reduced to it); the registration engine
(``config/datasets/beetles-5part.yaml``) runs on that, and its labels are scaled back to the
photograph's size (:func:`traitrack.working_size.resize_labels`), as ``propagate`` writes them.

Printed per target and size, then the mean over targets:

- ``agree_mIoU`` / ``agree_IoU``: the agreement with the native run: the labels against the native run's
  labels scaled up (nearest): mean IoU over the parts present in either, and the whole
  specimen's IoU; ``agree_compact_mIoU`` the mean over the compact parts (``kind: blob``)
  alone, and in the summary each part's IoU, averaged over the targets;
- ``truth_mIoU``: the labels against the ground-truth mask scaled up, mean over the parts
  present in either (the user's question: as good as native?); the native run's own is the
  ``native`` row.

The ``native, target as JPEG`` row is the engine's own noise: the native target saved once as
JPEG quality 95 at its native size (templates untouched), the nearest a camera file can get
to the native pixels; no reduction can agree with the native run better than the engine
agrees with itself under that change.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/large_masks.py [--targets 8] [--templates 2]
        [--sizes 1 12 50] [--working-megapixels 1]
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from registration_real import nearest_templates, split  # noqa: E402

from traitrack.engines.base import Frame  # noqa: E402
from traitrack.engines.registration.engine import (  # noqa: E402
    RegistrationEngine,
    RegistrationOptions,
)
from traitrack.io import read_image, read_mask  # noqa: E402
from traitrack.samples import Specimen  # noqa: E402
from traitrack.specimen_store import SpecimenStore  # noqa: E402
from traitrack.structures import StructureTable  # noqa: E402
from traitrack.working_size import photograph_shape, resize_labels  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "beetles-5part"
Image.MAX_IMAGE_PIXELS = None  # the benchmark's own upscaled files


def confusion(a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    """(n, n) pixel counts of label pairs."""
    return np.bincount(a.ravel().astype(np.int64) * n + b.ravel(), minlength=n * n).reshape(n, n)


def scores(labels: np.ndarray, reference: np.ndarray, n: int) -> tuple[np.ndarray, float]:
    """Each part's IoU (NaN where absent from both maps) and the whole specimen's IoU."""
    counts = confusion(labels, reference, n)
    both, rows, cols = np.diag(counts), counts.sum(axis=1), counts.sum(axis=0)
    union = rows + cols - both
    with np.errstate(invalid="ignore", divide="ignore"):
        parts = np.where(union[1:] > 0, both[1:] / union[1:], np.nan)
    inside = counts[1:, 1:].sum()
    whole = inside / (counts.sum() - counts[0, 0])
    return parts, float(whole)


def scaled_up(labels: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A native label map at a larger size, as the upscaled files were made (PIL nearest)."""
    if labels.shape == tuple(shape):
        return labels
    return np.asarray(Image.fromarray(labels).resize(shape[::-1], Image.NEAREST))


def upscale(folder: Path, path: Path, megapixels: float) -> Specimen:
    """One beetle at ``megapixels``: its JPEG and its RGB mask PNG, as a sheet row."""
    image = Image.open(path).convert("RGB")
    mask = Image.open(DATA / "masks" / path.name).convert("RGB")
    scale = (megapixels * 1e6 / (image.width * image.height)) ** 0.5
    size = (round(image.width * scale), round(image.height * scale))
    image_path = folder / f"{path.stem}_{megapixels:g}.jpg"
    mask_path = folder / f"{path.stem}_{megapixels:g}_mask.png"
    if not image_path.exists():
        image.resize(size, Image.BICUBIC).save(image_path, quality=95)
        mask.resize(size, Image.NEAREST).save(mask_path)
    return Specimen(path.stem, "beetle", str(image_path), str(mask_path))


def as_jpeg(image: np.ndarray) -> np.ndarray:
    """The image saved as JPEG quality 95 and read back."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "JPEG", quality=95)
    return np.asarray(Image.open(buffer).convert("RGB"))


def beetle_targets(
    n_targets: int, n_templates: int
) -> tuple[StructureTable, RegistrationEngine, list[Path], list[list[Path]]]:
    """The shared beetles' part table, the preset's registration engine, ``n_targets``
    benchmark-split targets and each one's ``n_templates`` nearest pool images (also used by
    ``benchmarks/engine_noise.py``)."""
    if not DATA.is_dir():
        raise SystemExit(f"{DATA} is absent")
    preset = yaml.safe_load((ROOT / "config" / "datasets" / "beetles-5part.yaml").read_text())
    structures = StructureTable.from_config(preset)
    options = RegistrationOptions.from_config(preset.get("registration") or {})
    targets, pool = split(sorted((DATA / "images").glob("*.png")), n_targets)
    chosen = nearest_templates(targets, pool, n_templates, "specimen", options)
    return structures, RegistrationEngine(options, seed=0), targets, chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=8)
    parser.add_argument("--templates", type=int, default=2)
    parser.add_argument("--sizes", type=float, nargs="+", default=[1, 12, 50])
    parser.add_argument("--working-megapixels", type=float, nargs="+", default=[1])
    args = parser.parse_args()
    structures, engine, targets, chosen = beetle_targets(args.targets, args.templates)
    n = len(structures.labels) + 1
    rows: dict[str, list[tuple[np.ndarray, float, float]]] = {}
    compact = [s.label - 1 for s in structures if s.kind == "blob"]

    def record(name: str, target: str, labels, native, truth, seconds: float) -> None:
        parts, whole = scores(labels, scaled_up(native, labels.shape), n)
        truth_miou = float(np.nanmean(scores(labels, scaled_up(truth, labels.shape), n)[0]))
        rows.setdefault(name, []).append((parts, whole, truth_miou))
        print(
            f"{target}  {name:32s}  {np.nanmean(parts):.3f}  {np.nanmean(parts[compact]):.3f}  "
            f"{whole:.3f}  {truth_miou:.3f}  {seconds:.1f}",
            flush=True,
        )

    print(
        f"{len(targets)} targets, {args.templates} templates each; "
        "target  run  agree_mIoU  agree_compact_mIoU  agree_IoU  truth_mIoU  engine_cpu_s"
    )
    with tempfile.TemporaryDirectory(prefix="large_masks_") as scratch:
        for target, templates in zip(targets, chosen):
            truth = read_mask(DATA / "masks" / target.name, structures)
            frames = [
                Frame(t.stem, read_image(t), read_mask(DATA / "masks" / t.name, structures))
                for t in templates
            ]
            image = read_image(target)
            start = time.process_time()
            (native,) = engine.propagate([*frames, Frame(target.stem, image)], structures)
            native = native.labels
            record("native", target.stem, native, native, truth, time.process_time() - start)
            start = time.process_time()
            (jpeg,) = engine.propagate([*frames, Frame(target.stem, as_jpeg(image))], structures)
            seconds = time.process_time() - start
            record("native, target as JPEG", target.stem, jpeg.labels, native, truth, seconds)
            for megapixels in args.sizes:
                members = [upscale(Path(scratch), p, megapixels) for p in [*templates, target]]
                for working in args.working_megapixels:
                    store = SpecimenStore(members, structures, working)
                    chunk = [store.template(t.stem) for t in templates]
                    start = time.process_time()
                    (large,) = engine.propagate(
                        [*chunk, Frame(target.stem, store.image(target.stem))], structures
                    )
                    labels = resize_labels(large.labels, photograph_shape(members[-1].image))
                    name = f"{megapixels:g} MP, working {working:g} MP"
                    seconds = time.process_time() - start
                    record(name, target.stem, labels, native, truth, seconds)
    names = " ".join(f"agree_{s.name}" for s in structures)
    print(
        "\nmean over targets: run  agree_mIoU (lowest target)  agree_compact_mIoU  agree_IoU  "
        f"truth_mIoU  {names}"
    )
    for name, values in rows.items():
        parts = np.array([v[0] for v in values])
        per_target = np.nanmean(parts, axis=1)
        print(
            f"{name:32s}  {per_target.mean():.3f} ({per_target.min():.3f})  "
            f"{np.nanmean(parts[:, compact], axis=1).mean():.3f}  "
            f"{np.mean([v[1] for v in values]):.3f}  {np.mean([v[2] for v in values]):.3f}  "
            + " ".join(f"{x:.3f}" for x in np.nanmean(parts, axis=0))
        )


if __name__ == "__main__":
    main()
