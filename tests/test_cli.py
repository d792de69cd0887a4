"""The traitrack command and the stages' errors on bad input."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from traitrack.cli import STAGES, build_parser, main
from traitrack.select import NoTemplatesError
from traitrack.species_context import SpeciesContext
from traitrack.stages.prepare import run_describe, run_select

ROOT = Path(__file__).resolve().parents[1]


def test_help_lists_every_stage(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    out = capsys.readouterr().out
    for stage in STAGES:
        assert stage in out


def test_module_runs_without_installation():
    result = subprocess.run(
        [sys.executable, "-m", "traitrack", "propagate", "--help"],
        cwd=ROOT / "workflow",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and "--species" in result.stdout


def _tiny_species(tmp_path, with_template):
    rows = ["specimen\tspecies\timage\tmask"]
    rng = np.random.default_rng(0)
    for i in range(4):
        image = tmp_path / f"i{i}.png"
        Image.fromarray(rng.integers(0, 255, (32, 40, 3), dtype=np.uint8)).save(image)
        mask = ""
        if with_template and i == 0:
            mask = tmp_path / "m0.png"
            template = np.zeros((32, 40), np.uint8)
            template[8:24, 10:30] = 1  # a template labels its part: an empty one is refused
            Image.fromarray(template).save(mask)
        rows.append(f"sp{i}\tgenus_species\t{image}\t{mask}")
    sheet = tmp_path / "samples.tsv"
    sheet.write_text("\n".join(rows) + "\n")
    config_path = tmp_path / "config.yaml"
    config_path.write_text(f"samples: {sheet}\nstructures: [{{name: head, value: 1}}]\n")
    return sheet, config_path


def test_species_without_templates_names_specimens_to_annotate(tmp_path):
    sheet, config_path = _tiny_species(tmp_path, with_template=False)
    from traitrack.config import load_config

    config = load_config(config_path)
    context = SpeciesContext.from_config({**config, "samples": str(sheet)}, "genus_species")
    run_describe(
        context,
        out=tmp_path / "d.npz",
        method="specimen",
        thumbnail_size=64,
        seed=0,
        registration=config["registration"],
    )
    with pytest.raises(NoTemplatesError, match="Annotate these specimens first") as error:
        run_select(context, descriptors=tmp_path / "d.npz", out=tmp_path / "s.tsv", k=5)
    assert "sp" in str(error.value) and "template_pool" in str(error.value)
    assert not (tmp_path / "s.tsv").exists()


def test_cli_stages_write_the_workflow_files(tmp_path, monkeypatch):
    _, config_path = _tiny_species(tmp_path, with_template=True)
    monkeypatch.chdir(tmp_path)
    for stage in ("describe", "select", "order"):
        assert main([stage, "--species", "genus_species", "--config", str(config_path)]) == 0
    assert (tmp_path / "results" / "genus_species" / "pseudovideo.json").exists()
    assert (tmp_path / "logs" / "order" / "genus_species.log").exists()


def test_cli_reports_bad_config_with_exit_code_2(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("structures: []\n")
    assert main(["describe", "--species", "x", "--config", str(bad)]) == 2
    assert str(bad) in capsys.readouterr().err


def test_finetuned_weights_need_the_sam2_engine(tmp_path):
    from traitrack.config import validate_config
    from traitrack.stages.propagate import engine_for_job

    config = validate_config({"structures": [{"name": "head"}]})
    assert engine_for_job("registration", config["registration"], 0).name == "registration"
    with pytest.raises(ValueError, match="engine: sam2"):
        engine_for_job("registration", config["registration"], 0, tmp_path / "weights.pt")
