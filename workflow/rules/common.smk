# Config validation, output paths and input functions shared by every stage.
import json
import os
import shlex
import sys
from pathlib import Path

# The repository's package is importable even when tclsta is not pip-installed.
sys.path.insert(0, str(Path(workflow.basedir).parent))
# envs/tclsta.post-deploy.sh pip-installs this checkout into each conda env (--sdm conda).
os.environ.update(TCLSTA_REPO=str(Path(workflow.basedir).parent))

from tclsta.config import validate as _validate_config, workflow_path_problems
from tclsta.errors import ConfigError

try:
    config = _validate_config(config, source="snakemake config")
except ConfigError as err:
    raise WorkflowError(str(err)) from None
_path_problems = workflow_path_problems(config)
if _path_problems:
    raise WorkflowError("snakemake config:\n  " + "\n  ".join(_path_problems))


wildcard_constraints:
    split=r"\d+",
    shard=r"\d+",
    stream="rgb|flow",
    attention="none|spatial|temporal|both",


OUT = config["output_dir"]
LOGS = f"{OUT}/logs"
ENV = str(Path(workflow.basedir).parent / "envs" / "tclsta.yaml")
GPU_ENV = str(Path(workflow.basedir).parent / "envs" / "tclsta-gpu.yaml")
GPUS = config["resources"]["gpus"]
# Run locally, at most one GPU job per GPU at once (each job locks its own: tclsta.device); a
# `--resources gpu=N` on the command line or in a profile wins. SLURM allocates GPUs itself.
if GPUS and workflow.local_exec and "gpu" not in workflow.global_resources:
    from tclsta.device import visible_gpus

    _gpus_here = len(visible_gpus())
    if _gpus_here:
        workflow.register_resource("gpu", _gpus_here * GPUS)
SPLITS = config["dataset"]["splits"]

# Final products of each stage; the stage files append to it and `rule all` asks for it.
TARGETS = []

MANIFEST = f"{OUT}/manifest.csv"
FRAMES = f"{OUT}/frames"
FRAME_INDEX = f"{OUT}/frames_index.csv"
BAD_VIDEOS = f"{OUT}/bad_videos.txt"
DISK_ESTIMATE = f"{OUT}/extract/disk_estimate.json"
MISSING_VIDEOS = f"{OUT}/missing_videos.txt"  # listed by the annotations, not on disk (Kinetics)
SHARD_INDEX = f"{OUT}/extract/shard_{{shard}}.tsv"


def cfg_json(*sections):
    """The config sections a rule depends on, as a JSON string for `params` and --config-json.

    Snakemake compares params by value, so a rule reruns exactly when one of these changes.
    """
    return json.dumps({name: config[name] for name in sections}, sort_keys=True)


def dataset_root():
    """The dataset folder; the synthetic dataset lives in <output_dir>/dataset."""
    root = config["dataset"]["root"]
    if root is None:
        if config["dataset"]["format"] != "synthetic":
            raise WorkflowError(f"dataset.root must be set for dataset.format={config['dataset']['format']}")
        return f"{OUT}/dataset"
    return root


def video_count():
    """Number of videos in the dataset, known at parse time (no checkpoint needed).

    The requested splits are checked here too, so a split the dataset lacks stops the run at once.
    A cluster job (which parses the Snakefile again) counts the manifest's rows instead: the main
    process checked the dataset and wrote the manifest before submitting any job downstream of it,
    so a Kinetics-sized dataset is not walked again by every job.
    """
    if config["dataset"]["format"] == "synthetic":
        from tclsta.data.synthetic import SPLITS as available

        missing = sorted(set(SPLITS) - set(available))
        if missing:
            raise WorkflowError(f"dataset.splits: the synthetic dataset has splits {list(available)}, not {missing}")
        syn = config["synthetic"]
        return syn["num_classes"] * (syn["train_per_class"] + syn["test_per_class"])
    from tclsta.data.manifest import build_manifest, check_splits, read_manifest
    from tclsta.errors import TclstaError

    try:
        if workflow.remote_exec and os.path.isfile(MANIFEST):
            return len(read_manifest(MANIFEST))
        table = build_manifest(config["dataset"]["format"], dataset_root(), config["dataset"])
        check_splits(table, SPLITS, f"dataset.splits ({dataset_root()})")
    except TclstaError as err:
        raise WorkflowError(f"cannot use the dataset's split files: {err}") from None
    return len(table)


def extract_cfg(*sections):
    """cfg_json of ``extract`` and ``sections`` without extract.check_disk (it gates only the disk check)."""
    extract = {k: v for k, v in config["extract"].items() if k != "check_disk"}
    return json.dumps({"extract": extract, **{name: config[name] for name in sections}}, sort_keys=True)


