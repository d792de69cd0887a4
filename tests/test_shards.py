"""Shards of a species: the split, and the same outputs whether a species is one job or many.

The stage-level tests run the example's first species through the stages (cheap registration
settings, chunks of 2 targets) once as one shard in one process and once as shards with two
worker processes each; the gathered files must be the same bytes.
"""

import filecmp
import json
from pathlib import Path

import pytest
from scratch_project import FAST_CONFIG

from traitrack.config import validate_config
from traitrack.order import Chunk
from traitrack.propagation import EngineSpec
from traitrack.shards import parse_shard, shard_count, shard_name, shard_names, split_chunks
from traitrack.species_context import SpeciesContext
from traitrack.structures import StructureTable

ROOT = Path(__file__).resolve().parents[1]
SPECIES = "carabus_synth"


def chunks_of(*sizes):
    names = iter(range(sum(sizes)))
    return [Chunk(["t"], [f"s{next(names)}" for _ in range(size)]) for size in sizes]


def test_shard_count_follows_the_targets():
    assert shard_count(0, 200) == 1
    assert shard_count(200, 200) == 1
    assert shard_count(201, 200) == 2
    assert shard_count(10_000, 200) == 50
    with pytest.raises(ValueError, match="shard.size"):
        shard_count(10, 0)


def test_shard_names_round_trip():
    assert shard_names(3) == ["1-of-3", "2-of-3", "3-of-3"]
    assert parse_shard(shard_name(2, 3)) == (2, 3)
    for bad in ("0-of-3", "4-of-3", "2of3", "a-of-b"):
        with pytest.raises(ValueError):
            parse_shard(bad)


@pytest.mark.parametrize(
    "sizes, count",
    [
        ((16,) * 13, 4),
        ((3, 9, 1, 16, 16, 2, 7), 3),
        ((5, 5), 2),
        ((2,) * 5, 2),
        ((1,), 3),
        ((), 2),
        ((16,) * 625, 50),
    ],
)
def test_split_is_whole_consecutive_chunks_in_order(sizes, count):
    chunks = chunks_of(*sizes)
    split = split_chunks(chunks, count)
    assert len(split) == count
    assert [c for shard in split for c in shard] == chunks
    if len(chunks) >= count:
        assert all(split), "every shard gets a chunk while there are enough"
    assert split_chunks(chunks, count) == split  # the same in every job


def test_split_balances_targets():
    split = split_chunks(chunks_of(*(16,) * 625), 50)
    targets = [sum(len(c.targets) for c in shard) for shard in split]
    assert sum(targets) == 10_000 and max(targets) - min(targets) <= 16


@pytest.fixture(scope="module")
def ordered(tmp_path_factory):
    """Descriptors, selection and a pseudo-video of 2-target chunks of one example species."""
    from traitrack.stages.prepare import run_describe, run_order, run_select

    config = validate_config(
        {
            **yaml_config(),
            **FAST_CONFIG,
            "samples": str(sample_sheet(tmp_path_factory.mktemp("sheet"))),
        }
    )
    out = tmp_path_factory.mktemp("ordered")
    context = SpeciesContext.from_config(config, SPECIES)
    run_describe(
        context,
        out=out / "descriptors.npz",
        method=config["describe"]["method"],
        thumbnail_size=config["describe"]["thumbnail_size"],
        seed=0,
        registration=config["registration"],
    )
    run_select(context, descriptors=out / "descriptors.npz", out=out / "selection.tsv", k=1)
    run_order(
        context,
        selection=out / "selection.tsv",
        descriptors=out / "descriptors.npz",
        out=out / "pseudovideo.json",
        mode="chain",
        chunk_length=2,
    )
    return config, out


def yaml_config():
    import yaml

    return yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


def sample_sheet(folder):
    """The example's sheet with absolute paths, so the stages run from any directory."""
    import pandas as pd

    sheet = pd.read_csv(ROOT / "config" / "samples.tsv", sep="\t", dtype=str, keep_default_na=False)
    for column in ("image", "mask", "gt_mask"):
        sheet[column] = [str(ROOT / p) if p else "" for p in sheet[column]]
    path = folder / "samples.tsv"
    sheet.to_csv(path, sep="\t", index=False)
    return path


