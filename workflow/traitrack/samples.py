"""The sample sheet: one row per specimen, templates are the rows with a ``mask``.

Columns: ``specimen`` (unique slug), ``species`` (slug), ``image``, optional ``mask`` (makes the
row a template), optional ``px_per_mm``, optional ``scale_bar_mm`` (the length of the scale
bar in the photograph, when a collection always uses one), optional ``gt_mask`` (evaluation only, never shown to
an engine), optional ``genus`` (for a genus-wide template pool; defaults to the species slug up
to its first ``_``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

from traitrack.io.common import InputError

REQUIRED_COLUMNS = ("specimen", "species", "image")
OPTIONAL_COLUMNS = ("mask", "px_per_mm", "gt_mask", "genus", "scale_bar_mm")
POOLS = ("species", "genus", "all")
SAMPLES_SCHEMA = Path(__file__).resolve().parents[1] / "schemas" / "samples.schema.yaml"
#: a specimen's or species' slug, from the sample sheet's schema (its one home)
SLUG = re.compile(yaml.safe_load(SAMPLES_SCHEMA.read_text())["properties"]["specimen"]["pattern"])
# outputs are named after specimens (labels/<specimen>.png, and atomic_output's temporary
# .<specimen>.XXXXXXXX.tmp.png beside it): 200 leaves room within the usual 255-byte file name
MAX_SPECIMEN_LENGTH = 200
# names the workflow gives to folders and files directly under results/, next to the species'
# folders: a species of one of these names would collide with them (results/traits/<species>.csv
# against results/<species>/labels/, or Snakemake's AmbiguousRuleException)
RESERVED_SPECIES = (
    "traits",
    "report",
    "benchmarks",
    "logs",
    "labels",
    "traits.csv",
    "evaluation.tsv",
    "evaluation_summary.tsv",
)


@dataclass(frozen=True)
class Specimen:
    """One row of the sample sheet (columns in the module docstring).

    Attributes
    ----------
    specimen : str
        The specimen's slug.
    species : str
        The species' slug.
    image : str
        The image file.
    mask : str or None
        The template mask file; None for an unlabelled specimen.
    px_per_mm : float or None
        Pixels per millimetre, if the sheet gives it.
    gt_mask : str or None
        The ground-truth mask file, for evaluation only.
    genus : str
        The genus, for a genus-wide pool.
    scale_bar_mm : float or None
        The scale bar's length in mm, if the sheet gives it (``calibrate``).
    """

    specimen: str
    species: str
    image: str
    mask: str | None = None
    px_per_mm: float | None = None
    gt_mask: str | None = None
    genus: str = ""
    scale_bar_mm: float | None = None

    @property
    def is_template(self) -> bool:
        """Whether the row has a ``mask`` (and so is a template)."""
        return self.mask is not None


def read_sample_sheet(path: str | Path) -> pd.DataFrame:
    """Read and check a sample sheet.

    Parameters
    ----------
    path : str or Path
        The tab-separated sample sheet.

    Returns
    -------
    pandas.DataFrame
        Every column as stripped strings (missing optional columns added empty), ``genus``
        filled in, indexed by specimen.

    Raises
    ------
    InputError
        Naming the file and the offending rows, if the sheet is missing, lacks a required
        column, or has bad slugs, repeated specimens, rows without an image or a bad
        ``px_per_mm``.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(
            f"{path}: sample sheet not found; set `samples:` in the config to its path"
        )
    sheet = pd.read_csv(path, sep="\t", dtype=str, comment="#", keep_default_na=False)
    sheet.columns = [c.strip() for c in sheet.columns]
    missing = [c for c in REQUIRED_COLUMNS if c not in sheet.columns]
    if missing:
        raise InputError(
            f"{path}: missing column(s) {missing}; a sample sheet is tab-separated with columns "
            f"{list(REQUIRED_COLUMNS)} and optionally {list(OPTIONAL_COLUMNS)}"
        )
    if sheet.empty:
        raise InputError(
            f"{path}: the sample sheet has a header but no specimen rows; add one tab-separated "
            f"row per specimen under the header ({', '.join(sheet.columns)})"
        )
    for column in OPTIONAL_COLUMNS:
        if column not in sheet.columns:
            sheet[column] = ""
    sheet = sheet.apply(lambda col: col.str.strip())
    _check_slugs(path, sheet, "specimen")
    _check_slugs(path, sheet, "species")
    _check_names(path, sheet)
    duplicated = sheet.loc[sheet["specimen"].duplicated(), "specimen"].tolist()
    if duplicated:
        raise InputError(f"{path}: specimen slugs must be unique; repeated: {duplicated[:10]}")
    no_image = sheet.loc[sheet["image"] == "", "specimen"].tolist()
    if no_image:
        raise InputError(f"{path}: rows without an `image`: {no_image[:10]}")
    for column in ("px_per_mm", "scale_bar_mm"):
        bad = [s for s, v in zip(sheet["specimen"], sheet[column]) if v and not _positive_float(v)]
        if bad:
            raise InputError(
                f"{path}: `{column}` must be a positive, finite number; fix or empty it in "
                f"rows: {bad[:10]}"
            )
    sheet["genus"] = [g or s.split("_")[0] for g, s in zip(sheet["genus"], sheet["species"])]
    return sheet.set_index("specimen", drop=False)


