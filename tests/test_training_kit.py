"""The training kit shared by fine-tuning and the student: schedule, resumable state, plot."""

import numpy as np
import pandas as pd
import pytest
import torch

from traitrack.training_kit import (
    cosine_rate,
    load_training,
    save_training,
    warmup_factor,
    write_loss_plot,
)


def test_cosine_rate_runs_from_the_peak_to_zero():
    assert cosine_rate(0.1, 0, 10) == pytest.approx(0.1)
    assert cosine_rate(0.1, 5, 10) == pytest.approx(0.05)
    assert cosine_rate(0.1, 10, 10) == pytest.approx(0.0, abs=1e-12)


def test_warmup_rises_linearly_then_stays_at_one():
    factors = [warmup_factor(step, 4) for step in range(7)]
    assert factors == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0, 1.0, 1.0])
    assert warmup_factor(0, 0) == 1.0


def _trained():
    layer = torch.nn.Linear(3, 2)
    optimiser = torch.optim.AdamW(layer.parameters(), lr=0.01)
    layer(torch.ones(1, 3)).sum().backward()
    optimiser.step()
    return layer, optimiser


def test_a_saved_state_comes_back_with_its_key_only(tmp_path):
    layer, optimiser = _trained()
    rows = [{"epoch": 1, "loss": np.float64(0.5), "target": "a"}]
    path = tmp_path / "state.pt"
    save_training(
        path, key="k1", progress=3, weights=layer.state_dict(), optimiser=optimiser, rows=rows
    )
    saved = load_training(path, key="k1")
    assert saved.progress == 3
    assert saved.rows == [{"epoch": 1, "loss": 0.5, "target": "a"}]
    assert type(saved.rows[0]["loss"]) is float  # numpy scalars stored as Python numbers
    torch.testing.assert_close(saved.weights["weight"], layer.weight.detach())
    fresh = torch.optim.AdamW(torch.nn.Linear(3, 2).parameters(), lr=0.01)
    fresh.load_state_dict(saved.optimiser)
    assert load_training(path, key="another") is None  # other settings: start again


def test_a_missing_or_unreadable_state_starts_again(tmp_path):
    assert load_training(None, key="k") is None
    assert load_training(tmp_path / "absent.pt", key="k") is None
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a torch file")
    assert load_training(broken, key="k") is None


def test_loss_plot_is_written_for_empty_and_full_tables(tmp_path):
    table = pd.DataFrame({"loss": np.linspace(1, 0.1, 30), "dice": np.linspace(0.5, 0.05, 30)})
    write_loss_plot(
        tmp_path / "full.png",
        table,
        columns=["loss", "dice"],
        ylabel="loss",
        xlabel="step",
        window=5,
        points="loss",
        breaks=[10.5],
    )
    write_loss_plot(
        tmp_path / "empty.png", table.iloc[:0], columns=["loss"], ylabel="loss", xlabel="step"
    )
    for name in ("full.png", "empty.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
