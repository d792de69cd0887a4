"""Tests of traitrack.io: every reader and writer, including the bad inputs users bring."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tifffile
from PIL import Image
from pycocotools import mask as coco_mask

from traitrack.io import (
    InputError,
    atomic_output,
    read_image,
    read_label_png,
    read_mask,
    read_pixel_size,
    write_coco,
    write_label_png,
    write_table,
)
from traitrack.structures import Structure, StructureTable

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"

BEETLE_COLOURS = {
    "head": (200, 0, 0),
    "pronotum": (0, 200, 0),
    "elytra": (0, 0, 200),
    "legs": (200, 200, 0),
    "antennae": (200, 0, 200),
}
ANT_VALUES = {"head": 0, "mesosoma": 3, "gaster": 4, "eye": 5}


def beetle_table() -> StructureTable:
    return StructureTable(
        tuple(
            Structure(name, i + 1, rgb, "thin" if name in ("legs", "antennae") else "blob", rgb=rgb)
            for i, (name, rgb) in enumerate(BEETLE_COLOURS.items())
        ),
        background_rgb=(0, 0, 0),
    )


def ant_table() -> StructureTable:
    return StructureTable(
        tuple(
            Structure(name, i + 1, (10 * i, 0, 0), value=value)
            for i, (name, value) in enumerate(ANT_VALUES.items())
        ),
        background_value=6,
    )


def asymmetric_rgb(height=6, width=10) -> np.ndarray:
    """An image whose every pixel is distinct, so any rotation or flip is detectable."""
    image = np.zeros((height, width, 3), np.uint8)
    image[..., 0] = np.arange(height)[:, None] * 20
    image[..., 1] = np.arange(width)[None, :] * 20
    image[..., 2] = 77
    return image


def ant_labels() -> tuple[np.ndarray, np.ndarray]:
    """A raw ant-style value mask (background 6) and its expected internal labels."""
    raw = np.full((8, 12), 6, np.uint8)
    raw[1:4, 1:5] = 0  # head
    raw[2, 2] = 5  # eye
    raw[4:7, 5:8] = 3  # mesosoma
    raw[3:7, 9:12] = 4  # gaster
    expected = np.zeros_like(raw)
    expected[raw == 0], expected[raw == 5] = 1, 4
    expected[raw == 3], expected[raw == 4] = 2, 3
    return raw, expected


def beetle_labels() -> np.ndarray:
    labels = np.zeros((9, 7), np.uint8)
    labels[0:2, 2:5] = 1
    labels[2:4, 1:6] = 2
    labels[4:8, 1:6] = 3
    labels[5:8, 0] = 4
    labels[0:3, 0] = 5
    return labels


def colour_mask(labels: np.ndarray) -> np.ndarray:
    colours = np.array([(0, 0, 0)] + list(BEETLE_COLOURS.values()), np.uint8)
    return colours[labels]


# ---------------------------------------------------------------- images


def test_jpeg_exif_orientation_is_applied(tmp_path):
    image = np.zeros((40, 80, 3), np.uint8)
    image[:20, :40] = (255, 0, 0)  # red block top-left, everything else black
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    path = tmp_path / "photo.jpg"
    Image.fromarray(image).save(path, exif=exif.tobytes(), quality=95)
    result = read_image(path)
    assert result.shape == (80, 40, 3)
    # after a 90 degree clockwise turn the red block sits top-right
    assert result[10, 30, 0] > 200 and result[10, 30, 1] < 60
    assert result[70, 10].max() < 60


def test_png_modes(tmp_path):
    rgb = asymmetric_rgb()
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    assert np.array_equal(read_image(tmp_path / "rgb.png"), rgb)

    grey = rgb[..., 0]
    Image.fromarray(grey, mode="L").save(tmp_path / "grey.png")
    assert np.array_equal(read_image(tmp_path / "grey.png"), np.repeat(grey[..., None], 3, 2))

    palette = Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=256)
    palette.save(tmp_path / "palette.png")
    assert np.array_equal(read_image(tmp_path / "palette.png"), np.asarray(palette.convert("RGB")))

    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
    rgba[0, 0, 3] = 0  # fully transparent -> white
    rgba[0, 1, 3] = 128  # half transparent -> halfway to white
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "rgba.png")
    result = read_image(tmp_path / "rgba.png")
    assert result.shape == rgb.shape
    assert tuple(result[0, 0]) == (255, 255, 255)
    assert np.allclose(result[0, 1], rgb[0, 1].astype(float) * 128 / 255 + 255 * 127 / 255, atol=1)
    assert np.array_equal(result[1:], rgb[1:])


def test_png_16bit_scaled_by_range(tmp_path):
    values = np.array([[0, 65535], [32896, 257]], np.uint16)
    Image.fromarray(values).save(tmp_path / "deep.png")
    result = read_image(tmp_path / "deep.png")
    assert result.dtype == np.uint8 and result.shape == (2, 2, 3)
    assert result[..., 0].tolist() == [[0, 255], [128, 1]]


def test_tiff_variants(tmp_path):
    rgb = asymmetric_rgb()
    tifffile.imwrite(tmp_path / "rgb.tif", rgb, photometric="rgb")
    assert np.array_equal(read_image(tmp_path / "rgb.tif"), rgb)

    grey = rgb[..., 1]
    tifffile.imwrite(tmp_path / "grey.tif", grey)
    assert np.array_equal(read_image(tmp_path / "grey.tif")[..., 2], grey)

    deep = grey.astype(np.uint16) * 257  # full 16-bit range -> scaled by 65535
    tifffile.imwrite(tmp_path / "deep.tif", deep)
    assert np.array_equal(read_image(tmp_path / "deep.tif")[..., 0], grey)

    twelve = np.array([[100, 4000], [100, 100]], np.uint16)  # small part of range -> min/max
    tifffile.imwrite(tmp_path / "twelve.tif", twelve)
    assert read_image(tmp_path / "twelve.tif")[..., 0].tolist() == [[0, 255], [0, 0]]

    rgba = np.dstack([rgb, np.zeros(rgb.shape[:2], np.uint8)])
    tifffile.imwrite(tmp_path / "rgba.tif", rgba, photometric="rgb", extrasamples=["unassalpha"])
    assert (read_image(tmp_path / "rgba.tif") == 255).all()  # transparent -> white

    stack = np.stack([grey, 255 - grey])
    tifffile.imwrite(tmp_path / "stack.tif", stack)
    assert np.array_equal(read_image(tmp_path / "stack.tif")[..., 0], grey)


def test_missing_and_broken_image(tmp_path):
    with pytest.raises(InputError, match="nothere.png"):
        read_image(tmp_path / "nothere.png")
    (tmp_path / "broken.png").write_bytes(b"not an image")
    with pytest.raises(InputError, match="broken.png"):
        read_image(tmp_path / "broken.png")


# ---------------------------------------------------------------- pixel size


def test_pixel_size_imagej_mm_and_micron(tmp_path):
    image = np.zeros((4, 4), np.uint8)
    tifffile.imwrite(
        tmp_path / "mm.tif",
        image,
        imagej=True,
        resolution=(1 / 0.005, 1 / 0.005),
        metadata={"unit": "mm"},
    )
    assert read_pixel_size(tmp_path / "mm.tif") == pytest.approx(200.0)
    tifffile.imwrite(
        tmp_path / "um.tif",
        image,
        imagej=True,
        resolution=(1 / 2.5, 1 / 2.5),
        metadata={"unit": "micron"},
    )
    assert read_pixel_size(tmp_path / "um.tif") == pytest.approx(400.0)


def test_pixel_size_ome(tmp_path):
    image = np.zeros((4, 4), np.uint8)
    tifffile.imwrite(
        tmp_path / "a.ome.tif",
        image,
        ome=True,
        metadata={"PhysicalSizeX": 4.0, "PhysicalSizeXUnit": "µm"},
    )
    assert read_pixel_size(tmp_path / "a.ome.tif") == pytest.approx(250.0)
    tifffile.imwrite(
        tmp_path / "b.ome.tif",
        image,
        ome=True,
        metadata={"PhysicalSizeX": 0.01, "PhysicalSizeXUnit": "mm"},
    )
    assert read_pixel_size(tmp_path / "b.ome.tif") == pytest.approx(100.0)


def test_pixel_size_absent(tmp_path):
    image = np.zeros((4, 4), np.uint8)
    tifffile.imwrite(tmp_path / "plain.tif", image, resolution=(300, 300))
    Image.fromarray(image).save(tmp_path / "plain.png")
    assert read_pixel_size(tmp_path / "plain.tif") is None
    assert read_pixel_size(tmp_path / "plain.png") is None


# ---------------------------------------------------------------- raster masks


def test_ant_value_mask_png_and_tiff(tmp_path):
    raw, expected = ant_labels()
    Image.fromarray(raw, mode="L").save(tmp_path / "ant.png")
    tifffile.imwrite(tmp_path / "ant.tif", raw)
    for name in ("ant.png", "ant.tif"):
        labels = read_mask(tmp_path / name, ant_table(), image_shape=raw.shape)
        assert labels.dtype == np.uint8 and np.array_equal(labels, expected)
    # the same values as a 3-channel grey image
    Image.fromarray(np.repeat(raw[..., None], 3, 2)).save(tmp_path / "ant_rgb.png")
    assert np.array_equal(read_mask(tmp_path / "ant_rgb.png", ant_table()), expected)


def test_beetle_colour_mask_ignores_alpha(tmp_path):
    labels = beetle_labels()
    colours = colour_mask(labels)
    Image.fromarray(colours).save(tmp_path / "beetle.png")
    assert np.array_equal(read_mask(tmp_path / "beetle.png", beetle_table()), labels)
    rgba = np.dstack([colours, np.full(labels.shape, 17, np.uint8)])
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "beetle_rgba.png")
    assert np.array_equal(read_mask(tmp_path / "beetle_rgba.png", beetle_table()), labels)


def test_unknown_value_and_colour(tmp_path):
    raw, _ = ant_labels()
    raw[0, 0] = 9
    Image.fromarray(raw, mode="L").save(tmp_path / "odd_ant.png")
    with pytest.raises(InputError, match="odd_ant.png") as info:
        read_mask(tmp_path / "odd_ant.png", ant_table())
    assert "[9]" in str(info.value) and "structures[].value" in str(info.value)

    colours = colour_mask(beetle_labels())
    colours[0, 0] = (1, 2, 3)
    Image.fromarray(colours).save(tmp_path / "odd_beetle.png")
    with pytest.raises(InputError, match="odd_beetle.png") as info:
        read_mask(tmp_path / "odd_beetle.png", beetle_table())
    assert "(1, 2, 3)" in str(info.value) and "structures[].rgb" in str(info.value)


def test_size_mismatch_and_missing_mask(tmp_path):
    raw, _ = ant_labels()
    Image.fromarray(raw, mode="L").save(tmp_path / "small.png")
    with pytest.raises(InputError, match="small.png") as info:
        read_mask(tmp_path / "small.png", ant_table(), image_shape=(20, 30, 3))
    assert "8x12" in str(info.value) and "20x30" in str(info.value)
    with pytest.raises(InputError, match="gone.png"):
        read_mask(tmp_path / "gone.png", ant_table())


# ---------------------------------------------------------------- COCO and labelme


def coco_document(segmentation, file_name="folder/sub/specimen_1.jpg", category="head"):
    return {
        "images": [
            {"id": 7, "file_name": "other.jpg", "height": 10, "width": 12},
            {"id": 3, "file_name": file_name, "height": 10, "width": 12},
        ],
        "annotations": [
            {"id": 1, "image_id": 7, "category_id": 1, "segmentation": [[0, 0, 5, 0, 5, 5, 0, 5]]},
            {"id": 2, "image_id": 3, "category_id": 1, "segmentation": segmentation},
        ],
        "categories": [{"id": 1, "name": category}, {"id": 2, "name": "eye"}],
    }


def square_mask() -> np.ndarray:
    mask = np.zeros((10, 12), np.uint8)
    mask[2:6, 3:9] = 1
    return mask


def test_coco_polygon_and_rle_with_folders(tmp_path):
    table = ant_table()
    expected = square_mask()  # head is label 1
    compressed = coco_mask.encode(np.asfortranarray(square_mask()))
    compressed["counts"] = compressed["counts"].decode("ascii")
    flat = square_mask().ravel(order="F")
    changes = np.flatnonzero(np.diff(np.r_[0, flat, 1 - flat[-1]]))
    uncompressed = {"size": [10, 12], "counts": np.diff(np.r_[0, changes]).tolist()}
    polygon = [[3, 2, 9, 2, 9, 6, 3, 6]]
    for kind, segmentation in [("poly", polygon), ("crle", compressed), ("urle", uncompressed)]:
        path = tmp_path / f"{kind}.json"
        path.write_text(json.dumps(coco_document(segmentation)))
        labels = read_mask(path, table, image_name="/data/images/specimen_1.jpg")
        if kind == "poly":  # pycocotools polygons cover the boundary pixels differently
            assert labels[3:5, 4:8].min() == 1 and labels[7:, :].max() == 0
            assert set(np.unique(labels)) == {0, 1}
        else:
            assert np.array_equal(labels, expected), kind


def test_coco_overlap_smaller_on_top(tmp_path):
    document = coco_document([[1, 1, 11, 1, 11, 9, 1, 9]])
    document["annotations"].insert(
        1, {"id": 9, "image_id": 3, "category_id": 2, "segmentation": [[4, 4, 7, 4, 7, 7, 4, 7]]}
    )
    path = tmp_path / "overlap.json"
    path.write_text(json.dumps(document))
    labels = read_mask(path, ant_table(), image_name="specimen_1.jpg")
    assert labels[5, 5] == 4 and labels[2, 2] == 1  # eye drawn first but stays on top


def test_coco_errors(tmp_path):
    path = tmp_path / "cats.json"
    path.write_text(json.dumps(coco_document([[3, 2, 9, 2, 9, 6, 3, 6]], category="cranium")))
    with pytest.raises(InputError, match="cats.json") as info:
        read_mask(path, ant_table(), image_name="specimen_1.jpg")
    assert "cranium" in str(info.value) and "structures[].category" in str(info.value)

    path = tmp_path / "lacking.json"
    path.write_text(json.dumps(coco_document([[3, 2, 9, 2, 9, 6, 3, 6]])))
    with pytest.raises(InputError, match="lacking.json") as info:
        read_mask(path, ant_table(), image_name="specimen_2.jpg")
    assert "specimen_2.jpg" in str(info.value)

    with pytest.raises(InputError, match="lacking.json"):
        read_mask(path, ant_table(), image_name="specimen_1.jpg", image_shape=(11, 12))

    path = tmp_path / "neither.json"
    path.write_text(json.dumps({"hello": 1}))
    with pytest.raises(InputError, match="neither.json"):
        read_mask(path, ant_table())


def test_labelme_shapes(tmp_path):
    document = {
        "imageHeight": 20,
        "imageWidth": 30,
        "imagePath": "../img/specimen.png",
        "shapes": [
            {"label": "head", "shape_type": "rectangle", "points": [[2, 2], [12, 10]]},
            {
                "label": "gaster",
                "shape_type": "polygon",
                "points": [[15, 2], [28, 2], [28, 18], [15, 18]],
            },
            {"label": "eye", "shape_type": "circle", "points": [[6, 6], [8, 6]]},
            {"label": "head", "shape_type": "point", "points": [[1, 1]]},
        ],
    }
    path = tmp_path / "specimen.json"
    path.write_text(json.dumps(document))
    labels = read_mask(path, ant_table(), image_shape=(20, 30))
    assert labels[8, 10] == 1 and labels[6, 6] == 4 and labels[10, 20] == 3
    assert labels[15, 5] == 0 and labels[1, 1] == 0
    assert set(np.unique(labels)) == {0, 1, 3, 4}

    document["shapes"][0]["label"] = "thorax"
    path.write_text(json.dumps(document))
    with pytest.raises(InputError, match="specimen.json") as info:
        read_mask(path, ant_table())
    assert "thorax" in str(info.value)


# ---------------------------------------------------------------- writers


def test_write_coco_round_trip(tmp_path):
    beetle = beetle_labels()
    other = np.zeros((5, 4), np.uint8)
    other[1:3, 1:3] = 3
    path = tmp_path / "out" / "masks.json"
    extra = {
        "specimen": "b1",
        "engine": "registration",
        "confidence": {"head": np.float32(0.5), "legs": float("nan")},
    }
    write_coco(
        path,
        [("imgs/b1.png", beetle, extra), ("b2.png", other, {})],
        beetle_table(),
        info={"description": "test"},
    )
    document = json.loads(path.read_text())
    first = document["images"][0]
    assert first["specimen"] == "b1" and first["confidence"] == {"head": 0.5, "legs": None}
    assert [c["id"] for c in document["categories"]] == [1, 2, 3, 4, 5]
    assert len(document["annotations"]) == 6
    assert all(isinstance(a["segmentation"]["counts"], str) for a in document["annotations"])
    head = document["annotations"][0]
    assert head["area"] == 6 and head["bbox"] == [2, 0, 3, 2] and head["iscrowd"] == 0
    assert np.array_equal(read_mask(path, beetle_table(), image_name="b1.png"), beetle)
    assert np.array_equal(read_mask(path, beetle_table(), image_name="x/b2.png"), other)


def test_label_png_round_trip(tmp_path):
    labels = beetle_labels()
    path = tmp_path / "a" / "b" / "labels.png"
    write_label_png(path, labels)
    back = read_label_png(path)
    assert back.dtype == np.uint8 and np.array_equal(back, labels)
    assert [p.name for p in path.parent.iterdir()] == ["labels.png"]


def test_write_table_csv_and_tsv(tmp_path):
    frame = pd.DataFrame({"specimen": ["a", "b"], "area_px": [1, 2]})
    write_table(tmp_path / "t.csv", frame)
    write_table(tmp_path / "t.tsv", frame)
    assert (tmp_path / "t.csv").read_text().splitlines() == ["specimen,area_px", "a,1", "b,2"]
    assert (tmp_path / "t.tsv").read_text().splitlines()[0] == "specimen\tarea_px"
    assert pd.read_csv(tmp_path / "t.tsv", sep="\t").equals(frame)


def test_atomic_output_leaves_nothing_on_exception(tmp_path):
    target = tmp_path / "sub" / "result.png"
    with pytest.raises(RuntimeError):
        with atomic_output(target) as temporary:
            assert temporary.parent == target.parent and temporary.suffix == ".png"
            temporary.write_bytes(b"half")
            raise RuntimeError("job failed")
    assert list(target.parent.iterdir()) == []
    with atomic_output(target) as temporary:
        temporary.write_bytes(b"whole")
    assert target.read_bytes() == b"whole" and list(target.parent.iterdir()) == [target]


# ---------------------------------------------------------------- real data


@pytest.mark.realdata
@pytest.mark.skipif(not DATA.is_dir(), reason="../shared/data is absent")
@pytest.mark.parametrize(
    "dataset, table, expected",
    [
        ("beetles-5part", beetle_table, {0, 1, 2, 3, 4, 5}),
        ("ants-4part", ant_table, {0, 1, 2, 3, 4}),
    ],
)
def test_real_masks_map_every_pixel(dataset, table, expected):
    masks = sorted((DATA / dataset / "masks").glob("*.png"))[:2]
    if len(masks) < 2:
        pytest.skip(f"{dataset} masks are absent")
    for mask in masks:
        image = read_image(DATA / dataset / "images" / mask.name)
        labels = read_mask(mask, table(), image_name=mask.name, image_shape=image.shape)
        assert labels.shape == image.shape[:2]
        present = set(np.unique(labels).tolist())
        assert present <= expected and 0 in present and len(present) >= 3
