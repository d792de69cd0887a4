"""Figures and tables for the report (traitrack.plots), on small hand-made trait tables."""

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from traitrack.io import InputError
from traitrack.plots import (
    distribution_traits,
    present_parts,
    write_distribution_plots,
    write_table_html,
)


def trait_table(mm=True):
    rows = []
    for species, scale in (("a_one", 1.0), ("b_two", 2.0)):
        for i in range(4):
            for structure in ("head", "legs"):
                rows.append(
                    {
                        "specimen": f"{species}_{i}",
                        "species": species,
                        "source": "template" if i == 0 else "prediction",
                        "structure": structure,
                        "present": i != 3,
                        "area_px": 100.0 * scale + i,
                        "area_mm2": (scale + i / 10) if mm else np.nan,
                        "length_mm": (2 * scale) if mm else np.nan,
                    }
                )
    return pd.DataFrame(rows)


def test_traits_in_mm_first_then_px():
    assert distribution_traits(trait_table()) == ["area_mm2", "length_mm"]
    assert distribution_traits(trait_table(mm=False)) == ["area_px"]


def test_absent_parts_are_left_out_whatever_the_reader_made_of_the_flag():
    table = trait_table()
    table["present"] = table["present"].map({True: "True", False: "False"})
    assert len(present_parts(table)) == 12


def test_one_png_per_structure_and_the_same_bytes_twice(tmp_path):
    csv = tmp_path / "traits.csv"
    trait_table().to_csv(csv, index=False)
    first = write_distribution_plots(csv, tmp_path / "one")
    second = write_distribution_plots(csv, tmp_path / "two")
    assert [p.name for p in first] == ["head.png", "legs.png"]
    for a, b in zip(first, second):
        assert a.read_bytes() == b.read_bytes()
        width, height = Image.open(a).size
        assert width > 300 and height > 100


def test_a_table_without_structures_is_refused_with_its_name(tmp_path):
    csv = tmp_path / "traits.csv"
    trait_table().drop(columns="structure").to_csv(csv, index=False)
    with pytest.raises(InputError, match="traits.csv.*structure"):
        write_distribution_plots(csv, tmp_path / "out")


def test_tables_become_one_html_page(tmp_path):
    for species in ("a_one", "b_two"):
        pd.DataFrame({"specimen": [f"{species}_1"], "qc_score": [0.25], "flagged": [True]}).to_csv(
            tmp_path / f"{species}.tsv", sep="\t", index=False
        )
    out = tmp_path / "report" / "qc.html"
    write_table_html([tmp_path / "a_one.tsv", tmp_path / "b_two.tsv"], out, "QC <round trip>")
    page = out.read_text()
    assert "a_one_1" in page and "b_two_1" in page and "0.250" in page
    assert "QC &lt;round trip&gt;" in page
