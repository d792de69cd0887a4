"""A template's label map at its photograph's size, without decoding the photograph."""

from __future__ import annotations

import numpy as np
from PIL import Image

from traitrack import specimen_store
from traitrack.io import read_mask
from traitrack.samples import Specimen
from traitrack.structures import Structure, StructureTable


def test_template_labels_come_at_the_photographs_size_from_its_header(tmp_path, monkeypatch):
    structures = StructureTable(structures=(Structure("head", 1, (200, 0, 0), rgb=(200, 0, 0)),))
    photograph = tmp_path / "t.jpg"
    Image.new("RGB", (120, 90), (90, 90, 90)).save(photograph)
    mask = np.zeros((90, 120, 3), np.uint8)
    mask[20:40, 30:70] = (200, 0, 0)
    Image.fromarray(mask).save(tmp_path / "t.png")
    specimen = Specimen(
        specimen="t", species="s", image=str(photograph), mask=str(tmp_path / "t.png")
    )
    store = specimen_store.SpecimenStore([specimen], structures, working_megapixels=0.001)

    def no_decoding(path):
        raise AssertionError(f"{path} decoded")

    monkeypatch.setattr(specimen_store, "read_image", no_decoding)
    monkeypatch.setattr(specimen_store, "read_working_image", no_decoding)
    labels = store.template_labels("t")
    assert labels.shape == (90, 120)
    np.testing.assert_array_equal(labels, read_mask(tmp_path / "t.png", structures))
