"""The per-specimen workflow on a tray's split crops against the same specimens as single
images (a script, not a test).

Each tray holds ``--specimens`` beetles of ``../shared/data/beetles-5part`` (East et al. 2026,
doi 10.57967/hf/8716, CC BY 4.0; part masks from Imageomics BeetleFlow), drawn from the
benchmark split of ``registration_real.py`` (every 4th image by name), each cut out by the
union of its part masks (the waist closed, ``cut_out``) and placed as ``benchmarks/trays.py``
places them (``traitrack.trays.compose``: positions, angles, about a third touching a neighbour, a label,
a scale bar and a pin line; the background cycles with the seed through white foam, cream
card, grey and dark). The specimens keep their own pixel size (``--rescale``: scaled to the
tray as in ``trays.py``) and their part masks travel with them through the same transforms.

The tray is split by the stage's code with the config's ``split`` section (``split_tray``,
``crop_frames``, ``write_crops``: the crops the workflow's sample rows name). Each crop is
matched to its true specimen (one-to-one, IoU >= 0.5); its truth is the specimen's placed part
labels inside the crop's box. Every specimen is then segmented twice by the workflow's
propagate step (``traitrack.propagation``: the registration engine with the beetle preset
``config/datasets/beetles-5part.yaml`` over the schema's defaults, the template pieces rule,
labels back at the photograph's size): as its crop and as its own single-specimen
photograph, both with the same templates, the ``select.k`` nearest images of the pool by the
workflow's specimen descriptor of the single photograph (with ``--own-templates`` each crop
gets the nearest to its own descriptor instead, as the workflow's ``select`` gives them: the
descriptor sees the pose, so a crop turned away from its photograph's pose gets templates in
its own). Each specimen's crop is written
with each ``--backgrounds`` value of ``split.crop_background`` (``tray``: the photograph;
``contrast``: a flat colour outside the grown mask) and each ``--rotations`` value of
``split.crop_rotation`` (``upright``: turned to stand on its long axis, head end up;
``vertical``: the smallest turn to a vertical long axis; ``none``: the tray's axes), and
with ``--true-split`` also cut by the true instances (what the crop loses apart from the split's errors). Angles stay within
``--max-angle`` of the photograph's own (15 degrees: a pinned drawer's specimens are near
upright; ``--max-angle 180``: any angle, as in an unpinned tray). Printed: per specimen the
mIoU of each, then the means per background and over all.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/tray_crops.py --seeds 100-107 \\
        --backgrounds contrast --rotations upright,none
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/tray_crops.py --seeds 100-113 \\
        --max-angle 180 --backgrounds contrast --rotations upright
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import yaml
from PIL import Image
from scipy import ndimage as ndi

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from trays import match_pairs, seed_range  # noqa: E402

from traitrack.config import validate_config  # noqa: E402
from traitrack.describe import centre_descriptors, describe_specimens  # noqa: E402
from traitrack.engines.base import Frame  # noqa: E402
from traitrack.io import read_image, read_mask  # noqa: E402
from traitrack.metrics import class_iou, mean_iou  # noqa: E402
from traitrack.overlay import tint  # noqa: E402
from traitrack.propagation import EngineSpec, SpecimenStore, with_template_pieces  # noqa: E402
from traitrack.samples import Specimen  # noqa: E402
from traitrack.select import nearest_templates  # noqa: E402
from traitrack.stages.prepare import silhouette_settings  # noqa: E402
from traitrack.structures import StructureTable  # noqa: E402
from traitrack.trays import SplitOptions, split_tray  # noqa: E402
from traitrack.trays.compose import BACKGROUNDS, compose_tray  # noqa: E402
from traitrack.trays.files import write_crops  # noqa: E402
from traitrack.trays.upright import crop_frames  # noqa: E402
from traitrack.working_size import photograph_shape, resize_labels  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "beetles-5part"
PRESET = ROOT / "config" / "datasets" / "beetles-5part.yaml"


def workflow_config(overrides: dict | None = None) -> dict:
    """The beetle preset over the schema's defaults (the config a beetle project runs with)."""
    preset = yaml.safe_load(PRESET.read_text())
    config = {"samples": "samples.tsv", **preset}
    for section, values in (overrides or {}).items():
        config[section] = {**config.get(section, {}), **values}
    return validate_config(config)


def specimen_of(name: str, path: Path, mask: Path | None = None) -> Specimen:
    """A sample-sheet row of one image (a template when ``mask`` is given)."""
    return Specimen(name, "beetles", str(path), None if mask is None else str(mask))


