# Stage: the dataset — the synthetic miniature (synthetic format only) and the manifest.


if config["dataset"]["format"] == "synthetic":

    rule synthesize:
        output:
            directory(dataset_root()),
        params:
            cfg=cfg_json("synthetic"),
        log:
            f"{LOGS}/synthesize.log",
        conda:
            ENV
        shell:
            "tclsta synthesize --config-json {params.cfg:q} --out {output:q} > {log:q} 2>&1"


rule manifest:
    input:
        dataset_inputs,
    output:
        manifest=MANIFEST,
        missing=MISSING_VIDEOS,
    params:
        cfg=cfg_json("dataset"),
        root=dataset_root(),
    log:
        f"{LOGS}/manifest.log",
    conda:
        ENV
    shell:
        "tclsta manifest --config-json {params.cfg:q} --root {params.root:q} --out {output.manifest:q}"
        " --missing {output.missing:q} > {log:q} 2>&1"
