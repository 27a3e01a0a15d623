"""Placeholder datasets (empty video files, official-style split files) for dry runs.

Each benchmark has every split the real-data preset asks for, so `snakemake -n` with the preset plans
the whole DAG. THUMOS14 reuses the manifest tests' builder (its preset runs split 1 only). The own-data
formats (folders, list, kinetics) use the file names docs/own-data.md shows.
"""

from __future__ import annotations

from pathlib import Path

from test_manifest import make_thumos14, touch

CLASSES = ("ApplyEyeMakeup", "Basketball")


def make_ucf101(root: Path) -> None:
    """`UCF-101/<Class>/v_<Class>_gGG_c01.avi` for groups 1-21 + `ucfTrainTestlist/` (3 splits)."""
    lists = root / "ucfTrainTestlist"
    lists.mkdir(parents=True)
    (lists / "classInd.txt").write_text("".join(f"{i} {c}\n" for i, c in enumerate(CLASSES, 1)))
    for split in (1, 2, 3):
        train, test = [], []
        for label, cls in enumerate(CLASSES, 1):
            for group in range(1, 22):
                rel = f"{cls}/v_{cls}_g{group:02d}_c01.avi"
                (test if 7 * (split - 1) < group <= 7 * split else train).append(rel)
                if split == 1:
                    touch(root / "UCF-101", rel)
        (lists / f"trainlist{split:02d}.txt").write_text("".join(
            f"{rel} {CLASSES.index(rel.split('/')[0]) + 1}\n" for rel in train))
        (lists / f"testlist{split:02d}.txt").write_text("".join(f"{rel}\n" for rel in test))


def make_hmdb51(root: Path) -> None:
    """`<class>/<name>.avi` + `testTrainMulti_7030_splits/<class>_test_split<N>.txt` (3 splits)."""
    for cls in ("brush_hair", "cartwheel"):
        names = [f"{cls}_video_{k}.avi" for k in range(3)]
        for name in names:
            touch(root, f"{cls}/{name}")
        for split in (1, 2, 3):
            codes = [1, 2, 0] if split == 1 else [2, 1, 1] if split == 2 else [1, 1, 2]
            path = root / "testTrainMulti_7030_splits" / f"{cls}_test_split{split}.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("".join(f"{name} {code}\n" for name, code in zip(names, codes)))


def make_ucf50(root: Path) -> None:
    """`<Class>/v_<Class>_gGG_c01.avi` for the 25 groups (25 leave-one-group-out folds)."""
    for cls in CLASSES:
        for group in range(1, 26):
            touch(root, f"{cls}/v_{cls}_g{group:02d}_c01.avi")


def make_folders(root: Path) -> None:
    """`<class name>/<video>.mp4`, 5 videos a class (one a class name with blanks and parentheses)."""
    for cls in ("Apply Eye Makeup", "Basketball (outdoor)"):
        for k in range(5):
            touch(root, f"{cls}/{cls.split()[0].lower()}_{k}.mp4")  # names unique: the stem is the video id


def make_list(root: Path) -> None:
    """`videos/<name>.mp4` + mmaction2-style `train_list.txt` / `test_list.txt` (`path label`)."""
    train, test = [], []
    for label in range(2):
        for k in range(4):
            rel = f"videos/class{label}_{k}.mp4"
            touch(root, rel)
            (test if k == 3 else train).append(f"{rel} {label}\n")
    (root / "train_list.txt").write_text("".join(train))
    (root / "test_list.txt").write_text("".join(test))


def make_kinetics(root: Path) -> None:
    """`annotations/{train,val}.csv` + `{train,val}/<label>/{youtube_id}_{start:06d}_{end:06d}.mp4`."""
    (root / "annotations").mkdir(parents=True)
    for subset, clips in (("train", 3), ("val", 1)):
        rows = ["label,youtube_id,time_start,time_end,split"]
        for label in ("abseiling", "air drumming"):
            for k in range(clips):
                youtube_id = f"{subset[0]}{label[:2]}{k:08d}"
                rows.append(f"{label},{youtube_id},{10 * k},{10 * k + 10},{subset}")
                touch(root, f"{subset}/{label}/{youtube_id}_{10 * k:06d}_{10 * k + 10:06d}.mp4")
        (root / "annotations" / f"{subset}.csv").write_text("\n".join(rows) + "\n")


MAKERS = {"ucf101": make_ucf101, "hmdb51": make_hmdb51, "ucf50": make_ucf50, "thumos14": make_thumos14,
          "folders": make_folders, "list": make_list, "kinetics": make_kinetics}


def make_placeholder(dataset_format: str, root: Path) -> Path:
    """Write a placeholder of ``dataset_format`` under ``root`` (once) and return ``root``."""
    if not root.exists():
        root.mkdir(parents=True)
        MAKERS[dataset_format](root)
    return root
