"""Rule data_dictionary: every trait column's unit and meaning as an HTML page for the report."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")
from traitrack.logs import log_to  # noqa: E402

log_to(snakemake.log[0])
from traitrack.stages.review import run_data_dictionary  # noqa: E402

run_data_dictionary(snakemake.output[0])
