# Stage: static-motion collaborative model — CLN training and AWL weights per split.
# Reads the feature caches (FEATURES, streams.smk) of the CLN's attention mode (cln.attention); never the frames.
# variant paper = the paper's CLN; heldout (fusion.heldout, ours) = fitted on what the streams fitted,
# stopped early on their held-out groups (read from the manifest's groups).


CLN_CHECKPOINT = f"{OUT}/cln/split{{split}}/{{variant}}/cln.pt"
CLN_SCORES = f"{OUT}/cln/split{{split}}/{{variant}}/scores.h5"
AWL_WEIGHTS = f"{OUT}/awl/split{{split}}/{{source}}/weights.csv"
AWL_FIT = f"{OUT}/awl/split{{split}}/{{source}}/fit.json"
TWO_STREAM = {"rgb", "flow"} <= set(config["stream"]["streams"])
FUSION = TWO_STREAM and config["cln"]["attention"] in config["stream"]["attentions"]
if FUSION and config["fusion"]["heldout"] and config["stream"]["holdout_fraction"] <= 0:
    raise WorkflowError(
        "fusion.heldout: true fits the [held-out] fusions on the streams' held-out groups, but "
        "stream.holdout_fraction is 0: set it above 0, or fusion: {heldout: false}"
    )
CLN_VARIANTS = ["paper", "heldout"] if config["fusion"]["heldout"] else ["paper"]
AWL_SOURCES = ["stream", "cln"] + (["stream_heldout", "cln_heldout"] if config["fusion"]["heldout"] else [])


rule train_cln:
    input:
        static=cln_cache("rgb"),
        motion=cln_cache("flow"),
        manifest=MANIFEST,
    output:
        checkpoint=CLN_CHECKPOINT,
        scores=CLN_SCORES,
    params:
        cfg=cln_cfg,
    wildcard_constraints:
        variant="paper|heldout",
    threads: 2
    resources:
        gpu=GPUS,  # the CLN runs on config `device` (auto: the GPU when there is one)
    log:
        f"{LOGS}/cln/split{{split}}_{{variant}}.log",
    conda:
        ENV
    shell:
        "OMP_NUM_THREADS={threads} tclsta train-cln --config-json {params.cfg:q} --split {wildcards.split}"
        " --variant {wildcards.variant} --static {input.static:q} --motion {input.motion:q}"
        " --manifest {input.manifest:q} --checkpoint {output.checkpoint:q} --scores {output.scores:q} > {log:q} 2>&1"


rule solve_awl:
    input:
        unpack(awl_inputs),
    output:
        weights=AWL_WEIGHTS,
        fit=AWL_FIT,
    params:
        cfg=awl_cfg,
        inputs=awl_arguments,
    wildcard_constraints:
        source="stream|cln|stream_heldout|cln_heldout",
    threads: 1
    log:
        f"{LOGS}/awl/split{{split}}_{{source}}.log",
    conda:
        ENV
    shell:
        "tclsta solve-awl --config-json {params.cfg:q} --split {wildcards.split} --source {wildcards.source}"
        " {params.inputs} --output {output.weights:q} > {log:q} 2>&1"


if FUSION:

    TARGETS += expand(AWL_WEIGHTS, split=SPLITS, source=AWL_SOURCES)
