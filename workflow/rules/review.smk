rule data_dictionary:
    output:
        report(
            "results/report/data_dictionary.html",
            caption="../report/data_dictionary.rst",
            category="Trait tables",
            labels={"table": "data dictionary"},
        ),
    log:
        "logs/data_dictionary/all.log",
    localrule: True
    conda:
        "../../envs/traitrack.yaml"
    script:
        "../scripts/data_dictionary.py"
