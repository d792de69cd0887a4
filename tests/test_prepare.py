"""describe -> select -> order, the sample sheet and the config loader."""

import numpy as np
import pandas as pd
import pytest

from traitrack.config import load_config, validate_config
from traitrack.hog import hog_descriptor, letterbox_grey
from traitrack.io import InputError
from traitrack.order import build_chunks, read_pseudovideo, write_pseudovideo
from traitrack.samples import read_sample_sheet, template_pool
from traitrack.select import nearest_templates, rank_annotation_candidates

STRUCTURES = [{"name": "head", "rgb": [200, 0, 0]}]


def test_letterbox_keeps_aspect_and_pads_with_border_colour():
    image = np.full((20, 40, 3), 200, np.uint8)
    image[5:15, 10:30] = 0
    thumb = letterbox_grey(image, 32)
    assert thumb.shape == (32, 32)
    assert np.isclose(thumb[0, 0], thumb[16, 1], atol=0.02)  # pad equals the border grey
    assert thumb[16, 16] < 0.1  # dark centre kept


def test_hog_descriptor_is_unit_length_and_separates_shapes():
    bar = np.full((64, 64, 3), 255, np.uint8)
    bar[10:54, 28:36] = 0
    bar_shifted = np.roll(bar, 2, axis=1)
    cross = bar.copy()
    cross[28:36, 10:54] = 0
    a, b, c = (hog_descriptor(x) for x in (bar, bar_shifted, cross))
    assert np.isclose(np.linalg.norm(a), 1.0, atol=1e-5)
    assert np.linalg.norm(a - b) < np.linalg.norm(a - c)


def test_nearest_templates_ranks_and_caps_k():
    targets = np.array([[0.0, 0.0], [10.0, 10.0]])
    templates = np.array([[1.0, 0.0], [9.0, 10.0], [5.0, 5.0]])
    table = nearest_templates(["t1", "t2"], targets, ["a", "b", "c"], templates, k=5)
    assert len(table) == 6  # k capped at the number of templates
    first = table[table["rank"] == 1].set_index("target")["template"]
    assert first["t1"] == "a" and first["t2"] == "b"
    assert table[table.target == "t1"]["template"].tolist() == ["a", "c", "b"]


def _cluster_and_outlier():
    """A dense group of 6 around (0, 0), a group of 4 around (10, 0), one outlier at (0, 25)."""
    dense = [(0.0, 0.0), (0.5, 0.0), (-0.5, 0.0), (0.0, 0.5), (0.0, -0.5), (0.3, 0.3)]
    small = [(10.0, 0.0), (10.5, 0.0), (9.5, 0.0), (10.0, 0.5)]
    names = [f"d{i}" for i in range(6)] + [f"s{i}" for i in range(4)] + ["outlier"]
    return names, np.array(dense + small + [(0.0, 25.0)])


def test_annotation_ranking_picks_group_representatives_before_an_outlier():
    names, vectors = _cluster_and_outlier()
    ranking = rank_annotation_candidates(names, vectors, vectors[:0])
    order = ranking["specimen"].tolist()
    assert ranking["rank"].tolist() == list(range(1, 12)) and sorted(order) == sorted(names)
    # nothing annotated: the medoid (in the dense group, on its side towards the small group)
    assert order[0] == "d1"
    assert order[1] == "s0"  # then the small group's centre, which serves 4 specimens ...
    assert order[2] == "outlier"  # ... before the outlier, which serves only itself
    # (k-center would have taken the outlier second: it is the farthest from d1)
    assert np.isnan(ranking["coverage_distance"].iloc[0])
    assert np.allclose(ranking["coverage_distance"].iloc[1], 9.5)
    assert ranking["priority"].is_monotonic_decreasing  # gains shrink as coverage grows


def test_annotation_ranking_starts_from_the_annotated_specimens():
    names, vectors = _cluster_and_outlier()
    annotated = np.array([[0.0, 0.0]])  # the dense group is covered already
    ranking = rank_annotation_candidates(names, vectors, annotated)
    assert ranking["specimen"].tolist()[:2] == ["s0", "outlier"]
    assert np.isclose(ranking["coverage_distance"].iloc[0], 10.0)


def test_annotation_ranking_is_deterministic_and_ignores_input_order():
    names, vectors = _cluster_and_outlier()
    first = rank_annotation_candidates(names, vectors, vectors[:0])
    again = rank_annotation_candidates(names, vectors, vectors[:0])
    flipped = rank_annotation_candidates(names[::-1], vectors[::-1], vectors[:0])
    assert first.equals(again)
    assert flipped["specimen"].tolist() == first["specimen"].tolist()
    # exact ties (two identical specimens) go to the smaller name
    tie = rank_annotation_candidates(["b", "a"], np.array([[1.0], [1.0]]), np.array([[0.0]]))
    assert tie["specimen"].tolist() == ["a", "b"]


