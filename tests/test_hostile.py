"""The pipeline against a careless or hostile user (issue 13): nothing lost, nothing silently wrong.

Each test is one way of breaking the pipeline that once lost data, used damaged data, or ended in
a traceback instead of a message naming the file and the problem.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from snakemake_run import snakemake, write_config
from test_manifest import make_hmdb51, make_ucf101, write_crlf
from test_video_extract import write_video

from tclsta import atomic
from tclsta.cli import main
from tclsta.config import load, validate, workflow_path_problems
from tclsta.data import layout, verify
from tclsta.data.frame_index import merge_shards, usable_videos
from tclsta.data.manifest import build_manifest, read_manifest, write_manifest
from tclsta.errors import ConfigError, DamagedFramesError, DatasetError, TclstaError, TruncatedVideoError
from tclsta.evaluation.figures import confusion_figure, weights_figure
from tclsta.data.frame_writer import write_video as write_frames
from tclsta.extraction import ReadChooser, Reads, extract_shard
from tclsta.training.checkpoint import load_final, load_resume, save_resume

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def rgb_only(**extract: object) -> tuple[dict, dict]:
    config = validate({"extract": extract, "flow": {"enabled": False}})
    return config["extract"], config["flow"]


def one_video_manifest(video_id: str, path: str) -> pd.DataFrame:
    return pd.DataFrame({"video_id": [video_id], "path": [path], "label": [0], "class_name": ["A"],
                         "group": ["1"], "split1": ["train"]})


# --- 1. video ids that would leave their folder --------------------------------------------------


@pytest.mark.parametrize("name", ["...avi", "..avi", ".hidden.avi"])
def test_video_named_dots_is_refused_with_file_and_line(tmp_path: Path, name: str) -> None:
    make_ucf101(tmp_path)
    (tmp_path / "ApplyEyeMakeup" / name).write_bytes(b"video")
    lists = tmp_path / "ucfTrainTestlist"
    lines = (lists / "trainlist01.txt").read_text().splitlines()
    write_crlf(lists / "trainlist01.txt", lines + [f"ApplyEyeMakeup/{name} 1"])
    with pytest.raises(DatasetError, match=rf"trainlist01.txt:4: .*{name}.*starts with '\.'"):
        build_manifest("ucf101", tmp_path)


def test_extracting_a_dot_dot_id_deletes_nothing(tmp_path: Path) -> None:
    """`frames/..` is the output folder: writing it once replaced the manifest, logs and notes."""
    out = tmp_path / "out"
    (out / "frames").mkdir(parents=True)
    notes = out / "notes.txt"
    notes.write_text("my notes")
    write_video(tmp_path / "v.avi", frames=3)
    for video_id in ("..", "."):
        with pytest.raises(DatasetError, match=rf"video id '{video_id}'"):
            extract_shard(one_video_manifest(video_id, "v.avi"), tmp_path, out / "frames", *rgb_only(),
                          tmp_path / "shard.tsv")
    assert notes.read_text() == "my notes" and (out / "frames").is_dir()


def test_hand_edited_manifest_id_names_the_line(tmp_path: Path) -> None:
    manifest = pd.concat([one_video_manifest("v_ok", "A/v_ok.avi"), one_video_manifest("..", "A/x.avi")])
    write_manifest(manifest, tmp_path / "manifest.csv")
    with pytest.raises(DatasetError, match=r"manifest.csv:3: video id '\.\.'"):
        read_manifest(tmp_path / "manifest.csv")


# --- 2. damaged frames are found, re-extracted or reported, never used ---------------------------


@pytest.fixture
def extracted(tmp_path: Path) -> dict[str, Path]:
    """Two RGB-only videos extracted for real, with their shard table, manifest and frame index."""
    root = tmp_path / "data"
    (root / "A").mkdir(parents=True)
    write_video(root / "A" / "v1.avi", frames=5)
    write_video(root / "A" / "v2.avi", frames=4)
    manifest = pd.concat([one_video_manifest("v1", "A/v1.avi"), one_video_manifest("v2", "A/v2.avi")])
    out = tmp_path / "out"
    (out / "extract").mkdir(parents=True)
    write_manifest(manifest, out / "manifest.csv")
    extract_shard(manifest, root, out / "frames", *rgb_only(skip_bad=True), out / "extract" / "shard_0.tsv")
    return {"root": root, "out": out, "frames": out / "frames", "manifest": manifest}


def test_frames_json_records_every_jpeg_size(extracted: dict) -> None:
    folder = extracted["frames"] / "v1"
    meta = layout.read_meta(folder)
    sizes = [(folder / layout.rgb_name(i)).stat().st_size for i in range(1, 6)]
    assert meta[verify.SIZES_KEY] == sizes and verify.folder_problems(folder) == []


def test_each_kind_of_damage_is_named(tmp_path: Path) -> None:
    """RGB and flow JPEGs: deleted, truncated (cut), overwritten with the same number of bytes."""
    frames = np.random.default_rng(0).integers(0, 255, (4, 24, 32, 3), dtype=np.uint8)
    flow = np.random.default_rng(1).integers(0, 255, (3, 24, 32, 2), dtype=np.uint8)
    folder = tmp_path / "v"
    write_frames(folder, frames, flow, 90, "digest")
    assert verify.folder_problems(folder) == []
    (folder / "flow_y_00002.jpg").unlink()
    cut = folder / layout.rgb_name(3)
    cut.write_bytes(cut.read_bytes()[:-200])
    flipped = folder / "flow_x_00003.jpg"
    flipped.write_bytes(b"\0\0" + flipped.read_bytes()[2:])
    problems = verify.folder_problems(folder, limit=10)
    assert problems == [f"{folder}/img_00003.jpg: {cut.stat().st_size} bytes, {cut.stat().st_size + 200} when written",
                        f"{folder}/flow_y_00002.jpg: missing",
                        f"{folder}/flow_x_00003.jpg: not a JPEG (no start-of-image marker)"]
    # without recorded sizes (frames.json of another tool) a cut JPEG is still found by its markers
    assert verify.jpeg_problem(cut) == "img_00003.jpg: truncated JPEG (no end-of-image marker)"


def test_frame_index_marks_damaged_videos_and_never_uses_them(extracted: dict) -> None:
    out, frames = extracted["out"], extracted["frames"]
    (frames / "v2" / layout.rgb_name(2)).unlink()
    shards = [out / "extract" / "shard_0.tsv"]
    with pytest.raises(DamagedFramesError, match=r"v2: .*img_00002.jpg: missing"):
        merge_shards(shards, out / "frames_index.csv", out / "bad.txt", frames, skip_bad=False)
    index = merge_shards(shards, out / "frames_index.csv", out / "bad.txt", frames, skip_bad=True)
    assert index["status"].tolist() == ["ok", "damaged"]
    assert (out / "bad.txt").read_text().startswith("v2\t")
    assert usable_videos(out / "manifest.csv", out / "frames_index.csv", 1)["video_id"].tolist() == ["v1"]


def test_a_rerun_extracts_a_damaged_video_again(extracted: dict) -> None:
    frames = extracted["frames"]
    damaged = frames / "v1" / layout.rgb_name(4)
    good = damaged.read_bytes()
    damaged.write_bytes(good[: len(good) // 2])
    untouched = (frames / "v2" / layout.rgb_name(1)).stat().st_mtime_ns
    extract_shard(extracted["manifest"], extracted["root"], frames, *rgb_only(skip_bad=True), extracted["out"] / "s.tsv")
    assert damaged.read_bytes() == good
    assert (frames / "v2" / layout.rgb_name(1)).stat().st_mtime_ns == untouched


def test_verify_command_reports_then_repairs(extracted: dict, capsys: pytest.CaptureFixture) -> None:
    out, frames = extracted["out"], extracted["frames"]
    merge_shards([out / "extract" / "shard_0.tsv"], out / "frames_index.csv", out / "bad.txt", frames)
    args = ["verify", "--set", f"output_dir={out}"]
    assert main(args) == 0
    (frames / "v1" / layout.rgb_name(5)).write_bytes(b"\xff\xd8" + b"x" * 300)
    assert main(args) == 1
    assert f"{frames}/v1/img_00005.jpg: 302 bytes" in capsys.readouterr().err
    assert main([*args, "--repair"]) == 0
    assert not (frames / "v1").exists() and (frames / "v2").is_dir()
    assert not (out / "extract" / "shard_0.tsv").exists()  # so the workflow extracts v1 again


def test_verify_finds_and_repairs_stale_temporaries_once_each(extracted: dict,
                                                              capsys: pytest.CaptureFixture) -> None:
    out, frames = extracted["out"], extracted["frames"]
    merge_shards([out / "extract" / "shard_0.tsv"], out / "frames_index.csv", out / "bad.txt", frames)
    day_ago = time.time() - atomic.STALE_AFTER_S - 60
    in_out = out / "cln" / ".cln.pt.0123abcd.12@elsewhere.tmp.pt"  # a killed job's file below the output
    in_frames = frames / ".v9.0123abcd.12@elsewhere.tmp"  # a killed extraction's video folder
    inside_video = frames / "v1" / ".x.0123abcd.12@elsewhere.tmp"  # video folders are not searched
    in_out.parent.mkdir(parents=True, exist_ok=True)
    in_out.write_text("x")
    in_frames.mkdir()
    inside_video.write_text("x")
    for path in (in_out, in_frames, inside_video):
        os.utime(path, (day_ago, day_ago))
    args = ["verify", "--set", f"output_dir={out}"]
    assert main(args) == 0
    logged = capsys.readouterr().err
    reported = sorted(line.split("stale temporary: ")[1] for line in logged.splitlines() if "stale temporary: " in line)
    assert reported == sorted(str(p) for p in (in_out, in_frames))  # each once
    assert main([*args, "--repair"]) == 0
    assert not in_out.exists() and not in_frames.exists() and inside_video.exists()


# --- 3. truncated videos -------------------------------------------------------------------------


def truncated_video(path: Path, frames: int = 6) -> None:
    """A real MJPG AVI cut at 75 %: the header still declares ``frames`` frames (6: 1 decodes; 20: 12)."""
    write_video(path, frames=frames)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * 0.75)])


def every_frame(video_id: str, n_frames: int) -> Reads:
    """Inference's choice of every frame and flow field (``tclsta predict``'s reads, at their largest)."""
    return Reads(range(1, n_frames + 1), range(1, n_frames))


@pytest.mark.parametrize("frames,chunk_frames,reads,decoded", [(6, 256, None, 1), (20, 4, None, 12),
                                                                 (20, 4, every_frame, 12)])
def test_truncated_video_is_marked_not_ok(tmp_path: Path, frames: int, chunk_frames: int, reads: ReadChooser | None,
                                          decoded: int) -> None:
    """Decoded whole, in chunks, or (predict) counted before its chosen frames are read: a truncated video is
    marked truncated under skip_bad, and is an error naming it otherwise."""
    truncated_video(tmp_path / "cut.avi", frames)
    rows = one_video_manifest("cut", "cut.avi")
    table = extract_shard(rows, tmp_path, tmp_path / "frames", *rgb_only(skip_bad=True, chunk_frames=chunk_frames),
                          tmp_path / "s.tsv", reads)
    assert table[["status", "n_frames"]].values.tolist() == [["truncated", 0]]
    assert f"decoded {decoded} of {frames} declared frames" in table["error"].iloc[0]
    assert not (tmp_path / "frames" / "cut").exists()
    with pytest.raises(TruncatedVideoError, match="cut.avi: truncated"):
        extract_shard(rows, tmp_path, tmp_path / "frames", *rgb_only(skip_bad=False, chunk_frames=chunk_frames),
                      tmp_path / "s.tsv", reads)


# --- 4. outputs honour the umask -----------------------------------------------------------------


@pytest.mark.parametrize("umask,file_mode,dir_mode", [(0o022, 0o644, 0o755), (0o002, 0o664, 0o775)])
def test_outputs_honour_the_umask(tmp_path: Path, umask: int, file_mode: int, dir_mode: int) -> None:
    old = os.umask(umask)
    try:
        atomic.atomic_write_text(tmp_path / "a.txt", "x")
        with atomic.atomic_directory(tmp_path / "d") as tmp:
            (tmp / "f").write_text("y")
    finally:
        os.umask(old)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == file_mode
    assert (tmp_path / "d").stat().st_mode & 0o777 == dir_mode


# --- 5. configuration holes ----------------------------------------------------------------------


def test_empty_output_dir_in_a_yaml_file(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text('output_dir: ""\n')
    with pytest.raises(ConfigError, match="c.yaml: output_dir is empty"):
        load(tmp_path / "c.yaml")


def test_null_from_the_snakemake_command_line_is_null() -> None:
    # `snakemake --config 'dataset={root: null}'` hands the string "null" over
    assert validate({"dataset": {"root": "null"}})["dataset"]["root"] is None
    assert validate({"dataset": {"root": "/data/null"}})["dataset"]["root"] == "/data/null"


def test_config_json_must_be_a_mapping(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["manifest", "--out", str(tmp_path / "m.csv"), "--config-json", "[1, 2]"]) == 1
    assert "--config-json: expected a JSON object" in capsys.readouterr().err


def test_video_in_train_and_test_names_both_lines(tmp_path: Path) -> None:
    make_ucf101(tmp_path)
    lists = tmp_path / "ucfTrainTestlist"
    lines = (lists / "testlist01.txt").read_text().splitlines()
    write_crlf(lists / "testlist01.txt", lines + ["ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi"])
    with pytest.raises(DatasetError, match=r"testlist01.txt:3: .* is test here but train at .*trainlist01.txt:1 "):
        build_manifest("ucf101", tmp_path)


def test_hmdb51_video_with_two_codes_names_both_lines(tmp_path: Path) -> None:
    make_hmdb51(tmp_path)
    path = tmp_path / "testTrainMulti_7030_splits" / "cartwheel_test_split2.txt"
    name, code = path.read_text().splitlines()[0].strip().rsplit(" ", 1)
    path.write_text(path.read_text() + f"{name} {'1' if code == '2' else '2'}\n")
    with pytest.raises(DatasetError, match=r"cartwheel_test_split2.txt:4: .* here but .* at .*cartwheel_test_split2.txt:1 "):
        build_manifest("hmdb51", tmp_path)


def dry_run_error(workdir: Path, config: dict) -> str:
    write_config(workdir, config)
    run = snakemake(workdir, "-n", check=False)
    assert run.returncode != 0
    return run.stdout


def test_parse_time_errors_of_the_workflow(tmp_path: Path) -> None:
    """Each stops `snakemake -n` before any job, with a message naming the key or file."""
    log = dry_run_error(tmp_path / "split", {"dataset": {"splits": [1, 4]}})
    assert "dataset.splits: the synthetic dataset has splits [1, 2, 3], not [4]" in log
    log = dry_run_error(tmp_path / "braces", {"output_dir": "out{run}"})
    assert "output_dir: 'out{run}' contains '{' or '}'" in log and "WildcardError" not in log
    make_hmdb51(tmp_path / "hmdb")
    cls = sorted(p for p in (tmp_path / "hmdb").iterdir() if not p.name.startswith("testTrain"))[0]
    renamed = cls.with_name("brush{hair}")
    cls.rename(renamed)
    for split_file in (tmp_path / "hmdb" / "testTrainMulti_7030_splits").glob(f"{cls.name}_*"):
        split_file.rename(split_file.with_name(split_file.name.replace(cls.name, renamed.name)))
    log = dry_run_error(tmp_path / "class", {"dataset": {"format": "hmdb51", "root": str(tmp_path / "hmdb")}})
    assert "brush{hair}_test_split1.txt: '{' or '}' in a class or file name" in log, log[-2000:]
    log = dry_run_error(tmp_path / "ucf", {"dataset": {"format": "hmdb51", "root": str(tmp_path / "hmdb"),
                                                       "splits": [3]}})
    assert "split 3 requested but the dataset has splits [1, 2]" in log


def test_braces_in_dataset_root() -> None:
    config = validate({"dataset": {"root": "/data/{x}", "format": "ucf101"}})
    assert workflow_path_problems(config) == [
        "dataset.root: '/data/{x}' contains '{' or '}', which Snakemake reads as a wildcard; rename or link the folder"]


# --- 6. names in figures -------------------------------------------------------------------------


def test_dollars_in_names_do_not_break_the_figures(tmp_path: Path) -> None:
    names = ["cost $^$ fine", "a$b$", "c"]
    confusion_figure(tmp_path / "c.png", np.eye(3), names, "split $1$^$")
    weights_figure(tmp_path / "w.png", names, {"cln": np.full((3, 2), 0.5)})
    assert (tmp_path / "c.png").stat().st_size > 1000 and (tmp_path / "w.png").is_file()


# --- 7. messages instead of tracebacks -----------------------------------------------------------


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all", b"\x80\x04K\x01."])
def test_checkpoint_that_is_not_a_zip(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "rgb_both.pt"
    path.write_bytes(content)
    with pytest.raises(TclstaError, match="rgb_both.pt: not a PyTorch checkpoint") as info:
        load_final(path)
    assert "weights_only=False" not in str(info.value)
    assert load_resume(path, "fingerprint") is None  # a damaged resume file only costs the progress


def test_resume_file_round_trip(tmp_path: Path) -> None:
    save_resume(tmp_path / "r.pt", {"fingerprint": "f", "x": torch.arange(3)})
    assert load_resume(tmp_path / "r.pt", "f")["x"].tolist() == [0, 1, 2]


NAMESPACE_SCRIPT = """
set -e
mount -t tmpfs -o size=96k tmpfs {full}
mount -t tmpfs -o ro tmpfs {ro}
{python} - <<'EOF'
import numpy as np, torch
from tclsta.errors import DiskFullError
from tclsta.data.frame_writer import write_video
from tclsta.training.checkpoint import save_resume
try:
    save_resume("{full}/streams/rgb.resume.pt", {{"x": torch.zeros(100_000)}})
