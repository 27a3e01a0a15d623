"""Manifest parsing for every dataset format, from split files written as distributed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.io import savemat

from tclsta.cli import main
from tclsta.data.manifest import (
    build_manifest, check_splits, read_manifest, split_columns, split_files, write_manifest,
)
from tclsta.errors import DatasetError


def touch(root: Path, rel: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"video")


def write_crlf(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes("".join(f"{line}\r\n" for line in lines).encode())


def make_ucf101(root: Path, videos_in: str = ".") -> None:
    """A two-class UCF101 with the real quirks: CRLF, unlabelled test lists, HandStand case mismatch.

    The class folders go to ``root/videos_in`` (``UCF-101`` as the archive unpacks).
    """
    videos = {
        "ApplyEyeMakeup": ["v_ApplyEyeMakeup_g01_c01.avi", "v_ApplyEyeMakeup_g08_c01.avi", "v_ApplyEyeMakeup_g09_c02.avi"],
        "HandstandPushups": ["v_HandStandPushups_g01_c01.avi", "v_HandStandPushups_g08_c01.avi", "v_HandStandPushups_g09_c01.avi"],
    }
    for cls, names in videos.items():
        for name in names:
            touch(root / videos_in, f"{cls}/{name}")
    lists = root / "ucfTrainTestlist"
    write_crlf(lists / "classInd.txt", ["1 ApplyEyeMakeup", "2 HandstandPushups"])
    write_crlf(lists / "trainlist01.txt", [
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1",
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g09_c02.avi 1",
        # the official list spells the file as on disk; a lower-cased copy must still match
        "HandstandPushups/v_handstandpushups_g08_c01.avi 2",
    ])
    write_crlf(lists / "testlist01.txt", [
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi",
        "HandstandPushups/v_HandStandPushups_g01_c01.avi",
    ])
    write_crlf(lists / "trainlist02.txt", [
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi 1",
        "HandstandPushups/v_HandStandPushups_g09_c01.avi 2",
    ])
    write_crlf(lists / "testlist02.txt", ["HandstandPushups/v_HandStandPushups_g08_c01.avi"])


def test_ucf101_crlf_case_and_groups(tmp_path: Path) -> None:
    make_ucf101(tmp_path)
    table = build_manifest("ucf101", tmp_path).set_index("video_id")
    assert split_columns(table) == ["split1", "split2"]
    row = table.loc["v_HandStandPushups_g08_c01"]
    assert row["path"] == "HandstandPushups/v_HandStandPushups_g08_c01.avi"  # the file as it is on disk
    assert (row["label"], row["class_name"], row["group"]) == (1, "HandstandPushups", "8")
    assert (row["split1"], row["split2"]) == ("train", "test")
    assert table.loc["v_ApplyEyeMakeup_g01_c01", "split1"] == "test"
    assert table.loc["v_ApplyEyeMakeup_g01_c01", "split2"] == "train"
    assert table.loc["v_ApplyEyeMakeup_g09_c02", "split2"] == "unused"
    assert not any("\r" in p for p in table["path"])


def test_ucf101_errors_name_file_and_line(tmp_path: Path) -> None:
    make_ucf101(tmp_path)
    lists = tmp_path / "ucfTrainTestlist"
    write_crlf(lists / "testlist01.txt", ["ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi", "Juggling/v_Juggling_g01_c01.avi"])
    with pytest.raises(DatasetError, match=r"testlist01.txt:2: class folder 'Juggling' is not in classInd"):
        build_manifest("ucf101", tmp_path)
    write_crlf(lists / "testlist01.txt", ["ApplyEyeMakeup/v_ApplyEyeMakeup_g05_c01.avi"])
    with pytest.raises(DatasetError, match=r"testlist01.txt:1: listed video .*g05.* does not exist"):
        build_manifest("ucf101", tmp_path)
    write_crlf(lists / "testlist01.txt", ["ApplyEyeMakeup/../../etc/passwd.avi"])
    with pytest.raises(DatasetError, match=r"testlist01.txt:1: path .* would leave the dataset root"):
        build_manifest("ucf101", tmp_path)
    write_crlf(lists / "testlist01.txt", [])
    with pytest.raises(DatasetError, match=r"split 1 has no test videos"):
        build_manifest("ucf101", tmp_path)


def test_ucf101_wrong_label_in_train_list(tmp_path: Path) -> None:
    make_ucf101(tmp_path)
    write_crlf(tmp_path / "ucfTrainTestlist" / "trainlist01.txt", ["ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 2"])
    with pytest.raises(DatasetError, match=r"trainlist01.txt:1: label '2' does not match class 'ApplyEyeMakeup'"):
        build_manifest("ucf101", tmp_path)


def test_symlink_escape_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "data"
    make_ucf101(root)
    outside = tmp_path / "outside.avi"
    outside.write_bytes(b"x")
    (root / "ApplyEyeMakeup" / "v_ApplyEyeMakeup_g02_c01.avi").symlink_to(outside)
    write_crlf(root / "ucfTrainTestlist" / "testlist01.txt", ["ApplyEyeMakeup/v_ApplyEyeMakeup_g02_c01.avi"])
    with pytest.raises(DatasetError, match="resolves outside the dataset root"):
        build_manifest("ucf101", root)


HMDB_NAMES = {
    "brush_hair": ["April_09_brush_hair_u_nm_np1_ba_goo_0.avi", "Blonde_being_brushed_brush_hair_f_nm_np2_ri_med_0.avi",
                   "brushing_hair_[1]_brush_hair_h_cm_np1_le_goo_0.avi"],
    "cartwheel": ["(Rad)Schlag_die_Bank!_cartwheel_f_cm_np1_le_med_0.avi", "Bodenturnen_&_Akrobatik_cartwheel_f_cm_np1_ri_bad_1.avi",
                  "Cartwheel day 1_cartwheel_f_cm_np1_ba_med_0.avi"],
}


def make_hmdb51(root: Path, videos_in: str = ".", splits_in: str = ".") -> None:
    """HMDB51 with ``<class>/`` folders in ``root/videos_in`` and the split folder in ``root/splits_in``."""
    codes = ["1", "2", "0"]
    for cls, names in HMDB_NAMES.items():
        for name in names:
            touch(root / videos_in, f"{cls}/{name}")
        for split in (1, 2):
            lines = [f"{name} {codes[(i + split - 1) % 3]} " for i, name in enumerate(names)]  # trailing spaces
            path = root / splits_in / "testTrainMulti_7030_splits" / f"{cls}_test_split{split}.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("\n".join(lines) + "\n")


def test_hmdb51_special_characters_and_trailing_spaces(tmp_path: Path) -> None:
    make_hmdb51(tmp_path)
    table = build_manifest("hmdb51", tmp_path)
    assert len(table) == 6 and split_columns(table) == ["split1", "split2"]
    row = table.set_index("video_id").loc["(Rad)Schlag_die_Bank!_cartwheel_f_cm_np1_le_med_0"]
    assert row["path"] == "cartwheel/(Rad)Schlag_die_Bank!_cartwheel_f_cm_np1_le_med_0.avi"
    assert (row["label"], row["class_name"], row["group"]) == (1, "cartwheel", "")
    assert (row["split1"], row["split2"]) == ("train", "test")
    spaced = table.set_index("video_id").loc["Cartwheel day 1_cartwheel_f_cm_np1_ba_med_0"]
    assert (spaced["split1"], spaced["split2"]) == ("unused", "train")
    # the CSV round trip keeps every special character and the string types
    write_manifest(table, tmp_path / "m.csv")
    back = read_manifest(tmp_path / "m.csv")
    assert back["video_id"].tolist() == table["video_id"].tolist()
    assert back["group"].tolist() == [""] * 6


def test_hmdb51_errors(tmp_path: Path) -> None:
    make_hmdb51(tmp_path)
    path = tmp_path / "testTrainMulti_7030_splits" / "cartwheel_test_split1.txt"
    path.write_text(path.read_text() + "missing_video.avi 1\n")
    with pytest.raises(DatasetError, match=r"cartwheel_test_split1.txt:4: listed video .*missing_video"):
        build_manifest("hmdb51", tmp_path)
    path.write_text("Cartwheel day 1_cartwheel_f_cm_np1_ba_med_0.avi 7\n")
    with pytest.raises(DatasetError, match=r"cartwheel_test_split1.txt:1: expected '<video>.avi 0\|1\|2'"):
        build_manifest("hmdb51", tmp_path)
    (tmp_path / "testTrainMulti_7030_splits" / "cartwheel_test_split2.txt").unlink()
    path.write_text("Cartwheel day 1_cartwheel_f_cm_np1_ba_med_0.avi 1\n")
    with pytest.raises(DatasetError, match=r"missing cartwheel_test_split2.txt"):
        build_manifest("hmdb51", tmp_path)


def test_ucf50_leave_one_group_out(tmp_path: Path) -> None:
    # folder and file prefix differ, as in the real UCF50 (e.g. folder "Skijet", files "v_Skijet")
    for cls, prefix in (("BaseballPitch", "BaseballPitch"), ("YoYo", "Yoyo")):
        for group in range(1, 26):
            touch(tmp_path, f"{cls}/v_{prefix}_g{group:02d}_c01.avi")
    table = build_manifest("ucf50", tmp_path)
    assert split_columns(table) == [f"split{k}" for k in range(1, 26)]
    assert len(table) == 50
    for k in (1, 13, 25):
        test = table[table[f"split{k}"] == "test"]
        assert sorted(test["group"].astype(int).unique()) == [k] and len(test) == 2
        assert (table[f"split{k}"] != "unused").all()
    assert table.set_index("video_id").loc["v_Yoyo_g03_c01", "class_name"] == "YoYo"
    touch(tmp_path, "YoYo/v_Yoyo_nogroup.avi")
    with pytest.raises(DatasetError, match=r"v_Yoyo_nogroup.avi: no group"):
        build_manifest("ucf50", tmp_path)


def make_thumos14(root: Path, ucf_videos_in: str = ".", test_dir: str = "test", test_meta: str = "test") -> None:
    """THUMOS14: UCF101 in ``UCF101/`` (class folders in ``UCF101/<ucf_videos_in>``), validation/, test."""
    make_ucf101(root / "UCF101", ucf_videos_in)
    for name in ("video_validation_0000001", "video_validation_0000002", "video_validation_0000003"):
        touch(root, f"validation/{name}.mp4")
    for name in ("video_test_0000001", "video_test_0000002"):
        touch(root, f"{test_dir}/{name}.mp4")
    record = np.dtype([("video_name", object), ("primary_action", object), ("primary_action_index", object)])
    validation = np.array([("video_validation_0000001", "ApplyEyeMakeup", 1),
                           ("video_validation_0000002", "HandstandPushups", 2),
                           ("video_validation_0000003", "", np.array([]))], dtype=record)  # background
    test = np.array([("video_test_0000001", "HandstandPushups", 2),
                     ("video_test_0000002", "ApplyEyeMakeup", 1)], dtype=record)
    savemat(root / "validation" / "validation_set.mat", {"validation_videos": validation})
    (root / test_meta).mkdir(exist_ok=True)
    savemat(root / test_meta / "test_set_meta.mat", {"test_videos": test})


def test_thumos14(tmp_path: Path) -> None:
    make_thumos14(tmp_path)
    table = build_manifest("thumos14", tmp_path).set_index("video_id")
    assert split_columns(table) == ["split1"]
    assert table.loc["v_HandStandPushups_g08_c01", "path"] == "UCF101/HandstandPushups/v_HandStandPushups_g08_c01.avi"
    assert table.loc["v_ApplyEyeMakeup_g01_c01", "split1"] == "train"  # every UCF101 video trains
    assert table.loc["video_validation_0000002", ["label", "split1"]].tolist() == [1, "train"]
    assert table.loc["video_test_0000001", ["label", "class_name", "split1"]].tolist() == [1, "HandstandPushups", "test"]
    assert "video_validation_0000003" not in table.index  # background video, no class
    assert len(table) == 6 + 2 + 2


def test_layouts_as_distributed(tmp_path: Path) -> None:
    """Each dataset as its archives unpack gives the flat layout's manifest, with paths into the nested folders."""
    make_ucf101(tmp_path / "flat")
    make_ucf101(tmp_path / "ucf", videos_in="UCF-101")  # UCF101.rar + UCF101TrainTestSplits zip side by side
    flat, nested = build_manifest("ucf101", tmp_path / "flat"), build_manifest("ucf101", tmp_path / "ucf")
    assert (nested["path"] == "UCF-101/" + flat["path"]).all()
    assert nested.drop(columns="path").equals(flat.drop(columns="path"))

    make_hmdb51(tmp_path / "hflat")
    # hmdb51_org.rar holds one <class>.rar per class (left beside their folders); the split
    # archive unpacks to test_train_splits/testTrainMulti_7030_splits
    make_hmdb51(tmp_path / "hmdb", videos_in="hmdb51_org", splits_in="test_train_splits")
    (tmp_path / "hmdb" / "hmdb51_org" / "cartwheel.rar").write_bytes(b"rar")
    flat, nested = build_manifest("hmdb51", tmp_path / "hflat"), build_manifest("hmdb51", tmp_path / "hmdb")
    assert (nested["path"] == "hmdb51_org/" + flat["path"]).all()
    assert nested.drop(columns="path").equals(flat.drop(columns="path"))
    assert len(split_files("hmdb51", tmp_path / "hmdb")) == 4

    for group in (1, 2):
        touch(tmp_path / "u50" / "UCF50", f"Skijet/v_Skijet_g{group:02d}_c01.avi")
        touch(tmp_path / "u50" / "UCF50", f"Rowing/v_Rowing_g{group:02d}_c01.avi")
    table = build_manifest("ucf50", tmp_path / "u50")
    assert table["path"].tolist()[0] == "UCF50/Rowing/v_Rowing_g01_c01.avi" and len(table) == 4
    assert split_columns(table) == ["split1", "split2"]

    make_thumos14(tmp_path / "th", ucf_videos_in="UCF-101", test_dir="TH14_test_set_mp4", test_meta=".")
    table = build_manifest("thumos14", tmp_path / "th").set_index("video_id")
    assert table.loc["v_HandStandPushups_g08_c01", "path"] == "UCF101/UCF-101/HandstandPushups/v_HandStandPushups_g08_c01.avi"
    assert table.loc["video_test_0000001", "path"] == "TH14_test_set_mp4/video_test_0000001.mp4"
    assert len(table) == 10
    assert [p.name for p in split_files("thumos14", tmp_path / "th")][-2:] == ["test_set_meta.mat", "validation_set.mat"]


