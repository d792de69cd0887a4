"""The workflow on a few real specimens from ../shared/data (skipped when the folder is absent).

Beetles (RGB colour-coded masks) and ants (label masks whose background is 6), each as one
"species" with two templates and three targets, through Snakemake with a config of their own,
as a user with their own images would run it.
"""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data"
SNAKEMAKE = Path(sys.executable).with_name("snakemake")

pytestmark = [pytest.mark.realdata, pytest.mark.workflow]

PRESETS = ROOT / "config" / "datasets"
SETS = {
    "beetles-5part": {"names": ["0000", "0001", "0002", "0003", "0004"], "floor": 0.3},
    # Five ants of different genera: two templates cannot carry a third genus, so no quality
    # floor; here the run must work and read background 6 right.
    "ants-4part": {"names": None, "floor": None},  # names None: the first five by name
}


@pytest.mark.parametrize("dataset", sorted(SETS))
def test_real_specimens_end_to_end(tmp_path, dataset):
    folder = DATA / dataset
    if not folder.is_dir():
        pytest.skip(f"{folder} not present")
    spec = SETS[dataset]
    names = spec["names"] or sorted(p.stem for p in (folder / "images").glob("*.png"))[:5]
    rows = []
    for position, name in enumerate(names):
        image, mask = folder / "images" / f"{name}.png", folder / "masks" / f"{name}.png"
        rows.append(
            {
                "specimen": f"s{name}".replace("-", "_"),
                "species": "real",
                "image": str(image.resolve()),
                "mask": str(mask.resolve()) if position < 2 else "",
                "gt_mask": str(mask.resolve()),
            }
        )
    pd.DataFrame(rows).to_csv(tmp_path / "samples.tsv", sep="\t", index=False)
    config = {"samples": str(tmp_path / "samples.tsv"), "select": {"k": 2}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    preset = PRESETS / f"{dataset}.yaml"  # structures, background and engine options
    structures = yaml.safe_load(preset.read_text())["structures"]
    result = subprocess.run(
        [
            str(SNAKEMAKE),
            "--cores",
            "2",
            "--snakefile",
            str(ROOT / "workflow" / "Snakefile"),
            "--directory",
            str(tmp_path),
            "--configfile",
            str(tmp_path / "config.yaml"),
            str(preset),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    evaluation = pd.read_csv(tmp_path / "results" / "evaluation.tsv", sep="\t")
    assert len(evaluation) == 3
    if spec["floor"] is not None:
        assert evaluation["miou"].mean() > spec["floor"]
    traits = pd.read_csv(tmp_path / "results" / "traits.csv")
    # no pixel size in the sheet: only a scale bar read `ok` gives millimetres
    calibrated = traits["calibration_method"].eq("scalebar")
    assert set(traits["calibration_method"]) <= {"scalebar", "none"}
    assert "area_px" in traits.columns and ("area_mm2" in traits.columns) == calibrated.any()
    assert set(traits["structure"]) == {s["name"] for s in structures}
    templates = traits[traits["source"] == "template"]
    assert templates["present"].all()  # every part of both templates read from its mask
    assert (templates["area_px"] > 0).all()
