"""The review page: per species, flagged targets first, then by qc_rank, each with its overlay,
and the filters working in a real browser (headless Chromium, when installed)."""

from __future__ import annotations

import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from traitrack.review import review_table
from traitrack.stages.review import run_data_dictionary, run_review

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class Rows(HTMLParser):
    """The page's target rows, in page order, with their attributes and classes."""

    def __init__(self):
        super().__init__()
        self.rows, self.images, self.links = [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "tr" and "target" in attrs.get("class", "").split():
            self.rows.append(attrs)
        elif tag == "img" and self.rows:
            self.images.append(attrs["src"])
        elif tag == "a" and self.rows:
            self.links.append(attrs["href"])


def qc_table(names, ranks, flagged):
    return pd.DataFrame(
        {
            "specimen": names,
            "engine": "registration",
            "templates": "t1;t2",
            "iou_head": 0.9,
            "round_trip_miou": 0.8,
            "agreement": 0.9,
            "edge_agreement": 0.9,
            "single_template_agreement": np.nan,
            "qc_score": 0.7,
            "qc_rank": ranks,
            "flagged": flagged,
        }
    )


def write_results(tmp_path: Path) -> tuple[list[str], list[Path], list[Path], list[Path]]:
    species = ["b_sp", "a_sp"]
    tables = {
        # c3 is flagged by qc.threshold although its rank is not the lowest
        "a_sp": qc_table(
            ["a1", "a2", "a3", "a4"], [0.75, 0.25, 1.0, 0.5], [False, True, True, False]
        ),
        "b_sp": qc_table(["b1", "b2"], [0.5, 1.0], [False, False]),
    }
    qc, ranking, overlays = [], [], []
    for name in species:
        folder = tmp_path / name
        (folder / "overlays").mkdir(parents=True)
        tables[name].to_csv(folder / "qc.tsv", sep="\t", index=False)
        specimens = tables[name]["specimen"]
        pd.DataFrame({"rank": range(1, len(specimens) + 1), "specimen": specimens[::-1]}).to_csv(
            folder / "annotate_next.tsv", sep="\t", index=False
        )
        for specimen in specimens:
            Image.fromarray(np.full((300, 400, 3), 200, dtype=np.uint8)).save(
                folder / "overlays" / f"{specimen}.png"
            )
        qc.append(folder / "qc.tsv")
        ranking.append(folder / "annotate_next.tsv")
        overlays.append(folder / "overlays")
    return species, qc, ranking, overlays


def test_review_order_is_species_then_flagged_then_qc_rank(tmp_path):
    species, qc, ranking, overlays = write_results(tmp_path)
    run_review(species, qc, ranking, overlays, tmp_path / "review.html")
    page = Rows()
    page.feed((tmp_path / "review.html").read_text())
    assert [r["data-specimen"] for r in page.rows] == ["a2", "a3", "a4", "a1", "b1", "b2"]
    assert [r["data-flagged"] for r in page.rows] == ["true", "true"] + ["false"] * 4
    assert ["flagged" in r["class"] for r in page.rows] == [True, True] + [False] * 4
    assert all(src.startswith("data:image/jpeg;base64,") for src in page.images)
    assert len(page.images) == 6
    assert page.links[0] == "a_sp/overlays/a2.png"
    assert (tmp_path / page.links[0]).exists()


def test_review_table_carries_the_annotate_next_rank_and_the_templates(tmp_path):
    species, qc, ranking, _ = write_results(tmp_path)
    table = review_table(
        {s: pd.read_csv(p, sep="\t") for s, p in zip(species, qc)},
        {s: pd.read_csv(p, sep="\t") for s, p in zip(species, ranking)},
    )
    a2 = table.set_index("specimen").loc["a2"]
    assert a2["annotate_next_rank"] == 3 and a2["templates"] == "t1;t2"
    assert table["flagged"].dtype == bool


def test_the_data_dictionary_page_lists_every_trait(tmp_path):
    run_data_dictionary(tmp_path / "dictionary.html")
    text = (tmp_path / "dictionary.html").read_text()
    for column in ("length_mm / length_px", "orientation_deg", "present", "centreline_length_mm"):
        assert column in text


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_the_filters_hide_rows_in_a_real_browser(tmp_path):
    species, qc, ranking, overlays = write_results(tmp_path)
    run_review(species, qc, ranking, overlays, tmp_path / "review.html")
    url = f"file://{tmp_path / 'review.html'}?species=a_sp&flag=true"
    result = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    page = Rows()
    page.feed(result.stdout)
    shown = [r["data-specimen"] for r in page.rows if "hidden" not in r["class"].split()]
    assert shown == ["a2", "a3"]
    assert "2 shown" in result.stdout
