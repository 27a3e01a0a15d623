# Stage: spatial-temporal attention streams (train_stream) and their HDF5 feature caches (dump_features).

STREAM_CKPT = f"{OUT}/streams/split{{split}}/{{stream}}_{{attention}}.pt"
FEATURES = f"{OUT}/features/split{{split}}/{{stream}}_{{attention}}.h5"


rule train_stream:
    input:
        manifest=MANIFEST,
        index=FRAME_INDEX,
    output:
        STREAM_CKPT,
    params:
        cfg=stream_cfg(),
        frames=lambda wildcards: FRAMES,  # a function: a plain path prefix of the inputs trips --lint
        launch=stream_launcher(),
    threads: 2
    resources:
        **stream_resources(),
        runtime=config["resources"]["train_runtime"],
    log:
        f"{LOGS}/streams/split{{split}}/{{stream}}_{{attention}}.log",
    conda:
        GPU_ENV
    shell:
        "OMP_NUM_THREADS={threads} {params.launch}tclsta train-stream --config-json {params.cfg:q} --split {wildcards.split}"
        " --stream {wildcards.stream} --attention {wildcards.attention} --manifest {input.manifest:q}"
        " --frames-index {input.index:q} --frames {params.frames:q} --output {output:q} > {log:q} 2>&1"


rule dump_features:
    input:
        checkpoint=STREAM_CKPT,
        manifest=MANIFEST,
        index=FRAME_INDEX,
    output:
        FEATURES,
    params:
        cfg=cfg_json("device", "features"),
        frames=lambda wildcards: FRAMES,  # a function: a plain path prefix of the inputs trips --lint
    threads: 2
    resources:
        gpu=GPUS,
    log:
        f"{LOGS}/features/split{{split}}/{{stream}}_{{attention}}.log",
    conda:
        GPU_ENV
    shell:
        "OMP_NUM_THREADS={threads} tclsta dump-features --config-json {params.cfg:q} --split {wildcards.split}"
        " --stream {wildcards.stream} --attention {wildcards.attention} --checkpoint {input.checkpoint:q}"
        " --manifest {input.manifest:q} --frames-index {input.index:q} --frames {params.frames:q}"
        " --output {output:q} > {log:q} 2>&1"


TARGETS += expand(FEATURES, split=SPLITS, stream=config["stream"]["streams"],
                  attention=config["stream"]["attentions"])
