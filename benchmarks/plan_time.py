"""How long Snakemake takes to plan a large sample sheet (a script, not a test).

Writes a synthetic sample sheet of ``--specimens`` specimens in ``--species`` species whose
images, template masks and ground truth point at the bundled example's files (so every input
exists and Snakemake checks real files, as it would on real data), then times
``snakemake --dry-run`` on it from a scratch working directory and prints the number of jobs
planned per rule. Jobs grow with species, not specimens: each species is one job per rule.

    .venv/bin/python benchmarks/plan_time.py --specimens 10000 --species 20
    .venv/bin/python benchmarks/plan_time.py --specimens 10000 --species 20 --profile plan.prof

The target is under 30 s for 10,000 specimens in 20 species.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "resources" / "example"
SNAKEMAKE = Path(sys.executable).with_name("snakemake")
TEMPLATES_PER_SPECIES = 2


def synthetic_sheet(specimens: int, species: int) -> pd.DataFrame:
    """`specimens` rows spread evenly over `species`; the first two of each are templates.

    Images cycle through the example's images; templates use the example's masks, and every
    target gets the example's ground truth, so `evaluate` runs for every species.
    """
    example = pd.read_csv(EXAMPLE / "samples.tsv", sep="\t", dtype=str, keep_default_na=False)
    with_mask = example[example["mask"] != ""].reset_index(drop=True)
    rows = []
    for i in range(specimens):
        species_index = i % species
        rank = i // species
        source = (
            with_mask.iloc[i % len(with_mask)]
            if rank < TEMPLATES_PER_SPECIES
            else example.iloc[i % len(example)]
        )
        rows.append(
            {
                "specimen": f"sp{species_index:03d}_{rank:05d}",
                "species": f"genus{species_index % 5}_sp{species_index:03d}",
                "image": str(ROOT / source["image"]),
                "mask": str(ROOT / source["mask"]) if rank < TEMPLATES_PER_SPECIES else "",
                "px_per_mm": source["px_per_mm"],
                "gt_mask": str(ROOT / source["gt_mask"]) if source["gt_mask"] else "",
            }
        )
    return pd.DataFrame(rows)


def plan(
    workdir: Path, sheet: Path, profile: Path | None, configs: tuple[Path, ...] = ()
) -> tuple[float, str]:
    """Seconds of `snakemake --dry-run` (a fresh process, as users run it) and its output;
    ``configs``: config files layered over config/config.yaml."""
    command = [
        str(SNAKEMAKE),
        "--dry-run",
        "--snakefile",
        str(ROOT / "workflow" / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(ROOT / "config" / "config.yaml"),
        *map(str, configs),
        "--config",
        f"samples={sheet}",
    ]
    if profile:
        command = [
            sys.executable,
            "-m",
            "cProfile",
            "-o",
            str(profile),
            "-m",
            "snakemake",
            *command[1:],
        ]
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    seconds = time.perf_counter() - start
    if result.returncode:
        sys.exit(f"snakemake failed:\n{result.stderr[-3000:]}")
    return seconds, result.stdout


def job_counts(dry_run_output: str) -> dict[str, int]:
    """The 'Job stats' table of a dry run: jobs per rule, plus 'total'."""
    counts = {}
    table = dry_run_output.split("Job stats:", 1)[-1]
    for line in table.splitlines():
        match = re.fullmatch(r"(\w+)\s+(\d+)", line.strip())
        if match:
            counts[match.group(1)] = int(match.group(2))
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--specimens", type=int, default=10_000)
    parser.add_argument("--species", type=int, default=20)
    parser.add_argument("--profile", type=Path, help="also write a cProfile of the planning here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="traitrack-plan-") as scratch:
        workdir = Path(scratch)
        sheet = workdir / "samples.tsv"
        synthetic_sheet(args.specimens, args.species).to_csv(sheet, sep="\t", index=False)
        seconds, output = plan(workdir, sheet, args.profile)
    counts = job_counts(output)
    print(
        f"specimens={args.specimens} species={args.species} plan_seconds={seconds:.1f} jobs={counts.get('total')}"
    )
    print("  " + " ".join(f"{rule}={n}" for rule, n in counts.items() if rule != "total"))


if __name__ == "__main__":
    main()