def cut_out(path: Path, structures: StructureTable):
    """The beetle's image, mask and part labels inside the box of its part masks.

    The mask is the union of the part masks with the body's waist closed: most masks leave
    the mesothorax between pronotum and elytra unlabelled, and a beetle cut out by the bare
    union would lie on the tray in two pieces, which no photographed beetle does. The body
    parts (all but the ``thin`` ones) are closed with a disk of 4% of the beetle's length
    and their holes filled; the legs and antennae are added as they are.
    """
    image = read_image(path)
    labels = read_mask(DATA / "masks" / path.name, structures)
    rows, cols = np.nonzero(labels)
    box = (slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1))
    image, labels = image[box], labels[box]
    thin = [s.label for s in structures if s.kind == "thin"]
    body = (labels > 0) & ~np.isin(labels, thin)
    radius = max(2, round(0.04 * max(body.shape)))
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1,) * 2)
    closed = cv2.morphologyEx(body.astype(np.uint8), cv2.MORPH_CLOSE, disk) > 0
    return image, ndi.binary_fill_holes(closed) | (labels > 0), labels


def tray_shape(pieces, fill: float = 0.3) -> tuple[int, int]:
    """A 3:4 tray whose specimen area (below the label strip) the pieces' turned boxes fill
    to ``fill``."""
    area = sum(float(max(mask.shape)) ** 2 for _, mask, _ in pieces) / fill
    height = int(np.sqrt(area / (0.86 * 4 / 3)))
    return height, int(height * 4 / 3)


def run(args) -> None:
    """Compose, split, segment crops and singles, print every specimen and the means."""
    config = workflow_config({"split": dict(args.split), "registration": dict(args.registration)})
    structures = StructureTable.from_config(config)
    images = sorted((DATA / "images").glob("*.png"))
    if not images:
        raise SystemExit(f"no images in {DATA / 'images'}; is ../shared/data there?")
    targets = images[0::4]
    pool = [path for index, path in enumerate(images) if index % 4]
    spec = EngineSpec.from_config(config)
    engine = spec.build()
    settings = silhouette_settings(config["registration"])
    start = time.perf_counter()
    pool_descriptors = describe_specimens([read_image(p) for p in pool], **settings)
    print(f"pool of {len(pool)} described in {time.perf_counter() - start:.0f} s", flush=True)
    rows = []
    kinds = crop_kinds(args)
    print("seed background specimen single", *kinds)
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seed_range(args.seeds):
            chosen, composed, background = make_tray(targets, structures, seed, args)
            crops = tray_crops(composed, config, Path(tmp), seed, kinds)
            singles = [chosen[source] for source in composed.sources]
            described = singles + ([p for p, _ in crops.values()] if args.own_templates else [])
            descriptors = centre_descriptors(
                describe_specimens([read_image(p) for p in described], **settings),
                pool_descriptors,
            )
            table = nearest_templates(
                [p.stem for p in described],
                descriptors[0],
                [p.stem for p in pool],
                descriptors[1],
                k=config["select"]["k"],
            )
            templates = table.groupby("target", sort=False)["template"].agg(list)
            members = [specimen_of(p.stem, p, DATA / "masks" / p.name) for p in pool]
            members += [specimen_of(p.stem, p) for p in singles]
            members += [specimen_of(path.stem, path) for path, _ in crops.values()]
            store = SpecimenStore(members, structures, spec.working_megapixels)
            for number, single in enumerate(singles, start=1):
                own = tuple(templates[single.stem])
                cases = {
                    "single": (single.stem, read_mask(DATA / "masks" / single.name, structures))
                }
                for kind in kinds:
                    if (kind, number) in crops:
                        path, truth = crops[kind, number]
                        cases[kind] = (path.stem, truth)
                scores = {}
                for kind, (name, truth) in cases.items():
                    chosen_templates = tuple(templates[name]) if args.own_templates else own
                    labels = predict(engine, store, structures, name, chosen_templates)
                    scores[kind] = mean_iou(class_iou(labels, truth, structures.labels))
                    if args.pictures:
                        picture(args.pictures, name, store, labels, truth, structures)
                row = {"seed": seed, "background": background, "specimen": single.stem, **scores}
                rows.append(row)
                cells = [f"{scores.get(kind, np.nan):.4f}" for kind in ("single", *kinds)]
                print(seed, background, single.stem, *cells, flush=True)
    summary(rows, kinds)


def crop_kinds(args) -> list[str]:
    """The crops each specimen is segmented from: ``split/BACKGROUND/ROTATION`` (the split's
    crop with that ``crop_background`` and ``crop_rotation``) for each of ``--backgrounds``
    and ``--rotations``, and with ``--true-split`` the same from the true instances
    (``true/BACKGROUND/ROTATION``)."""
    kinds = [
        f"split/{name}/{rotation}"
        for name in args.backgrounds.split(",")
        for rotation in args.rotations.split(",")
    ]
    return kinds + ([kind.replace("split/", "true/") for kind in kinds] if args.true_split else [])


def make_tray(targets: list[Path], structures: StructureTable, seed: int, args):
    """The seed's tray of ``args.specimens`` target beetles with their parts: the chosen
    photographs, the composed tray and its background."""
    rng = np.random.default_rng(seed)
    names = list(BACKGROUNDS)
    background = names[seed % len(names)]
    chosen = [targets[i] for i in rng.choice(len(targets), args.specimens, replace=False)]
    pieces = [cut_out(p, structures) for p in chosen]
    composed = compose_tray(
        [(image, mask) for image, mask, _ in pieces],
        shape=(1500, 2000) if args.rescale else tray_shape(pieces),
        background=background,
        rng=rng,
        rescale=args.rescale,
        part_maps=[labels for *_, labels in pieces],
        max_angle=args.max_angle,
    )
    return chosen, composed, background


