"""The synthetic dataset: layout, real decodable videos, determinism and the class factorisation."""

from __future__ import annotations

import dataclasses
import math
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import scipy.stats
import yaml

from tclsta.cli import main
from tclsta.config import validate
from tclsta.data.annotations import read_boxes
from tclsta.data.manifest import ucf101_manifest
from tclsta.data import synthetic as syn
from tclsta.errors import ConfigError, DatasetError

REPO = Path(__file__).resolve().parents[1]
SMALL = {"num_classes": 4, "train_per_class": 2, "test_per_class": 2, "clips_per_group": 1,
         "frames": 10, "height": 48, "width": 56, "action_fraction": 0.4, "distractors": [1, 3]}


def settings(**changes) -> dict:
    """Validated ``synthetic`` settings (schema defaults + ``changes``)."""
    return validate({"synthetic": changes})["synthetic"]


def decode(path: Path) -> np.ndarray:
    """All frames of a video as RGB ``[T, H, W, 3]`` with cv2.VideoCapture."""
    capture = cv2.VideoCapture(str(path))
    assert capture.isOpened(), path
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame[..., ::-1])
    capture.release()
    return np.stack(frames)


def grey(frames: np.ndarray) -> np.ndarray:
    """Grey frames exactly as a flow extractor computes them (cv2, BT.601)."""
    return np.stack([cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2GRAY) for f in frames])


@pytest.fixture(scope="module")
def small_dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("syn") / "dataset"
    return syn.synthesize(out, settings(**SMALL), progress=False)


def default_video(label: int = 0) -> syn.VideoParams:
    """Parameters of the first video of class ``label`` under the default settings."""
    spec = syn.class_specs(6)[label]
    return syn.sample_video(syn.video_seed(0, label, 1, 1), spec, settings())


def test_classes_are_colour_times_spin_with_equal_luma():
    specs = syn.class_specs(6)
    assert [s.name for s in specs] == ["RedClockwise", "RedCounterclockwise", "GreenClockwise",
                                       "GreenCounterclockwise", "BlueClockwise", "BlueCounterclockwise"]
    assert [s.spin for s in specs] == [1, -1] * 3
    assert len({s.name for s in syn.class_specs(12)}) == 12
    for hue in np.linspace(0, 359, 37):
        colour = syn.equal_luma_colour(float(hue))
        assert syn.LUMA_WEIGHTS @ colour == pytest.approx(syn.OBJECT_LUMA, abs=1e-9)
        assert colour.min() >= 0 and colour.max() <= 255
    red, green = syn.equal_luma_colour(0.0), syn.equal_luma_colour(120.0)
    assert np.abs(red - green).max() > 50  # visibly different colours, same grey
    with pytest.raises(ConfigError, match="num_classes"):
        syn.class_specs(5)


def test_distractors_never_wear_an_actor_colour():
    hsv = lambda rgb: cv2.cvtColor(np.float32([[rgb]]) / 255, cv2.COLOR_RGB2HSV)[0, 0, 0]  # noqa: E731
    actor_hues = [hsv(syn.equal_luma_colour(h)) for h in (0.0, 120.0, 240.0)]
    distractors = [d for label in range(6) for group in range(1, 9)
                   for d in syn.sample_video(syn.video_seed(0, label, group, 1), syn.class_specs(6)[label],
                                             settings()).distractors]
    assert len(distractors) > 40 and {d.shape for d in distractors} == set(syn.DISTRACTOR_SHAPES)
    for d in distractors:
        gap = min(abs((hsv(d.colour) - hue + 180) % 360 - 180) for hue in actor_hues)
        assert 35 <= gap <= 85  # the middle third between two actor hues (120° apart), up to rounding
        assert syn.LUMA_WEIGHTS @ np.array(d.colour) == pytest.approx(syn.OBJECT_LUMA)


