"""Scale bars: the label parser, bars and labels rendered at several sizes, blur and JPEG
quality, the species check, the calibrate stage, and the hand-made truth table of real ants."""

import io
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from traitrack.scalebar.calibrate import flag_outliers, read_scale
from traitrack.scalebar.detect import find_bars
from traitrack.scalebar.parse import parse_label, snap_mm
from traitrack.species_context import SpeciesContext
from traitrack.structures import Structure, StructureTable

ROOT = Path(__file__).resolve().parents[1]
ANTS = ROOT / ".." / "shared" / "data" / "ants-4part" / "images"
TRUTH = ROOT / "tests" / "data" / "scalebar_truth.tsv"

BODY = StructureTable(structures=(Structure("body", 1, (255, 0, 0)),))  # calibrate reads no mask


@pytest.mark.parametrize(
    ("text", "value_mm", "unit", "unit_read"),
    [
        ("0,5 mm", 0.5, "mm", True),
        ("500 µm", 0.5, "um", True),
        ("500 μm", 0.5, "um", True),
        ("200um", 0.2, "um", True),
        ("1.0mm", 1.0, "mm", True),
        ("2 mm", 2.0, "mm", True),
        ("1 cm", 10.0, "cm", True),
        ("05mm", 0.5, "mm", True),  # the point lost
        ("imm", 1.0, "mm", True),  # a small "1" read as "i"
        ("O.2 mm", 0.2, "mm", True),
        ("0.5 nm", 0.5, "mm", True),  # "mm" misread
        ("0.5m", 0.5, "mm", True),  # one "m" lost
        ("Scale: 1 mm", 1.0, "mm", True),
        ("2", 2.0, "mm", False),
        ("0.499 mm", 0.5, "mm", True),  # snapped
    ],
)
def test_parse_label_reads_value_and_unit(text, value_mm, unit, unit_read):
    label = parse_label(text)
    assert label is not None
    assert label.value_mm == pytest.approx(value_mm)
    assert label.unit == unit
    assert label.unit_read == unit_read


@pytest.mark.parametrize("text", ["", "mm", "scale", "0 mm", "12345 mm", "---"])
def test_parse_label_refuses_text_without_a_length(text):
    assert parse_label(text) is None


def test_unusual_values_are_kept_but_marked():
    label = parse_label("0.7 mm")
    assert label.value_mm == pytest.approx(0.7) and not label.usual
    assert snap_mm(0.985) == (1.0, True)
    assert snap_mm(0.9) == (0.9, False)


def font(size):
    """DejaVu Sans, which matplotlib ships, at ``size`` px."""
    from matplotlib import font_manager

    return ImageFont.truetype(font_manager.findfont("DejaVu Sans"), size)


def render(
    scale=1.0, *, label="0.5 mm", bar_px=60.3, dark=True, text_above=False, blur=0.0, jpeg=None
):
    """A 256 x 256 photograph-like image (x ``scale``): a grey ground, a dark 'specimen', a
    bar of ``bar_px`` (x scale) px with its label. Drawn 4x larger and reduced, so the bar's
    ends fall between pixels."""
    over = 4
    size = int(round(256 * scale))
    big = size * over
    ground = 150 if dark else 70
    image = Image.new("RGB", (big, big), (ground, ground, ground + 8))
    draw = ImageDraw.Draw(image)
    draw.ellipse([0.15 * big, 0.15 * big, 0.7 * big, 0.55 * big], fill=(60, 40, 30))
    draw.line([(0.3 * big, 0.5 * big), (0.2 * big, 0.85 * big)], fill=(70, 50, 35), width=big // 90)
    right = round(0.92 * big)
    left = right - round(bar_px * scale * over)  # whole pixels of the 4x drawing
    length = right - left
    thickness = max(2.0, 2.5 * scale) * over
    row = 0.88 * big
    colour = (12, 12, 12) if dark else (245, 245, 245)
    draw.rectangle([left, row, right - 1, row + thickness - 1], fill=colour)
    glyphs = font(int(11 * scale * over))
    box = draw.textbbox((0, 0), label, font=glyphs)
    width, height = box[2] - box[0], box[3] - box[1]
    y = row - height - 3 * scale * over - box[1] if text_above else row + thickness + 2 * over
    draw.text(((left + right) / 2 - width / 2 - box[0], y), label, font=glyphs, fill=colour)
    image = image.resize((size, size), Image.BOX)
    if blur:
        image = image.filter(ImageFilter.GaussianBlur(blur * scale))
    if jpeg:
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=jpeg)
        image = Image.open(buffer).convert("RGB")
    return np.asarray(image), length / over, (left / over, right / over)


