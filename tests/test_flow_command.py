"""`tclsta flow`: denseflow-style frames + flow for video files, folders and lists, on real
encoded videos; same bytes as the pipeline's extract stage; resuming; bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_extract_flow import manifest_for, write_panning_video

from tclsta.cli import main
from tclsta.data import layout

QUICK = json.dumps({"flow": {"device": "cpu", "tvl1": {"nscales": 2, "warps": 2, "outer_iterations": 2,
                                                       "inner_iterations": 10}}})


@pytest.fixture
def videos(tmp_path: Path) -> Path:
    """data/A/{four,three}.avi, data/B/five.mp4-named MJPG, and a corrupt data/A/corrupt.avi."""
    root = tmp_path / "data"
    (root / "A").mkdir(parents=True)
    (root / "B").mkdir()
    write_panning_video(root / "A" / "four.avi", 4, seed=0)
    write_panning_video(root / "A" / "three.avi", 3, size=(40, 30), seed=1)
    write_panning_video(root / "B" / "five.avi", 5, seed=2)
    return root


def flow(*args: str) -> int:
    return main(["flow", "--config-json", QUICK, *args])


def folder_bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_folder_and_list_write_the_rawframes_layout(tmp_path: Path, videos: Path, capfd) -> None:
    listing = tmp_path / "list.txt"
    listing.write_text("# videos\ndata/B/five.avi\n\n")
    out = tmp_path / "out"
    assert flow(str(videos / "A"), str(listing), "-o", str(out), "-b", "10", "-nw", "32", "-nh", "24") == 0
    expected = {"four": 4, "three": 3, "five": 5}
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == sorted(expected)
    for name, n in expected.items():
        files = {p.name for p in (out / name).iterdir()}
        assert files == ({layout.rgb_name(i) for i in range(1, n + 1)} | {f for i in range(1, n) for f in layout.flow_names(i)}
                         | {layout.META_NAME})
        meta = layout.read_meta(out / name)
        assert (meta["n_frames"], meta["n_flow"], meta["width"], meta["height"]) == (n, n - 1, 32, 24)
    err = capfd.readouterr().err
    assert "9 flow pairs" in err and "pairs/s" in err


def test_rerun_skips_complete_videos_and_redoes_changed_settings(tmp_path: Path, videos: Path, capfd) -> None:
    out = tmp_path / "out"
    assert flow(str(videos), "-o", str(out), "-ns", "24") == 0
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*.jpg")}
    assert flow(str(videos), "-o", str(out), "-ns", "24") == 0
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.jpg")} == stamps
    assert "3 already complete" in capfd.readouterr().err
    assert flow(str(videos), "-o", str(out), "-ns", "24", "-b", "5") == 0  # other bound: new flow images
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.jpg")} != stamps


def test_frames_only_and_class_folders(tmp_path: Path, videos: Path) -> None:
    out = tmp_path / "out"
    assert flow(str(videos), "-o", str(out), "-s", "0", "-cf") == 0
    assert sorted(str(p.relative_to(out)) for p in out.glob("*/*") if p.is_dir()) == ["A/four", "A/three", "B/five"]
    assert not list(out.rglob("flow_x_*.jpg")) and len(list(out.rglob("img_*.jpg"))) == 12


def test_bad_video_is_reported_and_the_others_are_kept(tmp_path: Path, videos: Path, capfd) -> None:
    (videos / "A" / "corrupt.avi").write_bytes(b"RIFF\x00\x00\x00\x00AVI garbage" * 20)
    out = tmp_path / "out"
    assert flow(str(videos), str(tmp_path / "missing.avi"), "-o", str(out)) == 1
    err = capfd.readouterr().err
    assert "2 of 5 videos could not be read" in err and "corrupt.avi" in err and "missing.avi" in err
    assert all(layout.read_meta(out / name) for name in ("four", "three", "five"))


def test_clashing_names_and_bad_options_are_errors(tmp_path: Path, videos: Path, capfd) -> None:
    write_panning_video(videos / "B" / "four.avi", 2, seed=3)
    assert flow(str(videos), "-o", str(tmp_path / "out")) == 1
    assert "would both write four/" in capfd.readouterr().err
    assert flow(str(videos / "A"), "-o", str(tmp_path / "out"), "-nw", "32") == 1
    assert "go together" in capfd.readouterr().err
    assert flow(str(tmp_path / "empty"), "-o", str(tmp_path / "out")) == 1  # a missing file is a bad video
    assert not (tmp_path / "out" / "empty").exists()


def test_same_bytes_as_the_pipeline_extract_stage(tmp_path: Path, videos: Path) -> None:
    manifest = tmp_path / "manifest.csv"
    manifest_for(videos, ["four", "three"]).to_csv(manifest, index=False)
    pipeline = tmp_path / "frames"
    common = ["--config-json", QUICK, "--set", "flow.bound=8", "--set", "extract.resize.mode=new_short",
              "--set", "extract.resize.short=24"]
    assert main(["extract", *common, "--manifest", str(manifest), "--root", str(videos), "--frames", str(pipeline),
                 "--out", str(tmp_path / "shard.tsv")]) == 0
    out = tmp_path / "out"
    assert flow(str(videos / "A"), "-o", str(out), "-b", "8", "-ns", "24") == 0
    for name in ("four", "three"):
        assert folder_bytes(out / name) == folder_bytes(pipeline / name)
