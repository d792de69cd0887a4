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