@pytest.mark.parametrize("scale", [1.0, 2.0, 4.0])
@pytest.mark.parametrize("dark", [True, False])
def test_bar_ends_to_a_tenth_of_a_pixel(scale, dark):
    image, length, (left, right) = render(scale, dark=dark)
    bar = find_bars(image)[0]
    assert bar.polarity == ("dark" if dark else "light")
    assert bar.left == pytest.approx(left, abs=0.1)
    assert bar.right == pytest.approx(right, abs=0.1)


@pytest.mark.parametrize(
    ("scale", "label", "value_mm", "blur", "jpeg", "above"),
    [
        (1.0, "0.5 mm", 0.5, 0.0, None, False),
        (1.0, "1 mm", 1.0, 0.0, 60, True),
        (1.0, "0,2 mm", 0.2, 0.7, 80, False),
        (2.0, "500 µm", 0.5, 1.0, 70, True),
        (2.0, "2 mm", 2.0, 0.0, 40, False),
        (4.0, "1.0mm", 1.0, 0.8, 90, True),
    ],
)
def test_rendered_bar_and_label_give_the_pixel_size(scale, label, value_mm, blur, jpeg, above):
    pytest.importorskip("rapidocr_onnxruntime")
    image, length, _ = render(scale, label=label, blur=blur, jpeg=jpeg, text_above=above)
    reading = read_scale(image)
    assert reading.status == "ok", reading
    assert reading.value_mm == pytest.approx(value_mm)
    assert reading.px_per_mm == pytest.approx(length / value_mm, rel=0.01)


def test_known_bar_length_needs_no_text():
    image, length, _ = render(1.0, label="")

    def no_ocr(*_args, **_kwargs):
        raise AssertionError("OCR must not run when the bar's length is given")

    reading = read_scale(image, bar_mm=0.5, engine=no_ocr)
    assert reading.status == "ok" and reading.px_per_mm == pytest.approx(2 * length, rel=0.01)


def test_an_unreadable_label_is_uncertain_never_ok():
    image, _, _ = render(1.0, label="")

    def nothing(_image, **_kwargs):
        return None, None

    reading = read_scale(image, engine=nothing)
    assert reading.status == "uncertain" and math.isnan(reading.px_per_mm)


def test_two_reads_that_disagree_are_uncertain():
    """ "0.2 mm" read "2mm" at one size of the text detector and "0.2mm" at the other."""
    image, _, _ = render(1.0, label="")

    def reading(text):
        def engine(enlarged, **_kwargs):
            h, w = enlarged.shape[:2]
            box = [[0.3 * w, 0.75 * h], [0.7 * w, 0.75 * h], [0.7 * w, 0.9 * h], [0.3 * w, 0.9 * h]]
            return [[box, text, 0.99]], None

        return engine

    disagree = read_scale(image, engine=[reading("2mm"), reading("0.2mm")])
    assert disagree.status == "uncertain" and "disagree" in disagree.note
    agree = read_scale(image, engine=[reading("2mm"), reading("2 mm")])
    assert agree.status == "ok" and agree.value_mm == 2.0
    small = read_scale(image, engine=[reading("0.5mm"), reading("5mm")])  # below 1 mm: one read
    assert small.status == "ok" and small.value_mm == 0.5


def test_a_plain_image_has_no_bar():
    image = np.full((128, 128, 3), 180, np.uint8)
    assert read_scale(image, engine=lambda *a, **k: (None, None)).status == "no_bar"


def test_outliers_are_far_from_the_species_median():
    px_per_mm = np.array([100.0, 102.0, 98.0, 101.0, 50.0, 200.0, 99.0])
    status = np.array(["ok"] * 6 + ["uncertain"], dtype=object)
    judged = flag_outliers(px_per_mm, status)
    assert list(judged) == ["ok"] * 4 + ["outlier", "outlier", "uncertain"]
    # too few ok readings: nothing is judged
    assert list(flag_outliers(px_per_mm[:2], status[:2])) == ["ok", "ok"]


