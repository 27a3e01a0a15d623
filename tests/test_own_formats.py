"""The list, folders and kinetics dataset formats: parsers, the folder split, missing Kinetics videos."""

from __future__ import annotations

from pathlib import Path

import pytest

from tclsta.data.manifest import build_manifest, split_files
from tclsta.errors import DatasetError


def touch(root: Path, *paths: str) -> None:
    for rel in paths:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).touch()


# --- list -----------------------------------------------------------------------------------------


def test_text_lists_with_one_based_class_file_bom_crlf_and_blank_lines(tmp_path: Path) -> None:
    touch(tmp_path, "vids/a b.mp4", "vids/c.avi", "vids/d (1).mkv", "vids/e.mp4")
    (tmp_path / "classes.txt").write_bytes("\ufeff1 Jump Rope\r\n2 Play (Piano)\r\n\r\n".encode())
    (tmp_path / "train.txt").write_bytes(b"\xef\xbb\xbfvids/a b.mp4 1\r\n\r\nvids/c.avi 2\r\n")
    (tmp_path / "test.txt").write_text('"vids/d (1).mkv" 2\n\nvids/e.mp4 1\n')
    table = build_manifest("list", tmp_path, {"train": "train.txt", "test": "test.txt", "classes": "classes.txt"})
    rows = table.set_index("path")
    assert rows.loc["vids/a b.mp4", ["label", "class_name", "split1"]].tolist() == [0, "Jump Rope", "train"]
    assert rows.loc["vids/d (1).mkv", ["label", "class_name", "split1"]].tolist() == [1, "Play (Piano)", "test"]
    assert rows.loc["vids/e.mp4", "split1"] == "test"
    assert sorted(split_files("list", tmp_path, {"train": "train.txt", "test": "test.txt", "classes": "classes.txt"})) \
        == sorted(tmp_path / n for n in ("classes.txt", "test.txt", "train.txt"))


def test_zero_based_class_file_of_names(tmp_path: Path) -> None:
    touch(tmp_path, "a.mp4", "b.mp4")
    (tmp_path / "classes.txt").write_text("walk\nrun\n")
    (tmp_path / "train.txt").write_text("a.mp4 0\n")
    (tmp_path / "test.txt").write_text("b.mp4 1\n")
    table = build_manifest("list", tmp_path, {"train": "train.txt", "test": "test.txt", "classes": "classes.txt"})
    assert dict(zip(table["path"], table["class_name"])) == {"a.mp4": "walk", "b.mp4": "run"}


def test_csv_with_names_quotes_commas_and_groups(tmp_path: Path) -> None:
    touch(tmp_path, "x/clip, take 1.mp4", "x/two.mp4", "x/three.mp4")
    (tmp_path / "train.csv").write_bytes('\ufeffpath,label,group\r\n"x/clip, take 1.mp4","Play (Piano), loud",s1\r\n'
                                         'x/two.mp4,walk,s2\r\n\r\n'.encode())
    (tmp_path / "test.csv").write_text('path,label\nx/three.mp4,"Play (Piano), loud"\n')
    table = build_manifest("list", tmp_path, {"train": "train.csv", "test": "test.csv"}).set_index("path")
    assert sorted(set(table["class_name"])) == ["Play (Piano), loud", "walk"]  # sorted distinct names
    assert table.loc["x/clip, take 1.mp4", ["label", "group", "split1"]].tolist() == [0, "s1", "train"]
    assert table.loc["x/three.mp4", ["label", "split1"]].tolist() == [0, "test"]


def test_unknown_label_names_file_and_line(tmp_path: Path) -> None:
    touch(tmp_path, "a.mp4", "b.mp4")
    (tmp_path / "classes.txt").write_text("1 walk\n2 run\n")
    (tmp_path / "train.txt").write_text("a.mp4 1\n\nb.mp4 3\n")
    (tmp_path / "test.txt").write_text("a.mp4 1\n")
    dataset = {"train": "train.txt", "test": "test.txt", "classes": "classes.txt"}
    with pytest.raises(DatasetError, match=r"train\.txt:3: label 3 is not a class"):
        build_manifest("list", tmp_path, dataset)
    (tmp_path / "train.csv").write_text("path,label\nb.mp4,swim\n")
    with pytest.raises(DatasetError, match=r"train\.csv:2: label 'swim' is not a class"):
        build_manifest("list", tmp_path, {**dataset, "train": "train.csv"})