def propagate_in_shards(config, ordered_dir, out, count, threads):
    from traitrack.stages.propagate import run_gather, run_propagate

    context = SpeciesContext.from_config(config, SPECIES)
    names = shard_names(count)
    for name in names:
        run_propagate(
            context,
            pseudovideo=ordered_dir / "pseudovideo.json",
            engine_spec=EngineSpec("registration", config["registration"], 0, threads=threads),
            qc=config["qc"],
            labels_dir=out / "shards" / name / "labels",
            shard_out=out / "shards" / name / "shard.json",
            shard=name,
        )
    run_gather(
        context,
        shards=[out / "shards" / name / "shard.json" for name in names],
        shard_labels=[out / "shards" / name / "labels" for name in names],
        qc=config["qc"],
        labels_dir=out / "labels",
        predictions_out=out / "predictions.tsv",
        qc_out=out / "qc.tsv",
        coco_out=out / "masks.coco.json",
    )
    return out


def gathered_files(out):
    return ["predictions.tsv", "qc.tsv", "masks.coco.json"] + [
        f"labels/{png.name}" for png in sorted((out / "labels").glob("*.png"))
    ]


def test_shards_and_workers_give_the_same_bytes_as_one_job(ordered, tmp_path):
    config, ordered_dir = ordered
    one = propagate_in_shards(config, ordered_dir, tmp_path / "one", count=1, threads=1)
    three = propagate_in_shards(config, ordered_dir, tmp_path / "three", count=3, threads=2)
    files = gathered_files(one)
    assert len(files) == 3 + 12
    match, mismatch, errors = filecmp.cmpfiles(one, three, files, shallow=False)
    assert not mismatch and not errors, (mismatch, errors)
    # each shard held whole chunks, and every target is in exactly one shard
    video = json.loads((ordered_dir / "pseudovideo.json").read_text())
    per_shard = [
        json.loads((three / "shards" / name / "shard.json").read_text()) for name in shard_names(3)
    ]
    assert [d["chunks"] for d in per_shard] and all(d["chunks"] for d in per_shard)
    assert sum(d["chunks"] for d in per_shard) == len(video["chunks"])
    shard_targets = [r["specimen"] for d in per_shard for r in d["predictions"]]
    assert shard_targets == [t for c in video["chunks"] for t in c["targets"]]


@pytest.mark.sam2
@pytest.mark.filterwarnings("ignore:sam2 engine built with RANDOM")
def test_sam2_encodes_each_image_of_a_shard_once(ordered):
    """A shard's engine encodes its templates once and each of its targets once, QC included."""
    pytest.importorskip("sam2")
    from traitrack.order import read_pseudovideo
    from traitrack.propagation import EngineSpec, predict_chunks
    from traitrack.samples import read_sample_sheet, specimens

    config, ordered_dir = ordered
    options = {"model_size": "tiny", "image_size": 128, "allow_random_weights": True}
    spec = EngineSpec("sam2", {**options, "device": "cpu"}, seed=0, threads=1)
    _, chunks = read_pseudovideo(ordered_dir / "pseudovideo.json")
    mine = split_chunks(chunks, 2)[0]
    engine = spec.build()
    members = specimens(read_sample_sheet(config["samples"]))
    results = list(
        predict_chunks(spec, engine, members, mine, StructureTable.from_config(config), 1)
    )
    targets = [t for chunk in mine for t in chunk.targets]
    templates = {t for chunk in mine for t in chunk.templates}
    assert [r.prediction.specimen for r in results] == targets
    assert engine.features.stats.encoded == len(templates) + len(targets)


def test_engine_spec_holds_plain_values():
    """Scripts pass Snakemake's input files and threads as they are; the spec, pickled into
    worker processes, keeps a plain str and int."""

    class InputFile(str):  # as Snakemake's input files: a str subclass
        pass

    spec = EngineSpec("sam2", {}, 0, InputFile("tuned.pt"), "2")
    assert type(spec.finetuned_weights) is str and spec.finetuned_weights == "tuned.pt"
    assert spec.threads == 2
    assert EngineSpec("registration", {}, 0, None).finetuned_weights == ""