def tray_crops(composed, config: dict, folder: Path, seed: int, kinds: list[str]) -> dict:
    """The tray's crops as the split stage writes them (``kinds``, :func:`crop_kinds`):
    ``{(kind, truth number): (crop path, truth part labels in the crop)}``; a ``split`` crop
    is the split's instance matched to the truth one-to-one at IoU >= 0.5."""
    options = SplitOptions.from_config(config["split"])
    result = split_tray(composed.image, n_expected=len(composed.sources), options=options)
    padding = config["split"]["crop_padding"]
    found = {}
    for kind in kinds:
        source, background, rotation = kind.split("/")
        labels = result.labels if source == "split" else composed.instances
        frames = crop_frames(labels, padding=padding, rotation_mode=rotation)
        tray = f"tray{seed}{source}{background}{rotation}"
        paths = write_crops(
            folder / tray, tray, composed.image, labels, frames, background=background
        )
        pairs = match_pairs(labels, composed.instances)
        for k, j in pairs:
            frame = frames[k - 1]
            instances = frame.cut(composed.instances, nearest=True)
            truth = np.where(instances == j, frame.cut(composed.parts, nearest=True), 0)
            found[kind, j] = (paths[k - 1], truth.astype(np.uint8))
    missed = len(composed.sources) - len(match_pairs(result.labels, composed.instances))
    if missed:
        print(f"{seed}: {missed} specimen(s) not matched by the split")
    return found


def predict(engine, store, structures, name: str, templates: tuple[str, ...]) -> np.ndarray:
    """One target's labels as the propagate step makes them (templates fused, pieces rule,
    back at the photograph's size)."""
    frames = [store.template(t) for t in templates]
    target = Frame(name, store.image(name), templates=templates)
    (prediction,) = engine.propagate([*frames, target], structures)
    prediction = with_template_pieces(prediction, store, structures)
    labels = prediction.labels
    if store.working_megapixels:
        labels = resize_labels(labels, photograph_shape(store.by_name[name].image))
    return labels


def picture(folder, name, store, labels, truth, structures) -> None:
    """The image with the prediction's parts, next to it with the truth's (a PNG)."""
    image = (
        store.image(name) if not store.working_megapixels else read_image(store.by_name[name].image)
    )
    both = np.concatenate(
        [tint(image, labels, structures, 0.5), tint(image, truth, structures, 0.5)], 1
    )
    Path(folder).mkdir(parents=True, exist_ok=True)
    Image.fromarray(both).save(Path(folder) / f"{name}.png")


def summary(rows: list[dict], kinds: list[str]) -> None:
    """Per background and over all, each crop kind's mean mIoU against the same specimens'
    single photographs (those the kind has a crop of: the split may miss a specimen)."""
    for name in [*BACKGROUNDS, "all"]:
        chosen = [r for r in rows if name in ("all", r["background"])]
        if not chosen:
            continue
        cells = []
        for kind in kinds:
            have = [r for r in chosen if kind in r]
            single = float(np.mean([r["single"] for r in have])) if have else np.nan
            crop = float(np.mean([r[kind] for r in have])) if have else np.nan
            cells.append(
                f"{kind} {len(have)}: single {single:.4f} crop {crop:.4f} ({crop - single:+.4f})"
            )
        print(f"{name}: specimens {len(chosen)}; " + "; ".join(cells))


def split_override(text: str) -> tuple[str, float]:
    """``key=value`` of a config section."""
    key, _, value = text.partition("=")
    return key, yaml.safe_load(value)


def main() -> None:
    """Parse the arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="100-107")
    parser.add_argument("--specimens", type=int, default=2)
    parser.add_argument("--rescale", action="store_true", help="sizes as in trays.py")
    parser.add_argument(
        "--max-angle", type=float, default=15.0, help="angles within +-this of upright"
    )
    parser.add_argument(
        "--split", type=split_override, action="append", default=[], help="KEY=VALUE"
    )
    parser.add_argument(
        "--registration",
        type=split_override,
        action="append",
        default=[],
        help="KEY=VALUE of the registration section (photographs and crops alike)",
    )
    parser.add_argument(
        "--backgrounds", default="tray,contrast", help="crop_background values to compare"
    )
    parser.add_argument(
        "--rotations", default="upright,none", help="crop_rotation values to compare"
    )
    parser.add_argument(
        "--own-templates",
        action="store_true",
        help="each crop's templates chosen by its own descriptor, as the workflow does",
    )
    parser.add_argument("--true-split", action="store_true", help="crops of the true instances too")
    parser.add_argument("--pictures", help="a folder for each prediction beside its truth")
    run(parser.parse_args())


if __name__ == "__main__":
    main()
