"""Strict configuration: unknown keys at every level are errors naming the nearest valid key,
`resources` takes rule names only, and the student's `init_weights` loads strictly."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from traitrack.config import config_schema, load_config, validate_config
from traitrack.config_keys import UnknownKeyError, nearest, unknown_keys

ROOT = Path(__file__).resolve().parents[1]
MINIMAL = {"structures": [{"name": "head"}]}


def test_top_level_typo_names_the_nearest_section():
    with pytest.raises(UnknownKeyError, match=r"`selcet`: did you mean `select`\?"):
        validate_config({**MINIMAL, "selcet": {"k": 2}})


def test_every_unknown_key_is_listed_at_once_with_its_place():
    config = {
        "structures": [{"name": "head", "colr": [1, 2, 3]}],
        "registration": {"workng_size": 96},
        "self_training": {"student": {"chanels": [8, 16]}},
        "resources": {"propagte": {"threads": 2}, "measure": {"mem_mb": 10, "mem_gb": 3}},
        "zzzz": 1,
    }
    with pytest.raises(UnknownKeyError) as raised:
        validate_config(config, source="my.yaml")
    message = str(raised.value)
    assert message.startswith("my.yaml: ")
    for line in (
        "`structures[0].colr`: did you mean `colour`?",
        "`registration.workng_size`: did you mean `working_size`?",
        "`self_training.student.chanels`: did you mean `channels`?",
        "`resources.propagte`: did you mean `propagate`?",
        "`resources.measure.mem_gb`: did you mean `mem_mb`?",
    ):
        assert line in message
    assert re.search(r"`zzzz`: unknown key; valid keys here are \[.*'select'", message)


def test_resources_accept_rule_names_only():
    assert unknown_keys({"resources": {"measure": {"threads": 1}}}, config_schema()) == []
    problems = unknown_keys({"resources": {"meausre": {}}}, config_schema())
    assert problems == ["`resources.meausre`: did you mean `measure`?"]


def test_resources_rule_names_are_the_workflow_rules():
    """The schema's list is every rule of workflow/rules (a new rule must be added to it)."""
    rules = set()
    for path in (ROOT / "workflow" / "rules").glob("*.smk"):
        text = path.read_text()
        rules |= set(re.findall(r"^\s*(?:rule|checkpoint) (\w+):", text, flags=re.M))
        rules |= set(re.findall(r"^use rule \w+ as (\w+)", text, flags=re.M))
    listed = set(config_schema()["properties"]["resources"]["propertyNames"]["enum"])
    assert listed == rules


def test_load_config_names_the_file(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({**MINIMAL, "ordr": {"mode": "pairs"}}))
    with pytest.raises(
        UnknownKeyError, match=rf"(?s){re.escape(str(path))}: .*`ordr`: did you mean `order`"
    ):
        load_config(path)


def test_shipped_configs_are_valid():
    base = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    validate_config(base)
    for preset in [
        ROOT / "config" / "selftrain.yaml",
        *(ROOT / "config" / "datasets").glob("*.yaml"),
    ]:
        validate_config({**base, **(yaml.safe_load(preset.read_text()) or {})}, str(preset))


def test_nearest_gives_none_for_nothing_close():
    assert nearest("xyzzy", ["select", "order"]) is None


# ---- init_weights


def student(classes=3, channels=(8, 16)):
    from traitrack.selftrain.options import StudentOptions
    from traitrack.selftrain.student import build_network

    # the plain U-Net, whose size the channels set (the default encoder is EfficientNet-Lite)
    options = StudentOptions.from_config({"encoder": "unet", "channels": list(channels)})
    return build_network(classes, options), options


def test_init_weights_loads_a_matching_state_dict(tmp_path):
    torch = pytest.importorskip("torch")
    from traitrack.selftrain.init_weights import load_init_weights

    source, _ = student()
    path = tmp_path / "start.pt"
    torch.save(source.state_dict(), path)
    target, _ = student()
    load_init_weights(target, path)
    for key, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[key], value)


def test_init_weights_of_another_network_names_file_key_and_parameter(tmp_path):
    torch = pytest.importorskip("torch")
    from traitrack.selftrain.init_weights import InitWeightsError, load_init_weights

    other, _ = student(classes=5)
    path = tmp_path / "other.pt"
    torch.save({"state_dict": other.state_dict()}, path)
    network, _ = student(classes=3)
    with pytest.raises(InitWeightsError) as raised:
        load_init_weights(network, path)
    message = str(raised.value)
    assert str(path) in message and "self_training.student.init_weights" in message
    assert "other shapes" in message and "(5," in message

    smaller, _ = student(channels=(8, 16, 32))
    torch.save(smaller.state_dict(), path)
    with pytest.raises(InitWeightsError, match="unexpected keys"):
        load_init_weights(network, path)


def test_init_weights_pickle_is_refused_without_torchs_advice(tmp_path):
    torch = pytest.importorskip("torch")
    from traitrack.selftrain.init_weights import InitWeightsError

    network, options = student()
    path = tmp_path / "model.pt"
    torch.save(network, path)  # the whole module: needs code to unpickle
    with pytest.raises(InitWeightsError) as raised:
        from traitrack.selftrain.student import build_network

        build_network(
            3, type(options).from_config({"channels": [8, 16], "init_weights": str(path)})
        )
    message = str(raised.value)
    assert str(path) in message and "init_weights" in message
    assert "weights_only" not in message
    assert "torch.save(network.state_dict(), path)" in message


def test_init_weights_missing_or_garbage(tmp_path):
    torch = pytest.importorskip("torch")
    from traitrack.selftrain.init_weights import InitWeightsError, read_state_dict

    with pytest.raises(InitWeightsError, match="names no file"):
        read_state_dict(tmp_path / "absent.pt")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"these bytes are no torch file")
    with pytest.raises(InitWeightsError, match="cannot be read as a torch file"):
        read_state_dict(garbage)
    listed = tmp_path / "list.pt"
    torch.save([1, 2], listed)
    with pytest.raises(InitWeightsError, match="holds no state dict of tensors"):
        read_state_dict(listed)


@pytest.mark.workflow
def test_snakefile_rejects_a_misspelt_section_before_planning(tmp_path):
    from scratch_project import copy_project, snakemake

    workdir = copy_project(tmp_path, {"selcet": {"k": 2}, "resources": {"propagte": {}}})
    result = snakemake(workdir, "-n")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "`selcet`: did you mean `select`?" in output
    assert "`resources.propagte`: did you mean `propagate`?" in output
    assert "fast.yaml" in output