def test_clutter_distractors_wear_the_actor_colours():
    hsv = lambda rgb: cv2.cvtColor(np.float32([[rgb]]) / 255, cv2.COLOR_RGB2HSV)[0, 0, 0]  # noqa: E731
    actor_hues = [hsv(syn.equal_luma_colour(h)) for h in (0.0, 120.0, 240.0)]
    clutter = settings(distractor_hues="actors")
    distractors = [d for label in range(6) for group in range(1, 9)
                   for d in syn.sample_video(syn.video_seed(0, label, group, 1), syn.class_specs(6)[label],
                                             clutter).distractors]
    nearest = [int(np.argmin([abs((hsv(d.colour) - hue + 180) % 360 - 180) for hue in actor_hues]))
               for d in distractors]
    for d, k in zip(distractors, nearest):
        assert abs((hsv(d.colour) - actor_hues[k] + 180) % 360 - 180) < 1  # exactly an actor colour
    assert set(nearest) == {0, 1, 2}  # every class colour appears among them


def test_layout_matches_ucf101(small_dataset):
    root = small_dataset
    lists = root / "ucfTrainTestlist"
    names = ["RedClockwise", "RedCounterclockwise", "CyanClockwise", "CyanCounterclockwise"]
    assert (lists / "classInd.txt").read_text() == "".join(f"{i} {n}\n" for i, n in enumerate(names, 1))
    videos = sorted(str(p.relative_to(root)) for p in root.glob("*/*.avi"))
    assert len(videos) == 4 * 4  # 4 classes × (2 train + 2 test) groups × 1 clip
    for split in (1, 2, 3):
        train = [line.split(" ") for line in (lists / f"trainlist{split:02d}.txt").read_text().splitlines()]
        test = (lists / f"testlist{split:02d}.txt").read_text().splitlines()
        assert all(len(row) == 2 for row in train) and all(" " not in line for line in test)
        assert sorted([path for path, _ in train] + test) == videos
        for path, label in train:
            cls, name = path.split("/")
            assert int(label) == names.index(cls) + 1 and name.startswith(f"v_{cls}_g")
        group = lambda path: int(path.split("_g")[1][:2])  # noqa: E731
        train_groups, test_groups = {group(p) for p, _ in train}, {group(p) for p in test}
        assert not train_groups & test_groups and len(test_groups) == 2
        assert test_groups == set(syn.held_out_groups(4, 2, split))
    assert syn.held_out_groups(4, 2, 1) == [3, 4]  # split 1 tests on the last groups
    assert syn.held_out_groups(8, 3, 1) == [6, 7, 8]
    assert syn.held_out_groups(8, 3, 2) == [3, 4, 5]
    assert (root / syn.MARKER).is_file()
    assert not list(root.parent.glob(".*tmp"))  # no temporary folder left behind


def test_videos_decode_with_the_rendered_content(small_dataset):
    s = settings(**SMALL)
    specs = syn.class_specs(4)
    for label, spec in enumerate(specs):
        frames = decode(small_dataset / syn.video_path(spec.name, 2, 1))
        assert frames.shape == (10, 48, 56, 3)
        rendered = syn.render(syn.sample_video(syn.video_seed(s["seed"], label, 2, 1), spec, s))
        # MJPG (4:2:0 chroma, quality 95) is lossy: a few levels of colour, less of grey.
        assert np.abs(frames.astype(float) - rendered).mean() < 6
        assert np.abs(grey(frames).astype(float) - grey(rendered)).mean() < 2.5


def test_same_seed_same_dataset_other_seed_other_videos(small_dataset, tmp_path):
    again = syn.synthesize(tmp_path / "again", settings(**SMALL), progress=False)
    other = syn.synthesize(tmp_path / "other", settings(**SMALL, seed=1), progress=False)
    for name in ("classInd.txt", "trainlist01.txt", "testlist01.txt", "trainlist03.txt"):
        assert (again / "ucfTrainTestlist" / name).read_bytes() == \
            (small_dataset / "ucfTrainTestlist" / name).read_bytes()
    video = syn.video_path("CyanCounterclockwise", 3, 1)
    assert np.array_equal(decode(again / video), decode(small_dataset / video))
    assert not np.array_equal(decode(other / video), decode(small_dataset / video))


