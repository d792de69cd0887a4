"""traitrack: segment the parts of museum specimens from a few templates per species, then measure them."""

from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/validate.smk"
include: "workflow/rules/prepare.smk"
include: "workflow/rules/checkpoint.smk"
include: "workflow/rules/finetune.smk"
include: "workflow/rules/propagate.smk"
include: "workflow/rules/annotate_next.smk"
include: "workflow/rules/measure.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/selftrain.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        final_outputs(),
