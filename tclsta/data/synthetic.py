"""The synthetic miniature: real ``.avi`` videos + split files in the UCF101 layout.

Design (a fair miniature in which the paper's claims can be *tested*)
--------------------------------------------------------------------
* **Classes = appearance × motion.** Each video has one *actor*: a plus-shaped cross that
  spins in place, clockwise or counter-clockwise (as seen on screen), painted in one of
  ``num_classes / 2`` actor colours. Class ``<Colour><Motion>``, e.g. ``RedClockwise``.
* **Appearance is invisible to flow.** All object colours (actors and distractors) have the
  same BT.601 luma (the grey value that ``cv2.cvtColor(..., COLOR_BGR2GRAY)`` and JPEG's Y
  channel compute), and every actor has the same shape, size and speed distribution. Two
  videos that differ only in the actor colour have the same grey frames (±1 level of rounding),
  so any optical flow computed from grey frames is the same: flow can tell the motion, never
  the colour.
* **Motion is invisible in one frame.** A frame depends only on the objects' current state
  (no blur, no trails); the cross's start angle is uniform over its 90° symmetry period and
  its speed is drawn the same way for both directions, so a single frame of a clockwise video
  has the same distribution as one of a counter-clockwise video. (Two frames of one video
  8+ frames apart carry only a weak cue: angle steps of 72–125° alias modulo the 90°
  symmetry, and a frame CNN whose per-frame scores are averaged or attention-pooled cannot
  compare angles across frames.) Spinning shows in flow as a vortex: curl
  ``dv/dx − du/dy`` > 0 for clockwise, < 0 for counter-clockwise (image axes, y down).
* **Clutter for spatial attention.** A static textured, coloured background (smooth colour
  blobs + fine grain, luma ≈ 40–110) and 1–3 distractors (discs, squares, triangles) at the
  actor's luma, coloured with hues from the middle thirds between the actor hues (colourful,
  never an actor colour); they are static or drift at 1–3 px/frame, bouncing off the borders,
  and never spin. The actor covers ≈ 5–6 % of the frame. ``synthetic.distractor_hues: actors``
  paints each distractor in one of the actor colours instead (the clutter preset): then a
  frame's colours no longer name the class, only the cross's colour does.
* **A temporal sub-window for temporal attention.** The actor exists only during a random
  window of ``action_fraction`` of the clip (default 40 %, 13 of 32 frames); outside it the
  frames hold only background and distractors, which carry no class information.
* **Moderate motion.** Cross arm tips move 2–3.5 px/frame; distractors 1–3 px/frame; plus
  per-frame luma noise (σ = 2). Everything is random per video (positions, angle, speed,
  window, background, distractor count/shape/colour/motion), seeded by (seed, class, group, clip).

**The translating variant** (``synthetic.motion: translate``, preset
``presets/synthetic-translate.yaml``). Classes = colour × one of four translation directions
(``Right``, ``Left``, ``Down``, ``Up``), ``num_classes / 4`` colours. The actor (the same cross,
not spinning, at a random fixed angle) is visible in *every* frame: it rests, moves in a straight
line at 1.5–3 px/frame during the random motion window of ``action_fraction`` of the clip, and
rests again. So only motion marks the window: flow sees it, a single RGB frame does not. The
path's midpoint is uniform over the positions that keep the actor inside, and the actor is also
offset across its motion as far as it would have moved along it at a random frame
(:func:`_path_start`): one frame's actor position then has the same distribution for every
direction (a frame tells nothing of the direction; until this version a start that only had to
keep the path inside kept a rightward actor off the right edge before its motion and spread it
less along x than a vertical mover, so a frame's position told the direction). A sequence
model that compares the actor's position in several frames could infer the direction from RGB; a
per-frame head cannot.
``arm_fraction`` sets the actor's size (cross arm / short side).

**Ground truth** (``annotations/boxes.csv``, :mod:`tclsta.data.annotations`): one row
``path,frame,x0,y0,x1,y1`` per frame in which the *action* happens — the spin variant: the
frames in which the actor is present (its window); the translating variant: the frames of
the motion window only (frame t is in the action when the actor moves from frame t to t + 1;
resting frames have no row although the actor is visible). The box is the actor's bounding
box in pixels (x1, y1 exclusive); frames are 1-based (``img_NNNNN`` numbers). The temporal
ground truth is the set of frames with a row.

Levels: chance = 1 / num_classes (1/6 = 16.7 % by default). A perfect appearance-only model
(RGB frames) knows the colour but not the spin direction: ceiling 1/2 = 50 %. A perfect
motion-only model (flow) knows the direction but not the colour: ceiling 2 / num_classes
(1/3 = 33.3 %). Both streams together can reach 100 %. The translating variant: appearance-only
ceiling 1/4, motion-only ceiling 4 / num_classes (1/3 with 12 classes).

Layout (UCF101's): ``<Class>/v_<Class>_gXX_cYY.avi`` (MJPG), ``ucfTrainTestlist/classInd.txt``,
``trainlist0N.txt`` (path + 1-based label), ``testlist0N.txt`` (path) for splits N = 1, 2, 3.
Train and test videos come from disjoint groups: split 1 trains on the first groups and tests
on the last ``test_per_class / clips_per_group`` groups; splits 2 and 3 rotate the test groups.
A ``synthetic.json`` written last records the settings; the whole folder is written under a
temporary name and renamed, so a killed run never looks complete.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from tclsta.atomic import atomic_directory
from tclsta.errors import ConfigError, DatasetError, TclstaError

log = logging.getLogger(__name__)

MARKER = "synthetic.json"
SPLITS = (1, 2, 3)
MOTIONS = ("Clockwise", "Counterclockwise")  # spin +1, −1
DIRECTIONS = {"Right": (1.0, 0.0), "Left": (-1.0, 0.0), "Down": (0.0, 1.0), "Up": (0.0, -1.0)}  # image axes
HUE_NAMES = ("Red", "Orange", "Yellow", "Chartreuse", "Green", "Spring",
             "Cyan", "Azure", "Blue", "Violet", "Magenta", "Rose")  # every 30° of HSV hue
LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114])  # BT.601, as cv2 grey and JPEG Y
OBJECT_LUMA = 150.0
OBJECT_CHROMA = 0.4  # fraction of the fully saturated hue's deviation from its own grey
NOISE_SIGMA = 2.0
FIXED_POINT = 4  # cv2 drawing with 1/16 px precision
DISTRACTOR_SHAPES = ("disc", "square", "triangle")
TIP_SPEED = (2.0, 3.5)  # px/frame at the cross's arm tips
TRANSLATION_SPEED = (1.5, 3.0)  # px/frame of the translating actor during its motion window
BOXES = "annotations/boxes.csv"
BACKGROUND_CHROMA = 10.0  # std of the background's Cb and Cr


@dataclass(frozen=True)
class ClassSpec:
    """One class: an actor colour (HSV hue in degrees) and a motion (e.g. ``Clockwise``, ``Left``).

    ``spin`` +1 clockwise / −1 counter-clockwise (spin variant, else 0); ``direction`` the
    unit vector of the translation (translating variant, else (0, 0)).
    """

    name: str
    hue: float
    motion: str
    spin: int = 0
    direction: tuple[float, float] = (0.0, 0.0)


@dataclass(frozen=True)
class Distractor:
    """A non-spinning object: static or drifting with constant velocity, bouncing at the borders."""

    shape: str
    colour: tuple[float, float, float]
    radius: float
    start: tuple[float, float]
    velocity: tuple[float, float]
    angle: float


@dataclass(frozen=True)
class VideoParams:
    """Everything random about one video; :func:`render` turns it into frames."""

    height: int
    width: int
    frames: int
    colour: tuple[float, float, float]
    spin: int
    omega: float
    angle0: float
    centre: tuple[float, float]
    arm: float
    window: tuple[int, int]
    distractors: tuple[Distractor, ...]
    scene_seed: int
    velocity: tuple[float, float] = (0.0, 0.0)  # px/frame during the window (translating variant)

    @property
    def translates(self) -> bool:
        """True for the translating variant: the actor is visible in every frame, moving in its window."""
        return self.velocity != (0.0, 0.0)


def equal_luma_colour(hue: float) -> np.ndarray:
    """RGB colour (float) of HSV ``hue`` (degrees) whose BT.601 luma is exactly ``OBJECT_LUMA``.

    The fully saturated hue is moved toward its own grey (which keeps the hue) and then
    shifted to the common luma, so colours differ only in chroma, never in grey value.
    """
    saturated = np.array(cv2.cvtColor(np.uint8([[[hue / 2, 255, 255]]]), cv2.COLOR_HSV2RGB)[0, 0], float)
    grey = float(LUMA_WEIGHTS @ saturated)
    return OBJECT_LUMA + OBJECT_CHROMA * (saturated - grey)


def motion_names(motion: str) -> tuple[str, ...]:
    """The motion part of the class names: spin directions or translation directions."""
    return MOTIONS if motion == "spin" else tuple(DIRECTIONS)


def class_specs(num_classes: int, motion: str = "spin") -> list[ClassSpec]:
    """The classes: actor hues spread over the colour circle × the motions of ``motion``."""
    motions = motion_names(motion)
    if num_classes % len(motions) or not 4 <= num_classes <= 12:
        raise ConfigError(f"synthetic.num_classes: {num_classes} is not a multiple of {len(motions)} in 4..12 "
                          f"(classes are colour × {len(motions)} {motion} directions)")
    appearances = num_classes // len(motions)
    steps = [round(12 * i / appearances) % 12 for i in range(appearances)]
    if motion == "spin":
        return [ClassSpec(f"{HUE_NAMES[step]}{name}", 30.0 * step, name, spin=spin)
                for step in steps for name, spin in zip(MOTIONS, (1, -1))]
    return [ClassSpec(f"{HUE_NAMES[step]}{name}", 30.0 * step, name, direction=direction)
            for step in steps for name, direction in DIRECTIONS.items()]


def groups_layout(settings: dict[str, Any]) -> tuple[int, int, int]:
    """(clips per group, number of groups, test groups per split) from the settings."""
    clips = settings["clips_per_group"]
    for key in ("train_per_class", "test_per_class"):
        if settings[key] % clips:
            raise ConfigError(f"synthetic.{key}: {settings[key]} is not a multiple of "
                              f"synthetic.clips_per_group ({clips})")
    return clips, (settings["train_per_class"] + settings["test_per_class"]) // clips, \
        settings["test_per_class"] // clips


def held_out_groups(num_groups: int, num_test: int, split: int) -> list[int]:
    """1-based test groups of ``split``: the last ``num_test`` groups, rotated back per split."""
    first = num_groups - split * num_test
    return sorted((first + i) % num_groups + 1 for i in range(num_test))


def video_path(class_name: str, group: int, clip: int) -> str:
    """Path of one video relative to the dataset root, as in UCF101."""
    return f"{class_name}/v_{class_name}_g{group:02d}_c{clip:02d}.avi"


def sample_video(rng: np.random.Generator, spec: ClassSpec, settings: dict[str, Any]) -> VideoParams:
    """Draw the random parameters of one video of class ``spec``."""
    height, width, frames = settings["height"], settings["width"], settings["frames"]
    arm = settings["arm_fraction"] * min(height, width)
    length = min(frames, max(2, round(settings["action_fraction"] * frames)))
    start = int(rng.integers(0, frames - length + 1)) if spec.spin else _translation_window_start(rng, frames, length)
    margin = arm + 1.0
    velocity = (0.0, 0.0)
    if spec.spin:
        centre = (float(rng.uniform(margin, width - margin)), float(rng.uniform(margin, height - margin)))
        omega = float(rng.uniform(*TIP_SPEED)) / arm
    else:
        speed = float(rng.uniform(*TRANSLATION_SPEED))
        velocity = (speed * spec.direction[0], speed * spec.direction[1])
        centre = _path_start(rng, velocity, length, frames, margin, height, width)
        omega = 0.0
    angle0 = float(rng.uniform(0.0, math.pi / 2))
    low, high = settings["distractors"]
    actor_hues = sorted({s.hue for s in class_specs(settings["num_classes"], settings["motion"])})
    distractors = tuple(_sample_distractor(rng, arm, height, width, actor_hues, settings["distractor_hues"])
                        for _ in range(int(rng.integers(low, high + 1))))
    return VideoParams(height=height, width=width, frames=frames,
                       colour=tuple(equal_luma_colour(spec.hue).tolist()), spin=spec.spin,
                       omega=omega, angle0=angle0, centre=centre, arm=arm,
                       window=(start, start + length), distractors=distractors,
                       scene_seed=int(rng.integers(0, 2**63)), velocity=velocity)


def _translation_window_start(rng: np.random.Generator, frames: int, length: int) -> int:
    """The first frame of a translation window of ``length`` steps, uniform over 0 … frames − length − 1.

    The actor moves from frame t to t + 1 for t in the window, so it rests on ``start + 1`` frames
    before its last position change and on ``frames − start − length`` after it: this range makes
    the two equal in distribution (a frame is as likely before the motion as after it).
    """
    if frames - length < 1:
        raise ConfigError(f"synthetic: a translation window of {length} of {frames} frames leaves no frame to rest "
                          "on (lower action_fraction)")
    return int(rng.integers(0, frames - length))


def _path_start(rng: np.random.Generator, velocity: tuple[float, float], length: int, frames: int,
                margin: float, height: int, width: int) -> tuple[float, float]:
    """The start centre of a straight path of ``length`` steps, drawn so that one frame's actor
    position has the same distribution for every direction.

    At frame t the actor has covered s(t) = :func:`steps_moved` / ``length`` of its path (``travel``
    px); over the frames and the window start (:func:`_translation_window_start`), s and 1 − s are
    equally distributed. The path's midpoint is uniform over the positions that keep the actor
    ``margin`` inside, and the actor is also offset across its motion by travel · (u − ½), u drawn
    as s is: along either axis a frame's position is then midpoint + travel · (s − ½) for every
    direction, so its position tells nothing of the direction (only a sequence of frames does).
    """
    travel = math.hypot(*velocity) * length
    moved = steps_moved(int(rng.integers(0, frames)), _translation_window_start(rng, frames, length), length)
    across = travel * (moved / length - 0.5)
    start = []
    for v, size in zip(velocity, (width, height)):
        if travel > size - 2 * margin:
            raise ConfigError(f"synthetic: a {travel:.0f} px path does not fit in {size} px with the "
                              "actor's margin (raise height/width, lower action_fraction or arm_fraction)")
        midpoint = float(rng.uniform(margin + travel / 2, size - margin - travel / 2))
        start.append(midpoint - v * length / 2 if v else midpoint + across)
    return start[0], start[1]


def _sample_distractor(rng: np.random.Generator, arm: float, height: int, width: int,
                       actor_hues: list[float], hues: str = "between") -> Distractor:
    """A distractor; its hue lies in the middle third between two neighbouring actor hues
    (``hues="between"``) or is one of the actor hues, drawn uniformly (``"actors"``)."""
    radius = float(rng.uniform(0.45, 0.75)) * arm
    speed = 0.0 if rng.random() < 1 / 3 else float(rng.uniform(1.0, 3.0))
    heading = float(rng.uniform(0.0, 2 * math.pi))
    return Distractor(
        shape=DISTRACTOR_SHAPES[int(rng.integers(len(DISTRACTOR_SHAPES)))],
        colour=tuple(equal_luma_colour(_between(rng, actor_hues) if hues == "between"
                                       else actor_hues[int(rng.integers(len(actor_hues)))]).tolist()),
        radius=radius,
        start=(float(rng.uniform(radius, width - radius)), float(rng.uniform(radius, height - radius))),
        velocity=(speed * math.cos(heading), speed * math.sin(heading)),
        angle=float(rng.uniform(0.0, 2 * math.pi)),
    )


def _between(rng: np.random.Generator, hues: list[float]) -> float:
    """A random hue in the middle third of a gap between sorted ``hues`` (gaps weighted by size)."""
    gaps = np.diff(hues + [hues[0] + 360.0])
    gap = int(rng.choice(len(gaps), p=gaps / gaps.sum()))
    return (hues[gap] + gaps[gap] * float(rng.uniform(1, 2)) / 3) % 360.0


def _bounce(position: float, low: float, high: float) -> float:
    """Fold a free position into [low, high] as a ball bouncing between two walls."""
    span = high - low
    folded = (position - low) % (2 * span)
    return low + (folded if folded <= span else 2 * span - folded)


def _polygon(points: np.ndarray, angle: float, centre: tuple[float, float]) -> np.ndarray:
    """Rotate ``points`` (x, y) by ``angle`` (clockwise on screen, y down), move to ``centre``."""
    c, s = math.cos(angle), math.sin(angle)
    rotated = points @ np.array([[c, s], [-s, c]]) + np.asarray(centre)
    return np.round(rotated * (1 << FIXED_POINT)).astype(np.int32)


def _cross_points(arm: float) -> np.ndarray:
    a, b = arm, 0.25 * arm
    return np.array([(-b, -a), (b, -a), (b, -b), (a, -b), (a, b), (b, b),
                     (b, a), (-b, a), (-b, b), (-a, b), (-a, -b), (-b, -b)])


def _shape_points(shape: str, radius: float) -> np.ndarray:
    corners = 4 if shape == "square" else 3
    turns = np.arange(corners) * 2 * math.pi / corners
    return radius * np.stack([np.cos(turns), np.sin(turns)], axis=1)


def _polygon_mask(size: tuple[int, int], polygon: np.ndarray) -> np.ndarray:
    """Anti-aliased uint8 mask of a fixed-point polygon."""
    mask = np.zeros(size, np.uint8)
    return cv2.fillPoly(mask, [polygon], 255, cv2.LINE_AA, FIXED_POINT)


def _disc_mask(size: tuple[int, int], centre: tuple[float, float], radius: float) -> np.ndarray:
    """Anti-aliased uint8 mask of a disc."""
    mask = np.zeros(size, np.uint8)
    scale = 1 << FIXED_POINT
    return cv2.circle(mask, (round(centre[0] * scale), round(centre[1] * scale)), round(radius * scale),
                      255, -1, cv2.LINE_AA, FIXED_POINT)


def _blend(frame: np.ndarray, colour: tuple[float, float, float], mask: np.ndarray) -> None:
    """Paint ``colour`` into ``frame`` (float RGB, in place) with ``mask`` as opacity."""
    alpha = mask.astype(np.float32)[..., None] / 255.0
    frame += alpha * (np.asarray(colour, np.float32) - frame)


def _background(params: VideoParams, rng: np.random.Generator) -> np.ndarray:
    """Static textured background: smooth colour blobs plus fine grain (float RGB)."""
    h, w = params.height, params.width
    coarse = rng.standard_normal((max(2, h // 8), max(2, w // 8), 3)).astype(np.float32)
    smooth = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    smooth /= smooth.std(axis=(0, 1), keepdims=True) + 1e-6
    luma = 75.0 + 12.0 * smooth[..., 0] + 6.0 * rng.standard_normal((h, w)).astype(np.float32)
    cb, cr = BACKGROUND_CHROMA * smooth[..., 1], BACKGROUND_CHROMA * smooth[..., 2]
    rgb = np.stack([luma + 1.402 * cr, luma - 0.344136 * cb - 0.714136 * cr, luma + 1.772 * cb], axis=-1)
    return np.clip(rgb, 0.0, 255.0)


def actor_angle(params: VideoParams, t: int) -> float:
    """The actor's angle at frame ``t`` (radians; increasing = clockwise on screen)."""
    return params.angle0 + params.spin * params.omega * t