def test_annotation_ranking_low_qc_raises_a_specimen():
    names = ["near", "far", "mid"]
    vectors = np.array([[0.0, 3.0], [10.0, 0.0], [5.0, 0.0]])
    annotated = np.array([[0.0, 0.0]])
    plain = rank_annotation_candidates(names, vectors, annotated)
    # far (10) and mid (5) lie on one line: picking far first covers mid halfway
    assert plain["specimen"].tolist() == ["far", "mid", "near"]
    assert np.allclose(plain["coverage_distance"], [10.0, 5.0, 3.0])
    assert np.allclose(plain["qc_score"], 1.0)
    # a failing QC score (0) doubles near's term: 3 * 2 > 5, so it rises above mid
    low = rank_annotation_candidates(names, vectors, annotated, {"near": 0.0, "mid": 1.0})
    assert low["specimen"].tolist() == ["far", "near", "mid"]
    assert low.set_index("specimen").loc["near", "qc_score"] == 0.0
    # and in a group, a failing specimen's own term can lift it over the group's centre
    names, vectors = _cluster_and_outlier()
    failing = rank_annotation_candidates(names, vectors, vectors[:0], {"d5": 0.0})
    plain = rank_annotation_candidates(names, vectors, vectors[:0])
    rank_of = lambda table, name: int(table.set_index("specimen").loc[name, "rank"])  # noqa: E731
    assert rank_of(failing, "d5") < rank_of(plain, "d5")


def test_annotation_ranking_without_templates_starts_at_the_medoid():
    vectors = np.array([[0.0], [1.0], [2.0], [30.0]])
    ranking = rank_annotation_candidates(["a", "b", "c", "outlier"], vectors, vectors[:0])
    assert ranking["specimen"].iloc[0] == "b"


def _selection(rows):
    return pd.DataFrame(rows, columns=["target", "rank", "template", "distance"])


def test_chunks_in_all_modes():
    descriptors = {
        n: np.array([v])
        for n, v in {"T1": 0.0, "T2": 100.0, "a": 3.0, "b": 1.0, "c": 2.0, "z": 99.0}.items()
    }
    selection = _selection(
        [
            ("a", 1, "T1", 3),
            ("a", 2, "T2", 97),
            ("b", 1, "T1", 1),
            ("b", 2, "T2", 99),
            ("c", 1, "T1", 2),
            ("c", 2, "T2", 98),
            ("z", 1, "T2", 1),
            ("z", 2, "T1", 99),
        ]
    )
    chain = build_chunks("chain", selection, descriptors, chunk_length=2)
    assert [c.targets for c in chain] == [
        ["b", "c"],
        ["a"],
        ["z"],
    ]  # nearest-neighbour walk from T1
    assert chain[0].templates == ["T1", "T2"] and chain[2].templates == ["T2", "T1"]
    assert chain[0].target_templates["b"] == ["T1", "T2"]
    pairs = build_chunks("pairs", selection[selection["rank"] == 1], descriptors, chunk_length=5)
    assert [(c.templates, c.targets) for c in pairs] == [
        (["T1"], ["a"]),
        (["T1"], ["b"]),
        (["T1"], ["c"]),
        (["T2"], ["z"]),
    ]
    by_name = build_chunks("filename", selection, descriptors, chunk_length=3)
    assert [c.targets for c in by_name] == [["a", "b", "c"], ["z"]]
    with pytest.raises(ValueError, match="order mode"):
        build_chunks("random", selection, descriptors, 2)


def test_pseudovideo_round_trip(tmp_path):
    selection = _selection([("a", 1, "T1", 1.0)])
    chunks = build_chunks("pairs", selection, {"a": np.zeros(1), "T1": np.zeros(1)}, 4)
    write_pseudovideo(tmp_path / "pv.json", "sp", "pairs", chunks)
    mode, back = read_pseudovideo(tmp_path / "pv.json")
    assert mode == "pairs" and back == chunks


def _sheet(tmp_path, text):
    path = tmp_path / "samples.tsv"
    path.write_text(text)
    return path


def test_sample_sheet_reads_templates_and_genus(tmp_path):
    path = _sheet(
        tmp_path,
        "specimen\tspecies\timage\tmask\tpx_per_mm\n"
        "s1\tcarabus_a\ta.png\tm.png\t20\n"
        "s2\tcarabus_a\tb.png\t\t\n"
        "s3\tcarabus_b\tc.png\tn.png\t\n",
    )
    sheet = read_sample_sheet(path)
    assert sheet.loc["s1", "genus"] == "carabus"
    assert [t.specimen for t in template_pool(sheet, "carabus_a")] == ["s1"]
    assert [t.specimen for t in template_pool(sheet, "carabus_a", "genus")] == ["s1", "s3"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("specimen\tspecies\nx\ty\n", "missing column"),
        ("specimen\tspecies\timage\nx\ty\ta.png\nx\ty\tb.png\n", "unique"),
        ("specimen\tspecies\timage\nx y\ty\ta.png\n", "slugs"),
        ("specimen\tspecies\timage\tpx_per_mm\nx\ty\ta.png\t-3\n", "px_per_mm"),
    ],
)
def test_bad_sample_sheets_name_the_file(tmp_path, text, message):
    path = _sheet(tmp_path, text)
    with pytest.raises(InputError, match=message) as error:
        read_sample_sheet(path)
    assert str(path) in str(error.value)


def test_config_defaults_are_filled_from_the_schema(tmp_path):
    config = validate_config({"structures": STRUCTURES})
    assert config["engine"] == "registration"
    assert config["select"] == {"k": 5, "template_pool": "species"}
    assert config["order"]["mode"] == "chain"
    path = tmp_path / "c.yaml"
    path.write_text("structures: [{name: head}]\norder: {mode: sideways}\n")
    with pytest.raises(ValueError, match="order/mode") as error:
        load_config(path)
    assert str(path) in str(error.value)
