"""Rerun only what changed: run the tiny workflow once, change one setting per stage, and read
from Snakemake's dry run exactly which rules would run again.

Each rule's `params` carry exactly the config sections it reads, and Snakemake reruns a job whose
params changed (compared by repr) and everything downstream of it; nothing upstream.
"""

from __future__ import annotations

import pytest

from snakemake_run import TINY, planned_jobs, write_config

pytestmark = pytest.mark.slow

# the DAG's rules from extraction on, in order
STAGES = ["disk_check", "extract", "frame_index", "train_stream", "dump_features", "train_cln", "solve_awl", "evaluate",
          "report", "bundle"]
DOWNSTREAM_OF_EXTRACT = set(STAGES)
N_STREAMS = len(TINY["stream"]["streams"]) * len(TINY["stream"]["attentions"])


@pytest.fixture(scope="module")
def done(tiny_workflow):
    """A working directory where the tiny workflow ran to the end (shared with test_workflow)."""
    assert (tiny_workflow / "out" / "report" / "report.md").is_file()
    return tiny_workflow


def plan_with(workdir, name: str, overrides: dict):
    """Dry run with TINY + overrides as the config file; {rule: jobs}, {rule: reasons}."""
    variant = workdir / "variants" / name
    config = write_config(variant, overrides)
    return planned_jobs(workdir, "--configfile", str(config))


def test_nothing_changed_nothing_runs(done):
    counts, _ = plan_with(done, "same", {})
    assert counts == {}


@pytest.mark.parametrize(
    ("name", "overrides", "expected"),
    [
        # extraction: frames and flow of every shard, and all that reads them
        ("jpeg_quality", {"extract": {"jpeg_quality": 80}}, DOWNSTREAM_OF_EXTRACT),
        ("flow_bound", {"flow": {"bound": 15}}, DOWNSTREAM_OF_EXTRACT),
        # stream training: never extraction
        ("stream_lr", {"stream": {"lr": 0.02}},
         {"train_stream", "dump_features", "train_cln", "solve_awl", "evaluate", "report", "bundle"}),
        # feature dump: not the trained streams
        ("feature_frames", {"features": {"frames": 2}},
         {"dump_features", "train_cln", "solve_awl", "evaluate", "report", "bundle"}),
        # CLN: the streams' own AWL weights stay
        ("cln_rounds", {"cln": {"rounds": 2}}, {"train_cln", "solve_awl", "evaluate", "report", "bundle"}),
        # LP: only the weights and what follows
        ("awl_lambda", {"awl": {"lambda_": 0.01}}, {"solve_awl", "evaluate", "report", "bundle"}),
        # temperature scaling: only the held-out LPs and what follows; MKL: only the evaluation
        ("fusion_calibrate", {"fusion": {"calibrate": False}}, {"solve_awl", "evaluate", "report", "bundle"}),
        ("mkl_p", {"mkl": {"p": 1.5}}, {"evaluate", "report", "bundle"}),
        # report: only the report
        ("report_videos", {"report": {"attention_videos": 2}}, {"report"}),
    ],
)
def test_one_setting_reruns_its_stage_and_what_follows(done, name, overrides, expected):
    counts, reasons = plan_with(done, name, overrides)
    assert set(counts) == expected, f"{name}: would rerun {dict(counts)}"
    first = min(expected, key=STAGES.index)  # the stage that reads the setting: rerun for its params
    assert any("params" in r.lower() for r in reasons[first]), reasons[first]


def test_job_counts_of_partial_reruns(done):
    """CLN settings rerun the CLNs' AWL jobs only; the streams' AWL jobs (stream, stream_heldout) stay."""
    counts, _ = plan_with(done, "cln_rounds", {"cln": {"rounds": 2}})
    assert counts["train_cln"] == 2 and counts["solve_awl"] == 2  # the paper CLN and ours
    counts, _ = plan_with(done, "cln_patience", {"cln": {"heldout": {"patience": 3}}})
    assert counts["train_cln"] == 1 and counts["solve_awl"] == 1  # ours only: the paper CLN does not read it
    counts, _ = plan_with(done, "awl_lambda", {"awl": {"lambda_": 0.01}})
    assert counts["solve_awl"] == 4
    counts, _ = plan_with(done, "fusion_calibrate", {"fusion": {"calibrate": False}})
    assert counts["solve_awl"] == 2  # the held-out LPs only: the paper's do not read it
    counts, _ = plan_with(done, "stream_lr", {"stream": {"lr": 0.02}})
    assert counts["train_stream"] == N_STREAMS and counts["dump_features"] == N_STREAMS


def test_touch_does_not_rerun_but_new_content_does(done):
    """Small inputs are compared by checksum: a newer mtime alone reruns nothing."""
    index = done / "out" / "frames_index.csv"
    index.touch()
    counts, _ = plan_with(done, "touched", {})
    assert counts == {}
    original = index.read_text()
    try:
        index.write_text(original + "\n")
        counts, _ = plan_with(done, "edited", {})
        assert set(counts) == {"train_stream", "dump_features", "train_cln", "solve_awl", "evaluate", "report", "bundle"}
    finally:
        index.write_text(original)