def steps_moved(t: int, start: int, length: int) -> int:
    """How many of its ``length`` steps an actor whose window starts at ``start`` has made by frame ``t``."""
    return min(max(t - start, 0), length)


def actor_centre(params: VideoParams, t: int) -> tuple[float, float]:
    """The actor's centre at frame ``t``: fixed when spinning; translating, it moves only in its window."""
    steps = steps_moved(t, params.window[0], params.window[1] - params.window[0])
    return params.centre[0] + params.velocity[0] * steps, params.centre[1] + params.velocity[1] * steps


def actor_visible(params: VideoParams, t: int) -> bool:
    """Whether the actor is drawn in frame ``t`` (always when translating, else in its window)."""
    return params.translates or params.window[0] <= t < params.window[1]


def action_boxes(params: VideoParams) -> list[tuple[int, int, int, int, int]]:
    """Ground-truth rows ``(frame, x0, y0, x1, y1)``: 1-based frames of the action, the actor's pixel box.

    The action is the window (spin: the actor's presence; translation: its motion). The box is
    the bounding box of the cross polygon, x1/y1 exclusive, clipped to the frame.
    """
    cross = _cross_points(params.arm)
    rows = []
    for t in range(*params.window):
        c, s = math.cos(actor_angle(params, t)), math.sin(actor_angle(params, t))
        points = cross @ np.array([[c, s], [-s, c]]) + np.asarray(actor_centre(params, t))
        x0, y0 = np.floor(points.min(axis=0)).astype(int)
        x1, y1 = np.ceil(points.max(axis=0)).astype(int) + 1
        rows.append((t + 1, max(int(x0), 0), max(int(y0), 0), min(int(x1), params.width), min(int(y1), params.height)))
    return rows


