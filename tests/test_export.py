"""tclsta export: the traced TorchScript and the ONNX streams give the eager streams' outputs on CPU."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from tclsta.inference.bundle import bundle_dir, load_bundle
from tclsta.inference.export import StreamTensors, example_input, output_names
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


def test_onnx_equals_eager(tiny_workflow: Path, tmp_path: Path) -> None:
    """The ONNX streams, run by onnxruntime on another batch size, give the eager outputs; heads in the metadata."""
    import onnx
    import onnxruntime

    bundle = load_bundle(bundle_dir(tiny_workflow / "out", 1))
    done = tclsta("export", "--model", str(bundle.folder), "--format", "onnx", "-o", str(tmp_path))
    assert done.returncode == 0, done.stderr
    frames = bundle.settings["features"]["frames"]
    for stream in ("rgb", "flow"):
        path = tmp_path / f"{stream}.onnx"
        model, meta = load_final(bundle.path(f"{stream}.pt"))
        props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
        assert json.loads(props["heads"]) == list(model.heads)
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        x = torch.cat([example_input(meta, frames), 2 * example_input(meta, frames), -example_input(meta, frames)])
        ours = session.run(None, {"clips": x.numpy()})
        with torch.no_grad():
            eager = StreamTensors(model.eval())(x)
        assert [o.name for o in session.get_outputs()] == output_names(list(model.heads))
        for a, b in zip(ours, eager):
            torch.testing.assert_close(torch.from_numpy(a), b, rtol=1e-4, atol=1e-5)