def test_actor_only_inside_its_window_and_colour_invisible_in_grey():
    red = default_video(0)
    green = dataclasses.replace(red, colour=tuple(syn.equal_luma_colour(120.0).tolist()))
    a, b = syn.render(red), syn.render(green)
    start, stop = red.window
    assert stop - start == 13 and 0 <= start and stop <= 32
    inside = np.zeros(32, bool)
    inside[start:stop] = True
    differs = np.abs(a.astype(int) - b).reshape(32, -1).max(axis=1) > 20
    assert np.array_equal(differs, inside)  # the actor (its colour) is there exactly in the window
    # ... but the grey frames, all that optical flow sees, are the same up to rounding.
    assert np.abs(grey(a).astype(int) - grey(b)).max() <= 1


def test_spin_direction_invisible_in_one_frame():
    cw = default_video(0)
    t = (cw.window[0] + cw.window[1]) // 2
    # The counter-clockwise video whose actor has, at frame t, the clockwise actor's angle.
    ccw = dataclasses.replace(cw, spin=-1, angle0=cw.angle0 + 2 * cw.omega * t)
    assert syn.actor_angle(ccw, t) == pytest.approx(syn.actor_angle(cw, t))
    a, b = syn.render(cw), syn.render(ccw)
    assert np.abs(a[t].astype(int) - b[t]).max() <= 1  # a frame depends on the current state only
    assert np.abs(a[t + 1].astype(int) - b[t + 1]).max() > 20  # ... while the motion differs
    # Start angles cover the cross's 90° symmetry period, the same way for both directions.
    angles = [default_video(label).angle0 for label in range(6)]
    assert all(0 <= angle < math.pi / 2 for angle in angles)


def tvl1_curl(params: syn.VideoParams) -> tuple[float, float]:
    """Mean curl dv/dx − du/dy of TV-L1 flow over the actor and its peak speed, in its window."""
    frames = grey(syn.render(params))
    tvl1 = cv2.optflow.createOptFlow_DualTVL1()
    start = params.window[0]
    flow = np.stack([tvl1.calc(frames[t], frames[t + 1], None) for t in range(start, start + 3)])
    u, v = flow[..., 0], flow[..., 1]
    curl = np.gradient(v, axis=2) - np.gradient(u, axis=1)
    yy, xx = np.mgrid[:params.height, :params.width]
    actor = (xx - params.centre[0]) ** 2 + (yy - params.centre[1]) ** 2 <= params.arm ** 2
    return float(curl[:, actor].mean()), float(np.hypot(u, v)[:, actor].max())


def test_flow_shows_the_spin_direction():
    cw = default_video(0)
    curl_cw, speed_cw = tvl1_curl(cw)
    curl_ccw, speed_ccw = tvl1_curl(dataclasses.replace(cw, spin=-1))
    assert curl_cw > 0.03 and curl_ccw < -0.03  # clockwise on screen = positive curl (y down)
    assert 1.0 < speed_cw < 4.0 and 1.0 < speed_ccw < 4.0  # moderate motion, as TV-L1 recovers it


def test_bounce_matches_a_step_by_step_simulation():
    position, velocity, low, high = 5.0, 2.7, 1.5, 12.0
    for t in range(60):
        assert syn._bounce(5.0 + 2.7 * t, low, high) == pytest.approx(position)
        position += velocity
        if position > high:
            position, velocity = 2 * high - position, -velocity
        elif position < low:
            position, velocity = 2 * low - position, -velocity


def test_bad_settings_and_foreign_folders(tmp_path):
    with pytest.raises(ConfigError, match="clips_per_group"):
        syn.synthesize(tmp_path / "a", settings(**{**SMALL, "clips_per_group": 2, "test_per_class": 3}))
    with pytest.raises(ConfigError, match="distractors"):
        syn.synthesize(tmp_path / "a", settings(**{**SMALL, "distractors": [3, 1]}))
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious")
    with pytest.raises(DatasetError, match="refusing"):
        syn.synthesize(foreign, settings(**SMALL))
    assert (foreign / "thesis.tex").read_text() == "precious"


def test_cli_writes_and_replaces_a_dataset(tmp_path):
    out = tmp_path / "dataset"
    args = ["synthesize", "--out", str(out), "-q", "--set", "synthetic.num_classes=4",
            "--set", "synthetic.train_per_class=1", "--set", "synthetic.test_per_class=1",
            "--set", "synthetic.clips_per_group=1", "--set", "synthetic.frames=4"]
    assert main(args) == 0
    (out / "stale.txt").write_text("from an older run")
    assert main(args) == 0  # an older synthetic dataset is replaced as a whole
    assert not (out / "stale.txt").exists()
    assert len(list(out.glob("*/*.avi"))) == 8
    assert main(args[:2] + [str(out), "--set", "synthetic.num_classes=5"]) == 1  # schema error


