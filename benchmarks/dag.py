"""How fast Snakemake plans the whole DAG for a UCF101-sized or a Kinetics-400-sized dataset.

UCF101 (13,320 videos, 3 splits): placeholder videos (empty files) in the UCF101 layout with
official-style split files; `snakemake -n -q` on the real workflow with presets/ucf101.yaml (3 splits,
streams rgb+flow, attentions none+both), sharded extraction (`extract.shard_size` videos per job, 100 in
the preset) side by side with one job per video. Target: < 5 s, a job count in the low hundreds.

Kinetics-400 (`--dataset kinetics400`: 246,245 train + 19,906 val clips of 400 classes, empty files under
train/<label>/ and val/<label>/, annotations/{train,val,test}.csv, 1 % of the listed clips missing): the
manifest built in-process (target < 10 s), then the dry run of presets/kinetics400.yaml (target < 10 CPU s,
a few hundred jobs), and what one cluster job pays to parse the Snakefile again (`--mode remote`, as
snakemake-executor-plugin-slurm starts each job) with the manifest already written, side by side with
the same parse before it exists (the dataset walked again).

    python benchmarks/dag.py [--dataset ucf101|kinetics400] [--repeat 3] [--shard-size N]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
N_CLASSES, N_GROUPS, N_VIDEOS = 101, 25, 13320
K400_CLASSES, K400_TRAIN, K400_VAL, K400_MISSING = 400, 246245, 19906, 0.01


def write_ucf101_placeholder(root: Path) -> int:
    """UCF-101/<Class>/v_<Class>_gGG_cCC.avi (empty) + ucfTrainTestlist; returns the video count."""
    classes = [f"Class{i:03d}" for i in range(1, N_CLASSES + 1)]
    lists = root / "ucfTrainTestlist"
    lists.mkdir(parents=True)
    (lists / "classInd.txt").write_text("".join(f"{i} {c}\n" for i, c in enumerate(classes, 1)))
    train = {s: [] for s in (1, 2, 3)}
    test = {s: [] for s in (1, 2, 3)}
    count = 0
    for label, name in enumerate(classes, 1):
        folder = root / name
        folder.mkdir()
        per_class = N_VIDEOS // N_CLASSES + (label <= N_VIDEOS % N_CLASSES)
        for k in range(per_class):
            group, clip = k % N_GROUPS + 1, k // N_GROUPS + 1
            rel = f"{name}/v_{name}_g{group:02d}_c{clip:02d}.avi"
            (root / rel).touch()
            count += 1
            for split in (1, 2, 3):  # official protocol: groups 1-7 / 8-14 / 15-21 are the test sets
                if 7 * (split - 1) < group <= 7 * split:
                    test[split].append(f"{rel}\n")
                else:
                    train[split].append(f"{rel} {label}\n")
    for split in (1, 2, 3):
        (lists / f"trainlist{split:02d}.txt").write_text("".join(train[split]))
        (lists / f"testlist{split:02d}.txt").write_text("".join(test[split]))
    return count


def write_kinetics_placeholder(root: Path) -> int:
    """Kinetics-400's layout with empty clips (1 % of the listed ones missing); returns the clips listed."""
    import csv

    labels = [f'class {i:03d} (with "quotes", commas)' for i in range(K400_CLASSES)]
    (root / "annotations").mkdir(parents=True)
    listed = 0
    for subset, count in (("train", K400_TRAIN), ("val", K400_VAL)):
        for label in labels:
            (root / subset / label).mkdir(parents=True)
        with open(root / "annotations" / f"{subset}.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["label", "youtube_id", "time_start", "time_end", "split", "is_cc"])
            for k in range(count):
                label, youtube_id, start = labels[k % K400_CLASSES], f"-{subset[0]}{k:09d}", k % 300
                writer.writerow([label, youtube_id, start, start + 10, subset, 0])
                if k % round(1 / K400_MISSING):
                    os.close(os.open(root / subset / label / f"{youtube_id}_{start:06d}_{start + 10:06d}.mp4",
                                     os.O_CREAT | os.O_WRONLY, 0o644))
        listed += count
    (root / "annotations" / "test.csv").write_text("youtube_id,time_start,time_end,split\n")
    return listed


def children_cpu() -> float:
    """User + system CPU seconds of finished child processes so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def dry_run(snakefile: Path, workdir: Path, config: dict, *extra: str) -> tuple[float, float, list[str]]:
    """Wall and CPU seconds of `snakemake -n -q [extra]` and its command. CPU time (user + sys) is what the
    dry run costs on an idle machine; wall time also counts waiting for a busy CPU."""
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    cmd = [sys.executable, "-m", "snakemake", "-s", str(snakefile), "-d", str(workdir),
           "--workflow-profile", "none", "--cores", "8", "-n", "-q", *extra]
    cpu_before = children_cpu()
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"dry run failed:\n{proc.stdout}\n{proc.stderr}")
    return seconds, children_cpu() - cpu_before, cmd


def plan(snakefile: Path, workdir: Path, config: dict) -> tuple[float, float, int]:
    """:func:`dry_run`'s seconds, and the number of jobs planned (read from a second dry run that prints
    the job stats: `-q` alone hides them)."""
    seconds, cpu, cmd = dry_run(snakefile, workdir, config)
    proc = subprocess.run([*cmd, "host", "rules"], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"dry run failed:\n{proc.stdout}\n{proc.stderr}")
    for line in proc.stdout.splitlines():
        if line.startswith("total"):
            return seconds, cpu, int(line.split()[1])
    raise SystemExit(f"no job count in the dry run's output:\n{proc.stdout}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=["ucf101", "kinetics400"], default="ucf101")
    parser.add_argument("--repeat", type=int, default=3, help="dry runs per setting (median reported)")
    parser.add_argument("--shard-size", type=int, help="videos per extraction job (default: the preset's)")
    parser.add_argument("--snakefile", type=Path, default=REPO / "workflow" / "Snakefile")
    args = parser.parse_args()
    base = yaml.safe_load((REPO / "presets" / f"{args.dataset}.yaml").read_text())
    shard_size = args.shard_size or base["extract"]["shard_size"]
    with tempfile.TemporaryDirectory(prefix="tclsta-dag-") as tmp:
        root = Path(tmp) / ("UCF-101" if args.dataset == "ucf101" else "k400")
        start = time.perf_counter()
        if args.dataset == "ucf101":
            n = write_ucf101_placeholder(root)
            print(f"placeholder UCF101: {n} videos, {N_CLASSES} classes, 3 splits "
                  f"({time.perf_counter() - start:.1f} s to write)")
            settings = ((f"sharded ({shard_size}/job)", shard_size), ("one job per video", 1))
        else:
            n = write_kinetics_placeholder(root)
            print(f"placeholder Kinetics-400: {n} clips listed, {K400_CLASSES} classes "
                  f"({time.perf_counter() - start:.1f} s to write)")
            settings = ((f"sharded ({shard_size}/job)", shard_size),)
            manifest = time_manifest(root, base["dataset"])
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        print(f"{'setting':<24} {'jobs':>6} {'wall s (median)':>16} {'CPU s (median)':>15}  wall s of each run")
        rows = []
        for label, shard in settings:
            config = {**base, "output_dir": str(Path(tmp) / "out"),
                      "dataset": {**base["dataset"], "root": str(root)},
                      "extract": {**base.get("extract", {}), "shard_size": shard}}
            workdir = Path(tmp) / f"wd{shard}"
            workdir.mkdir()
            times, cpus, jobs = [], [], 0
            for _ in range(args.repeat):
                seconds, cpu, jobs = plan(args.snakefile, workdir, config)
                times.append(seconds)
                cpus.append(cpu)
            rows.append((label, jobs, statistics.median(times)))
            print(f"{label:<24} {jobs:>6} {statistics.median(times):>16.2f} {statistics.median(cpus):>15.2f}  "
                  f"{' '.join(f'{t:.2f}' for t in times)}")
        if args.dataset == "kinetics400":
            time_cluster_job(args.snakefile, workdir, config, manifest, args.repeat)
        if len(rows) == 2:
            (_, jobs_s, t_s), (_, jobs_v, t_v) = rows
            print(f"sharding: {jobs_v / jobs_s:.0f}x fewer jobs, dry run {t_v / t_s:.1f}x faster")


def time_manifest(root: Path, dataset: dict):
    """Build the manifest in this process, print its size and the wall / CPU seconds it took; return it."""
    sys.path.insert(0, str(REPO))
    from tclsta.data.manifest import build_manifest

    start, cpu = time.perf_counter(), time.process_time()
    table = build_manifest("kinetics", root, dataset)
    print(f"manifest: {len(table)} videos ({(table['split1'] == 'train').sum()} train, "
          f"{(table['split1'] == 'test').sum()} test), {len(table.attrs['missing'])} missing, "
          f"{time.perf_counter() - start:.2f} s wall, {time.process_time() - cpu:.2f} s CPU")
    return table


def time_cluster_job(snakefile: Path, workdir: Path, config: dict, manifest, repeat: int) -> None:
    """Median wall / CPU seconds of one cluster job's parse (extraction shard 0 in `--mode remote`: it plans
    its one target and prints no job stats), before and after the manifest is written into the output folder."""
    from tclsta.data.manifest import write_manifest

    job = ("--mode", "remote", "--target-jobs", "extract:shard=0", "--allowed-rules", "extract")
    path = Path(config["output_dir"]) / "manifest.csv"
    for label in ("job, no manifest yet", "job, manifest written"):
        if label.endswith("written"):
            write_manifest(manifest, path)
        runs = [dry_run(snakefile, workdir, config, *job) for _ in range(repeat)]
        wall, cpu = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
        print(f"{label:<24} {1:>6} {wall:>16.2f} {cpu:>15.2f}  {' '.join(f'{r[0]:.2f}' for r in runs)}")


if __name__ == "__main__":
    main()
