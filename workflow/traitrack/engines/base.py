"""The engine protocol: one pseudo-video chunk in, one label map per target out.

Every engine (``registration``, ``sam2``) implements :class:`Engine`.  The workflow never
looks inside an engine: ``propagate`` builds chunks from ``pseudovideo.json`` and calls
``Engine.propagate``; ``qc`` builds the reversed chunk (target with its predicted masks as the
only template, its template(s) as targets) and calls the same method on a fresh call, so no
state of the forward pass can leak into the round trip.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from traitrack.structures import StructureTable


@dataclass
class Frame:
    """One image of a chunk.

    Attributes
    ----------
    specimen : str
        The specimen's slug.
    image : numpy.ndarray
        (H, W, 3) RGB uint8.
    labels : numpy.ndarray or None
        The template's label map (0 = background, 1..N structures) for a template frame,
        None for a target.
    templates : tuple of str
        For a target, the templates selected for it (a subset of the chunk's templates);
        engines that fuse per target (registration) use it, engines that track the whole
        chunk (SAM 2) may ignore it.
    weight : float
        For a template, its weight in a fusion over templates (> 0): 1 for a hand-made one,
        ``self_training.pseudo_weight`` for a pseudo-template (an earlier round's prediction,
        :class:`traitrack.propagation.PseudoTemplates`). Engines that fuse (registration) use
        it; engines that track (SAM 2) condition on every template alike.
    """

    specimen: str
    image: np.ndarray
    labels: np.ndarray | None = None
    templates: tuple[str, ...] = ()
    weight: float = 1.0

    @property
    def is_template(self) -> bool:
        """Whether the frame carries labels (a template) rather than awaiting them."""
        return self.labels is not None


@dataclass
class Prediction:
    """An engine's answer for one target frame.

    Attributes
    ----------
    specimen : str
        The target's slug.
    labels : numpy.ndarray
        Label map at the frame's own size, uint8 (0 background, 1..N structures).
    confidence : dict of str to float
        Per structure name, the mean foreground probability inside the predicted mask (0..1);
        NaN where the structure was not predicted.
    object_score : dict of str to float
        Per structure name, an engine-specific presence score (SAM 2: the object score logit;
        registration: template agreement); NaN where not applicable.
    templates : tuple of str
        The template specimens the prediction was derived from.
    evidence : dict of str to float
        The prediction's own QC evidence, each 0..1, under the names of
        :data:`traitrack.qc.EVIDENCE`; an engine fills those it has (SAM 2: none, its QC is
        the round trip alone) and the QC reads a missing one as NaN. ``agreement``: how well
        the templates agree about where the parts are; ``edge_agreement``: how much of the
        transferred part boundaries the target's own edges confirm (registration: Dice of the
        compact parts before and after they are snapped to the target's edges);
        ``single_template_agreement``: how well what each template predicts alone agrees with
        the fused prediction (registration: mean mIoU; NaN with a single template).
    """

    specimen: str
    labels: np.ndarray
    confidence: dict[str, float] = field(default_factory=dict)
    object_score: dict[str, float] = field(default_factory=dict)
    templates: tuple[str, ...] = ()
    evidence: dict[str, float] = field(default_factory=dict)


@runtime_checkable
class Engine(Protocol):
    """Turns a chunk (templates first, then targets in order) into predictions for the targets.

    Every call to :meth:`propagate` starts from an empty memory, so that the QC round trip
    learns nothing from the forward pass.

    Attributes
    ----------
    name : str
        The engine's name, written into every output row.
    random_weights : bool
        True when the engine's masks come from untrained weights (SAM 2 built with
        ``allow_random_weights`` for tests); the stages mark every output with it.
    """

    name: str
    random_weights: bool

    def propagate(self, frames: Sequence[Frame], structures: StructureTable) -> list[Prediction]:
        """Return one :class:`Prediction` per target frame, in the order the targets appear.

        Parameters
        ----------
        frames : sequence of Frame
            The chunk: its templates (frames with labels) first, then its targets in order.
        structures : StructureTable
            The part table; labels 1..N of every map refer to it.

        Returns
        -------
        list of Prediction
            One per target frame.
        """
        ...


def split_chunk(frames: Sequence[Frame]) -> tuple[list[Frame], list[Frame]]:
    """Split a chunk into its templates and its targets, each in chunk order.

    Parameters
    ----------
    frames : sequence of Frame
        The chunk.

    Returns
    -------
    templates, targets : list of Frame
        The frames with labels, and those without.

    Raises
    ------
    ValueError
        If the chunk has no template.
    """
    templates = [f for f in frames if f.is_template]
    targets = [f for f in frames if not f.is_template]
    if not templates:
        raise ValueError(
            "a chunk needs at least one template frame (a frame with labels); "
            f"got only targets {[f.specimen for f in targets]}"
        )
    return templates, targets


def templates_for(target: Frame, templates: Sequence[Frame]) -> list[Frame]:
    """Return the templates a target was matched to, or all chunk templates if none were named.

    Parameters
    ----------
    target : Frame
        A target frame; its ``templates`` name the templates selected for it.
    templates : sequence of Frame
        The chunk's template frames.

    Returns
    -------
    list of Frame
        The named templates in chunk order, or all of them.

    Raises
    ------
    ValueError
        If the target names templates of which none is in the chunk.
    """
    if not target.templates:
        return list(templates)
    wanted = set(target.templates)
    chosen = [t for t in templates if t.specimen in wanted]
    if not chosen:
        raise ValueError(
            f"target {target.specimen!r} names templates {target.templates} "
            f"that are not in the chunk ({[t.specimen for t in templates]})"
        )
    return chosen


def probability_summary(
    labels: np.ndarray, probabilities: np.ndarray, structures: StructureTable
) -> dict[str, float]:
    """Return the mean probability of each structure inside its own predicted mask.

    Parameters
    ----------
    labels : numpy.ndarray
        (H, W) predicted label map.
    probabilities : numpy.ndarray
        (N, H, W), one probability map per structure in label order.
    structures : StructureTable
        The part table.

    Returns
    -------
    dict of str to float
        Per structure name; NaN for a structure that was not predicted.
    """
    summary = {}
    for structure in structures:
        inside = labels == structure.label
        summary[structure.name] = (
            float(probabilities[structure.label - 1][inside].mean())
            if inside.any()
            else float("nan")
        )
    return summary