# --- the translating variant and the ground truth -----------------------------------------------

PRESET = REPO / "presets" / "synthetic-translate.yaml"
DEFAULT = REPO / "config.yaml"


def translating_video(label: int, group: int = 1) -> syn.VideoParams:
    s = validate(yaml.safe_load(PRESET.read_text()))["synthetic"]
    return syn.sample_video(syn.video_seed(0, label, group, 1), syn.class_specs(12, "translate")[label], s)


def actor_mask(params: syn.VideoParams, t: int) -> np.ndarray:
    """Where frame t differs from the same video rendered without the actor's colour (grey actor)."""
    grey_actor = dataclasses.replace(params, colour=(syn.OBJECT_LUMA,) * 3)
    return np.abs(syn.render(params)[t].astype(int) - syn.render(grey_actor)[t]).max(axis=-1) > 20


@pytest.mark.parametrize("name", ["synthetic-translate.yaml", "synthetic-clutter.yaml"])
def test_the_variant_presets_differ_from_the_default_only_in_their_dataset(name):
    preset, default = yaml.safe_load((PRESET.parent / name).read_text()), yaml.safe_load(DEFAULT.read_text())
    assert {k for k in preset.keys() | default.keys() if preset.get(k) != default.get(k)} == {"synthetic", "output_dir"}
    validate(preset)


def test_translate_class_names():
    classes = [s.name for s in syn.class_specs(12, "translate")]
    assert classes[:4] == ["RedRight", "RedLeft", "RedDown", "RedUp"] and len(set(classes)) == 12
    with pytest.raises(ConfigError, match="multiple of 4"):
        syn.class_specs(6, "translate")


def test_translating_actor_visible_throughout_moving_only_in_its_window():
    params = translating_video(2)  # RedDown
    frames = syn.render(params)
    start, stop = params.window
    assert stop - start == 10 and params.velocity[0] == 0 and 1.5 <= params.velocity[1] <= 3.0
    centres = np.array([syn.actor_centre(params, t) for t in range(params.frames)])
    steps = np.abs(np.diff(centres, axis=0)).sum(axis=1)
    moving = np.zeros(params.frames - 1, bool)
    moving[start:stop] = True  # frame t → t+1 moves exactly for t in the window
    assert np.array_equal(steps > 0, moving)
    rows = syn.action_boxes(params)
    assert [r[0] for r in rows] == list(range(start + 1, stop + 1))  # 1-based frames of the window
    for t in (0, start, stop - 1, params.frames - 1):  # the actor is drawn before, in and after the window
        assert actor_mask(params, t).sum() > 100
    for frame, x0, y0, x1, y1 in rows[::3]:  # the box holds the drawn actor, tightly
        ys, xs = np.nonzero(actor_mask(params, frame - 1))
        assert x0 <= xs.min() and xs.max() < x1 and y0 <= ys.min() and ys.max() < y1
        assert xs.min() - x0 <= 2 and x1 - 1 - xs.max() <= 2 and ys.min() - y0 <= 2 and y1 - 1 - ys.max() <= 2
    assert frames.shape == (24, 96, 96, 3)


def test_spin_boxes_cover_the_window_and_the_actor():
    params = default_video(0)
    rows = syn.action_boxes(params)
    assert [r[0] for r in rows] == list(range(params.window[0] + 1, params.window[1] + 1))
    frame, x0, y0, x1, y1 = rows[4]
    ys, xs = np.nonzero(actor_mask(params, frame - 1))
    assert x0 <= xs.min() and xs.max() < x1 and y0 <= ys.min() and ys.max() < y1


def test_translation_direction_seen_by_flow_not_by_one_frame():
    right = translating_video(0)
    frames = grey(syn.render(right))
    t = right.window[0] + 2
    flow = cv2.optflow.createOptFlow_DualTVL1().calc(frames[t], frames[t + 1], None)
    _, x0, y0, x1, y1 = syn.action_boxes(right)[2]
    u, v = flow[y0:y1, x0:x1, 0], flow[y0:y1, x0:x1, 1]
    assert u.mean() > 0.5 and abs(v.mean()) < 0.3  # moving right, as TV-L1 sees it


