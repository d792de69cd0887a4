"""Tables that read right everywhere: booleans, one column set per species, carried sheet
columns, the data dictionary and the figures' panels."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from traitrack.dictionary import column_names, dictionary_markdown
from traitrack.io import InputError, write_label_png, write_table
from traitrack.plots import structure_traits
from traitrack.species_context import SpeciesContext
from traitrack.stages.measure import PROVENANCE, run_measure
from traitrack.structures import Structure, StructureTable
from traitrack.traits import trait_columns

ROOT = Path(__file__).resolve().parents[1]
STRUCTURES = StructureTable(
    structures=(
        Structure("head", 1, (255, 0, 0)),
        Structure("legs", 2, (0, 255, 0), kind="thin"),
    )
)


def test_booleans_are_written_as_r_reads_them_and_pandas_reads_them_back(tmp_path):
    frame = pd.DataFrame(
        {
            "flagged": [True, False, True],
            "gappy": [True, None, False],
            "count": [1, 0, 1],
            "text": ["True", "x", "y"],
        }
    )
    write_table(tmp_path / "t.csv", frame)
    lines = (tmp_path / "t.csv").read_text().splitlines()
    assert lines[1:] == ["TRUE,TRUE,1,True", "FALSE,,0,x", "TRUE,FALSE,1,y"]
    back = pd.read_csv(tmp_path / "t.csv")
    assert back["flagged"].dtype == bool and back["flagged"].tolist() == [True, False, True]
    assert back["gappy"].tolist()[0] is True and back["count"].dtype == np.int64
    assert frame["flagged"].dtype == bool  # the caller's frame is left alone


def write_species(tmp_path: Path, extra: dict[str, list[str]] | None = None) -> Path:
    """Two specimens of one species, one with a pixel size and one without."""
    rows = []
    labels = np.zeros((40, 60), dtype=np.uint8)
    labels[10:30, 10:40] = 1
    labels[20, 42:58] = 2
    (tmp_path / "labels").mkdir()
    for name, px in (("sp_a", "10"), ("sp_b", "")):
        image = tmp_path / f"{name}.png"
        Image.fromarray(np.full((40, 60, 3), 120, dtype=np.uint8)).save(image)
        write_label_png(tmp_path / "labels" / f"{name}.png", labels)
        rows.append({"specimen": name, "species": "sp", "image": str(image), "px_per_mm": px})
    sheet = pd.DataFrame(rows)
    for column, values in (extra or {}).items():
        sheet[column] = values
    sheet.to_csv(tmp_path / "samples.tsv", sep="\t", index=False)
    pd.DataFrame(
        {
            "specimen": ["sp_a", "sp_b"],
            "source": ["prediction"] * 2,
            "engine": ["registration"] * 2,
            "random_weights": [False, False],
            "templates": ["t1", "t1"],
            "confidence_head": [0.9, 0.8],
            "confidence_legs": [0.5, 0.4],
        }
    ).to_csv(tmp_path / "predictions.tsv", sep="\t", index=False)
    return tmp_path / "samples.tsv"


def measure(tmp_path: Path, samples: Path, **options) -> None:
    run_measure(
        SpeciesContext.from_sheet(samples, "sp", structures=STRUCTURES),
        labels_dir=tmp_path / "labels",
        predictions=tmp_path / "predictions.tsv",
        per_specimen_dir=tmp_path / "per",
        species_table=tmp_path / "sp.csv",
        **options,
    )


def test_every_specimen_csv_has_the_species_columns_and_the_sheet_columns(tmp_path):
    samples = write_species(tmp_path, {"catalogue_number": ["MfN-001", "MfN-002"]})
    measure(tmp_path, samples, sheet_columns=["catalogue_number"])
    species = pd.read_csv(tmp_path / "sp.csv")
    assert list(species.columns[:3]) == ["specimen", "species", "catalogue_number"]
    assert {"length_mm", "length_px", "area_mm2"} <= set(species.columns)
    for name, number in (("sp_a", "MfN-001"), ("sp_b", "MfN-002")):
        own = pd.read_csv(tmp_path / "per" / f"{name}.csv")
        assert list(own.columns) == list(species.columns)
        assert set(own["catalogue_number"]) == {number}
    uncalibrated = pd.read_csv(tmp_path / "per" / "sp_b.csv")
    assert uncalibrated["length_mm"].isna().all() and uncalibrated["length_px"].notna().all()
    assert species["present"].dtype == bool and species["random_weights"].dtype == bool
    assert "TRUE" in (tmp_path / "sp.csv").read_text()


def test_a_missing_sheet_column_names_the_config_key(tmp_path):
    samples = write_species(tmp_path)
    with pytest.raises(InputError, match="traits.sheet_columns"):
        measure(tmp_path, samples, sheet_columns=["catalogue_number"])


def test_the_dictionary_covers_every_column_the_tables_have():
    for unit, px_per_mm in (("mm", 10.0), ("px", None)):
        written = [*PROVENANCE, *trait_columns(px_per_mm), "px_per_mm", "confidence"]
        documented = column_names(unit)
        assert set(written) <= set(documented), set(written) - set(documented)
        assert [c for c in documented if c in written] == written  # in the tables' order


def test_the_docs_page_is_the_dictionary():
    assert (ROOT / "docs" / "traits.md").read_text() == dictionary_markdown()


def test_a_blob_part_gets_no_empty_centreline_panel():
    table = pd.DataFrame(
        {
            "specimen": ["a", "a", "b", "b"],
            "species": ["s"] * 4,
            "structure": ["head", "legs", "head", "legs"],
            "present": [True, True, True, False],
            "length_mm": [1.0, 2.0, 1.1, np.nan],
            "centreline_length_mm": [np.nan, 5.0, np.nan, np.nan],
        }
    )
    traits = ["length_mm", "centreline_length_mm"]
    assert structure_traits(table, "head", traits) == ["length_mm"]
    assert structure_traits(table, "legs", traits) == traits


@pytest.mark.skipif(shutil.which("Rscript") is None, reason="R is not installed")
def test_base_r_reads_flags_as_logical_and_traits_as_numbers(tmp_path):
    samples = write_species(tmp_path)
    measure(tmp_path, samples)
    script = (
        f"t <- read.csv('{tmp_path / 'sp.csv'}'); "
        "cat(class(t$present), class(t$random_weights), class(t$length_px), "
        "class(t$length_mm), sum(t$present), sep=' ')"
    )
    result = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["logical", "logical", "numeric", "numeric", "4"]


def r_has_readr() -> bool:
    if shutil.which("Rscript") is None:
        return False
    probe = subprocess.run(
        ["Rscript", "-e", "quit(status = !requireNamespace('readr', quietly = TRUE))"],
        capture_output=True,
        timeout=120,
    )
    return probe.returncode == 0


@pytest.mark.skipif(not r_has_readr(), reason="R's readr is not installed")
def test_readr_types_flags_as_logical_and_traits_as_numbers(tmp_path):
    samples = write_species(tmp_path, {"catalogue_number": ["MfN-001", "MfN-002"]})
    measure(tmp_path, samples, sheet_columns=["catalogue_number"])
    script = (
        f"t <- readr::read_csv('{tmp_path / 'sp.csv'}', show_col_types = FALSE); "
        "cat(class(t$present), class(t$random_weights), class(t$length_px), "
        "class(t$length_mm), class(t$catalogue_number), sep=' ')"
    )
    result = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["logical", "logical", "numeric", "numeric", "character"]