except DiskFullError as err:
    print("CHECKPOINT", err)
frames = np.random.default_rng(0).integers(0, 255, (20, 64, 64, 3), dtype=np.uint8)
try:
    write_video(__import__("pathlib").Path("{full}/frames/v1"), frames, None, 95, "d")
except DiskFullError as err:
    print("JPEG", err)
EOF
ls -A {full} {full}/streams {full}/frames
{python} -m tclsta.cli manifest --format ucf101 --root {data} --out {ro}/manifest.csv || echo "rc=$?"
"""


def test_disk_full_and_read_only_output_name_the_file(tmp_path: Path) -> None:
    """In a user+mount namespace: a 96 KiB tmpfs (ENOSPC) and a read-only one (EROFS)."""
    if shutil.which("unshare") is None or subprocess.run(["unshare", "-rm", "true"]).returncode:
        pytest.skip("no user namespaces here to mount a small or read-only file system")
    full, ro, data = tmp_path / "full", tmp_path / "ro", tmp_path / "data"
    full.mkdir(), ro.mkdir()
    make_ucf101(data)
    script = NAMESPACE_SCRIPT.format(full=full, ro=ro, data=data, python=sys.executable)
    run = subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, timeout=120)
    text = run.stdout + run.stderr
    assert f"CHECKPOINT {full}/streams/rgb.resume.pt: cannot write: No space left on device on the file " \
           f"system mounted at {full}" in text, text
    assert f"JPEG {full}/frames/v1: cannot write: No space left on device" in text, text
    assert ".tmp" not in run.stdout  # `ls` of the full disk: the temporaries were removed
    assert f"{ro}/manifest.csv" in run.stderr and "Read-only file system" in run.stderr, text
    assert "rc=1" in run.stdout and "Traceback" not in text


# --- 8. leftovers of killed jobs -----------------------------------------------------------------

KILLED_WRITER = """
import os, signal, sys
from tclsta.atomic import atomic_directory
with atomic_directory(sys.argv[1]) as tmp:
    (tmp / "img_00001.jpg").write_bytes(b"half")
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_temporaries_of_killed_jobs_are_removed_and_only_those(tmp_path: Path) -> None:
    frames = tmp_path / "frames"
    subprocess.run([sys.executable, "-c", KILLED_WRITER, str(frames / "v1")])
    killed = [p for p in frames.iterdir()]
    assert len(killed) == 1 and killed[0].name.startswith(".v1.") and killed[0].name.endswith(".tmp")
    assert atomic.remove_stale_temporaries(frames) == []  # a minute's margin (PID namespaces)
    minute_ago = time.time() - atomic.DEAD_OWNER_AFTER_S - 1
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live = frames / f".v2.0123abcd.{sleeper.pid}@{atomic.HOST}.tmp"
        other_host_old = frames / ".v3.0123abcd.12@elsewhere.tmp"
        other_host_new = frames / ".v4.0123abcd.12@elsewhere.tmp.h5"
        not_ours = frames / ".notes.tmp"
        for path in (live, other_host_old, other_host_new, not_ours):
            path.mkdir() if path.suffix == ".tmp" else path.write_text("x")
        for path in (killed[0], live, other_host_new, not_ours):
            os.utime(path, (minute_ago, minute_ago))
        day_ago = time.time() - atomic.STALE_AFTER_S - 60
        os.utime(other_host_old, (day_ago, day_ago))
        assert sorted(atomic.remove_stale_temporaries(frames)) == sorted([killed[0], other_host_old])
        assert sorted(p.name for p in frames.iterdir()) == sorted(p.name for p in (live, other_host_new, not_ours))
    finally:
        sleeper.kill()
        sleeper.wait()
    # its owner is gone now: the next writer in that folder cleans up by itself
    atomic.atomic_write_text(frames / "other.txt", "x")
    assert not live.exists() and other_host_new.exists()


