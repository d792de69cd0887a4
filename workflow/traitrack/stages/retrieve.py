"""Stage of ``review.smk``'s ``retrieve``: the specimens whose part looks like a query's.

The query is a specimen and part of the results (its final labels) or any photograph with a
mask; the pool is the query's species, a list of species, or all of them, every specimen with
that part (templates on their own masks, targets on their final labels). Writes the ranked
table (:func:`traitrack.retrieval.combine_by_rank`, each candidate's QC beside it) and a
contact sheet of the query and the first candidates.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from tqdm import tqdm

from traitrack.engines.base import Frame
from traitrack.io import (
    InputError,
    atomic_output,
    read_label_png,
    read_mask,
    read_pixel_size,
    write_table,
)
from traitrack.propagation import EngineSpec
from traitrack.retrieval import (
    PartProfile,
    RetrievalError,
    combine_by_rank,
    part_profile,
    score_candidates,
)
from traitrack.retrieval_cycle import cycle_iou
from traitrack.samples import read_sample_sheet, specimens
from traitrack.structures import StructureTable
from traitrack.working_size import photograph_shape, read_working_image, resize_labels

log = logging.getLogger(__name__)

QC_COLUMNS = ("qc_rank", "qc_score", "flagged")


def pool_species(
    pool: str | Sequence[str], query_species: str | None, all_species: Sequence[str]
) -> list[str]:
    """The species a pool names: ``species`` (the query's), ``all``, or a list of slugs.

    Parameters
    ----------
    pool : str or sequence of str
        Config ``retrieve.pool``.
    query_species : str or None
        The query's species (None for a photograph outside the sheet).
    all_species : sequence of str
        The sheet's species.

    Returns
    -------
    list of str
        The species, in sheet order.

    Raises
    ------
    InputError
        If the pool names an unknown species, or ``species`` for a query without one.
    """
    if pool == "all":
        return list(all_species)
    if pool == "species":
        if query_species is None:
            raise InputError(
                "retrieve.pool is `species`, but the query is a photograph outside the sample "
                "sheet; name the species to search (a list) or `all`"
            )
        return [query_species]
    names = [pool] if isinstance(pool, str) else list(pool)
    unknown = [s for s in names if s not in all_species]
    if unknown:
        raise InputError(
            f"retrieve.pool names species {unknown} that the sample sheet lacks; use `species`, "
            f"`all` or species of {list(all_species)[:10]}"
        )
    return [s for s in all_species if s in names]


def run_retrieve(
    samples: str | Path,
    structures: StructureTable,
    structure: str,
    final_dirs: Mapping[str, str | Path],
    out_table: str | Path,
    out_sheet: str | Path,
    *,
    query_specimen: str | None = None,
    query_image: str | Path | None = None,
    query_mask: str | Path | None = None,
    pool: str | Sequence[str] = "species",
    order: str = "similar",
    top: int = 12,
    cycle_engine: EngineSpec | None = None,
    working_megapixels: float = 0.0,
) -> pd.DataFrame:
    """Rank a pool's parts by their likeness to the query's (module docstring).

    Parameters
    ----------
    samples : str or Path
        The sample sheet.
    structures : StructureTable
        The part table.
    structure : str
        The part to compare.
    final_dirs : mapping of str to str or Path
        Per species, the folder of its final ``labels/`` and ``qc.tsv``.
    out_table, out_sheet : str or Path
        The ranked TSV and the contact sheet PNG.
    query_specimen : str, optional
        A specimen of the sheet (its final labels give the part).
    query_image, query_mask : str or Path, optional
        Or a photograph and its mask (any encoding the config declares).
    pool : str or sequence of str
        ``species``, ``all`` or species slugs (config ``retrieve.pool``).
    order : str
        ``similar`` or ``dissimilar``.
    top : int
        Candidates on the contact sheet.
    cycle_engine : EngineSpec, optional
        With an engine (config ``retrieve.cycle``), a fourth score, ``cycle_iou``: the query's
        part carried to each candidate and back (:mod:`traitrack.retrieval_cycle`).
    working_megapixels : float
        ``limits.working_megapixels``: a larger photograph is read reduced, its label map
        reduced with it (areas still in the photograph's px or mm^2); 0: full size.

    Returns
    -------
    pandas.DataFrame
        The ranked table, as written.
    """
    by_name = {s.name: s for s in structures}
    if structure not in by_name:
        raise InputError(
            f"retrieve: unknown structure {structure!r}; the config declares {list(by_name)}"
        )
    label = by_name[structure].label
    sheet = read_sample_sheet(samples)
    rows = {s.specimen: s for sp in pd.unique(sheet["species"]) for s in specimens(sheet, sp)}
    if query_specimen is not None:
        if query_specimen not in rows:
            raise InputError(f"retrieve: specimen {query_specimen!r} is not in {samples}")
        query_row = rows[query_specimen]
        image, labels, pixel_area = _working_pair(
            query_row.image,
            Path(final_dirs[query_row.species]) / "labels" / f"{query_specimen}.png",
            working_megapixels,
        )
        query = _profile(query_row, image, labels, pixel_area, label)
        query_species = query_row.species
        query_frame = Frame(query_specimen, image, labels)
    elif query_image is not None and query_mask is not None:
        image, labels, pixel_area = _working_pair(
            query_image, None, working_megapixels, query_mask, structures
        )
        query = part_profile(
            Path(query_image).stem,
            image,
            labels == label,
            read_pixel_size(query_image),
            pixel_area=pixel_area,
        )
        query_species = None
        query_frame = Frame(query.specimen, image, labels)
    else:
        raise InputError("retrieve: give a query specimen, or a query image and its mask")
    species = pool_species(pool, query_species, list(pd.unique(sheet["species"])))
    candidates, sources, empty = [], {}, []
    for name, row in tqdm(
        [(n, r) for n, r in rows.items() if r.species in species], desc="retrieve"
    ):
        if name == query_specimen:
            continue
        try:
            labels_path = Path(final_dirs[row.species]) / "labels" / f"{row.specimen}.png"
            image, labels, pixel_area = _working_pair(row.image, labels_path, working_megapixels)
            candidates.append(_profile(row, image, labels, pixel_area, label))
        except RetrievalError:
            empty.append(name)
            continue
        sources[name] = (row.species, "template" if row.is_template else "prediction")
    if empty:
        log.info("%d specimens have no %s and are left out: %s", len(empty), structure, empty[:10])
    scores = score_candidates(query, candidates)
    if cycle_engine is not None:
        engine = cycle_engine.build()
        scores["cycle_iou"] = [
            cycle_iou(
                engine,
                structures,
                query_frame,
                Frame(n, read_working_image(rows[n].image, working_megapixels)),
                label,
            )
            for n in tqdm(scores["specimen"], desc="retrieve: cycles")
        ]
    table = combine_by_rank(scores, order)
    table.insert(2, "species", [sources[n][0] for n in table["specimen"]])
    table.insert(3, "structure", structure)
    table.insert(4, "source", [sources[n][1] for n in table["specimen"]])
    qc = _qc(final_dirs, species)
    for column in QC_COLUMNS:
        table[column] = [qc.get(n, {}).get(column, np.nan) for n in table["specimen"]]
    table.insert(1, "query", query.specimen)
    write_table(out_table, table)
    profiles = {p.specimen: p for p in candidates}
    write_contact_sheet(
        out_sheet, query, [profiles[n] for n in table["specimen"][:top]], table.head(top), order
    )
    return table


def write_contact_sheet(
    path: str | Path,
    query: PartProfile,
    shown: Sequence[PartProfile],
    table: pd.DataFrame,
    order: str,
) -> None:
    """The query's part and the first candidates' parts, outlined, with their scores.

    Parameters
    ----------
    path : str or Path
        The PNG (written atomically).
    query : PartProfile
        The query.
    shown : sequence of PartProfile
        The candidates in rank order.
    table : pandas.DataFrame
        Their rows of the ranked table.
    order : str
        ``similar`` or ``dissimilar``, for the title.
    """
    columns = 5
    panels = [query, *shown]
    rows = int(np.ceil(len(panels) / columns))
    figure = Figure(figsize=(2.4 * columns, 2.6 * rows))
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for axis in axes:
        axis.set_axis_off()
    for index, (axis, profile) in enumerate(zip(axes, panels)):
        axis.imshow(profile.crop)
        if profile.crop_mask.any():
            axis.contour(profile.crop_mask, levels=[0.5], colors=["#ff2020"], linewidths=1.2)
        if index == 0:
            axis.set_title(f"query\n{profile.specimen}", fontsize=9, color="#b00000")
            continue
        row = table.iloc[index - 1]
        axis.set_title(
            f"{int(row['rank'])}. {profile.specimen}\nshape {row['shape_iou']:.2f} "
            f"look {row['appearance_similarity']:.2f} traits {row['trait_distance']:.1f}",
            fontsize=8,
        )
    figure.suptitle(f"the most {order} parts to the query's (red outline: the part)", fontsize=10)
    figure.tight_layout()
    with atomic_output(path) as temporary:
        figure.savefig(temporary, dpi=90, format="png")


def _working_pair(
    image_path, labels_path, working_megapixels: float, mask_path=None, structures=None
) -> tuple[np.ndarray, np.ndarray, float]:
    """A photograph at the working size, its label map (a label PNG, or a user's mask read
    with ``structures``) reduced to it, and how many photograph pixels one of its pixels is."""
    image = read_working_image(image_path, working_megapixels)
    if mask_path is not None:
        shape = photograph_shape(image_path) if working_megapixels else image.shape[:2]
        labels = read_mask(mask_path, structures, str(image_path), shape)
    else:
        labels = read_label_png(labels_path)
    if not working_megapixels or labels.shape == image.shape[:2]:
        return image, labels, 1.0
    pixel_area = labels.size / image[..., 0].size
    return image, resize_labels(labels, image.shape[:2]), pixel_area


def _profile(row, image, labels, pixel_area: float, label: int) -> PartProfile:
    px_per_mm = row.px_per_mm or read_pixel_size(row.image)
    return part_profile(row.specimen, image, labels == label, px_per_mm, pixel_area=pixel_area)


def _qc(final_dirs: Mapping[str, str | Path], species: Sequence[str]) -> dict[str, dict]:
    """Per target of the species, its QC columns from the species' qc.tsv."""
    found = {}
    for name in species:
        table = pd.read_csv(Path(final_dirs[name]) / "qc.tsv", sep="\t")
        for row in table.to_dict("records"):
            found[row["specimen"]] = {c: row.get(c) for c in QC_COLUMNS}
    return found
