"""The dataset presets in config/datasets/: each is a valid config fragment on its own.

They are layered over a user's config (``--configfile mine.yaml config/datasets/X.yaml``) and
read by the benchmarks, so a typo in one would otherwise surface only on real data.
"""

from pathlib import Path

import pytest
import yaml

from traitrack.config import validate_config
from traitrack.engines.registration.engine import RegistrationEngine
from traitrack.structures import StructureTable

PRESETS = sorted((Path(__file__).resolve().parents[1] / "config" / "datasets").glob("*.yaml"))


def test_presets_are_shipped():
    assert {p.stem for p in PRESETS} >= {"beetles-5part", "ants-4part"}


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.stem)
def test_preset_is_a_valid_config(preset):
    fragment = yaml.safe_load(preset.read_text())
    config = validate_config(fragment)
    structures = StructureTable.from_config(config)
    assert len(structures.names) == len(fragment["structures"])
    options = RegistrationEngine.from_options(config["registration"], seed=0).options.as_config()
    for key, value in (fragment.get("registration") or {}).items():
        assert options[key] == value
