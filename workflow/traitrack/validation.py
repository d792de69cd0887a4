"""Every problem of a species' inputs, found at once before any heavy work (rule ``validate``).

A curator running a drawer overnight wants every mistake in the first minute, all of them
listed together, each with its file, its sample-sheet row and the fix. The checks open every
file a species' jobs will read, cheaply: image headers (no pixels) for every specimen, and
for every ``mask`` and ``gt_mask`` the mask itself and a reduced copy of its photograph.

- the config: two structures sharing an encoding (RGB colour, value or category), or a
  structure encoded as background;
- images: unreadable files, photographs over ``limits.max_megapixels``;
- masks and ground truth: missing or malformed files (COCO, labelme), undeclared colours,
  values or categories, a size other than the photograph's (or the photograph's size before
  its EXIF orientation: the annotation tool ignored it), masks that are all background, and
  masks that fit their photograph clearly better turned or flipped (:mod:`traitrack.mask_fit`);
- templates whose photograph is far smaller or larger than the species' targets' (a
  warning with the factor: registration and descriptors compare specimens at one working
  size, so a template at another scale still works, but often means another view or crop).

Problems of ``gt_mask`` files block only ``evaluate`` (they are kept apart in
:attr:`Problem.blocks`); everything else blocks the species.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from traitrack.io import InputError, read_mask
from traitrack.mask_fit import EXIF_ORIENTATION, exif_hint, mask_fit, read_header, read_small
from traitrack.samples import Specimen
from traitrack.structures import StructureTable

COLUMNS = ["severity", "blocks", "specimen", "sheet_row", "column", "file", "problem", "fix"]
SIZE_FACTOR = 3.0  # a template this many times smaller or larger (linear) than targets: warn


@dataclass(frozen=True)
class Problem:
    """One problem of one input.

    Attributes
    ----------
    severity : str
        ``error`` or ``warning``.
    blocks : str
        What it stops: ``all`` (the species' jobs), ``evaluate`` (``gt_mask`` problems), or
        ``""`` for a warning.
    specimen : str
        The sample-sheet row's specimen ("" for the config).
    sheet_row : int
        The row's position under the sheet's header, from 1 (0 for the config).
    column : str
        The sheet column or config key to fix.
    file : str
        The file with the problem (the sheet or config for their own problems).
    problem : str
        What is wrong.
    fix : str
        What to do.
    """

    severity: str
    blocks: str
    specimen: str
    sheet_row: int
    column: str
    file: str
    problem: str
    fix: str

    def line(self) -> str:
        """One line for the log and the error message."""
        where = f"row {self.sheet_row} ({self.specimen}), " if self.specimen else ""
        return (
            f"{self.severity.upper()} {where}`{self.column}` {self.file}: {self.problem}; "
            f"fix: {self.fix}"
        )


def problems_table(problems: Sequence[Problem]) -> pd.DataFrame:
    """The problems as a table with :data:`COLUMNS` (empty with the header when none)."""
    return pd.DataFrame([asdict(p) for p in problems], columns=COLUMNS)


def encoding_problems(structures: StructureTable, config_file: str = "config") -> list[Problem]:
    """Two structures sharing a colour, value or category, or one encoded as background."""
    problems = []
    encodings = {
        "rgb": (lambda s: s.rgb, tuple(structures.background_rgb)),
        "value": (lambda s: s.value, int(structures.background_value)),
        "category": (lambda s: s.category, None),
    }
    for key, (encoding, background) in encodings.items():
        owners: dict = {}
        for structure in structures:
            code = encoding(structure)
            if code is not None:
                owners.setdefault(code, []).append(structure.name)
        for code, names in owners.items():
            shown = list(code) if isinstance(code, tuple) else code
            if len(names) > 1:
                problems.append(
                    _config_problem(
                        f"structures[].{key}",
                        config_file,
                        f"structures {names} share the {key} {shown!r}, so a mask cannot "
                        "tell them apart (the masks are checked once this is fixed)",
                        f"give each structure its own `{key}` (as the masks encode them)",
                    )
                )
            if background is not None and code == background:
                problems.append(
                    _config_problem(
                        f"structures[].{key}",
                        config_file,
                        f"structure {names[0]!r} has the background's {key} {shown!r}",
                        f"change its `{key}`, or `background.{key}`",
                    )
                )
    return problems


def _config_problem(column: str, file: str, problem: str, fix: str) -> Problem:
    return Problem("error", "all", "", 0, column, file, problem, fix)


def check_specimens(
    rows: Sequence[tuple[int, Specimen]],
    species: str,
    structures: StructureTable,
    *,
    max_megapixels: float = 0.0,
    ground_truth: bool = False,
) -> list[Problem]:
    """Every problem of a species' rows (its own and its borrowed templates).

    Two scopes, two jobs: the inputs every job reads (images, ``mask``; the default), or
    with ``ground_truth`` the ``gt_mask`` files alone, so that editing one reruns only its
    check and ``evaluate``.

    Parameters
    ----------
    rows : sequence of (int, Specimen)
        Each row with its position under the sheet's header (from 1).
    species : str
        The species; ``gt_mask`` is checked on its own targets only (what ``evaluate`` reads).
    structures : StructureTable
        The part table.
    max_megapixels : float
        Largest photograph accepted (0: no limit).
    ground_truth : bool
        Check the species' ``gt_mask`` files instead of its images and masks.

    Returns
    -------
    list of Problem
        In sheet order; empty when all is well.
    """
    problems: list[Problem] = []
    headers = {}
    # with two structures on one encoding, every mask reads wrong: the config's error says so
    read_masks = not encoding_problems(structures)
    for row, specimen in rows:
        evaluated = specimen.species == species and not specimen.is_template
        if ground_truth and not (specimen.gt_mask and evaluated):
            continue
        header, image_problem = _header(row, specimen, max_megapixels)
        headers[specimen.specimen] = header
        if not ground_truth:  # (the other job reports the images)
            problems += image_problem
        if header is None or not read_masks:
            continue
        if specimen.mask and not ground_truth:
            problems += _mask_problems(row, specimen, "mask", structures, header)
        if ground_truth:
            problems += _mask_problems(row, specimen, "gt_mask", structures, header)
    if not ground_truth:
        problems += _scale_warnings(rows, species, headers)
    return problems


def _header(row: int, specimen: Specimen, max_megapixels: float):
    try:
        header = read_header(specimen.image)
    except FileNotFoundError:
        return None, [
            _row_problem(
                row,
                specimen,
                "image",
                "the file does not exist",
                "fix the path in the `image` column (relative to where snakemake runs)",
            )
        ]
    except Exception as error:  # noqa: BLE001 - Pillow raises many kinds for a bad file
        return None, [
            _row_problem(
                row,
                specimen,
                "image",
                f"cannot be read as an image ({type(error).__name__}: {error})",
                "convert it to JPEG, PNG or TIFF",
            )
        ]
    if max_megapixels and header.megapixels > max_megapixels:
        problem = _row_problem(
            row,
            specimen,
            "image",
            f"{header.width} x {header.height} px ({header.megapixels:.1f} MP) is over "
            f"`limits.max_megapixels` ({max_megapixels:g})",
            "raise `limits.max_megapixels` in the config (jobs need more memory), or give a "
            "reduced copy of the photograph",
        )
        return header, [problem]
    return header, []


def _row_problem(row, specimen, column, problem, fix, severity="error") -> Problem:
    blocks = "" if severity == "warning" else ("evaluate" if column == "gt_mask" else "all")
    file = getattr(specimen, column) if column in ("image", "mask", "gt_mask") else ""
    return Problem(severity, blocks, specimen.specimen, row, column, str(file), problem, fix)


def _mask_problems(row, specimen, column, structures, header) -> list[Problem]:
    path = getattr(specimen, column)
    fix_file = (
        f"fix the file, or the `{column}` column of the row"
        if column == "mask"
        else "fix the file, or empty the row's `gt_mask` (it is used by `evaluate` only)"
    )
    try:
        labels = read_mask(path, structures, image_name=specimen.image)
    except InputError as error:
        return [_row_problem(row, specimen, column, str(error), fix_file)]
    shape = labels.shape[:2]
    if shape != (header.height, header.width):
        if header.orientation in EXIF_ORIENTATION and shape == header.stored_shape:
            return [
                _row_problem(
                    row,
                    specimen,
                    column,
                    f"the mask is {shape[1]} x {shape[0]} px, the photograph's stored size, "
                    f"but the photograph is read {EXIF_ORIENTATION[header.orientation]} by "
                    f"its EXIF orientation ({header.orientation}): the annotation tool ignored it",
                    "annotate the photograph as it is shown (with its orientation applied), "
                    "or save the photograph with the rotation applied and no EXIF orientation",
                )
            ]
        return [
            _row_problem(
                row,
                specimen,
                column,
                f"the mask is {shape[1]} x {shape[0]} px but its photograph {specimen.image} "
                f"is {header.width} x {header.height} px (width x height)",
                f"give the mask of this photograph, at its size ({fix_file})",
            )
        ]
    if not labels.any():
        severity = "error"
        return [
            _row_problem(
                row,
                specimen,
                column,
                "the mask is all background (no structure is labelled)",
                f"export the mask with its parts, or {fix_file}",
                severity,
            )
        ]
    fit = mask_fit(labels, read_small(specimen.image))
    if fit.misplaced():
        hint = exif_hint(header, fit.best)
        return [
            _row_problem(
                row,
                specimen,
                column,
                f"the mask fits its photograph {fit.best} (foreground IoU {fit.best_iou:.2f}) "
                f"far better than as given ({fit.as_given:.2f}){hint}",
                "annotate the photograph as it is shown (with its EXIF orientation applied), "
                "or turn the mask to match",
            )
        ]
    return []


def _scale_warnings(rows, species, headers) -> list[Problem]:
    targets = [
        math.sqrt(headers[s.specimen].megapixels)
        for _, s in rows
        if not s.is_template and s.species == species and headers.get(s.specimen) is not None
    ]
    if not targets:
        return []
    typical = float(np.median(targets))
    problems = []
    for row, specimen in rows:
        header = headers.get(specimen.specimen)
        if not specimen.is_template or header is None or not header.megapixels:
            continue
        factor = math.sqrt(header.megapixels) / typical
        if factor >= SIZE_FACTOR or factor <= 1 / SIZE_FACTOR:
            word = f"{factor:.1f}x larger" if factor > 1 else f"{1 / factor:.1f}x smaller"
            problems.append(
                _row_problem(
                    row,
                    specimen,
                    "image",
                    f"this template's photograph ({header.width} x {header.height} px) is "
                    f"{word} (linear) than the median of {species}'s targets",
                    "check that the template shows the same view at a similar scale (a crop "
                    "or thumbnail of another photograph lowers the targets it is chosen for)",
                    severity="warning",
                )
            )
    return problems
