"""Faults on the real workflow: jobs killed with SIGKILL mid-run, and an unreadable video.

One tiny synthetic run is driven through three faults in order:
1. one video is overwritten with garbage before extraction (extract.skip_bad: true);
2. the whole Snakemake session is SIGKILLed during extraction (a node dies): no shard or video
   folder it was writing counts as done (a shard index renamed into place just before the kill is
   refused by a plain run as incomplete), and after `--unlock` a `--rerun-incomplete` run (the
   default profile's setting) picks up from there;
3. that run's train_stream job alone is SIGKILLed (OOM killer, scheduler): Snakemake stops, no
   checkpoint counts as done, and a plain rerun resumes training from the resume file and finishes.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pandas as pd
import pytest

from snakemake_run import output, planned_jobs, snakemake, start_snakemake, wait_for, write_config

pytestmark = pytest.mark.slow

# more optimiser steps than the other tiny runs, so that there is a training job to kill
FAULT_CONFIG = {"stream": {"iterations": {"rgb": 40, "flow": 40}, "checkpoint_every": 1}}


def entries(folder: Path) -> list[str]:
    """Names in `folder` (empty if it does not exist yet); tolerant of concurrent renames."""
    try:
        return os.listdir(folder)
    except FileNotFoundError:
        return []


def incomplete_files(log: str) -> list[str]:
    """The files listed after "Incomplete files:" in Snakemake's IncompleteFilesException."""
    assert "IncompleteFilesException" in log, log[-3000:]
    listed = log.split("Incomplete files:", 1)[1].splitlines()[1:]
    return [line.strip() for line in listed if line.strip().startswith("out/")]


def pid_running(needle: str, workdir: Path) -> int | None:
    """PID of our own job process whose command line contains `needle` and `workdir`'s outputs."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if needle in cmdline and "python" in cmdline and cwd == str(workdir):
            return int(entry.name)
    return None


@pytest.fixture(scope="module")
def faults(tmp_path_factory):
    """Run the workflow through the three faults; return what was observed after each."""
    workdir = tmp_path_factory.mktemp("faults")
    write_config(workdir, FAULT_CONFIG)
    out = workdir / "out"
    seen: dict = {"workdir": workdir}

    # 1. a corrupt video, listed in the manifest
    snakemake(workdir, "--cores", "2", "--until", "manifest")
    manifest = pd.read_csv(out / "manifest.csv")
    bad = manifest["video_id"].iloc[0]
    (out / "dataset" / manifest["path"].iloc[0]).write_bytes(b"not a video" * 100)
    seen["bad_video"] = bad

    # 2. the node dies during extraction: SIGKILL to Snakemake and its jobs at once
    proc = start_snakemake(workdir, "--cores", "2")
    wait_for(lambda: entries(out / "frames"), proc, "the first video folder (temporary or final)")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    # a video folder under its final name is complete (frames.json written last, then renamed)
    seen["video_dirs_without_meta"] = [d.name for d in (out / "frames").iterdir()
                                       if d.is_dir() and not d.name.startswith(".") and not (d / "frames.json").is_file()]
    seen["shards_after_kill"] = sorted(p.name for p in (out / "extract").glob("shard_*.tsv"))
    seen["index_after_kill"] = (out / "frames_index.csv").exists()
    snakemake(workdir, "--unlock")
    # a plain run refuses outputs whose job Snakemake did not see finish; --rerun-incomplete redoes them
    plain = snakemake(workdir, "-n", check=False)
    seen["incomplete_after_kill"] = incomplete_files(plain.stdout) if plain.returncode else []
    seen["plan_after_kill"], _ = planned_jobs(workdir, "--rerun-incomplete")

    # 3. the rerun finishes extraction; its first training job is SIGKILLed by "the OOM killer"
    proc = start_snakemake(workdir, "--cores", "2", "--rerun-incomplete")
    resume = wait_for(lambda: next((out / "streams").glob("split1/*.resume.pt"), None) if
                      (out / "streams").exists() else None, proc, "a training resume file")
    job_pid = wait_for(lambda: pid_running("train-stream", workdir), proc, "the train-stream process")
    os.kill(job_pid, signal.SIGKILL)
    seen["killed_job_rc"] = proc.wait(timeout=300)
    seen["killed_job_log"] = output(proc)
    seen["resume_file"] = resume
    seen["final_ckpt_after_kill"] = resume.with_name(resume.name.replace(".resume.pt", ".pt")).exists()
    seen["plan_after_job_kill"], _ = planned_jobs(workdir)

    # 4. a plain rerun finishes everything
    seen["rerun"] = snakemake(workdir, "--cores", "2").stdout
    return seen


def test_killed_session_leaves_no_shard_taken_as_done(faults):
    plan = faults["plan_after_kill"]
    assert not faults["index_after_kill"]
    assert faults["video_dirs_without_meta"] == []
    # a shard index written while the session died is refused as incomplete; missing ones are made
    incomplete = faults["incomplete_after_kill"]
    assert set(incomplete) <= {f"out/extract/{name}" for name in faults["shards_after_kill"]}
    assert plan["extract"] == 2 - len(faults["shards_after_kill"]) + len(incomplete) >= 1
    assert plan["frame_index"] == 1 and "train_stream" in plan


def test_killed_job_stops_the_run_without_output(faults):
    assert faults["killed_job_rc"] != 0
    assert "Error in rule train_stream" in faults["killed_job_log"]
    assert not faults["final_ckpt_after_kill"]
    assert faults["plan_after_job_kill"]["train_stream"] >= 1


def test_plain_rerun_resumes_training_and_finishes(faults):
    out = faults["workdir"] / "out"
    assert (out / "report" / "report.md").is_file()
    assert not faults["resume_file"].exists()  # removed once the final checkpoint is written
    stream = faults["resume_file"].name.replace(".resume.pt", "")
    log = (out / "logs" / "streams" / "split1" / f"{stream}.log").read_text()
    assert "resuming at iteration" in log, log[-2000:]


def test_bad_video_is_skipped_not_fatal(faults):
    out = faults["workdir"] / "out"
    index = pd.read_csv(out / "frames_index.csv")
    row = index.set_index("video_id").loc[faults["bad_video"]]
    assert row["status"] == "bad" and isinstance(row["error"], str) and row["error"]
    assert faults["bad_video"] in (out / "bad_videos.txt").read_text()
    assert (index["status"] == "ok").sum() == len(index) - 1