def test_layout_not_found_names_what_is_missing(tmp_path: Path) -> None:
    make_hmdb51(tmp_path / "hmdb", videos_in="a/b/c")  # class folders too deep to be searched
    with pytest.raises(DatasetError, match="no folder holding the HMDB51 class folders"):
        build_manifest("hmdb51", tmp_path / "hmdb")
    make_thumos14(tmp_path / "th")
    (tmp_path / "th" / "test" / "video_test_0000001.mp4").rename(tmp_path / "th" / "test" / "x.txt")
    (tmp_path / "th" / "test" / "video_test_0000002.mp4").unlink()
    with pytest.raises(DatasetError, match="no THUMOS14 test folder with videos"):
        build_manifest("thumos14", tmp_path / "th")


def test_thumos14_bad_action_index(tmp_path: Path) -> None:
    make_thumos14(tmp_path)
    record = np.dtype([("video_name", object), ("primary_action", object), ("primary_action_index", object)])
    savemat(tmp_path / "test" / "test_set_meta.mat",
            {"test_videos": np.array([("video_test_0000001", "Juggling", 7)], dtype=record)})
    with pytest.raises(DatasetError, match=r"test_set_meta.mat: entry 1 \(video_test_0000001\): primary action index 7"):
        build_manifest("thumos14", tmp_path)


