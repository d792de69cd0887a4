"""The real-data benchmark's splits: defaults are tuned where the benchmark does not look."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from registration_real import scores_path, split  # noqa: E402


def test_tuning_split_never_sees_a_benchmark_target():
    images = [Path(f"{index:04d}.png") for index in range(103)]
    targets, pool = split(images, None)
    tuning_targets, tuning_pool = split(images, None, tuning=True)
    assert not set(targets) & set(pool)
    assert not set(tuning_targets) & set(tuning_pool)
    assert not set(targets) & (set(tuning_targets) | set(tuning_pool))
    assert len(tuning_targets) == 26 and len(tuning_pool) == 51


def test_targets_are_kept_evenly_spaced():
    images = [Path(f"{index:04d}.png") for index in range(40)]
    targets, _ = split(images, 4, tuning=True)
    assert [t.stem for t in targets] == ["0002", "0014", "0026", "0038"]


def test_per_target_scores_go_to_one_csv_per_set():
    assert scores_path(Path("out/full.csv"), "ants") == Path("out/full-ants.csv")
    assert scores_path(Path("full"), "beetles") == Path("full-beetles.csv")


def test_report_says_when_a_qc_signal_was_not_computed(capsys):
    """With ``qc_single_templates=false`` the signal is NaN everywhere: the report says so
    instead of printing a mean of nothing and a worst-quarter share of 0."""
    import warnings

    import numpy as np
    from registration_real import report

    from traitrack.structures import StructureTable

    structures = StructureTable.from_config(
        {
            "structures": [{"name": "head", "value": 1}, {"name": "eye", "value": 2}],
            "background": {"value": 0},
        }
    )
    rng = np.random.default_rng(0)
    results = []
    for index in range(8):
        row = {"target": f"t{index}", "round_trip_miou": rng.random()}
        for name in ("one", "fused"):
            row[f"{name}_iou"] = {s.label: rng.random() for s in structures}
            row[f"{name}_miou"] = rng.random()
            row[f"{name}_seconds"] = 1.0
            row[f"{name}_outline_iou"] = rng.random()
            row[f"{name}_true_outline_miou"] = rng.random()
        row["fused_agreement"] = rng.random()
        row["fused_edge_agreement"] = rng.random()
        row["fused_single_template_agreement"] = float("nan")
        results.append(row)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        report(results, structures)
    printed = capsys.readouterr().out
    assert "single-template agreement: not computed" in printed
    assert "template agreement: mean" in printed
    assert "qc_rank = mean percentile rank of the four (flags): mean" in printed


def test_the_students_unlabelled_specimens_are_never_targets_nor_templates():
    """``student_ceiling.py``'s oracle reads the unlabelled specimens' true masks: they must
    be neither an evaluation target nor one of the N templates, at every N up to the largest."""
    import pytest
    from registration_real import DATA

    if not (DATA / "ants-4part" / "images").is_dir():
        pytest.skip("../shared/data is absent")
    from self_training_specimens import choose_specimens

    targets, pool, ordered, unlabelled = choose_specimens("ants", 20, 40, 20, tuning=False)
    templates = {pool[i] for i in ordered[:20]}
    assert len(unlabelled) == 40 and len(set(unlabelled)) == 40
    assert set(unlabelled) <= set(pool)
    assert not set(unlabelled) & (set(targets) | templates)
    assert sorted(ordered) == list(range(len(pool)))


def test_a_mask_at_the_students_own_size_comes_back_through_its_square_unchanged():
    import numpy as np
    import pytest

    pytest.importorskip("torch")
    from resolution_ceiling import through_square

    labels = np.zeros((64, 64), np.int64)
    labels[10:20, 5:60] = 1
    labels[30:33, 30:34] = 2
    np.testing.assert_array_equal(through_square(labels, 64, 3), labels)
    # a 3 x 4 part is less than one pixel thick in a 16 px square: it cannot come back whole
    assert not np.array_equal(through_square(labels, 16, 3) == 2, labels == 2)
