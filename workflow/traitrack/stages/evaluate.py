"""Stage of ``evaluate.smk``: IoU of a species' predictions against its ``gt_mask``."""

from __future__ import annotations

from pathlib import Path

from traitrack.io import read_label_png, read_mask, write_table
from traitrack.metrics import evaluate_pair, evaluation_table
from traitrack.species_context import SpeciesContext


def run_evaluate(
    context: SpeciesContext,
    *,
    labels_dir: str | Path,
    engine: str,
    out: str | Path,
    labelled_only: bool = False,
) -> None:
    """Score every predicted target that has a ``gt_mask`` (templates are not scored).

    Parameters
    ----------
    context : SpeciesContext
        The species: its sheet rows, templates and part table.
    labels_dir : str or Path
        ``results/{species}/labels``, the predicted label maps.
    engine : str
        The engine's name; it labels the rows, so that tables of several engines can be pooled.
    out : str or Path
        The evaluation table, one row per target (:func:`~traitrack.metrics.evaluation_table`).
    labelled_only : bool
        Score only the targets that have a label map (``self_training.student.bulk``: the
        first round labels only the teacher's sample); otherwise a missing one is an error.
    """
    species, structures = context.species, context.structures
    rows = []
    for specimen in context.members:
        if specimen.gt_mask is None or specimen.is_template:
            continue
        if labelled_only and not (Path(labels_dir) / f"{specimen.specimen}.png").is_file():
            continue
        predicted = read_label_png(Path(labels_dir) / f"{specimen.specimen}.png")
        truth = read_mask(specimen.gt_mask, structures, specimen.image, predicted.shape)
        rows.append(
            {
                "specimen": specimen.specimen,
                "species": species,
                "engine": engine,
                **evaluate_pair(predicted, truth, structures),
            }
        )
    write_table(out, evaluation_table(rows))
