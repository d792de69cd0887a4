"""Rule retrieve: the specimens whose part looks most (or least) like a query specimen's."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")
from traitrack.logs import log_to  # noqa: E402

log_to(snakemake.log[0])
from traitrack.propagation import EngineSpec  # noqa: E402
from traitrack.stages.retrieve import run_retrieve  # noqa: E402
from traitrack.structures import StructureTable  # noqa: E402

config = snakemake.config  # whole sections: the user's values, defaults filled
options = config["retrieve"]
run_retrieve(
    config["samples"],
    StructureTable.from_config(config),
    snakemake.wildcards.structure,
    snakemake.params.final_dirs,
    snakemake.output.table,
    snakemake.output.sheet,
    query_specimen=snakemake.wildcards.specimen,
    pool=options["pool"],
    order=options["order"],
    top=options["top"],
    cycle_engine=EngineSpec.from_config(config, threads=snakemake.threads)
    if options["cycle"]
    else None,
    working_megapixels=config["limits"]["working_megapixels"],
)
