# Stage: static-motion collaborative model — CLN training and AWL weights per split.
# Reads the feature caches (FEATURES, streams.smk) of the CLN's attention mode (cln.attention); never the frames.


CLN_CHECKPOINT = f"{OUT}/cln/split{{split}}/cln.pt"
CLN_SCORES = f"{OUT}/cln/split{{split}}/scores.h5"
AWL_WEIGHTS = f"{OUT}/awl/split{{split}}/{{source}}/weights.csv"
TWO_STREAM = {"rgb", "flow"} <= set(config["stream"]["streams"])
FUSION = TWO_STREAM and config["cln"]["attention"] in config["stream"]["attentions"]


rule train_cln:
    input:
        static=cln_cache("rgb"),
        motion=cln_cache("flow"),
    output:
        checkpoint=CLN_CHECKPOINT,
        scores=CLN_SCORES,
    params:
        # the held-out videos (awl.scores=holdout) are chosen here, so the CLN depends on those two keys
        cfg=json.dumps(
            {
                "cln": config["cln"],
                "seed": config["seed"],
                "device": config["device"],
                "awl": {k: config["awl"][k] for k in ("scores", "holdout_fraction")},
            },
            sort_keys=True,
        ),
    threads: 2
    resources:
        gpu=GPUS,  # the CLN runs on config `device` (auto: the GPU when there is one)
    log:
        f"{LOGS}/cln/split{{split}}.log",
    conda:
        ENV
    shell:
        "OMP_NUM_THREADS={threads} tclsta train-cln --config-json {params.cfg:q} --split {wildcards.split}"
        " --static {input.static:q} --motion {input.motion:q} --checkpoint {output.checkpoint:q}"
        " --scores {output.scores:q} > {log:q} 2>&1"


rule solve_awl:
    input:
        unpack(awl_inputs),
    output:
        AWL_WEIGHTS,
    params:
        cfg=cfg_json("awl"),
        inputs=awl_arguments,
    wildcard_constraints:
        source="stream|cln",
    log:
        f"{LOGS}/awl/split{{split}}_{{source}}.log",
    conda:
        ENV
    shell:
        "tclsta solve-awl --config-json {params.cfg:q} --split {wildcards.split} --source {wildcards.source}"
        " {params.inputs} --output {output:q} > {log:q} 2>&1"


if FUSION:

    TARGETS += expand(AWL_WEIGHTS, split=SPLITS, source=["stream", "cln"])
