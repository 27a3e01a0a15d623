"""Attention ground truth: boxes.csv, THUMOS14 temporal annotations, clear errors, optional files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tclsta.data import annotations as ann
from tclsta.data.synthetic import write_video
from tclsta.errors import DatasetError


def manifest(*paths: str) -> pd.DataFrame:
    return pd.DataFrame({"path": list(paths), "video_id": [Path(p).stem for p in paths]})


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_boxes_csv_per_video_and_frame(tmp_path):
    write(tmp_path / ann.BOXES, "path,frame,x0,y0,x1,y1\n"
          "A/v_A_g01_c01.avi,3,1,2,11,12\nA/v_A_g01_c01.avi,4,2,2,12,12.5\nB/v_B_g01_c01.avi,1,0,0,5,5\n")
    truth = ann.load_ground_truth(tmp_path, manifest("A/v_A_g01_c01.avi", "B/v_B_g01_c01.avi", "C/v_C_g01_c01.avi"))
    assert set(truth) == {"v_A_g01_c01", "v_B_g01_c01"}  # C has no row: no action anywhere
    a = truth["v_A_g01_c01"]
    assert a.frames == {3, 4} and a.boxes == {3: (1, 2, 11, 12), 4: (2, 2, 12, 12.5)}


@pytest.mark.parametrize("text, message", [
    ("video,frame,x0,y0,x1,y1\n", r"boxes.csv:1: expected the header"),
    ("path,frame,x0,y0,x1,y1\nA/a.avi,1,0,0,5\n", r"boxes.csv:2: expected 6 fields"),
    ("path,frame,x0,y0,x1,y1\nA/a.avi,1,0,0,5,5\nA/a.avi,two,0,0,5,5\n", r"boxes.csv:3: frame must be an integer"),
    ("path,frame,x0,y0,x1,y1\nA/a.avi,0,0,0,5,5\n", r"boxes.csv:2: frame 0 is not 1-based"),
    ("path,frame,x0,y0,x1,y1\nA/a.avi,1,5,0,5,5\n", r"boxes.csv:2: empty box"),
    ("path,frame,x0,y0,x1,y1\nA/a.avi,1,0,0,5,5\nA/a.avi,1,1,1,5,5\n", r"boxes.csv:3: .* second row"),
    ("path,frame,x0,y0,x1,y1\nZ/z.avi,1,0,0,5,5\n", r"boxes.csv: 1 path\(s\) not in the dataset's split files.*Z/z.avi"),
])
def test_boxes_csv_errors_name_file_and_line(tmp_path, text, message):
    write(tmp_path / ann.BOXES, text)
    with pytest.raises(DatasetError, match=message):
        ann.load_ground_truth(tmp_path, manifest("A/a.avi"))


def test_no_annotations_is_no_ground_truth(tmp_path):
    assert ann.load_ground_truth(tmp_path, manifest("A/a.avi")) == {}


def test_thumos_segments_to_frames(tmp_path):
    folder = tmp_path / "TH14_Temporal_Annotations_Test" / "annotations" / "annotation"
    write(folder / "BaseballPitch_test.txt", "video_test_0000001  0.2 0.3\nvideo_test_0000001 1.0 1.1\n"
          "video_test_0000099 1 2\n")  # 99 is not in the manifest (e.g. a background video)
    write(folder / "Ambiguous_test.txt", "video_test_0000001 0.0 2.0\n")
    write(tmp_path / "TH14_Temporal_annotations_validation" / "annotation" / "Diving_val.txt",
          "video_validation_0000051 0.0 0.1\n")
    write(tmp_path / "UCF101" / "ucfTrainTestlist" / "trainlist01.txt", "not an annotation\n")
    table = manifest("test/video_test_0000001.mp4", "validation/video_validation_0000051.mp4")
    rates = {"test/video_test_0000001.mp4": 10.0, "validation/video_validation_0000051.mp4": 30.0}
    truth = ann.load_ground_truth(tmp_path, table, fps_of=lambda p: rates[p.relative_to(tmp_path).as_posix()])
    # 10 fps: frame i is at (i - 1) / 10 s; [0.2, 0.3] -> frames 3, 4; [1.0, 1.1] -> 11, 12
    assert truth["video_test_0000001"].frames == {3, 4, 11, 12}
    assert truth["video_test_0000001"].boxes == {}
    assert truth["video_validation_0000051"].frames == {1, 2, 3, 4}  # 30 fps: 0 .. 0.1 s


def test_thumos_fps_from_the_video_and_errors(tmp_path):
    video = tmp_path / "v.avi"
    write_video(video, np.zeros((3, 16, 16, 3), np.uint8), fps=15)
    assert ann.video_fps(video) == pytest.approx(15)
    with pytest.raises(DatasetError, match="missing.avi: cannot read the frame rate"):
        ann.video_fps(tmp_path / "missing.avi")
    bad = write(tmp_path / "annotation" / "Diving_val.txt", "video_validation_0000051 0.5\n")
    with pytest.raises(DatasetError, match=r"Diving_val.txt:1: expected"):
        ann.read_thumos_segments(bad)
    bad.write_text("v 2.0 1.0\n")
    with pytest.raises(DatasetError, match=r"Diving_val.txt:1: segment"):
        ann.read_thumos_segments(bad)
