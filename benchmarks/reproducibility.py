"""What makes two trainings of the same stream differ? One tiny stream, trained under each setting.

Every setting trains the same stream (same data, seed and iterations) in a fresh process; its
weights are compared with the first run's (bit for bit, and the largest |Δw|), with the wall time.
The settings are the ones that change floating-point order on a CPU: a repeat (nothing changed),
the thread count, torch's deterministic algorithms, and the instruction set each library picks for
itself at run time (ATen's vectorised kernels: ``ATEN_CPU_CAPABILITY``; oneDNN's convolutions:
``ONEDNN_MAX_CPU_ISA``; MKL's BLAS: ``MKL_CBWR``). Another machine with another instruction set
(AVX-512 on a Xeon, AVX2 on an EPYC) is what the last rows stand in for.

    python benchmarks/reproducibility.py [--iterations 30]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from frames_factory import make_dataset  # noqa: E402

from tclsta.config import validate  # noqa: E402
from tclsta.training.checkpoint import load_final  # noqa: E402
from tclsta.training.trainer import StreamJob, train_stream  # noqa: E402

# What an AVX2 machine picks by itself; an AVX-512 machine given this environment should pick the same.
PINNED_AVX2 = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_CBWR": "AVX2"}

# (label, threads, deterministic algorithms, extra environment)
SETTINGS: list[tuple[str, int, bool, dict[str, str]]] = [
    ("2 threads (reference)", 2, False, {}),
    ("2 threads, again", 2, False, {}),
    ("2 threads, deterministic algorithms", 2, True, {}),
    ("1 thread", 1, False, {}),
    ("ATen kernels without SIMD (ATEN_CPU_CAPABILITY=default)", 2, False, {"ATEN_CPU_CAPABILITY": "default"}),
    ("oneDNN limited to SSE4.1 (ONEDNN_MAX_CPU_ISA=SSE41)", 2, False, {"ONEDNN_MAX_CPU_ISA": "SSE41"}),
    ("MKL in compatible mode (MKL_CBWR=COMPATIBLE)", 2, False, {"MKL_CBWR": "COMPATIBLE"}),
    ("all three pinned to AVX2", 2, False, PINNED_AVX2),
]


def tiny_config(output_dir: Path, iterations: int) -> dict:
    """The test suite's small stream (ResNet-18 at width 8, 32×32 crops), trained ``iterations`` steps."""
    return validate({
        "output_dir": str(output_dir), "device": "cpu", "seed": 0,
        "model": {"depth": 18, "base_width": 8, "flow_stack": 3, "cam_channels": 8, "lstm_hidden": 8},
        "stream": {"segments": 2, "crop_size": 32, "batch_size": 4, "iterations": {"rgb": iterations, "flow": iterations},
                   "lr": 0.01, "validate_every": iterations, "checkpoint_every": iterations,
                   "holdout_fraction": 0.25, "num_workers": 0},
    })


def train_once(root: Path, output: Path, iterations: int, threads: int, deterministic: bool) -> None:
    """Worker: train the flow stream with both attentions on the dataset under ``root``."""
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(deterministic)
    dataset = {"manifest": root / "manifest.csv", "frames_index": root / "frames_index.csv", "frames": root / "frames"}
    job = StreamJob(split=1, stream="flow", attention="both", manifest=dataset["manifest"],
                    frames_index=dataset["frames_index"], frames_root=dataset["frames"], output=output)
    train_stream(tiny_config(output.parent, iterations), job)


def weights(path: Path) -> dict[str, torch.Tensor]:
    model, _ = load_final(path)
    return model.state_dict()


def digest(state: dict[str, torch.Tensor]) -> str:
    sha = hashlib.sha256()
    for key in sorted(state):
        sha.update(state[key].detach().cpu().contiguous().numpy().tobytes())
    return sha.hexdigest()[:12]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--worker", nargs=4, metavar=("ROOT", "OUTPUT", "THREADS", "DETERMINISTIC"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        root, output, threads, deterministic = args.worker
        train_once(Path(root), Path(output), args.iterations, int(threads), deterministic == "1")
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "data"
        make_dataset(root, classes=4, train_per_class=6, test_per_class=2, frames=10, height=48, width=56)
        reference = None
        print("| setting | wall s | weights (SHA-256) | bit-identical to the reference | max abs Δw |")
        print("|---|---|---|---|---|")
        for i, (label, threads, deterministic, extra) in enumerate(SETTINGS):
            output = Path(tmp) / f"run{i}" / "stream.pt"
            output.parent.mkdir()
            env = {**os.environ, **extra, "OMP_NUM_THREADS": str(threads)}
            start = time.perf_counter()
            subprocess.run([sys.executable, __file__, "--iterations", str(args.iterations), "--worker", str(root),
                            str(output), str(threads), "1" if deterministic else "0"], env=env, check=True)
            wall = time.perf_counter() - start
            state = weights(output)
            reference = reference or state
            delta = max((state[k].float() - reference[k].float()).abs().max().item() for k in state)
            same = all(torch.equal(state[k], reference[k]) for k in state)
            print(f"| {label} | {wall:.1f} | {digest(state)} | {'yes' if same else 'no'} | {delta:.2e} |", flush=True)


if __name__ == "__main__":
    main()
