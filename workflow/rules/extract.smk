# Stage: frames and TV-L1 optical flow, sharded (extract.shard_size videos per job).


rule disk_check:
    input:
        synthetic_videos,
        manifest=MANIFEST,
    output:
        DISK_ESTIMATE,
    params:
        cfg=extract_cfg("flow"),  # without check_disk: switching the check does not rerun it, nor extract
        root=dataset_root(),
        frames=FRAMES,
    resources:
        # a resource, not a param: resources are no rerun trigger, so switching the check reruns nothing
        check_disk=str(config["extract"]["check_disk"]).lower(),
    log:
        f"{LOGS}/disk_check.log",
    conda:
        GPU_ENV
    shell:
        "tclsta disk-check --config-json {params.cfg:q} --manifest {input.manifest:q} --root {params.root:q}"
        " --frames {params.frames:q} --check-disk {resources.check_disk} --out {output:q} > {log:q} 2>&1"


rule extract:
    input:
        synthetic_videos,
        manifest=MANIFEST,
        disk=DISK_ESTIMATE,  # checked before extraction
    output:
        SHARD_INDEX,
    params:
        cfg=extract_cfg("flow"),
        root=dataset_root(),
        frames=FRAMES,
    threads: 2
    resources:
        gpu=GPUS if config["flow"]["enabled"] and config["flow"]["backend"] == "torch" else 0,
    log:
        f"{LOGS}/extract/shard_{{shard}}.log",
    conda:
        GPU_ENV
    shell:
        "OMP_NUM_THREADS={threads} tclsta extract --config-json {params.cfg:q} --manifest {input.manifest:q}"
        " --root {params.root:q} --frames {params.frames:q} --shard {wildcards.shard} --out {output:q} > {log:q} 2>&1"


rule frame_index:
    input:
        shards=expand(SHARD_INDEX, shard=shard_ids()),
        missing=MISSING_VIDEOS,
    output:
        index=FRAME_INDEX,
        bad=BAD_VIDEOS,
    params:
        cfg=extract_cfg("output_dir"),  # verifies <output_dir>/frames; extract.skip_bad
    log:
        f"{LOGS}/frame_index.log",
    conda:
        ENV
    shell:
        "tclsta frame-index {input.shards:q} --missing {input.missing:q} --config-json {params.cfg:q}"
        " --out {output.index:q} --bad {output.bad:q} > {log:q} 2>&1"


TARGETS += [FRAME_INDEX]
