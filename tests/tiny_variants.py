"""Config overrides of the tiny runs the session fixtures (conftest.py) make, beside the default one."""

# The second synthetic variant at a tiny size: a translating actor, 8 classes = 2 colours x 4 directions.
VARIANT = {
    "seed": 0,
    "synthetic": {"motion": "translate", "num_classes": 8, "train_per_class": 4, "test_per_class": 2,
                  "clips_per_group": 1, "frames": 12, "height": 48, "width": 48, "arm_fraction": 0.15,
                  "action_fraction": 0.5, "distractors": [1, 1]},
    "extract": {"shard_size": 24},
    "flow": {"bound": 5},
    "model": {"base_width": 4, "output_stride": 8, "max_dilation": 2, "temporal_attention": "frame", "flow_stack": 2,
              "cam_channels": 16, "lstm_hidden": 16},
    "stream": {"attentions": ["both"], "segments": 4, "crop_size": 32, "flip": False, "batch_size": 4,
               "iterations": {"rgb": 150, "flow": 150}, "lr": 0.01, "holdout_fraction": 0.0,
               "validate_every": 150, "checkpoint_every": 150},
    "features": {"frames": 6},
    "fusion": {"heldout": False},  # no held-out groups (holdout_fraction 0): the paper's fusion rows only
}
