"""Cycle-consistency QC: score a prediction without ground truth by the round trip.

For a target, its predicted masks become the only template of a fresh chunk whose targets are
the template(s) it was predicted from; the engine transfers the masks back, and the IoU against
the template's true masks scores the forward prediction.  A fresh ``propagate`` call carries no
state of the forward pass (the protocol requires every call to start from an empty memory).

The round trip is blind to a consistent mistake: a specimen segmented head-to-tail maps back
onto its template just as well.  So the QC score multiplies it by the forward prediction's
template agreement (engines that fuse several templates report it; others leave it NaN, and
the round trip stands alone).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from .engines.base import Engine, Frame, Prediction
from .metrics import class_iou, mean_iou, nanmean
from .structures import StructureTable


def round_trip(
    engine: Engine,
    target: Frame,
    predicted: np.ndarray,
    templates: Sequence[Frame],
    structures: StructureTable,
    agreement: float = float("nan"),
) -> list[dict]:
    """IoU per structure of the masks carried target -> template, one row per template.

    Parameters
    ----------
    target : the target frame (its image; labels are ignored).
    predicted : the target's predicted label map from the forward pass.
    templates : template frames with their true labels.
    agreement : the forward prediction's template agreement (``Prediction.agreement``), carried
        into the rows for :func:`summarise_round_trips`.
    """
    chunk = [Frame(target.specimen, target.image, labels=predicted)] + [
        Frame(t.specimen, t.image, labels=None) for t in templates
    ]
    backward: list[Prediction] = engine.propagate(chunk, structures)
    rows = []
    for template, prediction in zip(templates, backward):
        ious = class_iou(prediction.labels, template.labels, structures.labels)
        row = {"specimen": target.specimen, "template": template.specimen}
        row.update({f"iou_{structures.by_label(label).name}": value for label, value in ious.items()})
        row["round_trip_miou"] = mean_iou(ious)
        row["agreement"] = float(agreement)
        rows.append(row)
    return rows


def summarise_round_trips(rows: Sequence[Mapping], threshold: float) -> list[dict]:
    """One row per target: mean over its templates, the QC score, a flag below ``threshold``."""
    by_target: dict[str, list[Mapping]] = {}
    for row in rows:
        by_target.setdefault(row["specimen"], []).append(row)
    summary = []
    for specimen, group in by_target.items():
        out = {"specimen": specimen, "templates": ";".join(r["template"] for r in group)}
        keys = [k for k in group[0] if k.startswith("iou_")]
        for key in keys:
            out[key] = nanmean([r[key] for r in group])
        out["round_trip_miou"] = nanmean([r["round_trip_miou"] for r in group])
        out["agreement"] = nanmean([r.get("agreement", float("nan")) for r in group])
        out["qc_score"] = float(qc_score(out["round_trip_miou"], out["agreement"]))
        out["flagged"] = bool(np.isnan(out["qc_score"]) or out["qc_score"] < threshold)
        summary.append(out)
    return summary


def qc_score(round_trip_miou, agreement):
    """The QC score: round-trip mIoU times the templates' agreement (both 0..1).

    The round trip alone is blind to a consistent mistake (a head-tail flip maps back onto the
    template just as well); templates that disagree about where the parts are reveal it.  A
    missing agreement (a single template agrees with itself: 1) leaves the round trip as is.
    """
    round_trip_miou = np.asarray(round_trip_miou, dtype=float)
    agreement = np.nan_to_num(np.asarray(agreement, dtype=float), nan=1.0)
    return round_trip_miou * np.clip(agreement, 0.0, 1.0)
