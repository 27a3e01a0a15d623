"""Stream inputs (TSN sampling, crops, flow flip, frame datasets) and the resumable training loop."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tclsta.config import validate
from tclsta.data.frames_dataset import FramesDataset, TrainBatches, records, split_videos
from tclsta.data.sampling import evenly_spaced_positions, segment_positions, stack_indices
from tclsta.data.transforms import IMAGENET_MEAN, IMAGENET_STD, crop_resize, eval_transform, flip, multiscale_box, normalise, train_transform
from tclsta.training.checkpoint import load_final, resume_path
from tclsta.training.trainer import StreamJob, holdout, train_stream

from frames_factory import make_dataset, quantise


def test_segment_sampling_one_position_per_segment():
    rng = np.random.default_rng(0)
    for _ in range(50):
        positions = segment_positions(30, 5, rng)
        assert len(positions) == 5
        # segment k covers positions 6k+1 … 6k+6
        assert all(6 * k + 1 <= p <= 6 * k + 6 for k, p in enumerate(positions))
    flow = segment_positions(31, 4, rng, length=10)  # starts 1..22 so the stack fits
    assert flow.min() >= 1 and flow.max() <= 22
    short = segment_positions(3, 8, rng)
    assert len(short) == 8 and np.all(np.diff(short) >= 0) and short.max() <= 3


def test_evenly_spaced_positions_and_clamped_stacks():
    assert evenly_spaced_positions(32, 4).tolist() == [5, 13, 21, 29]
    assert evenly_spaced_positions(3, 5).tolist() == [1, 1, 2, 3, 3]
    assert stack_indices(28, 5, 30).tolist() == [28, 29, 30, 30, 30]
    assert evenly_spaced_positions(12, 2, length=5).tolist() == [3, 7]


def test_flipped_flow_stack_has_negated_x():
    bound = 20.0
    rng = np.random.default_rng(0)
    flow = rng.uniform(-bound, bound, size=(2, 6, 8, 4))  # T, H, W, (x1, y1, x2, y2)
    q = quantise(flow, bound)
    flipped = flip(q, flow=True)

    def dequantise(values):
        return values.astype(np.float64) * 2 * bound / 255 - bound

    np.testing.assert_allclose(dequantise(flipped[..., 0::2]), -dequantise(q[:, :, ::-1, 0::2]), atol=1e-9)
    np.testing.assert_allclose(dequantise(flipped[..., 1::2]), dequantise(q[:, :, ::-1, 1::2]), atol=1e-9)
    # After normalisation the flip is an exact sign change of x, and 0 px of motion is 0.
    x = torch.from_numpy(q).permute(0, 3, 1, 2).float()
    xf = torch.from_numpy(flipped).permute(0, 3, 1, 2).float()
    torch.testing.assert_close(normalise(xf, flow=True)[:, 0::2], -normalise(x, flow=True)[:, 0::2].flip(-1))
    assert normalise(torch.full((1, 2, 1, 1), 127.5), flow=True).abs().max() == 0
    # RGB: ImageNet mean/std on 0..1 values, also for a uint8 batch (B, T, C, H, W) from the loader.
    batch = torch.tensor([10, 128, 250], dtype=torch.uint8).view(1, 1, 3, 1, 1)
    expected = (torch.tensor([10, 128, 250]) / 255 - torch.tensor(IMAGENET_MEAN)) / torch.tensor(IMAGENET_STD)
    torch.testing.assert_close(normalise(batch, flow=False).flatten(), expected)
    # RGB flips only mirror.
    rgb = rng.integers(0, 256, size=(1, 4, 5, 3), dtype=np.uint8)
    assert np.array_equal(flip(rgb, flow=False), rgb[:, :, ::-1])


def test_training_flips_only_when_allowed():
    clip = np.random.default_rng(1).integers(0, 256, size=(2, 8, 8, 4), dtype=np.uint8)
    plain = crop_resize(clip, (0, 0, 8, 8), 8)
    mirrored = crop_resize(flip(clip, flow=True), (0, 0, 8, 8), 8)
    seen = set()
    for seed in range(20):
        kept = train_transform(clip, flow=True, size=8, scales=[1.0], rng=np.random.default_rng(seed), mirror=False)
        assert torch.equal(kept, plain)
        out = train_transform(clip, flow=True, size=8, scales=[1.0], rng=np.random.default_rng(seed))
        seen.add("plain" if torch.equal(out, plain) else "mirrored" if torch.equal(out, mirrored) else "other")
    assert seen == {"plain", "mirrored"}


def test_crops():
    rng = np.random.default_rng(0)
    for _ in range(20):
        top, left, h, w = multiscale_box(64, 80, [1.0, 0.875, 0.75, 0.66], rng)
        assert h in (64, 56, 48, 42) and w in (64, 56, 48, 42)
        assert 0 <= top <= 64 - h and 0 <= left <= 80 - w
    clip = np.arange(2 * 4 * 6 * 3, dtype=np.uint8).reshape(2, 4, 6, 3)
    # bilinear with pixel centres: a horizontal ramp 0, 10, … 150 halved is 5, 25, … 145 (means of pairs)
    ramp = np.broadcast_to((np.arange(16) * 10).astype(np.uint8)[None, None, :, None], (1, 16, 16, 20))
    assert crop_resize(ramp, (0, 0, 16, 16), 8)[0, 7, 3].tolist() == [20 * k + 5 for k in range(8)]
    assert crop_resize(ramp, (0, 0, 12, 12), 13).shape == (1, 20, 13, 13)  # any scale, 20 channels
    out = crop_resize(clip, (0, 1, 4, 4), 4)  # no resize: exactly the cut
    assert torch.equal(out, torch.from_numpy(clip[:, :, 1:5]).permute(0, 3, 1, 2))
    small = eval_transform(np.full((3, 64, 80, 3), 200, np.uint8), size=56)
    assert small.shape == (3, 3, 56, 56) and small.dtype == torch.uint8 and (small == 200).all()


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("frames"), classes=3, train_per_class=4, test_per_class=1,
                        frames=8, height=32, width=40)


def test_frames_dataset_reads_rgb_and_flow_stacks(dataset):
    videos = split_videos(dataset["manifest"], dataset["frames_index"], 1)
    assert sorted(set(videos["subset"])) == ["test", "train"] and len(videos) == 15
    rgb = FramesDataset(dataset["frames"], records(videos), stream="rgb", segments=3, crop_size=24)
    clip, label, positions = rgb[0]
    assert clip.shape == (3, 3, 24, 24) and label == 0 and positions.tolist() == [2, 5, 7]
    flow = FramesDataset(dataset["frames"], records(videos), stream="flow", segments=2, crop_size=24, flow_stack=4)
    raw = flow.load(flow.videos[0], np.array([6]))  # fields 6, 7, 7, 7 (clamped to n_flow = 7)
    assert raw.shape == (1, 32, 40, 8)
    assert np.array_equal(raw[..., 2:4], raw[..., 4:6]) and np.array_equal(raw[..., 4:6], raw[..., 6:8])
    train = FramesDataset(dataset["frames"], records(videos), stream="flow", segments=2, crop_size=24,
                          flow_stack=4, train=True, scales=[1.0, 0.75])
    a, _, pa = train[(3, 123)]
    b, _, pb = train[(3, 123)]
    assert a.shape == (2, 8, 24, 24) and torch.equal(a, b) and np.array_equal(pa, pb)
    assert a.dtype == torch.uint8 and clip.dtype == torch.uint8  # normalised on the device, not in the workers


def test_train_batches_depend_only_on_seed_and_iteration():
    full = list(TrainBatches(10, 4, seed=7, start=0, stop=6))
    resumed = list(TrainBatches(10, 4, seed=7, start=3, stop=6))
    assert full[3:] == resumed and len(full) == 6
    assert full != list(TrainBatches(10, 4, seed=8, start=0, stop=6))


def test_holdout_takes_whole_groups(dataset):
    videos = split_videos(dataset["manifest"], dataset["frames_index"], 1)
    train = videos[videos["subset"] == "train"]
    fit, val = holdout(train, 0.25, seed=0)
    assert len(fit) + len(val) == len(train) and len(val) >= 3
    assert not set(fit["group"]) & set(val["group"])
    fit0, val0 = holdout(train, 0.0, seed=0)
    assert len(val0) == 0 and len(fit0) == len(train)


def small_config(tmp_path, seed=3, **stream):
    return validate({
        "output_dir": str(tmp_path), "device": "cpu", "seed": seed,
        "model": {"depth": 18, "base_width": 4, "flow_stack": 3, "cam_channels": 8, "lstm_hidden": 8},
        "stream": {"segments": 2, "crop_size": 32, "batch_size": 4, "iterations": {"rgb": 6, "flow": 6},
                   "lr": 0.01, "validate_every": 2, "checkpoint_every": 2, "holdout_fraction": 0.25,
                   "lr_patience": 1, "num_workers": 0, **stream},
    })


def job(dataset, output, stream="flow", attention="both"):
    return StreamJob(split=1, stream=stream, attention=attention, manifest=dataset["manifest"],
                     frames_index=dataset["frames_index"], frames_root=dataset["frames"], output=output)


def test_resume_continues_the_same_run(dataset, tmp_path):
    config = small_config(tmp_path)
    straight = train_stream(config, job(dataset, tmp_path / "straight.pt"))
    interrupted = tmp_path / "interrupted.pt"
    assert train_stream(config, job(dataset, interrupted), stop_after=3) is None  # "killed" after iteration 3
    assert not interrupted.exists() and resume_path(interrupted).is_file()
    train_stream(config, job(dataset, interrupted))  # restarted job: resumes from the iteration-2 checkpoint
    assert not resume_path(interrupted).exists()
    a, meta_a = load_final(straight)
    b, meta_b = load_final(interrupted)
    assert meta_a["history"] == meta_b["history"] and len(meta_a["history"]) == 3
    for key, value in a.state_dict().items():
        assert torch.equal(value, b.state_dict()[key]), key
    # A resume file made with other settings is not continued.
    other = small_config(tmp_path, lr=0.02)
    train_stream(other, job(dataset, tmp_path / "other.pt"), stop_after=2)
    train_stream(config, job(dataset, tmp_path / "other.pt"))
    c, _ = load_final(tmp_path / "other.pt")
    assert all(torch.equal(v, c.state_dict()[k]) for k, v in a.state_dict().items())


def test_final_checkpoint_loads_with_weights_only(dataset, tmp_path):
    config = small_config(tmp_path, iterations={"rgb": 2, "flow": 2}, holdout_fraction=0.0)
    path = train_stream(config, job(dataset, tmp_path / "rgb_none.pt", stream="rgb", attention="none"))
    blob = torch.load(path, weights_only=True)
    assert set(blob) == {"state_dict", "meta"} and blob["meta"]["attention"] == "none"
    assert "backbone.conv1.weight" in blob["state_dict"] and blob["meta"]["history"] == []
    model, meta = load_final(path)
    assert model.heads == ("frame",) and meta["class_names"] == ["class0", "class1", "class2"]


def test_keep_best_writes_the_best_validated_weights(dataset, tmp_path):
    # Which seed ends below its best validation depends on the CPU's float rounding: take the first that does.
    for seed in range(4, 16):
        config = small_config(tmp_path, keep="best", lr=0.5, iterations={"rgb": 8, "flow": 8}, seed=seed)
        best = train_stream(config, job(dataset, tmp_path / f"best{seed}.pt"))
        model, meta = load_final(best)
        accuracies = [h["val_acc"] for h in meta["history"]]
        kept = meta["kept_iteration"]
        assert kept == max(h["iteration"] for h in meta["history"] if h["val_acc"] == max(accuracies))
        if kept < 8:
            break
    assert kept < 8, "no seed ended below its best validation, so best cannot be told from final"
    # the same run stopped at the kept iteration (same batches, same validations) ends with those weights
    until = train_stream(small_config(tmp_path, lr=0.5, iterations={"rgb": kept, "flow": kept}, seed=seed),
                         job(dataset, tmp_path / "until.pt"))
    reference, _ = load_final(until)
    for key, value in reference.state_dict().items():
        assert torch.equal(value, model.state_dict()[key]), key
    # a killed keep=best run resumes with its best weights so far
    interrupted = tmp_path / "interrupted.pt"
    assert train_stream(config, job(dataset, interrupted), stop_after=kept + 1) is None
    train_stream(config, job(dataset, interrupted))
    resumed, resumed_meta = load_final(interrupted)
    assert resumed_meta["kept_iteration"] == kept
    assert all(torch.equal(v, resumed.state_dict()[k]) for k, v in model.state_dict().items())


def test_clip_grad_norm_bounds_each_step_and_the_log_shows_the_norm(dataset, tmp_path, caplog):
    from tclsta.models.stream import build_stream

    def moved(clip):
        config = small_config(tmp_path, iterations={"rgb": 2, "flow": 2}, validate_every=2, weight_decay=0.0,
                              clip_grad_norm=clip)
        path = train_stream(config, job(dataset, tmp_path / f"clip{clip}.pt"))
        torch.manual_seed(config["seed"])
        start = dict(build_stream(config["model"], "flow", "both", 3).named_parameters())
        trained, _ = load_final(path)
        return max(float((p - start[name]).detach().abs().max()) for name, p in trained.named_parameters())

    with caplog.at_level("INFO", logger="tclsta.training.trainer"):
        free = moved(None)
    norms = [float(r.getMessage().rsplit(" ", 1)[1]) for r in caplog.records if "largest gradient norm" in r.getMessage()]
    assert len(norms) == 1 and norms[0] > 1e-3
    # two SGD steps (lr 0.01, momentum 0.9) of gradients rescaled to norm 1e-6 move no weight by more than 3e-8
    assert free > 1e-4 and moved(1e-6) < 3e-8


def test_schedule_in_epochs_converts_to_iterations_over_the_fitted_videos():
    from tclsta.training.schedule import iterations_for, stream_schedule

    # hand-computed: 70 passes over 168 videos in batches of 8 = 1470 steps; over 60 videos, 525
    assert iterations_for(70, 168, 8) == 1470 and iterations_for(70, 60, 8) == 525
    assert iterations_for(2.5, 10, 4) == 7  # 6.25 steps round up: every video is seen 2.5 times at least
    assert iterations_for(0.01, 10, 4) == 1
    scfg = validate({"stream": {"iterations": {"rgb": 600, "flow": 50}, "epochs": {"rgb": 70}, "batch_size": 8,
                                "validate_every": 100, "validate_every_epochs": 5}})["stream"]
    assert stream_schedule(scfg, "rgb", 60) == (525, 38) and stream_schedule(scfg, "flow", 60) == (50, 38)
    scfg["validate_every_epochs"] = None
    assert stream_schedule(scfg, "rgb", 168) == (1470, 100)


def test_training_in_epochs_runs_the_converted_iterations(dataset, tmp_path):
    config = small_config(tmp_path, epochs={"flow": 1.5}, validate_every_epochs=1)
    path = train_stream(config, job(dataset, tmp_path / "epochs.pt"))
    _, meta = load_final(path)
    fitted = len(meta["fit_videos"])
    total = -(-3 * fitted // (2 * 4))  # ceil(1.5 × fitted / batch 4)
    assert meta["iterations"] == total != 6  # not the iterations setting
    every = -(-fitted // 4)
    assert [h["iteration"] for h in meta["history"]] == [every, total]