def test_requested_split_must_exist(tmp_path: Path) -> None:
    make_ucf101(tmp_path)
    table = build_manifest("ucf101", tmp_path)
    check_splits(table, [1, 2], "x")
    with pytest.raises(DatasetError, match=r"split 3 requested but the dataset has splits \[1, 2\]"):
        check_splits(table, [3], "x")


def test_cli_writes_manifest_and_reports_errors(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    make_hmdb51(tmp_path / "hmdb")
    out = tmp_path / "manifest.csv"
    assert main(["manifest", "--format", "hmdb51", "--root", str(tmp_path / "hmdb"), "--out", str(out)]) == 0
    assert len(read_manifest(out)) == 6
    assert main(["manifest", "--format", "ucf101", "--root", str(tmp_path / "hmdb"), "--out", str(tmp_path / "x.csv")]) == 1
    assert "UCF101 split folder not found (looked for folder ucfTrainTestlist" in capsys.readouterr().err
    assert not (tmp_path / "x.csv").exists()


def test_split_files_are_the_workflow_inputs(tmp_path: Path) -> None:
    make_thumos14(tmp_path / "thumos")
    make_hmdb51(tmp_path / "hmdb")
    names = [p.name for p in split_files("thumos14", tmp_path / "thumos")]
    assert names == ["classInd.txt", "testlist01.txt", "testlist02.txt", "trainlist01.txt", "trainlist02.txt",
                     "test_set_meta.mat", "validation_set.mat"]
    assert len(split_files("hmdb51", tmp_path / "hmdb")) == 4
    assert split_files("ucf50", tmp_path / "hmdb") == []