def test_calibrate_stage_trusts_sheet_then_bar_and_keeps_unsure_in_px(tmp_path):
    from traitrack.config import load_config
    from traitrack.stages.calibrate import read_scale_table, run_calibrate

    rows = ["specimen\tspecies\timage\tpx_per_mm\tscale_bar_mm"]
    for name, label, px, bar_mm in [
        ("a", "", "12.5", ""),  # the sheet's pixel size wins
        ("b", "", "", "0.5"),  # the bar's length from the sheet, no OCR needed
        ("c", "", "", ""),  # a bar without a label: uncertain
    ]:
        image, _, _ = render(1.0, label=label)
        Image.fromarray(image).save(tmp_path / f"{name}.png")
        rows.append(f"{name}\tsp\t{tmp_path / name}.png\t{px}\t{bar_mm}")
    sheet = tmp_path / "samples.tsv"
    sheet.write_text("\n".join(rows) + "\n")
    options = load_config(ROOT / "config" / "config.yaml")["calibrate"]
    context = SpeciesContext.from_sheet(sheet, "sp", structures=BODY)
    table = run_calibrate(
        context,
        scale_table=tmp_path / "scale.tsv",
        overlay_dir=tmp_path / "overlays",
        options=options,
    )
    by_name = table.set_index("specimen")
    assert by_name.loc["a", "method"] == "sheet" and by_name.loc["a", "px_per_mm"] == 12.5
    assert by_name.loc["b", "method"] == "scalebar" and by_name.loc["b", "status"] == "ok"
    assert by_name.loc["b", "px_per_mm"] == pytest.approx(2 * 60.25, rel=0.01)
    assert by_name.loc["c", "status"] == "uncertain" and by_name.loc["c", "method"] == "none"
    assert math.isnan(by_name.loc["c", "px_per_mm"])
    assert sorted(p.name for p in (tmp_path / "overlays").iterdir()) == ["b.png", "c.png"]
    scales = read_scale_table(tmp_path / "scale.tsv")
    assert scales["c"] == (None, "none") and scales["a"] == (12.5, "sheet")
    # the species median for the unsure one, when the config asks for it
    median = run_calibrate(
        context,
        scale_table=tmp_path / "s2.tsv",
        overlay_dir=tmp_path / "o2",
        options={**options, "use_species_median": True},
    ).set_index("specimen")
    assert median.loc["c", "method"] == "species_median"
    assert median.loc["c", "px_per_mm"] == pytest.approx(np.median([12.5, 2 * 60.25]), rel=0.01)


@pytest.mark.realdata
def test_truth_table_no_wrong_value_is_ok():
    """On the 45 hand-read ants: every bar read `ok` has the printed value and a px_per_mm
    within 2 % of the hand-measured one."""
    pytest.importorskip("rapidocr_onnxruntime")
    if not ANTS.is_dir():
        pytest.skip("../shared/data is absent")
    truth = pd.read_csv(TRUTH, sep="\t", comment="#")
    assert len(truth) == 45 and truth.specimen.is_unique
    for row in truth.itertuples():
        image = np.asarray(Image.open(ANTS / f"{row.specimen}.png").convert("RGB"))
        reading = read_scale(image)
        if reading.status == "ok":
            assert reading.value_mm == row.value_mm, row.specimen
            assert reading.px_per_mm == pytest.approx(row.px_per_mm, rel=0.02), row.specimen


def test_measure_takes_pixel_size_and_method_from_the_scale_table(tmp_path):
    """A specimen `ok` by its bar is measured in mm, one left uncertain stays in px, and every
    row says how its pixel size was obtained."""
    from traitrack.io import write_label_png
    from traitrack.stages.measure import run_measure
    from traitrack.structures import Structure, StructureTable

    structures = StructureTable(structures=(Structure("body", 1, (255, 0, 0)),))
    labels = np.zeros((64, 64), np.uint8)
    labels[20:40, 10:50] = 1
    rows = ["specimen\tspecies\timage"]
    (tmp_path / "labels").mkdir()
    for name in ("read", "unsure"):
        Image.fromarray(np.full((64, 64, 3), 128, np.uint8)).save(tmp_path / f"{name}.png")
        write_label_png(tmp_path / "labels" / f"{name}.png", labels)
        rows.append(f"{name}\tsp\t{tmp_path / name}.png")
    (tmp_path / "samples.tsv").write_text("\n".join(rows) + "\n")
    pd.DataFrame(
        {"specimen": ["read", "unsure"], "source": "prediction", "engine": "registration",
         "random_weights": False, "templates": "t", "confidence_body": 0.9}
    ).to_csv(tmp_path / "predictions.tsv", sep="\t", index=False)  # fmt: skip
    pd.DataFrame(
        {"specimen": ["read", "unsure"], "px_per_mm": [20.0, math.nan],
         "method": ["scalebar", "none"], "status": ["ok", "uncertain"]}
    ).to_csv(tmp_path / "scale.tsv", sep="\t", index=False)  # fmt: skip
    run_measure(
        SpeciesContext.from_sheet(tmp_path / "samples.tsv", "sp", structures=structures),
        labels_dir=tmp_path / "labels", predictions=tmp_path / "predictions.tsv",
        per_specimen_dir=tmp_path / "traits", species_table=tmp_path / "sp.csv",
        scale_table=tmp_path / "scale.tsv",
    )  # fmt: skip
    traits = pd.read_csv(tmp_path / "sp.csv").set_index("specimen")
    assert traits.loc["read", "calibration_method"] == "scalebar"
    # the same label map: millimetres where the bar was read, pixels where it was not
    assert traits.loc["read", "length_mm"] == pytest.approx(traits.loc["unsure", "length_px"] / 20)
    assert traits.loc["unsure", "calibration_method"] == "none"
    assert math.isnan(traits.loc["unsure", "length_mm"])
