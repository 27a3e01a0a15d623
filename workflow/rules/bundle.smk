# Stage: the model bundle of each split (tclsta.inference.bundle), what `tclsta predict` reads.
# After evaluate: bundle.json records the test metrics of the rows the bundle serves.

BUNDLE = f"{OUT}/model/split{{split}}/bundle.json"


rule bundle:
    input:
        metrics=METRICS,
        streams=expand(STREAM_CKPT, stream=["rgb", "flow"], attention=config["cln"]["attention"], allow_missing=True),
        cln=expand(CLN_CHECKPOINT, variant=CLN_VARIANTS, allow_missing=True),
        awl=expand(AWL_WEIGHTS, source=[s for s in AWL_SOURCES if s != "stream"], allow_missing=True),
    output:
        BUNDLE,
    params:
        cfg=cfg_json("extract", "flow", "features", "model", "cln", "dataset"),
        out=lambda wildcards: OUT,
        target=lambda wildcards: f"{OUT}/model/split{wildcards.split}",
    log:
        f"{LOGS}/bundle/split{{split}}.log",
    conda:
        ENV
    shell:
        "tclsta bundle --config-json {params.cfg:q} --split {wildcards.split} --output-dir {params.out:q}"
        " --target {params.target:q} > {log:q} 2>&1"


TARGETS += bundle_targets()