def render(params: VideoParams) -> np.ndarray:
    """The frames of one video, ``[T, H, W, 3]`` uint8 RGB, fully determined by ``params``."""
    rng = np.random.default_rng(params.scene_seed)
    background = _background(params, rng)
    noise = NOISE_SIGMA * rng.standard_normal((params.frames, params.height, params.width)).astype(np.float32)
    cross = _cross_points(params.arm)
    frames = np.empty((params.frames, params.height, params.width, 3), np.uint8)
    size = (params.height, params.width)
    for t in range(params.frames):
        frame = background.copy()
        for d in params.distractors:
            x = _bounce(d.start[0] + d.velocity[0] * t, d.radius, params.width - d.radius)
            y = _bounce(d.start[1] + d.velocity[1] * t, d.radius, params.height - d.radius)
            if d.shape == "disc":
                mask = _disc_mask(size, (x, y), d.radius)
            else:
                mask = _polygon_mask(size, _polygon(_shape_points(d.shape, d.radius), d.angle, (x, y)))
            _blend(frame, d.colour, mask)
        if actor_visible(params, t):
            _blend(frame, params.colour,
                   _polygon_mask(size, _polygon(cross, actor_angle(params, t), actor_centre(params, t))))
        frame += noise[t][..., None]  # luma-only noise: the same on R, G and B
        frames[t] = np.clip(np.rint(frame), 0, 255).astype(np.uint8)
    return frames


