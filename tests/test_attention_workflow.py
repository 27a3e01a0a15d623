"""End to end on the translating variant: the real workflow measures attention against the synthetic boxes.

One tiny Snakemake run of the second synthetic variant (``variant_run`` in conftest.py: a
translating actor visible in every frame, 8 classes = 2 colours x 4 directions, square frames)
serves both the variant's end-to-end check and sanity levels of the attention targets: on a run
this small the streams are weak, so the levels are loose (better than chance / uniform); the real
targets are measured on the full runs (README, "Attention: measured").
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tclsta.data.annotations import read_boxes

pytestmark = pytest.mark.slow

def test_variant_boxes_and_attention_metrics(variant_run: Path) -> None:
    boxes = read_boxes(variant_run / "dataset" / "annotations" / "boxes.csv")
    assert len(boxes) == 8 * 6 and all(len(v.frames) == 6 for v in boxes.values())  # the motion window: 50 % of 12
    metrics = json.loads((variant_run / "metrics.json").read_text())
    attention = metrics["attention"]
    assert set(attention) == {"rgb_both", "flow_both"}
    for name, entry in attention.items():
        assert entry["videos"] == 16 and entry["spatial_frames"] > 0, name
    rgb, flow = attention["rgb_both"], attention["flow_both"]
    # Sanity levels of the targets: RGB's spatial attention finds the coloured actor more often than
    # a random cell would; flow's temporal attention puts more than the uniform share on the motion window.
    assert rgb["spatial_pointing"] > rgb["spatial_pointing_chance"]
    assert flow["temporal_mass"] > flow["temporal_mass_uniform"]
    report = (variant_run / "report" / "report.md").read_text()
    assert "Does attention attend?" in report and "| flow_both |" in report