def _positive_float(value: str) -> bool:
    try:
        return math.isfinite(float(value)) and float(value) > 0
    except ValueError:
        return False


def _check_names(path: Path, sheet: pd.DataFrame) -> None:
    """Specimen ids that fit in a file name; species names that are not the workflow's own."""
    long_ids = [s for s in sheet["specimen"] if len(s.encode()) > MAX_SPECIMEN_LENGTH]
    if long_ids:
        raise InputError(
            f"{path}: {len(long_ids)} `specimen` id(s) are longer than {MAX_SPECIMEN_LENGTH} "
            "characters, too long for the output file names named after them "
            "(labels/<specimen>.png); shorten them (e.g. to the catalogue number; the `image` "
            f"file may keep its long name): {[s[:40] + '...' for s in long_ids[:5]]}"
        )
    reserved = sorted(set(sheet["species"]) & set(RESERVED_SPECIES))
    if reserved:
        raise InputError(
            f"{path}: `species` {reserved} would collide with the workflow's own outputs in "
            f"results/ (reserved: {list(RESERVED_SPECIES)}); rename the species in the sheet, "
            "e.g. to its binomial slug"
        )


def _check_slugs(path: Path, sheet: pd.DataFrame, column: str) -> None:
    bad = sorted({v for v in sheet[column] if not SLUG.match(v)})
    if bad:
        raise InputError(
            f"{path}: `{column}` values must be slugs (letters, digits, '_', '-', '.'; no spaces "
            f"or '/'): {bad[:10]}"
        )


def specimens(sheet: pd.DataFrame, species: str | None = None) -> list[Specimen]:
    """Return the sheet's rows as :class:`Specimen` objects, in sheet order.

    Parameters
    ----------
    sheet : pandas.DataFrame
        The sample sheet (:func:`read_sample_sheet`).
    species : str, optional
        Only this species' rows; all rows when None.

    Returns
    -------
    list of Specimen
        The rows.
    """
    rows = sheet if species is None else sheet[sheet["species"] == species]
    return [
        Specimen(
            specimen=r.specimen,
            species=r.species,
            image=r.image,
            mask=r.mask or None,
            px_per_mm=float(r.px_per_mm) if r.px_per_mm else None,
            gt_mask=r.gt_mask or None,
            genus=r.genus,
            scale_bar_mm=float(r.scale_bar_mm) if r.scale_bar_mm else None,
        )
        for r in rows.itertuples(index=False)
    ]


def pool_specimens(sheet: pd.DataFrame, species: str, pool: str = "species") -> list[Specimen]:
    """Return all rows of the species, of its genus, or of the whole sheet, in sheet order.

    Parameters
    ----------
    sheet : pandas.DataFrame
        The sample sheet (:func:`read_sample_sheet`).
    species : str
        The species slug.
    pool : str
        ``species``, ``genus`` or ``all``.

    Returns
    -------
    list of Specimen
        The pool's rows.

    Raises
    ------
    ValueError
        If ``pool`` is unknown.
    InputError
        If the sheet has no row of ``species``.
    """
    if pool not in POOLS:
        raise ValueError(f"a pool must be one of {POOLS}, got {pool!r}")
    own = specimens(sheet, species)
    if not own:
        raise InputError(f"no specimen of species {species!r} in the sample sheet")
    if pool == "species":
        return own
    if pool == "genus":
        return [s for s in specimens(sheet) if s.genus == own[0].genus]
    return specimens(sheet)


