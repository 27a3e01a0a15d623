# Stage: metrics of every ablation row (metrics.json) and the report with figures.
# `snakemake --report report.html` collects the figures below (captions in workflow/report/).

METRICS = f"{OUT}/metrics.json"
PREDICTIONS = f"{OUT}/evaluation/predictions.csv"
FITTED_ON = f"{OUT}/evaluation/fitted_on.json"
REPORT_DIR = f"{OUT}/report"


rule evaluate:
    input:
        evaluation_inputs,
    output:
        metrics=METRICS,
        predictions=PREDICTIONS,
        fitted_on=FITTED_ON,
    params:
        cfg=cfg_json("dataset", "stream", "cln", "awl", "early_fusion", "fusion", "mkl"),
        out=lambda wildcards: OUT,  # functions: plain path prefixes of the outputs trip --lint
    threads: 2
    log:
        f"{LOGS}/evaluate.log",
    conda:
        ENV
    shell:
        "OMP_NUM_THREADS={threads} tclsta evaluate --config-json {params.cfg:q} --output-dir {params.out:q}"
        " --metrics {output.metrics:q} --predictions {output.predictions:q} > {log:q} 2>&1"


rule report:
    input:
        evaluation_inputs,
        metrics=METRICS,
        predictions=PREDICTIONS,
        frames=FRAME_INDEX,
    output:
        markdown=f"{REPORT_DIR}/report.md",
        confusion=report(
            f"{REPORT_DIR}/confusion.png", caption="../report/confusion.rst", category="Results"
        ),
        attention=report(
            f"{REPORT_DIR}/attention.png", caption="../report/attention.rst", category="Results"
        ),
        weights=report(
            f"{REPORT_DIR}/fusion_weights.png", caption="../report/fusion_weights.rst", category="Results"
        ),
        reliability=report(
            f"{REPORT_DIR}/reliability.png", caption="../report/reliability.rst", category="Results"
        ),
    params:
        # the report prints the whole configuration, so it depends on all of it
        cfg=cfg_json(*config),
        out=lambda wildcards: OUT,
        report_dir=lambda wildcards: REPORT_DIR,
    log:
        f"{LOGS}/report.log",
    conda:
        ENV
    shell:
        "tclsta report --config-json {params.cfg:q} --output-dir {params.out:q} --metrics {input.metrics:q}"
        " --predictions {input.predictions:q} --report-dir {params.report_dir:q} > {log:q} 2>&1"


TARGETS += [f"{REPORT_DIR}/report.md"]
