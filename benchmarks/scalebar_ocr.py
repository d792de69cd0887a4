"""Which OCR reads scale-bar labels: RapidOCR against Tesseract on the truth table's bars.

The crop is the hand-measured bar (tests/data/scalebar_truth.tsv) with 18 rows above and below
and 12 px each side, enlarged 4x (Lanczos), so the bar detector plays no part. Each OCR's text
goes through the same parser (traitrack.scalebar.parse); a label counts as read right when its
length in mm is the printed one. Tesseract is the Debian package's command line
(`apt-get install tesseract-ocr`, page segmentation 11, sparse text); it is skipped when absent.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/scalebar_ocr.py

Images: AntWeb (www.antweb.org), CC BY 4.0.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))

from traitrack.scalebar.parse import parse_label  # noqa: E402

IMAGES = ROOT.parent / "shared" / "data" / "ants-4part" / "images"
TRUTH = ROOT / "tests" / "data" / "scalebar_truth.tsv"


def crop(row) -> Image.Image:
    """The truth bar's surroundings, enlarged 4x."""
    image = Image.open(IMAGES / f"{row.specimen}.png").convert("RGB")
    y = int(row.bar_row_px)
    box = (max(0, int(row.left_px) - 12), max(0, y - 18), min(256, int(row.right_px) + 12))
    region = image.crop((*box, min(256, y + 19)))
    return region.resize((region.width * 4, region.height * 4), Image.LANCZOS)


def rapidocr_text(image: Image.Image) -> str:
    """RapidOCR's lines, joined."""
    from rapidocr_onnxruntime import RapidOCR

    engine = rapidocr_text.__dict__.setdefault(
        "engine", RapidOCR(intra_op_num_threads=1, inter_op_num_threads=1)
    )
    results, _ = engine(np.asarray(image), use_cls=False)
    return " ".join(text for _, text, _ in results or [])


def tesseract_text(image: Image.Image) -> str:
    """Tesseract's words, joined."""
    with tempfile.NamedTemporaryFile(suffix=".png") as handle:
        image.save(handle.name)
        result = subprocess.run(
            ["tesseract", handle.name, "-", "--psm", "11"], capture_output=True, text=True
        )
    return " ".join(result.stdout.split())


def main() -> None:
    """Print how many legible labels each OCR reads right, and its time."""
    truth = pd.read_csv(TRUTH, sep="\t", comment="#")
    legible = truth[truth.legible.eq("yes")]
    readers = {"rapidocr-onnxruntime 1.4.4": rapidocr_text}
    if shutil.which("tesseract"):
        readers["tesseract (Debian)"] = tesseract_text
    rows = []
    for name, reader in readers.items():
        right, wrong, seconds = 0, 0, 0.0
        for row in legible.itertuples():
            image = crop(row)
            start = time.perf_counter()
            label = parse_label(reader(image))
            seconds += time.perf_counter() - start
            if label is not None and label.unit_read and label.value_mm == row.value_mm:
                right += 1
            elif label is not None and label.unit_read:
                wrong += 1
        rows.append(
            {
                "OCR": name,
                "read right": f"{right}/{len(legible)}",
                "read wrong (with a unit)": wrong,
                "seconds per label": round(seconds / len(legible), 2),
            }
        )
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
