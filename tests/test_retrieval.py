"""Trait-based retrieval: the most similar part first, invariance of the aligned shape, the rank
combination, the stage's table and contact sheet, and self-retrieval on the shared ants."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image
from skimage import draw
from skimage.transform import rotate

from traitrack.io import InputError, write_label_png
from traitrack.retrieval import (
    RetrievalError,
    aligned_part,
    best_flip_iou,
    combine_by_rank,
    part_profile,
    score_candidates,
)
from traitrack.stages.retrieve import pool_species, run_retrieve
from traitrack.structures import Structure, StructureTable

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
STRUCTURES = StructureTable(structures=(Structure("pronotum", 1, (0, 200, 0), value=1),))


def specimen(shape: str, colour=(40, 120, 40), angle: float = 0.0, size: int = 200):
    """A photograph and the mask of one part: an ellipse, a rounder ellipse, or a cross."""
    image = np.full((size, size, 3), 220, dtype=np.uint8)
    mask = np.zeros((size, size), dtype=bool)
    if shape == "ellipse":
        mask[draw.ellipse(100, 100, 30, 60)] = True
    elif shape == "rounder":
        mask[draw.ellipse(100, 100, 40, 52)] = True
    elif shape == "cross":
        mask[90:110, 40:160] = True
        mask[40:160, 90:110] = True
    mask[draw.disk((100, 100), 6)] = False if shape == "cross" else mask[100, 100]
    image[mask] = colour
    image[mask & (np.indices(mask.shape)[1] % 8 < 4)] //= 2  # stripes: something for HOG
    if angle:
        image = rotate(image, angle, order=0, mode="edge", preserve_range=True).astype(np.uint8)
        mask = rotate(mask.astype(float), angle, order=0) > 0.5
    return image, mask


def test_a_turned_copy_is_most_similar_and_a_cross_least():
    query = part_profile("query", *specimen("ellipse"))
    candidates = [
        part_profile("cross", *specimen("cross", colour=(150, 60, 20))),
        part_profile("rounder", *specimen("rounder")),
        part_profile("turned", *specimen("ellipse", angle=37)),
    ]
    scores = score_candidates(query, candidates)
    similar = combine_by_rank(scores, "similar")
    assert similar["specimen"].tolist() == ["turned", "rounder", "cross"]
    assert similar["rank"].tolist() == [1, 2, 3]
    assert combine_by_rank(scores, "dissimilar")["specimen"].tolist() == [
        "cross",
        "rounder",
        "turned",
    ]
    by_name = scores.set_index("specimen")
    assert by_name.loc["turned", "shape_iou"] > 0.9
    for score in ("shape_iou", "appearance_similarity"):
        assert by_name[score].idxmax() == "turned" and by_name[score].idxmin() == "cross"
    assert by_name["trait_distance"].idxmax() == "cross"


def test_the_aligned_shape_forgets_turn_and_scale():
    image, mask = specimen("ellipse")
    shape, _ = aligned_part(image, mask)
    turned_image, turned_mask = specimen("ellipse", angle=123)
    small = mask[::2, ::2]
    assert best_flip_iou(shape, aligned_part(turned_image, turned_mask)[0]) > 0.9
    assert best_flip_iou(shape, aligned_part(image[::2, ::2], small)[0]) > 0.9
    cross_image, cross_mask = specimen("cross")
    assert best_flip_iou(shape, aligned_part(cross_image, cross_mask)[0]) < 0.6


def test_ranks_combine_by_their_median_and_an_unknown_order_is_refused():
    scores = pd.DataFrame(
        {
            "specimen": ["a", "b", "c"],
            "trait_distance": [9.0, 1.0, 2.0],  # a is worst by traits
            "shape_iou": [0.9, 0.5, 0.4],  # but best by shape
            "appearance_similarity": [0.9, 0.8, 0.1],  # and by appearance
        }
    )
    table = combine_by_rank(scores)
    assert table["specimen"].tolist() == ["a", "b", "c"]
    assert table["combined_rank"].tolist() == [1.0, 2.0, 3.0]
    with pytest.raises(RetrievalError, match="retrieve.order"):
        combine_by_rank(scores, "nearest")


def test_an_empty_part_is_refused():
    image, mask = specimen("ellipse")
    with pytest.raises(RetrievalError, match="empty"):
        part_profile("none", image, np.zeros_like(mask))


def test_pools():
    assert pool_species("species", "b", ["a", "b"]) == ["b"]
    assert pool_species("all", None, ["a", "b"]) == ["a", "b"]
    assert pool_species(["b"], None, ["a", "b"]) == ["b"]
    with pytest.raises(InputError, match="retrieve.pool"):
        pool_species("species", None, ["a", "b"])
    with pytest.raises(InputError, match="retrieve.pool"):
        pool_species(["z"], "a", ["a", "b"])


def test_the_stage_writes_a_ranked_table_with_qc_and_a_contact_sheet(tmp_path):
    rows = []
    shapes = {"q": "ellipse", "t": "ellipse", "r": "rounder", "c": "cross", "x": "none"}
    (tmp_path / "sp" / "labels").mkdir(parents=True)
    for name, shape in shapes.items():
        image, mask = specimen(shape if shape != "none" else "ellipse", angle=25 * len(rows))
        if shape == "none":
            mask[:] = False
        Image.fromarray(image).save(tmp_path / f"{name}.png")
        write_label_png(tmp_path / "sp" / "labels" / f"{name}.png", mask.astype(np.uint8))
        rows.append({"specimen": name, "species": "sp", "image": str(tmp_path / f"{name}.png")})
    rows[0]["mask"] = str(tmp_path / "sp" / "labels" / "q.png")
    pd.DataFrame(rows).to_csv(tmp_path / "samples.tsv", sep="\t", index=False)
    pd.DataFrame(
        {
            "specimen": ["t", "r", "c", "x"],
            "qc_rank": [0.5, 1.0, 0.25, 0.75],
            "qc_score": 0.8,
            "flagged": [False, False, True, False],
        }
    ).to_csv(tmp_path / "sp" / "qc.tsv", sep="\t", index=False)
    table = run_retrieve(
        tmp_path / "samples.tsv",
        STRUCTURES,
        "pronotum",
        {"sp": tmp_path / "sp"},
        tmp_path / "out.tsv",
        tmp_path / "out.png",
        query_specimen="q",
    )
    written = pd.read_csv(tmp_path / "out.tsv", sep="\t")
    assert written["specimen"].tolist() == ["t", "r", "c"] == table["specimen"].tolist()
    assert set(written["query"]) == {"q"} and set(written["source"]) == {"prediction"}
    assert written["flagged"].tolist() == [False, False, True]
    for column in ("trait_distance", "shape_iou", "appearance_similarity", "combined_rank"):
        assert written[column].notna().all()
    with Image.open(tmp_path / "out.png") as sheet:
        assert sheet.size[0] > 600
    # the same query as a photograph with its mask, searched in a named species
    by_photo = run_retrieve(
        tmp_path / "samples.tsv",
        STRUCTURES,
        "pronotum",
        {"sp": tmp_path / "sp"},
        tmp_path / "photo.tsv",
        tmp_path / "photo.png",
        query_image=tmp_path / "q.png",
        query_mask=tmp_path / "sp" / "labels" / "q.png",
        pool=["sp"],
    )
    assert by_photo["specimen"].tolist()[:3] == ["q", "t", "r"]


@pytest.mark.realdata
@pytest.mark.skipif(not (DATA / "ants-4part").exists(), reason="needs ../shared/data")
def test_a_perturbed_copy_of_a_shared_ant_comes_first_among_50():
    spec = importlib.util.spec_from_file_location("bench", ROOT / "benchmarks" / "retrieval.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    from traitrack.io import read_image, read_mask
    from traitrack.structures import StructureTable as Table

    config = yaml.safe_load((ROOT / "config" / "datasets" / "ants-4part.yaml").read_text())
    structures = Table.from_config(config)
    head = next(s.label for s in structures if s.name == "head")
    names = sorted(p.stem for p in (DATA / "ants-4part" / "images").glob("*.png"))[::4][:60]
    profiles, parts = {}, {}
    for name in names:
        image = read_image(DATA / "ants-4part" / "images" / f"{name}.png")
        labels = read_mask(DATA / "ants-4part" / "masks" / f"{name}.png", structures)
        parts[name] = (image, labels == head)
        profiles[name] = part_profile(name, image, labels == head)
    rng = np.random.default_rng(1)
    firsts = 0
    queries = names[:10]
    for query in queries:
        others = [profiles[n] for n in names if n != query][:49]
        copy = part_profile("copy", *bench.perturb(*parts[query], rng))
        table = combine_by_rank(score_candidates(profiles[query], [*others, copy]))
        firsts += table["specimen"].iloc[0] == "copy"
    assert firsts / len(queries) >= 0.95


def test_the_command_line_ranks_a_photograph_against_a_species(tmp_path, monkeypatch):
    from traitrack.cli import main

    test_the_stage_writes_a_ranked_table_with_qc_and_a_contact_sheet(tmp_path)
    (tmp_path / "results").symlink_to(".")  # the stage's files stand where results/ would
    monkeypatch.chdir(tmp_path)
    config = {
        "samples": str(tmp_path / "samples.tsv"),
        "structures": [{"name": "pronotum", "value": 1}],
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    status = main(
        [
            "retrieve",
            "--structure",
            "pronotum",
            "--image",
            str(tmp_path / "t.png"),
            "--mask",
            str(tmp_path / "sp" / "labels" / "t.png"),
            "--pool",
            "sp",
            "--order",
            "dissimilar",
            "--config",
            str(tmp_path / "config.yaml"),
        ]
    )
    assert status == 0
    table = pd.read_csv(tmp_path / "retrieval" / "t" / "pronotum.tsv", sep="\t")
    assert table["specimen"].iloc[0] == "c" and table["specimen"].iloc[-1] == "t"
    assert (tmp_path / "retrieval" / "t" / "pronotum.png").exists()
