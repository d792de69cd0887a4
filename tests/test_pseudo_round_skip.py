"""No wasted round: a pseudo-template round in which no target receives one is not run.

The example's first species (two hand-made templates, cheap registration settings) is
propagated once (round 1, two shards); with ``select.k`` 1 every target's place holds a
hand-made template, so ``pseudo_round`` builds no engine and round 1's shards stand for it,
named as the round's.
"""

import json

from test_shards import SPECIES, ordered, propagate_in_shards  # noqa: F401

from traitrack.propagation import EngineSpec
from traitrack.shards import shard_names
from traitrack.species_context import SpeciesContext
from traitrack.stages.propagate import run_gather
from traitrack.stages.pseudo import receives_pseudo_templates, run_pseudo_round


def test_only_a_pseudo_template_in_some_target_s_places_makes_a_round_worth_running():
    assigned = {"a": ("t1", "t2"), "b": ("t2", "t1")}
    assert not receives_pseudo_templates(assigned, ["a", "b"])  # chosen, but in no place
    assert not receives_pseudo_templates(assigned, [])
    assert receives_pseudo_templates({**assigned, "c": ("t1", "a")}, ["a"])


def test_a_round_without_pseudo_templates_is_round_one_under_the_round_s_name(
    ordered,  # noqa: F811
    tmp_path,
    monkeypatch,
):
    config, ordered_dir = ordered
    first = propagate_in_shards(config, ordered_dir, tmp_path / "round1", count=2, threads=1)

    def no_engine(self):
        raise AssertionError("a round that can change nothing must not build its engine")

    monkeypatch.setattr(EngineSpec, "build", no_engine)
    second = tmp_path / "round2"
    names = shard_names(2)
    for name in names:
        chosen = run_pseudo_round(
            SpeciesContext.from_config(config, SPECIES),
            labels_dir=first / "labels",
            qc_table=first / "qc.tsv",
            descriptors=ordered_dir / "descriptors.npz",
            pseudovideo=ordered_dir / "pseudovideo.json",
            self_training={"pseudo_share": 0.5, "keep_hand_made": 1, "allow_gt_targets": True},
            engine_spec=EngineSpec("registration", config["registration"], 0),
            qc=config["qc"],
            k=1,
            chunk_length=2,
            labels_out=second / "shards" / name / "labels",
            shard_out=second / "shards" / name / "shard.json",
            shard=name,
            first_shard=first / "shards" / name / "shard.json",
        )
        assert chosen  # there were pseudo-templates; none had a place
        one = json.loads((first / "shards" / name / "shard.json").read_text())
        two = json.loads((second / "shards" / name / "shard.json").read_text())
        assert two["engine"] == one["engine"] + "+pseudo"
        assert two["round_trips"] == one["round_trips"]
        assert [r["specimen"] for r in two["predictions"]] == [
            r["specimen"] for r in one["predictions"]
        ]
        for row_one, row_two in zip(one["predictions"], two["predictions"]):
            assert row_two["pseudo_templates"] == ""
            kept = {k: v for k, v in row_two.items() if k not in ("engine", "pseudo_templates")}
            # as JSON text: NaN confidences compare equal
            assert json.dumps(kept) == json.dumps(
                {k: v for k, v in row_one.items() if k != "engine"}
            )
    run_gather(
        SpeciesContext.from_config(config, SPECIES),
        shards=[second / "shards" / name / "shard.json" for name in names],
        shard_labels=[second / "shards" / name / "labels" for name in names],
        qc=config["qc"],
        labels_dir=second / "labels",
        predictions_out=second / "predictions.tsv",
        qc_out=second / "qc.tsv",
        coco_out=second / "masks.coco.json",
    )
    labels = sorted((first / "labels").glob("*.png"))
    assert labels
    for png in labels:
        assert (second / "labels" / png.name).read_bytes() == png.read_bytes()
    qc_one, qc_two = ((f / "qc.tsv").read_text() for f in (first, second))
    assert "+pseudo" in qc_two  # the engine column names the round
    assert qc_two.replace("registration+pseudo", "registration") == qc_one
