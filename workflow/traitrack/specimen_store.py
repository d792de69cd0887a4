"""A job's specimens read on demand: photographs at the working size, templates kept.

:class:`SpecimenStore` is what every engine job reads through (``propagate``, ``pseudo_round``,
the student's round trips, the gather); :class:`PseudoTemplates` makes an earlier round's
predictions templates of the next (self-training's second round).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from traitrack.engines.base import Frame
from traitrack.io import read_image, read_label_png, read_mask
from traitrack.samples import Specimen
from traitrack.structures import StructureTable
from traitrack.working_size import photograph_shape, read_working_image, resize_labels


@dataclass(frozen=True)
class PseudoTemplates:
    """An earlier round's predictions used as templates (self-training's second round).

    Attributes
    ----------
    labels_dir : str
        The earlier round's label maps, ``<specimen>.png`` at the photograph's size.
    names : tuple of str
        The pseudo-templates (:func:`traitrack.selftrain.pseudo.choose_pseudo_templates`).
    weight : float
        Their fusion weight (``self_training.pseudo_weight``; a hand-made template's is 1).
    """

    labels_dir: str
    names: tuple[str, ...]
    weight: float = 1.0


def read_template_labels(specimen: Specimen, structures: StructureTable) -> np.ndarray:
    """A template's hand-made mask as a label map at its photograph's own size, the size
    taken from the photograph's header so that a 50 MP file need not be decoded.

    Parameters
    ----------
    specimen : Specimen
        The template (its ``image`` and ``mask``).
    structures : StructureTable
        The part table, to read the mask.

    Returns
    -------
    numpy.ndarray
        (H, W) uint8 labels of the photograph's (height, width).
    """
    try:
        shape = photograph_shape(specimen.image)
    except Exception:  # noqa: BLE001 - a file only tifffile reads: decode it for its size
        shape = read_image(specimen.image).shape[:2]
    return read_mask(specimen.mask, structures, specimen.image, shape)


class SpecimenStore:
    """Reads images and template masks on demand, keeping templates (reused by many chunks).

    Parameters
    ----------
    members : list of Specimen
        The specimens a job may read (targets and the templates they use).
    structures : StructureTable
        The part table, to read template masks.
    working_megapixels : float
        Photographs are read reduced to this (:mod:`traitrack.working_size`); 0: as they are.
    pseudo : PseudoTemplates, optional
        Specimens whose template frame is their earlier prediction, with its fusion weight.
    """

    def __init__(
        self,
        members: list[Specimen],
        structures: StructureTable,
        working_megapixels: float = 0,
        pseudo: PseudoTemplates | None = None,
    ):
        self.by_name = {m.specimen: m for m in members}
        self.structures = structures
        self.working_megapixels = working_megapixels
        self.pseudo = pseudo or PseudoTemplates("", ())
        self._template_cache: dict[str, Frame] = {}

    def is_pseudo(self, name: str) -> bool:
        """Whether a template is a pseudo-template (an earlier round's prediction)."""
        return name in self.pseudo.names

    def image(self, name: str) -> np.ndarray:
        """Read a specimen's image (not kept).

        Parameters
        ----------
        name : str
            The specimen's slug.

        Returns
        -------
        numpy.ndarray
            (H, W, 3) RGB uint8.
        """
        return read_working_image(self.by_name[name].image, self.working_megapixels)

    def template_labels(self, name: str) -> np.ndarray:
        """A template's label map at its photograph's own size, without decoding the photograph.

        Parameters
        ----------
        name : str
            The template's slug.

        Returns
        -------
        numpy.ndarray
            (H, W) uint8 labels of the photograph's (height, width).
        """
        return read_template_labels(self.by_name[name], self.structures)

    def template(self, name: str) -> Frame:
        """Return a template's frame (image and label map), read on first use and kept.

        Parameters
        ----------
        name : str
            The template's slug.

        Returns
        -------
        Frame
            The template frame.
        """
        if name not in self._template_cache:
            specimen = self.by_name[name]
            image = read_working_image(specimen.image, self.working_megapixels)
            if self.is_pseudo(name):  # its prediction, never a mask on disk
                labels = read_label_png(Path(self.pseudo.labels_dir) / f"{name}.png")
                weight = self.pseudo.weight
            else:
                shape = photograph_shape(specimen.image) if self.working_megapixels else image.shape
                labels = read_mask(specimen.mask, self.structures, specimen.image, shape[:2])
                weight = 1.0
            labels = resize_labels(labels, image.shape[:2])
            self._template_cache[name] = Frame(name, image, labels, weight=weight)
        return self._template_cache[name]