def write_video(path: str | Path, frames: np.ndarray, fps: float) -> None:
    """Write RGB ``frames`` ``[T, H, W, 3]`` as an MJPG ``.avi`` with OpenCV's own encoder."""
    height, width = frames.shape[1:3]
    writer = cv2.VideoWriter(str(path), cv2.CAP_OPENCV_MJPEG, cv2.VideoWriter_fourcc(*"MJPG"),
                             float(fps), (width, height))
    if not writer.isOpened():
        raise TclstaError(f"{path}: OpenCV cannot open an MJPG video writer")
    try:
        writer.set(cv2.VIDEOWRITER_PROP_QUALITY, 95)
        for frame in frames:
            writer.write(np.ascontiguousarray(frame[..., ::-1]))
    finally:
        writer.release()


def video_seed(seed: int, label: int, group: int, clip: int) -> np.random.Generator:
    """The generator of one video: depends only on its identity, not on the others."""
    return np.random.default_rng([seed, label, group, clip])


def split_lists(specs: list[ClassSpec], clips: int, num_groups: int, num_test: int,
                split: int) -> tuple[str, str]:
    """Text of ``trainlist0N.txt`` and ``testlist0N.txt`` for one split."""
    tests = set(held_out_groups(num_groups, num_test, split))
    train, test = [], []
    for label, spec in enumerate(specs, start=1):
        for group in range(1, num_groups + 1):
            for clip in range(1, clips + 1):
                path = video_path(spec.name, group, clip)
                if group in tests:
                    test.append(path)
                else:
                    train.append(f"{path} {label}")
    return "\n".join(train) + "\n", "\n".join(test) + "\n"


