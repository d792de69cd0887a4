"""A split tray's files: instances, COCO, overlay, crops, and its generated sample-sheet rows.

``results/trays/{tray}/`` holds ``instances.png`` (16-bit, 0 background, k the k-th specimen
in reading order), ``instances.coco.json`` (one RLE annotation per specimen, the excluded
objects as box-only annotations), ``overlay.png`` (numbered outlines; labels, scale bars and
lines boxed in another colour), ``excluded.json`` (every excluded object's kind and box; the
scale bar's box feeds calibration) and ``crops/{tray}_{k:03d}.png`` with
``crops/{tray}_{k:03d}.mask.png`` (the padded crop, turned upright by default
(``traitrack.trays.upright``), and its specimen's foreground). Each crop becomes one
generated sample-sheet row carrying its tray, box, turn and pixel size.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from pycocotools import mask as rle

from traitrack.io.common import InputError, atomic_output
from traitrack.trays.objects import Excluded

SPECIMEN, EXCLUDED_COLOUR, OUTLINE_COLOUR = "specimen", (0, 170, 255), (255, 40, 40)
KINDS = ("specimen", "label", "scale_bar", "line")


def write_instances_png(path, labels: np.ndarray) -> None:
    """Write a 16-bit instance PNG (atomic)."""
    with atomic_output(path) as temporary:
        cv2.imwrite(str(temporary), labels.astype(np.uint16))


def read_instances(path, shape: tuple[int, int]) -> np.ndarray:
    """A corrected instance map: a 16-bit (or 8-bit) PNG, or a COCO file of this tray.

    Raises
    ------
    InputError
        Naming the file, if it is missing, unreadable or not the tray's size.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: corrected instances not found; fix the `instances` column")
    if path.suffix.lower() == ".json":
        document = json.loads(path.read_text())
        labels = np.zeros(shape, np.uint16)
        specimens = [a for a in document["annotations"] if a.get("segmentation")]
        for number, annotation in enumerate(specimens, start=1):
            segmentation = annotation["segmentation"]
            if isinstance(segmentation, list):
                segmentation = rle.merge(rle.frPyObjects(segmentation, *shape))
            labels[rle.decode(segmentation).astype(bool)] = number
    else:
        labels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if labels is None or labels.ndim != 2:
            raise InputError(f"{path}: not a single-channel instance PNG (0 background, k = k)")
    if labels.shape != tuple(shape):
        raise InputError(f"{path}: size {labels.shape} is not the tray photograph's {shape}")
    return labels.astype(np.uint16)


def write_coco(path, labels: np.ndarray, excluded: list[Excluded], image_name: str) -> None:
    """Specimens as RLE annotations, excluded objects as box-only annotations."""
    height, width = labels.shape
    annotations = []
    for k in range(1, int(labels.max()) + 1):
        mask = np.asfortranarray((labels == k).astype(np.uint8))
        if not mask.any():
            continue
        encoded = rle.encode(mask)
        box = [float(v) for v in rle.toBbox(encoded)]
        encoded["counts"] = encoded["counts"].decode("ascii")
        annotations.append(
            {
                "category_id": 1,
                "segmentation": encoded,
                "bbox": box,
                "area": int(mask.sum()),
                "specimen_number": k,
                "iscrowd": 0,
            }
        )
    for item in excluded:
        x0, y0, x1, y1 = item.box
        annotations.append(
            {
                "category_id": KINDS.index(item.kind) + 1,
                "bbox": [x0, y0, x1 - x0, y1 - y0],
                "area": (x1 - x0) * (y1 - y0),
                "segmentation": [],
                "iscrowd": 0,
            }
        )
    for number, annotation in enumerate(annotations, start=1):
        annotation.update(id=number, image_id=1)
    document = {
        "images": [{"id": 1, "file_name": image_name, "height": height, "width": width}],
        "annotations": annotations,
        "categories": [{"id": i + 1, "name": k} for i, k in enumerate(KINDS)],
    }
    with atomic_output(path) as temporary:
        Path(temporary).write_text(json.dumps(document))


def overlay(image: np.ndarray, labels: np.ndarray, excluded: list[Excluded]) -> np.ndarray:
    """The tray with numbered specimen outlines and the excluded objects boxed."""
    out = image.copy()
    thickness = max(2, round(max(labels.shape) / 800))
    for k in range(1, int(labels.max()) + 1):
        mask = (labels == k).astype(np.uint8)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(out, contours, -1, OUTLINE_COLOUR, thickness)
        if mask.any():
            # the number on the specimen's widest point, dark on a light halo
            inside = cv2.distanceTransform(mask, cv2.DIST_L2, 5)
            row, col = np.unravel_index(int(np.argmax(inside)), inside.shape)
            origin = (int(col) - 6 * thickness, int(row) + 6 * thickness)
            for colour, width in (((255, 255, 255), 3 * thickness), (OUTLINE_COLOUR, thickness)):
                cv2.putText(
                    out, str(k), origin, cv2.FONT_HERSHEY_SIMPLEX, thickness / 2, colour, width
                )
    for item in excluded:
        x0, y0, x1, y1 = item.box
        cv2.rectangle(out, (x0, y0), (x1 - 1, y1 - 1), EXCLUDED_COLOUR, thickness)
        cv2.putText(
            out,
            item.kind,
            (x0, max(12, y0 - 4)),
            cv2.FONT_HERSHEY_SIMPLEX,
            thickness / 2,
            EXCLUDED_COLOUR,
            thickness,
        )
    return out


def write_crops(
    folder, tray: str, image: np.ndarray, labels: np.ndarray, frames, *, background: str = "tray"
) -> list[Path]:
    """Write each specimen's padded crop and its foreground mask (0/255); the crops' paths.

    ``frames`` (:func:`traitrack.trays.upright.crop_frames`) say where each crop lies in the
    tray and how it is turned. Other specimens reaching into a crop are painted over with the
    median colour of the crop's background, so the per-specimen workflow sees one specimen
    per image. With ``background="contrast"`` everything outside the specimen's mask (grown
    by 2 pixels) is one flat colour far from the specimen (``contrast_fill``): the
    per-specimen foreground then finds a dark beetle on a dark tray as easily as on a white
    label.
    """
    folder = Path(folder)
    paths = []
    for k, frame in enumerate(frames, start=1):
        path = folder / f"{tray}_{k:03d}.png"
        crop = frame.cut(image)
        window = frame.cut(labels, nearest=True)
        if background == "contrast" and (window == k).any():
            specimen = cv2.dilate((window == k).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
            crop[~specimen] = contrast_fill(crop[window == k])
        elif (window == 0).any():
            # a neighbour reaching into the padding is painted over with the tray's colour
            others = cv2.dilate(((window > 0) & (window != k)).astype(np.uint8), np.ones((5, 5)))
            paint = (others > 0) & (window != k)
            crop[paint] = np.median(crop[window == 0], axis=0).astype(np.uint8)
        with atomic_output(path) as temporary:
            Image.fromarray(crop).save(temporary, format="PNG")
        with atomic_output(path.with_suffix(".mask.png")) as temporary:
            mask = (window == k).astype(np.uint8) * 255
            Image.fromarray(mask).save(temporary, format="PNG")
        paths.append(path)
    return paths


def contrast_fill(pixels: np.ndarray) -> tuple[int, int, int]:
    """A flat background for a specimen's pixels: near-white for a specimen darker than mid
    grey (most beetles, as on a white label), near-black for a pale one."""
    lightness = float(np.median(pixels.astype(np.float32) @ np.array([0.299, 0.587, 0.114])))
    return (235, 235, 235) if lightness < 128 else (20, 20, 20)
