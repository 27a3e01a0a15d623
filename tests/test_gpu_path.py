"""The CUDA path's CPU-checkable parts: one GPU per concurrent job, the GPU limit, a float32 LSTM under autocast."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import torch

from snakemake_run import REPO, SNAKEMAKE, SNAKEFILE, write_config
from tclsta.device import claim_gpu, visible_gpus
from tclsta.models.attention import TemporalAttention


def test_visible_gpus_follow_cuda_visible_devices(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3, 5")
    assert visible_gpus() == ["3", "5"]
    for none in ("", "-1"):
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", none)
        assert visible_gpus() == []


def test_each_job_claims_its_own_gpu_and_waits_when_all_are_taken(tmp_path):
    first, held_a = claim_gpu(["3", "5"], tmp_path)
    second, held_b = claim_gpu(["3", "5"], tmp_path)
    assert (first, second) == (0, 1)  # a second open file of the same lock conflicts, as another process's would
    got = []
    waiter = threading.Thread(target=lambda: got.append(claim_gpu(["3", "5"], tmp_path, poll=0.05)))
    waiter.start()
    time.sleep(0.3)
    assert not got  # both GPUs busy: it waits
    held_b.close()  # the job on GPU 1 ends
    waiter.join(timeout=5)
    assert got and got[0][0] == 1
    held_a.close()
    got[0][1].close()


def test_workflow_runs_one_gpu_job_per_visible_gpu(tmp_path):
    write_config(tmp_path, {"resources": {"gpus": 1}})
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="3,5")
    run = subprocess.run([*SNAKEMAKE, "-s", str(SNAKEFILE), "--cores", "2", "--workflow-profile", "none",
                          "out/manifest.csv"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    provided = [line for line in run.stderr.splitlines() if line.startswith("Provided resources")]
    assert provided and 'gpu=Resource("gpu", 2)' in provided[0]


def test_lstm_runs_in_float32_under_bf16_autocast():
    torch.manual_seed(0)
    head = TemporalAttention(in_features=6, hidden=5, num_classes=3)
    seen = []
    head.lstm.register_forward_hook(lambda module, inputs, output: seen.append((inputs[0].dtype, output[0].dtype)))
    alpha = torch.randn(2, 4, 6)
    reference, _ = head(alpha)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits, weights = head(alpha.bfloat16())
    assert seen[-1] == (torch.float32, torch.float32)
    torch.testing.assert_close(logits.float(), reference, rtol=0.02, atol=0.02)


def test_gpu_benchmark_runs_on_the_cpu_with_quick(tmp_path):
    """benchmarks/gpu.py must work on its first GPU run: here its --quick path runs on the CPU, saying so."""
    out = tmp_path / "gpu.json"
    run = subprocess.run([sys.executable, str(REPO / "benchmarks" / "gpu.py"), "--quick", "--out", str(out)],
                         capture_output=True, text=True, timeout=600, env=dict(os.environ, CUDA_VISIBLE_DEVICES=""))
    assert run.returncode == 0, run.stderr[-3000:]
    assert "no CUDA device" in run.stderr
    report = json.loads(out.read_text())
    assert report["device"] == "cpu" and report["tvl1"]["size"] == [340, 256]
    assert report["tvl1"]["pairs_per_s"]["2"] > 0
    for stream in ("rgb", "flow"):
        assert report["train"][stream]["iterations_per_s_in_memory"] > 0
        assert report["train"][stream]["iterations_per_s_loader"] > 0
        assert report["train"][f"dump_{stream}_frames_per_s"] > 0
    ddp = report["ddp"]  # 1 process and 2 gloo ranks under torchrun, both really trained
    assert set(ddp["ranks"]) == set(ddp["scaling_efficiency"]) == {"1", "2"}
    assert all(row["startup_s"] > 0 for row in ddp["ranks"].values())