def shard_ids():
    """Extraction shard numbers: `extract.shard_size` videos per job."""
    size = config["extract"]["shard_size"]
    return list(range((video_count() + size - 1) // size))


# Input functions and params of the stage files (rules/*.smk). They live here because
# `snakemake --lint` wants rules and functions in separate files; the path constants they use
# are defined in the stage files and looked up when the functions are called.


def synthetic_videos(wildcards):
    """The synthetic dataset's folder (made by a rule); real videos are read where they are."""
    return [dataset_root()] if config["dataset"]["format"] == "synthetic" else []


def dataset_inputs(wildcards):
    """What the manifest reads: the synthetic dataset, or a real dataset's split files."""
    if config["dataset"]["format"] == "synthetic":
        return synthetic_videos(wildcards)
    from tclsta.data.manifest import split_files

    paths = [str(p) for p in split_files(config["dataset"]["format"], dataset_root(), config["dataset"])]
    for path in paths:
        if "{" in path or "}" in path:
            raise WorkflowError(f"{path}: '{{' or '}}' in a class or file name is read by Snakemake as a "
                                "wildcard; rename the class folder and its split files")
    return paths


def stream_cfg():
    """Config a stream's training depends on: which streams/attentions exist only shapes the DAG."""
    stream = {k: v for k, v in config["stream"].items() if k not in ("streams", "attentions")}
    return json.dumps({"seed": config["seed"], "device": config["device"], "model": config["model"],
                       "stream": stream}, sort_keys=True)


STREAM_PROCS = config["stream"]["gpus"]
# a remote executor, a run inside a SLURM job, or (in dry-runs too, whose executor is "dryrun") a profile
# with SLURM default resources, as workflow/profiles/slurm
_defaults = workflow.resource_settings.default_resources
ON_SLURM = (not workflow.local_exec or "SLURM_JOB_ID" in os.environ
            or any(arg.startswith("slurm_") for arg in (_defaults.args if _defaults else [])))
if STREAM_PROCS > 1 and not ON_SLURM:  # an error before launch, not N processes fighting over too few GPUs
    from tclsta.device import visible_gpus

    _here = len(visible_gpus())
    if config["device"] != "cpu" and _here < STREAM_PROCS:
        raise WorkflowError(f"stream.gpus is {STREAM_PROCS} but this machine has {_here} GPU(s); "
                            f"set device: cpu to train with {STREAM_PROCS} CPU processes (gloo) instead")


def stream_resources():
    """A stream job's resources: stream.gpus × resources.gpus GPUs; with gpus > 1 one task per GPU (srun on SLURM).

    On SLURM a stream job is a GPU job (the profile sends it to the gpu partition) unless device is cpu.
    """
    per_process = max(GPUS, 1) if ON_SLURM else GPUS
    gpus = 0 if config["device"] == "cpu" else STREAM_PROCS * per_process
    if STREAM_PROCS == 1:
        return {"gpu": gpus}
    # mpi: the SLURM job step runs the shell itself (no `srun -n1` around it), so its srun starts the tasks
    tasks = {"tasks": STREAM_PROCS, "mpi": "srun", **({"tasks_per_gpu": 1} if gpus else {})}
    return {"gpu": gpus, **tasks}


def stream_launcher():
    """What starts `tclsta train-stream`: itself (one process), torchrun locally, srun on SLURM (one task per GPU)."""
    if STREAM_PROCS == 1:
        return ""
    if ON_SLURM:
        return f"srun --ntasks={STREAM_PROCS} --kill-on-bad-exit=1 "
    return f"torchrun --standalone --nproc-per-node {STREAM_PROCS} --no-python "


def cln_cache(stream):
    return expand(FEATURES, stream=stream, attention=config["cln"]["attention"], allow_missing=True)[0]


def cln_cfg(wildcards):
    """Config a CLN depends on: the paper CLN does not read cln.heldout (so changing it reruns only ours)."""
    cln = config["cln"] if wildcards.variant == "heldout" else {k: v for k, v in config["cln"].items() if k != "heldout"}
    return json.dumps({"cln": cln, "seed": config["seed"], "device": config["device"]}, sort_keys=True)


def awl_cfg(wildcards):
    """Config an LP job depends on: the paper's read λ and ε; ours λ, the ε candidates and the fusion section."""
    awl = config["awl"]
    if wildcards.source.endswith("heldout"):
        return json.dumps({"awl": {k: awl[k] for k in ("lambda_", "heldout_epsilons")}, "fusion": config["fusion"]},
                          sort_keys=True)
    return json.dumps({"awl": {k: awl[k] for k in ("lambda_", "epsilon")}}, sort_keys=True)


def awl_inputs(wildcards):
    """What a solve_awl job reads: the (paper or held-out) CLN's scores or the two caches; the manifest's groups."""
    heldout = wildcards.source.endswith("heldout")
    inputs = {"manifest": MANIFEST} if heldout else {}
    if wildcards.source.startswith("cln"):
        return {**inputs, "scores": CLN_SCORES.format(split=wildcards.split, variant="heldout" if heldout else "paper")}
    return {
        **inputs,
        "static": cln_cache("rgb").format(split=wildcards.split),
        "motion": cln_cache("flow").format(split=wildcards.split),
    }


def awl_arguments(wildcards, input):
    arguments = f"--manifest {shlex.quote(input.manifest)} " if wildcards.source.endswith("heldout") else ""
    if wildcards.source.startswith("cln"):
        return arguments + f"--scores {shlex.quote(input.scores)}"
    return arguments + f"--static {shlex.quote(input.static)} --motion {shlex.quote(input.motion)}"


def ground_truth_inputs(wildcards):
    """The attention ground truth evaluate reads: the synthetic dataset (its boxes.csv), a real dataset's files."""
    if config["dataset"]["format"] == "synthetic":
        return synthetic_videos(wildcards)
    from tclsta.data.annotations import ground_truth_files

    return [str(p) for p in ground_truth_files(dataset_root())]


def evaluation_inputs(wildcards):
    inputs = expand(
        FEATURES, split=SPLITS, stream=config["stream"]["streams"], attention=config["stream"]["attentions"]
    )
    inputs += [MANIFEST, *ground_truth_inputs(wildcards)]
    if FUSION:
        inputs += expand(CLN_SCORES, split=SPLITS, variant=CLN_VARIANTS)
        inputs += expand([AWL_WEIGHTS, AWL_FIT], split=SPLITS, source=AWL_SOURCES)
    return inputs


def bundle_targets():
    """The model bundles (one per split) when both streams and the fusion run."""
    return expand(BUNDLE, split=SPLITS) if FUSION else []