def test_one_frame_actor_position_has_the_same_distribution_for_every_direction():
    settings = validate(yaml.safe_load(PRESET.read_text()))["synthetic"]
    positions = {}
    for label, spec in enumerate(syn.class_specs(12, "translate")[:4]):  # Right, Left, Down, Up
        videos = [syn.sample_video(np.random.default_rng([3, label, i]), spec, settings) for i in range(4000)]
        positions[spec.motion] = np.array([syn.actor_centre(p, t) for p in videos for t in range(p.frames)])
    # Along x, a horizontal mover's frames and a vertical mover's have the same distribution (and along y):
    # a path that only had to fit (the previous start) differed by 0.10 between Right and Down.
    for a, b in [("Right", "Down"), ("Right", "Left"), ("Up", "Left"), ("Down", "Up")]:
        for axis in (0, 1):
            assert scipy.stats.ks_2samp(positions[a][:, axis], positions[b][:, axis]).statistic < 0.05, (a, b, axis)
    # Every position keeps the actor's margin inside the frame.
    margin = settings["arm_fraction"] * settings["height"] + 1.0
    every = np.concatenate(list(positions.values()))
    assert every.min() >= margin - 1e-9 and every.max() <= settings["width"] - margin + 1e-9


def test_synthesize_writes_the_boxes_of_every_video(small_dataset):
    from tclsta.data.annotations import read_boxes

    truth = read_boxes(small_dataset / syn.BOXES)
    videos = sorted(str(p.relative_to(small_dataset)) for p in small_dataset.glob("*/*.avi"))
    assert sorted(truth) == videos
    s = settings(**SMALL)
    spec = syn.class_specs(4)[1]
    params = syn.sample_video(syn.video_seed(s["seed"], 1, 2, 1), spec, s)
    video = truth[syn.video_path(spec.name, 2, 1)]
    assert video.frames == frozenset(range(params.window[0] + 1, params.window[1] + 1))
    assert [(f, *video.boxes[f]) for f in sorted(video.frames)] == [tuple(map(float, r)) for r in syn.action_boxes(params)]


def relabel(source: Path, target: Path, by: str) -> subprocess.CompletedProcess:
    """Run benchmarks/relabel.py as the README does."""
    return subprocess.run([sys.executable, str(REPO / "benchmarks" / "relabel.py"), str(source), str(target), "--by", by],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("by, classes", [("colour", ["Red", "Cyan"]), ("motion", ["Clockwise", "Counterclockwise"])])
def test_relabel_benchmark_writes_the_same_videos_under_other_classes(small_dataset, tmp_path, by, classes):
    """benchmarks/relabel.py (the README's label control): a UCF101 copy whose classes are the colours or motions."""
    target = tmp_path / by
    run = relabel(small_dataset, target, by)
    assert run.returncode == 0, run.stderr
    source, copy = ucf101_manifest(small_dataset), ucf101_manifest(target)
    assert sorted(set(copy["class_name"])) == sorted(classes) and len(copy) == len(source)
    merged = source.merge(copy, on="video_id", suffixes=("_old", "_new"))
    assert all(old.startswith(new) if by == "colour" else old.endswith(new)
               for old, new in zip(merged["class_name_old"], merged["class_name_new"]))
    assert (merged["split1_old"] == merged["split1_new"]).all() and (merged["group_old"] == merged["group_new"]).all()
    old_path, new_path = dict(zip(source["video_id"], source["path"])), dict(zip(copy["video_id"], copy["path"]))
    for video, path in new_path.items():  # the same bytes under the new class folder
        assert (target / path).read_bytes() == (small_dataset / old_path[video]).read_bytes()
    boxes = read_boxes(target / "annotations" / "boxes.csv")
    old_boxes = read_boxes(small_dataset / "annotations" / "boxes.csv")
    assert {path: truth.boxes for path, truth in boxes.items()} == {
        new_path[video]: old_boxes[old_path[video]].boxes for video in new_path}
    again = relabel(small_dataset, target, by)
    assert again.returncode != 0 and "already exists" in again.stderr