def test_sigterm_stops_a_command_cleanly(tmp_path: Path) -> None:
    """SIGTERM (scheduler, `kill`) unwinds like Ctrl-C: exit status 130, a message, no traceback."""
    write_video(tmp_path / "v.avi", frames=3)
    write_manifest(one_video_manifest("v", "v.avi"), tmp_path / "manifest.csv")
    slow = {"flow": {"device": "cpu", "compile": False,
                     "tvl1": {"nscales": 1, "warps": 1, "outer_iterations": 500, "epsilon": 1e-9}}}  # minutes
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(slow))
    proc = subprocess.Popen([sys.executable, "-m", "tclsta.cli", "extract", "--config", str(tmp_path / "c.yaml"),
                             "--manifest", str(tmp_path / "manifest.csv"), "--root", str(tmp_path), "--frames",
                             str(tmp_path / "frames"), "--out", str(tmp_path / "s.tsv")],
                            stderr=(tmp_path / "err.txt").open("w"), text=True)
    deadline = time.monotonic() + 120
    while "TV-L1 on cpu" not in (tmp_path / "err.txt").read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    err = (tmp_path / "err.txt").read_text()
    assert proc.returncode == 130, err[-2000:]
    assert "interrupted (SIGTERM)" in err and "Traceback" not in err
    assert not (tmp_path / "s.tsv").exists()


def test_the_real_run_is_verified_and_readable_by_colleagues(tiny_workflow: Path, capsys: pytest.CaptureFixture) -> None:
    """The shared tiny run: every video's JPEG sizes are in frames.json, `tclsta verify` passes,
    and outputs carry the umask's modes, not mkstemp's 0600."""
    out = tiny_workflow / "out"
    assert main(["verify", "--set", f"output_dir={out}"]) == 0
    assert "0 damaged; 0 temporaries of killed jobs" in capsys.readouterr().err
    folders = [p for p in (out / "frames").iterdir() if p.is_dir()]
    assert folders and all(verify.SIZES_KEY in layout.read_meta(p) for p in folders)
    umask = os.umask(0)
    os.umask(umask)
    for path in (out / "manifest.csv", out / "frames_index.csv", out / "metrics.json", folders[0]):
        expected = (0o777 if path.is_dir() else 0o666) & ~umask
        assert path.stat().st_mode & 0o777 == expected, path