def test_list_errors_name_the_file(tmp_path: Path) -> None:
    touch(tmp_path, "a.mp4")
    (tmp_path / "train.txt").write_text("a.mp4 0\nmissing.mp4 0\n")
    (tmp_path / "test.txt").write_text("a.mp4 0\n")
    with pytest.raises(DatasetError, match=r"train\.txt:2: listed video 'missing.mp4' does not exist"):
        build_manifest("list", tmp_path, {"train": "train.txt", "test": "test.txt"})
    (tmp_path / "train.txt").write_text("a.mp4 0\n")
    with pytest.raises(DatasetError, match=r"test\.txt:1: 'a.mp4' is test here but train at .*train\.txt:1"):
        build_manifest("list", tmp_path, {"train": "train.txt", "test": "test.txt"})
    (tmp_path / "bad.csv").write_text("file,class\na.mp4,0\n")
    with pytest.raises(DatasetError, match=r"bad\.csv:1: expected the header path,label"):
        build_manifest("list", tmp_path, {"train": "bad.csv", "test": "test.txt"})
    with pytest.raises(DatasetError, match="needs dataset.test"):
        build_manifest("list", tmp_path, {"train": "train.txt"})


# --- folders --------------------------------------------------------------------------------------


def folder_dataset(root: Path, per_class: dict[str, int], clips: int = 1) -> None:
    """``root/<class>/<class>_gGG_cCC.mp4``: ``per_class`` groups of ``clips`` clips each."""
    for name, groups in per_class.items():
        touch(root, *(f"{name}/{name.replace(' ', '_')}_g{g:02d}_c{c}.mp4"
                      for g in range(1, groups + 1) for c in range(1, clips + 1)))


def test_folders_split_is_stratified_and_recorded(tmp_path: Path) -> None:
    folder_dataset(tmp_path, {"Jump (rope)": 20, "play piano": 10, "walk": 5})
    (tmp_path / "walk" / "notes.txt").touch()  # not a video
    table = build_manifest("folders", tmp_path, {"test_fraction": 0.2, "val_fraction": 0.1})
    counts = table.groupby(["class_name", "split1"]).size().unstack(fill_value=0)
    assert counts.loc["Jump (rope)"].to_dict() == {"test": 4, "train": 14, "val": 2}
    assert counts.loc["play piano"].to_dict() == {"test": 2, "train": 7, "val": 1}
    assert counts.loc["walk", "test"] == 1 and counts.loc["walk", "train"] >= 3
    assert len(table) == 35 and sorted(set(table["class_name"])) == ["Jump (rope)", "play piano", "walk"]
    other = build_manifest("folders", tmp_path, {"test_fraction": 0.2, "val_fraction": 0.1, "split_seed": 1})
    assert list(other["split1"]) != list(table["split1"])  # the seed draws another split


def test_folders_keep_groups_apart(tmp_path: Path) -> None:
    folder_dataset(tmp_path, {"a": 10, "b": 7}, clips=3)
    table = build_manifest("folders", tmp_path, {"group_pattern": r"_g(\d+)_"})
    assert set(table["group"]) == {f"{g:02d}" for g in range(1, 11)}
    for _, rows in table.groupby(["class_name", "group"]):
        assert rows["split1"].nunique() == 1  # all clips of a source on one side
    assert (table[table["class_name"] == "a"]["split1"] == "test").sum() == 6  # 2 of 10 groups x 3 clips
    ungrouped = build_manifest("folders", tmp_path, {})
    assert any(rows["split1"].nunique() > 1 for _, rows in ungrouped.groupby(["class_name", ungrouped["path"].str[:-6]]))


def test_folders_split_stable_when_another_class_grows(tmp_path: Path) -> None:
    folder_dataset(tmp_path, {"a": 12, "b": 8})
    before = build_manifest("folders", tmp_path, {}).set_index("video_id")["split1"]
    touch(tmp_path, *(f"b/b_extra{k}.mp4" for k in range(30)), "c/c_g01_c1.mp4", "c/c_g02_c1.mp4")
    after = build_manifest("folders", tmp_path, {}).set_index("video_id")["split1"]
    a_ids = [v for v in before.index if v.startswith("a_")]
    assert after[a_ids].tolist() == before[a_ids].tolist()
    assert set(after.index) - set(before.index)  # the new videos are in


