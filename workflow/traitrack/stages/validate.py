"""Stage of ``validate.smk``: every problem of a species' inputs, before any heavy job.

``run_validate`` writes ``results/{species}/validation.tsv`` (every problem, warnings too) and
logs each one; it fails, listing them all, if an image or mask is wrong, so ``describe``
(which depends on the table) and everything after it never start. With ``ground_truth`` it
checks the ``gt_mask`` files into ``ground_truth_validation.tsv`` and never fails:
``require_valid`` is what ``evaluate`` calls first, so their problems stop it, and only it,
with the same list.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from traitrack.io import InputError, write_table
from traitrack.species_context import SpeciesContext
from traitrack.validation import check_specimens, encoding_problems, problems_table

log = logging.getLogger(__name__)


class ValidationError(InputError):
    """The inputs of a species have problems; the message lists every one with its fix."""


def run_validate(
    context: SpeciesContext,
    *,
    out: str | Path,
    max_megapixels: float,
    ground_truth: bool = False,
    config_file: str = "the config",
) -> None:
    """Check every input of a species and write the problems table.

    Parameters
    ----------
    context : SpeciesContext
        The species: its rows and the templates it borrows (``select.template_pool``, checked
        too), and the part table whose encodings are checked.
    out : str or Path
        ``validation.tsv``: one row per problem (:data:`traitrack.validation.COLUMNS`).
    max_megapixels : float
        ``limits.max_megapixels`` (0: no limit).
    ground_truth : bool
        Check the ``gt_mask`` files (rule ``validate_ground_truth``) instead of the images
        and masks; their problems never fail the job, ``evaluate`` reads them
        (:func:`require_valid`).
    config_file : str
        The config, for messages (not a path: a path in a rule's params would rerun the rule
        in a moved copy of the project).

    Raises
    ------
    ValidationError
        Listing every problem that blocks the species' jobs (warnings and ``gt_mask``
        problems are in the table and the log only).
    """
    species, table = context.species, context.structures
    positions = {name: i + 1 for i, name in enumerate(context.sheet["specimen"])}
    rows = [(positions[m.specimen], m) for m in context.readable]
    problems = [] if ground_truth else encoding_problems(table, config_file)
    problems += check_specimens(
        rows, species, table, max_megapixels=max_megapixels, ground_truth=ground_truth
    )
    for problem in problems:
        log.warning(problem.line())
    write_table(out, problems_table(problems))
    blocking = [p for p in problems if p.blocks == "all"]
    if blocking:
        raise ValidationError(_message(species, context.sheet_path, blocking, "no job of it ran"))
    log.info("%s: %d row(s) checked, %d problem(s)", species, len(rows), len(problems))


def require_valid(validation: str | Path, species: str, blocks: str = "evaluate") -> None:
    """Raise if ``validate``'s table lists problems that block ``blocks`` (``evaluate``).

    Parameters
    ----------
    validation : str or Path
        The species' ``validation.tsv``.
    species : str
        The species slug, for the message.
    blocks : str
        The step asking.

    Raises
    ------
    ValidationError
        Listing every such problem with its file, row and fix.
    """
    table = pd.read_csv(validation, sep="\t", dtype=str, keep_default_na=False)
    rows = table[table["blocks"] == blocks]
    if len(rows):
        lines = [
            f"ERROR row {r.sheet_row} ({r.specimen}), `{r.column}` {r.file}: {r.problem}; "
            f"fix: {r.fix}"
            for r in rows.itertuples()
        ]
        raise ValidationError(
            f"{species}: {len(lines)} problem(s) of `{rows['column'].iloc[0]}` files stop "
            f"`{blocks}` (the trait tables are not affected; {validation} lists them):\n  "
            + "\n  ".join(lines)
        )


def _message(species, samples, problems, consequence) -> str:
    lines = "\n  ".join(p.line() for p in problems)
    return (
        f"{species}: {len(problems)} problem(s) in the inputs named by {samples} and the "
        f"config, so {consequence}:\n  {lines}"
    )
