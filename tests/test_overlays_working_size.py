"""Overlays of photographs over the working size are drawn reduced."""

from __future__ import annotations

import numpy as np
from PIL import Image

from traitrack.io import write_label_png
from traitrack.species_context import SpeciesContext
from traitrack.stages.report import run_overlays
from traitrack.structures import Structure, StructureTable


def test_a_large_photograph_is_drawn_at_the_working_size(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # sheet paths are relative to the working directory
    Image.new("RGB", (400, 300), (120, 120, 120)).save(tmp_path / "a.jpg")
    labels = np.zeros((300, 400), np.uint8)
    labels[100:200, 150:250] = 1
    (tmp_path / "labels").mkdir()
    write_label_png(tmp_path / "labels" / "a.png", labels)
    sheet = tmp_path / "samples.tsv"
    sheet.write_text("specimen\tspecies\timage\tmask\na\ts\ta.jpg\t\n")
    structures = StructureTable(structures=(Structure("head", 1, (200, 0, 0)),))
    sizes = {}
    for megapixels in (0, 0.03):
        out = tmp_path / f"overlays_{megapixels}"
        context = SpeciesContext.from_sheet(
            sheet, "s", structures=structures, working_megapixels=megapixels
        )
        run_overlays(context, labels_dir=tmp_path / "labels", out_dir=out)
        with Image.open(out / "a.png") as overlay:
            sizes[megapixels] = overlay.size
    assert sizes[0][0] >= 400
    assert sizes[0.03][0] < 400  # 200 x 150 and the legend