def test_folders_errors(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no <class>/<video> files"):
        build_manifest("folders", tmp_path, {})
    folder_dataset(tmp_path, {"a": 3})
    from tclsta.errors import ConfigError
    with pytest.raises(ConfigError, match="exactly one capture group"):
        build_manifest("folders", tmp_path, {"group_pattern": r"_g\d+_"})


# --- kinetics -------------------------------------------------------------------------------------

KINETICS_TRAIN = '''label,youtube_id,time_start,time_end,split,is_cc
"passing American football (in game)",-abc_DEF123,10,20,train,0
"passing American football (in game)",xyz,0,10,train,0
"person's ""quoted"" label",-9zzz,5.0,15.0,train,1
"person's ""quoted"" label",gone1,1,11,train,0
abseiling,abc1,30,40,train,0
'''
KINETICS_VAL = '''\ufefflabel,youtube_id,time_start,time_end,split\r
abseiling,val1,0,10,val\r
"passing American football (in game)",--val2,3,13,val\r
abseiling,gone2,0,10,val\r
'''


def kinetics_dataset(root: Path) -> None:
    (root / "annotations").mkdir(parents=True)
    (root / "annotations" / "train.csv").write_text(KINETICS_TRAIN)
    (root / "annotations" / "val.csv").write_bytes(KINETICS_VAL.encode())
    (root / "annotations" / "test.csv").write_text("youtube_id,time_start,time_end,split\nunl,0,10,test\n")
    touch(root, "train/passing American football (in game)/-abc_DEF123_000010_000020.mp4",
          "train/passing American football (in game)/xyz_000000_000010.mp4",
          "train/-9zzz_000005_000015.mp4", "train/abseiling/abc1_000030_000040.mp4",
          "val/val1_000000_000010.mp4", "val/abseiling/--val2_000003_000013.mp4")


def test_kinetics_layout_with_missing_videos(tmp_path: Path) -> None:
    kinetics_dataset(tmp_path)
    table = build_manifest("kinetics", tmp_path, {"version": 400}).set_index("video_id")
    assert sorted(table.index) == sorted(["-abc_DEF123_000010_000020", "xyz_000000_000010", "-9zzz_000005_000015",
                                          "abc1_000030_000040", "val1_000000_000010", "--val2_000003_000013"])
    assert table.loc["-9zzz_000005_000015", "class_name"] == 'person\'s "quoted" label'
    assert table.loc["--val2_000003_000013", ["class_name", "split1", "path"]].tolist() == [
        "passing American football (in game)", "test", "val/abseiling/--val2_000003_000013.mp4"]
    assert table.loc["-abc_DEF123_000010_000020", "split1"] == "train"
    assert [v for v, _ in table.attrs["missing"]] == ["gone1_000001_000011", "gone2_000000_000010"]
    assert sorted(p.name for p in split_files("kinetics", tmp_path)) == ["train.csv", "val.csv"]


def test_kinetics_manifest_command_writes_missing_videos(tmp_path: Path) -> None:
    import subprocess
    import sys

    kinetics_dataset(tmp_path / "k400")
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "tclsta.cli", "manifest", "--format", "kinetics", "--root",
                           str(tmp_path / "k400"), "--out", str(out / "manifest.csv"),
                           "--missing", str(out / "missing_videos.txt")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "2 of 8 listed videos are missing from disk" in proc.stderr
    lines = (out / "missing_videos.txt").read_text().splitlines()
    assert [line.split("\t")[0] for line in lines] == ["gone1_000001_000011", "gone2_000000_000010"]
    assert "train/gone1_000001_000011.mp4 not found" in lines[0]
    from tclsta.data.manifest import read_manifest
    assert len(read_manifest(out / "manifest.csv")) == 6


def test_kinetics_bad_annotation_names_file_and_line(tmp_path: Path) -> None:
    kinetics_dataset(tmp_path)
    (tmp_path / "annotations" / "val.csv").write_text("label,youtube_id,time_start,time_end,split\nx,y,zero,10,val\n")
    with pytest.raises(DatasetError, match=r"val\.csv:2: time_start/time_end must be numbers"):
        build_manifest("kinetics", tmp_path, {})