def template_pool(sheet: pd.DataFrame, species: str, pool: str = "species") -> list[Specimen]:
    """Return the templates a species may borrow from: its own, its genus' or all templates.

    Parameters
    ----------
    sheet : pandas.DataFrame
        The sample sheet.
    species : str
        The species slug.
    pool : str
        ``species``, ``genus`` or ``all``.

    Returns
    -------
    list of Specimen
        The pool's templates, in sheet order.
    """
    return [s for s in pool_specimens(sheet, species, pool) if s.is_template]


def species_members(sheet: pd.DataFrame, species: str, pool: str) -> list[Specimen]:
    """The species' specimens plus the templates it borrows from the wider pool, in sheet order.

    These are the rows a species' jobs read: the workflow's input functions and the stages
    ``describe`` and ``propagate`` use the same list.

    Parameters
    ----------
    sheet : pandas.DataFrame
        The sample sheet.
    species : str
        The species slug.
    pool : str
        The template pool: ``species``, ``genus`` or ``all``.

    Returns
    -------
    list of Specimen
        The species' own rows, then the borrowed templates.
    """
    own = specimens(sheet, species)
    borrowed = [t for t in template_pool(sheet, species, pool) if t.species != species]
    return own + borrowed


@dataclass(frozen=True)
class TrainingSet:
    """The specimens one fine-tuning job learns from, in sample-sheet order.

    Attributes
    ----------
    species : str
        The species being fine-tuned.
    templates : tuple of Specimen
        The pool's templates.
    targets : tuple of Specimen
        The pool's unlabelled specimens used as targets.
    """

    species: str
    templates: tuple[Specimen, ...]
    targets: tuple[Specimen, ...]

    @property
    def members(self) -> tuple[Specimen, ...]:
        """The templates, then the targets."""
        return self.templates + self.targets


def training_set(
    sheet: pd.DataFrame, species: str, pool: str = "species", allow_gt_targets: bool = False
) -> TrainingSet:
    """Collect the templates and targets of a species' fine-tuning pool.

    Targets whose ``gt_mask`` is kept for evaluation are left out unless ``allow_gt_targets``,
    so fine-tuning never sees the specimens it will be scored on.

    Parameters
    ----------
    sheet : pandas.DataFrame
        The sample sheet.
    species : str
        The species slug.
    pool : str
        ``finetune.pool``: ``species``, ``genus`` or ``all``.
    allow_gt_targets : bool
        ``finetune.allow_gt_targets``: train on specimens with a ``gt_mask`` too.

    Returns
    -------
    TrainingSet
        The pool's templates and targets.

    Raises
    ------
    InputError
        If either side is empty; the message says what to do.
    """
    rows = pool_specimens(sheet, species, pool)
    templates = tuple(s for s in rows if s.is_template)
    targets = tuple(s for s in rows if not s.is_template and (allow_gt_targets or not s.gt_mask))
    if not templates:
        raise InputError(
            f"fine-tuning {species!r} (finetune.pool: {pool}) found no template (row with a `mask`); "
            "annotate a specimen first or widen finetune.pool to genus or all"
        )
    if not targets:
        held_out = [s.specimen for s in rows if not s.is_template and s.gt_mask]
        hint = (
            f"; {len(held_out)} rows are held out because they have a `gt_mask` "
            "(set finetune.allow_gt_targets: true to train on them too)"
            if held_out
            else ""
        )
        raise InputError(
            f"fine-tuning {species!r} (finetune.pool: {pool}) found no unlabelled specimen{hint}"
        )
    return TrainingSet(species, templates, targets)


def species_list(sheet: pd.DataFrame) -> list[str]:
    """Return the sheet's species slugs, sorted.

    Parameters
    ----------
    sheet : pandas.DataFrame
        The sample sheet.

    Returns
    -------
    list of str
        Each species once.
    """
    return sorted(sheet["species"].unique())