def _check_target(out_dir: Path) -> None:
    """Refuse to replace a non-empty folder that is not a synthetic dataset."""
    if out_dir.exists() and (not out_dir.is_dir() or (any(out_dir.iterdir()) and not (out_dir / MARKER).is_file())):
        raise DatasetError(f"{out_dir}: exists and is not a synthetic dataset (no {MARKER}); "
                           "refusing to overwrite it")


def synthesize(out_dir: str | Path, settings: dict[str, Any], *, progress: bool = True) -> Path:
    """Write the synthetic dataset described by ``settings`` (config section ``synthetic``).

    The whole folder is built under a temporary name and renamed to ``out_dir`` at the end
    (replacing an older synthetic dataset there). Returns ``out_dir``.
    """
    out_dir = Path(out_dir)
    specs = class_specs(settings["num_classes"], settings["motion"])
    clips, num_groups, num_test = groups_layout(settings)
    low, high = settings["distractors"]
    if low > high:
        raise ConfigError(f"synthetic.distractors: minimum {low} is above maximum {high}")
    _check_target(out_dir)
    jobs = [(label, spec, group, clip) for label, spec in enumerate(specs)
            for group in range(1, num_groups + 1) for clip in range(1, clips + 1)]
    boxes = io.StringIO()
    table = csv.writer(boxes, lineterminator="\n")
    table.writerow(["path", "frame", "x0", "y0", "x1", "y1"])
    with atomic_directory(out_dir) as tmp:
        for label, spec, group, clip in tqdm(jobs, desc="synthesize", unit="video", disable=not progress):
            params = sample_video(video_seed(settings["seed"], label, group, clip), spec, settings)
            path = video_path(spec.name, group, clip)
            (tmp / path).parent.mkdir(exist_ok=True)
            write_video(tmp / path, render(params), settings["fps"])
            table.writerows([path, *row] for row in action_boxes(params))
        (tmp / BOXES).parent.mkdir()
        (tmp / BOXES).write_text(boxes.getvalue())
        lists = tmp / "ucfTrainTestlist"
        lists.mkdir()
        (lists / "classInd.txt").write_text("".join(f"{i} {s.name}\n" for i, s in enumerate(specs, start=1)))
        for split in SPLITS:
            train, test = split_lists(specs, clips, num_groups, num_test, split)
            (lists / f"trainlist{split:02d}.txt").write_text(train)
            (lists / f"testlist{split:02d}.txt").write_text(test)
        meta = {
            "settings": settings,
            "classes": [{"name": s.name, "hue": s.hue, "motion": s.motion}
                        for s in specs],
            "videos": len(jobs),
            "test_groups": {str(split): held_out_groups(num_groups, num_test, split) for split in SPLITS},
            "chance": 1 / len(specs),
            "ceiling_appearance_only": 1 / len(motion_names(settings["motion"])),
            "ceiling_motion_only": len(motion_names(settings["motion"])) / len(specs),
        }
        (tmp / MARKER).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    log.info("wrote %d videos of %d classes to %s", len(jobs), len(specs), out_dir)
    return out_dir
