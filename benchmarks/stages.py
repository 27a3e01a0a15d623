"""Wall time, CPU time and peak RSS per workflow stage of the UCF101 preset at paper model size.

Runs the real workflow (``snakemake --cores 1``: one job at a time, so stage times do not overlap)
with ``presets/ucf101.yaml`` on a tiny UCF101 in its distributed layout (real MJPG videos,
resized to 340×256 by the preset), ResNet-50 at 224, L = 10, ImageNet-shaped weights served from
127.0.0.1; iterations, batch and frames at the minimum of the CI test (tests/test_presets.py)
unless raised here. Every ``tclsta <command>`` process is sampled from /proc every 0.1 s:
its peak RSS is the kernel's high-water mark (VmHWM), so no peak is missed between samples
(processes it forks, e.g. compile workers, are not added).

    python benchmarks/stages.py [--frames 3] [--iterations 1] [--tvl1-full]

``--tvl1-full`` keeps the preset's TV-L1 iteration counts (slow on a CPU).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from test_presets import MINIMUM, make_ucf101  # noqa: E402
from weights_server import hashed_name, serve, state_dict_bytes  # noqa: E402

from tclsta.config import deep_merge  # noqa: E402
from tclsta.models.resnet import ResNet  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Job:
    command: str
    first: float
    last: float
    peak_kb: int = 0
    cpu_s: float = 0.0


def tclsta_command(pid: str) -> str | None:
    """The ``tclsta <command>`` a process runs, if any."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    for i, arg in enumerate(argv[:-1]):
        if arg.endswith(b"/tclsta") or arg == b"tclsta":
            return argv[i + 1].decode()
    return None


def parent(pid: str) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1]
    except OSError:
        return None


def descends(pid: str, root: str) -> bool:
    """Whether process ``pid`` is a descendant of ``root``."""
    while pid not in (None, "0", "1"):
        if pid == root:
            return True
        pid = parent(pid)
    return False


def sample(jobs: dict[str, Job], root: str, stop: threading.Event) -> None:
    """Record the lifetime, peak RSS and CPU time of every tclsta process below ``root`` until ``stop`` is set."""
    while not stop.is_set():
        now = time.perf_counter()
        for pid in (p for p in os.listdir("/proc") if p.isdigit()):
            command = jobs[pid].command if pid in jobs else tclsta_command(pid)
            if command is None or (pid not in jobs and not descends(pid, root)):
                continue
            try:
                status = Path(f"/proc/{pid}/status").read_text()
                stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if pid not in jobs and stat[1] in jobs:
                continue  # a worker forked by a job (DataLoader, compile pool): the job is what is measured
            job = jobs.setdefault(pid, Job(command, now, now))
            job.last = now
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    job.peak_kb = max(job.peak_kb, int(line.split()[1]))
            job.cpu_s = (int(stat[11]) + int(stat[12])) / TICKS
        time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=3, help="frames per video")
    parser.add_argument("--iterations", type=int, default=1, help="training iterations per stream")
    parser.add_argument("--tvl1-full", action="store_true", help="the preset's TV-L1 iteration counts")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name, serve() as server:
        tmp = Path(tmp_name)
        make_ucf101(tmp / "UCF101", frames=args.frames)
        overrides = deep_merge(MINIMUM, {"output_dir": str(tmp / "out"),
                                         "dataset": {"root": str(tmp / "UCF101"), "splits": [1]},
                                         "stream": {"iterations": {"rgb": args.iterations, "flow": args.iterations}}})
        if args.tvl1_full:
            overrides["flow"].pop("tvl1")
        (tmp / "minimum.yaml").write_text(yaml.safe_dump(overrides))
        data = state_dict_bytes(ResNet(depth=50).state_dict())
        name = hashed_name("resnet50", data)
        server.files[name] = data
        env = {**os.environ, "TORCH_HOME": str(tmp / "torch_home"), "TCLSTA_IMAGENET_URL": server.url + name,
               "CUDA_VISIBLE_DEVICES": "", "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
        jobs: dict[str, Job] = {}
        stop = threading.Event()
        start = time.perf_counter()
        run = subprocess.Popen([sys.executable, "-m", "snakemake", "-s", str(REPO / "workflow" / "Snakefile"),
                                "-d", str(tmp), "--workflow-profile", "none", "--cores", "1", "--configfile",
                                str(REPO / "presets" / "ucf101.yaml"), str(tmp / "minimum.yaml"), "-q"],
                               env=env, cwd=REPO)
        sampler = threading.Thread(target=sample, args=(jobs, str(run.pid), stop), daemon=True)
        sampler.start()
        if run.wait() != 0:
            raise SystemExit(f"snakemake failed ({run.returncode})")
        total = time.perf_counter() - start
        stop.set()
        sampler.join()
    print(f"UCF101 preset, paper model size, 6 videos x {args.frames} frames, {args.iterations} iteration(s)/stream, "
          f"TV-L1 {'preset' if args.tvl1_full else 'minimum'} iterations; snakemake --cores 1: {total:.0f} s wall")
    print(f"{'stage':<16}{'jobs':>5}{'wall s':>8}{'CPU s':>8}{'peak RSS MB':>13}")
    stages: dict[str, list[Job]] = {}
    for job in jobs.values():
        stages.setdefault(job.command, []).append(job)
    for command, group in sorted(stages.items(), key=lambda kv: min(j.first for j in kv[1])):
        wall = sum(j.last - j.first for j in group)
        print(f"{command:<16}{len(group):>5}{wall:>8.1f}{sum(j.cpu_s for j in group):>8.1f}"
              f"{max(j.peak_kb for j in group) / 1024:>13.0f}")


if __name__ == "__main__":
    main()
