"""tclsta export: the traced TorchScript streams give the eager streams' outputs on CPU."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from tclsta.inference.bundle import bundle_dir, load_bundle
from tclsta.inference.export import StreamTensors, example_input
from tclsta.training.checkpoint import load_final
from test_predict import tclsta


def test_exported_equals_eager(tiny_workflow: Path, tmp_path: Path) -> None:
    bundle = load_bundle(bundle_dir(tiny_workflow / "out", 1))
    done = tclsta("export", "--model", str(bundle.folder), "--format", "torchscript", "-o", str(tmp_path))
    assert done.returncode == 0, done.stderr
    for stream in ("rgb", "flow"):
        extra = {"heads.json": ""}
        exported = torch.jit.load(str(tmp_path / f"{stream}.ts.pt"), _extra_files=extra)
        model, meta = load_final(bundle.path(f"{stream}.pt"))
        assert json.loads(extra["heads.json"]) == list(model.heads)
        x = torch.cat([example_input(meta, 4), 2 * example_input(meta, 4)])  # another batch size and length
        with torch.no_grad():
            ours, eager = exported(x), StreamTensors(model.eval())(x)
        assert len(ours) == 2 + len(model.heads)
        for a, b in zip(ours, eager):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
